"""Explore one network in the browser, without an export step.

Loads NET (anything `generate` takes: an NVIDIA .pkl, a .keras snapshot, a
training run directory, preset:NAME or a .tflite; also an exported
SavedModel folder) and serves it as `keras-stylegan serve` serves an
exported model: the style explorer page at /, and the same REST endpoints
(/v1/models/NAME/image, /mix, /metadata, :predict) within the same bounds.
A network that is not exported runs the SavedModel's signatures in this
process, so the images are those the exported model would give. Listens on
127.0.0.1 (this machine only) unless --host says otherwise.

Examples:
  keras-stylegan explore --network karras2019stylegan-ffhq-1024x1024.pkl
  keras-stylegan explore --network runs/demo --port 0        # any free port
  keras-stylegan explore --network preset:stylegan-tiny-32
"""


def add_arguments(p):
    from keras_stylegan.cli.serve import add_bound_arguments

    p.add_argument("--network", required=True, metavar="NET",
                   help="NVIDIA .pkl (TF1 or PyTorch), .keras snapshot, training run dir, "
                   "preset:NAME, an exported .tflite or SavedModel folder")
    p.add_argument("--name", default=None, metavar="NAME",
                   help="the model's name in URLs (default: from the network's file name)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8501,
                   help="port (default 8501; 0: any free port)")
    p.add_argument("--trunc-cutoff", type=int, default=None, metavar="N",
                   help="truncate only the first N style layers (default: the network's)")
    add_bound_arguments(p)
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads of a .tflite interpreter (default: LiteRT's)")
    p.add_argument("--access-log", action="store_true", help="log every request")


def run(args):
    from keras_stylegan.cli.serve import limits_from_args, print_bounds
    from keras_stylegan.export.server import serve

    limits = limits_from_args(args)
    cutoff = check_args(args)
    sock = listen(args.host, args.port)
    try:
        repo, servable = load(args, cutoff)
    except BaseException:
        sock.close()
        raise
    print_bounds(args, repo)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {servable.name} ({servable.kind}) at "
          f"http://{shown}:{port}/v1/models/{servable.name}", flush=True)
    print(f"style explorer: open http://{shown}:{port}/ in a browser", flush=True)
    serve(repo, limits=limits, access_log=args.access_log, sock=sock)


def check_args(args):
    """Checks the options (before anything is loaded); returns the truncation cutoff."""
    import os

    from keras_stylegan.cli.errors import CommandError, require_tensorflow_backend
    from keras_stylegan.export.savedmodel import check_name
    from keras_stylegan.networks.generator import DEFAULT

    require_tensorflow_backend("explore")
    if args.name is not None:
        check_name(args.name)
    if args.trunc_cutoff is None:
        return DEFAULT
    if args.trunc_cutoff < 0:
        raise CommandError(f"--trunc-cutoff must be >= 0; received {args.trunc_cutoff}")
    if args.network.endswith(".tflite") or os.path.isfile(
            os.path.join(args.network, "saved_model.pb")):
        raise CommandError("--trunc-cutoff is fixed when a network is exported; re-export "
                           "with `keras-stylegan export --trunc-cutoff N`, or explore the "
                           "original network")
    return args.trunc_cutoff


def listen(host, port):
    """A socket bound to host:port, or one CommandError saying what to change."""
    from keras_stylegan.cli.errors import CommandError
    from keras_stylegan.export.server import bind_socket

    try:
        return bind_socket(host, port)
    except OSError as e:
        raise CommandError(f"cannot listen on {host}:{port}: {e.strerror or e}; pass another "
                           "--port (0: any free port) or --host") from None


def load(args, cutoff):
    """(a ModelRepository holding the network, its servable), warmed up."""
    import logging

    from keras_stylegan.export.inprocess import open_servable
    from keras_stylegan.export.server import ModelRepository

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    servable = open_servable(args.network, name=args.name, truncation_cutoff=cutoff,
                             num_threads=args.threads)
    return ModelRepository().add_servable(servable), servable

"""Serve exported generators over TF Serving's REST protocol (FastAPI + uvicorn).

Loads every version of every model under --model-base-path (BASE/NAME/VERSION/
holding a SavedModel or a model.tflite, as `keras-stylegan export` writes
them), a single model folder (BASE/VERSION/, TF Serving's layout), or one
.tflite file. Endpoints:

  GET  /v1/models/NAME[/versions/V]            status
  GET  /v1/models/NAME[/versions/V]/metadata   signature defs
  POST /v1/models/NAME[/versions/V]:predict    {"instances": [...]} or {"inputs": {...}}
  GET  /v1/models/NAME[/versions/V]/image?seeds=0-3&psi=0.7[&class=K|0-4][&noise=seed|const]
                                               PNG (one image, or a grid; a row per class)
  GET  /v1/models/NAME[/versions/V]/mix?rows=0-2&cols=3-5&styles=coarse|middle|fine|0-3
                                               style-mixing PNG (the paper's Figure 3)
  GET  /v1/models                              the models served (JSON)
  GET  /                                       the style explorer, a web page (works offline)

Guarantees (bounds below): every error is a 4xx/503 with a JSON {"error": ...}
body, and the server keeps serving. A request may ask for at most --max-batch
samples or images (seeds x classes, or a mixing grid's rows x columns plus its
sources, counted before anything is expanded;
seeds below 2**32; numbers in ASCII digits). A body declared larger than
--max-request-bytes gets 413 before it is read; the default limit is the
largest legitimate :predict request for the models served (printed at
start-up), and decoding it costs at most ~12x that, inside --max-inflight.
A request head must arrive within --header-timeout s and its body within
--body-timeout s (else 408); when --max-connections are open, the connection
that has waited longest for its client is closed to admit a new one, so idle
or half-sent requests cannot lock others out. Not covered: floods of new
connections (rate limiting belongs to a proxy or firewall) and TLS.

Examples:
  keras-stylegan serve --model-base-path models --port 8501   # open http://127.0.0.1:8501/
  curl -s localhost:8501/v1/models/stylegan
  curl -s -o grid.png 'localhost:8501/v1/models/stylegan/image?seeds=0-15&psi=0.7'
  curl -s -d '{"instances": [{"z": [...], "truncation_psi": 0.7, "seed": 1}]}' \\
      localhost:8501/v1/models/stylegan:predict
"""


def add_arguments(p):
    p.add_argument("--model-base-path", required=True, metavar="DIR",
                   help="folder of NAME/VERSION/ models, one model's VERSION/ folders, "
                   "or a .tflite file")
    p.add_argument("--model-name", default=None, metavar="NAME",
                   help="serve only this model (or: the name of a single model)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501, as TF Serving)")
    add_bound_arguments(p)
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads of each TFLite interpreter (default: LiteRT's)")
    p.add_argument("--no-warm-up", action="store_true",
                   help="skip the first (slow) call of each model at start-up")
    p.add_argument("--access-log", action="store_true", help="log every request")


def add_bound_arguments(p):
    """The server's bounds (shared with `keras-stylegan explore`)."""
    b = p.add_argument_group("bounds")
    b.add_argument("--max-batch", type=int, default=32, metavar="N",
                   help="samples (or images) per request (default 32)")
    b.add_argument("--max-request-bytes", type=int, default=None, metavar="BYTES",
                   help="request body size; larger: 413 (default: the largest legitimate "
                   ":predict request of the models served, at ~40 bytes per number)")
    b.add_argument("--max-inflight", type=int, default=2, metavar="N",
                   help="model calls running at once (default 2)")
    b.add_argument("--max-queue", type=int, default=64, metavar="N",
                   help="requests waiting for the model; beyond: 503 (default 64)")
    b.add_argument("--max-connections", type=int, default=128, metavar="N",
                   help="open connections; a new one closes the one waiting longest for "
                   "its client, or gets 503 if all are being answered (default 128)")
    b.add_argument("--header-timeout", type=float, default=10.0, metavar="S",
                   help="seconds for a request head to arrive; else 408 (default 10)")
    b.add_argument("--body-timeout", type=float, default=30.0, metavar="S",
                   help="seconds for a request body to arrive after its head; else 408 "
                   "(default 30)")


def limits_from_args(args):
    """Checks the bound options; returns the server's `Limits`."""
    from keras_stylegan.cli.errors import CommandError
    from keras_stylegan.export.server import Limits

    for flag in ("max_batch", "max_request_bytes", "max_inflight", "max_queue",
                 "max_connections"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise CommandError(f"--{flag.replace('_', '-')} must be >= 1")
    for flag in ("header_timeout", "body_timeout"):
        if not 0 < getattr(args, flag) <= 86400:
            raise CommandError(f"--{flag.replace('_', '-')} must be in (0, 86400] seconds")
    if not 0 <= args.port < 65536:
        raise CommandError(f"--port must be in [0, 65535]; received {args.port}")
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise CommandError("serving needs FastAPI and uvicorn: pip install fastapi uvicorn") \
            from None
    return Limits(max_batch=args.max_batch, max_request_bytes=args.max_request_bytes,
                  max_inflight=args.max_inflight, max_queue=args.max_queue,
                  max_connections=args.max_connections,
                  header_timeout=args.header_timeout, body_timeout=args.body_timeout)


def print_bounds(args, repo):
    from keras_stylegan.export.server import request_budget

    budget = request_budget(repo, args.max_batch, args.max_request_bytes)
    print(f"bounds: {args.max_batch} samples or images per request, bodies up to "
          f"{budget.max_bytes} bytes, head within {args.header_timeout:g} s, body within "
          f"{args.body_timeout:g} s, {args.max_connections} connections", flush=True)


def run(args):
    import logging

    from keras_stylegan.cli.errors import CommandError

    limits = limits_from_args(args)
    from keras_stylegan.export.server import ModelRepository, serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    repo = ModelRepository.load(args.model_base_path, model_name=args.model_name,
                                warm_up=not args.no_warm_up, num_threads=args.threads)
    if not repo.models:
        raise CommandError(f"no model version under {args.model_base_path} could be loaded: "
                           + "; ".join(f"{n}/{v}: {e}" for n, d in repo.failed.items()
                                       for v, e in d.items()))
    print_bounds(args, repo)
    for name in repo.names():
        versions = sorted(repo.models.get(name, {}))
        print(f"serving {name} versions {versions} at "
              f"http://{args.host}:{args.port}/v1/models/{name}", flush=True)
    print(f"style explorer (a web page): http://{args.host}:{args.port}/", flush=True)
    serve(repo, host=args.host, port=args.port, limits=limits, access_log=args.access_log)

"""Export a generator as a SavedModel (TF Serving layout) or a TFLite / LiteRT model.

SavedModel: OUT/NAME/VERSION/ with the signatures serving_default / generate
(z, [labels], truncation_psi, seed), generate_const, mapping, synthesis,
synthesis_const, mix and mix_const (see export/savedmodel.py). TFLite:
OUT/NAME/VERSION/model.tflite, or exactly OUT when it ends in .tflite;
builtin ops only, fixed batch. Writes are atomic: a failed export leaves no
version behind.

Examples:
  keras-stylegan export --network karras2019stylegan-ffhq-1024x1024.pkl --out models --name ffhq
  keras-stylegan export --network runs/demo --out models --name demo --version 3
  keras-stylegan export --network runs/demo --format tflite --quantize float16 \\
      --batch 4 --out demo-fp16.tflite
"""


import sys

MIN_PSNR_WARNING = 30.0  # dB; below, quantization visibly changes the images


def add_arguments(p):
    g = p.add_argument_group("what and where")
    g.add_argument("--network", required=True, metavar="FILE",
                   help="legacy .pkl, .keras snapshot, training run dir, or preset:NAME")
    g.add_argument("--out", required=True, metavar="DIR",
                   help="model base folder (writes DIR/NAME/VERSION/); for tflite also "
                   "a file name ending in .tflite")
    g.add_argument("--name", default="stylegan", help="model name (default: stylegan)")
    g.add_argument("--version", type=int, default=None, metavar="N",
                   help="version number; must not exist (default: the next free one)")
    g.add_argument("--format", choices=("savedmodel", "tflite"), default="savedmodel",
                   help="savedmodel (default) or tflite")
    m = p.add_argument_group("model options")
    m.add_argument("--trunc-cutoff", default=None, metavar="N",
                   help="style layers that truncation affects: an integer, 'all', or "
                   "'default' (the network's own; StyleGAN1: 8, StyleGAN2: all)")
    m.add_argument("--fused-modconv", choices=("no", "yes"), default="no",
                   help="StyleGAN2 SavedModel: non-fused modulated convolutions (no, "
                   "default: plain convs, faster on CPU, no XLA needed) or NVIDIA's grouped "
                   "conv (yes: XLA-compiled on CPU); TFLite always uses 'no'")
    t = p.add_argument_group("tflite options")
    t.add_argument("--quantize", choices=("none", "float16", "dynamic"), default="none",
                   help="weight quantization (default none = float32)")
    t.add_argument("--batch", type=int, default=1, metavar="B",
                   help="fixed batch size of the .tflite model (default 1)")
    t.add_argument("--noise", choices=("const", "input"), default="const",
                   help="const: stored noise maps built in (default); input: noise maps "
                   "are inputs, filled from seeds by keras-stylegan generate/serve")
    t.add_argument("--no-check", action="store_true",
                   help="skip the check that compares the .tflite with the Keras generator "
                   "on 4 samples (PSNR)")


def _cutoff(text):
    from keras_stylegan.cli.errors import CommandError
    from keras_stylegan.networks.generator import DEFAULT
    if text is None or text == DEFAULT:
        return DEFAULT
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise CommandError(f"--trunc-cutoff must be an integer, 'all' or 'default'; "
                           f"received {text!r}") from None
    if value < 0:
        raise CommandError(f"--trunc-cutoff must be >= 0; received {value}")
    return value


def run(args):
    from keras_stylegan.cli.errors import CommandError, require_tensorflow_backend
    require_tensorflow_backend("export")
    from keras_stylegan.export.savedmodel import check_name

    check_name(args.name)
    cutoff = _cutoff(args.trunc_cutoff)
    if args.version is not None and args.version < 0:
        raise CommandError(f"--version must be >= 0; received {args.version}")
    if args.format == "savedmodel":
        for flag, value, default in (("--quantize", args.quantize, "none"),
                                     ("--batch", args.batch, 1),
                                     ("--noise", args.noise, "const")):
            if value != default:
                raise CommandError(f"{flag} applies to --format tflite only")
        if args.out.endswith(".tflite"):
            raise CommandError("--out ends in .tflite: add --format tflite")
    elif args.batch < 1:
        raise CommandError(f"--batch must be >= 1; received {args.batch}")

    if not args.out.endswith(".tflite"):  # fail before the (slow) load
        import os

        from keras_stylegan.export.savedmodel import resolve_version
        resolve_version(os.path.join(args.out, args.name), args.version)

    from keras_stylegan.cli.progress import Steps
    from keras_stylegan.loading import load_generator
    tflite = args.format != "savedmodel"
    steps = Steps("export", 3 if tflite and not args.no_check else 2)
    steps.step(f"loading {args.network}")
    G = load_generator(args.network)
    if args.format == "savedmodel":
        steps.step("tracing and writing the SavedModel")
        from keras_stylegan.export.savedmodel import export_savedmodel
        fused = args.fused_modconv == "yes"
        path = export_savedmodel(G, args.out, name=args.name, version=args.version,
                                 truncation_cutoff=cutoff, fused_modconv=fused,
                                 source=args.network)
        print(f"Wrote SavedModel {path} ({G.family}, {G.resolution}x{G.resolution}"
              f"{', conditional' if G.label_size else ''})")
    else:
        from keras_stylegan.export.tflite import export_tflite
        quantize = None if args.quantize == "none" else args.quantize
        steps.step("converting to TFLite")
        path = export_tflite(G, args.out, name=args.name, version=args.version,
                             batch=args.batch, quantize=quantize, noise=args.noise,
                             truncation_cutoff=cutoff)
        print(f"Wrote TFLite model {path} ({G.family}, batch {args.batch}, "
              f"{args.quantize if quantize else 'float32'}, noise {args.noise})")
        if not args.no_check:
            from keras_stylegan.export.tflite import psnr_vs_generator
            steps.step("checking the .tflite against the Keras generator")
            db = psnr_vs_generator(G, model_path=path)
            print(f"Check: PSNR vs the Keras generator on 4 samples: {db:.1f} dB")
            if not db >= MIN_PSNR_WARNING:
                print(f"Warning: below {MIN_PSNR_WARNING} dB, the images differ visibly from "
                      "the float model's; try --quantize float16 or none", file=sys.stderr)

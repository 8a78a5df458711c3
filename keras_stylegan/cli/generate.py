"""Generate images from a network: one PNG per seed, optionally a grid.

Examples:
  keras-stylegan generate --network karras2019stylegan-ffhq-1024x1024.pkl \\
      --seeds 0-7 --trunc 0.7 --noise-mode const --outdir out
  keras-stylegan generate --network network-snapshot-025000.pkl --seeds 0-3 --outdir out
  keras-stylegan generate --network runs/demo --seeds 0-15 --grid --outdir out
  keras-stylegan generate --network ffhq.pkl --ws proj/projected_w.npz --outdir out
"""

import os


def add_arguments(p):
    p.add_argument("--network", required=True, metavar="FILE",
                   help="NVIDIA .pkl (TF1 or PyTorch), .keras snapshot, training run dir, "
                   "preset:NAME, or an exported .tflite")
    p.add_argument("--seeds", default=None, help="seeds, e.g. '0-7,12' (default: 0-7)")
    p.add_argument("--ws", metavar="FILE",
                   help="draw the ws of FILE instead of seeds (projected_w.npz of `keras-stylegan "
                   "project` or NVIDIA's projector; its noise maps too, with --noise-mode "
                   "const): one wsNNNN.png per w")
    p.add_argument("--trunc", type=float, default=1.0, metavar="PSI",
                   help="truncation psi (default 1 = none; NVIDIA's examples use 0.7)")
    p.add_argument("--trunc-cutoff", type=int, default=None, metavar="N",
                   help="truncate only the first N style layers (default: the network's)")
    p.add_argument("--noise-mode", choices=("const", "random", "none"), default="const",
                   help="per-pixel noise: stored maps, random maps drawn from each seed "
                   "(reproducible), or none (default const)")
    p.add_argument("--noise-seed", type=int, default=0, metavar="N",
                   help="with --noise-mode random: another draw of each seed's noise "
                   "(default 0, the noise a SavedModel's `seed` input gives)")
    p.add_argument("--class", dest="class_idx", default=None, metavar="CLASSES",
                   help="class index for conditional networks; several ('0-4') draw every "
                   "seed for each class, one grid row per class")
    p.add_argument("--grid", action="store_true", help="also write grid.png")
    p.add_argument("--grid-scale", type=int, default=1, metavar="N",
                   help="enlarge the grid's pixels N times (nearest; for small images)")
    p.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    p.add_argument("--outdir", required=True, help="output folder")


def run(args):
    from keras_stylegan.cli.errors import CommandError
    from keras_stylegan.generate import parse_seeds

    if args.batch < 1:
        raise CommandError("--batch must be >= 1")
    if args.grid_scale < 1:
        raise CommandError("--grid-scale must be >= 1")
    if args.ws is not None:
        names, images = _ws_images(args)
        write_images(args, images, names, len(names))
        return
    try:
        seeds = parse_seeds("0-7" if args.seeds is None else args.seeds)
    except ValueError as e:
        raise CommandError(f"--seeds: {e}") from None
    from keras_stylegan.noise import noise_key
    try:
        noise_key(seeds, args.noise_seed)
    except ValueError as e:
        raise CommandError(f"--seeds/--noise-seed: {e}") from None
    if args.network.endswith(".tflite"):  # a LiteRT model from `keras-stylegan export`
        names, images = _tflite_images(args, seeds)
    else:
        names, images = _keras_images(args, seeds)
    write_images(args, images, names, len(seeds))


def _keras_images(args, seeds):
    from keras_stylegan.generate import ImageGenerator
    from keras_stylegan.loading import load_generator
    from keras_stylegan.networks.generator import DEFAULT

    G = load_generator(args.network)
    plan_seeds, labels, names = plan(args, seeds, G.label_size)
    cutoff = DEFAULT if args.trunc_cutoff is None else args.trunc_cutoff
    gen = ImageGenerator(G, truncation_psi=args.trunc, truncation_cutoff=cutoff,
                         noise_mode=args.noise_mode, noise_seed=args.noise_seed)

    def draw(i, j):
        return gen.from_seeds(plan_seeds[i:j], labels=None if labels is None else labels[i:j],
                              batch_size=args.batch)
    return names, in_chunks(len(plan_seeds), args.batch, draw)


def _ws_images(args):
    """Images of the ws (and stored noise maps) of the file `--ws`."""
    from keras import ops

    from keras_stylegan.cli.errors import CommandError
    from keras_stylegan.loading import load_generator
    from keras_stylegan.ops.basic import to_uint8_tensor
    from keras_stylegan.ws_file import load_noise, load_ws

    given = [flag for flag, on in (("--seeds", args.seeds is not None),
                                   ("--trunc", args.trunc != 1.0),
                                   ("--trunc-cutoff", args.trunc_cutoff is not None),
                                   ("--class", args.class_idx is not None)) if on]
    if given:
        raise CommandError(f"--ws draws the ws of the file as they are: leave out "
                           f"{', '.join(given)}")
    if args.network.endswith(".tflite"):
        raise CommandError(f"--ws needs the network's synthesis network, which {args.network} "
                           "does not expose; use the network it was exported from (.pkl, "
                           ".keras, run directory)")
    G = load_generator(args.network)
    ws = load_ws(args.ws, num_ws=G.num_ws, w_dim=G.w_dim)
    noise = None
    if args.noise_mode == "const" and G.synthesis.get_config().get("use_noise", True):
        noise = load_noise(args.ws, G.synthesis.noise_shapes)

    def draw(i, j):
        img = G.synthesis(ws[i:j], noise_mode=args.noise_mode, noise=noise)
        return ops.convert_to_numpy(to_uint8_tensor(img))
    return [f"ws{i:04d}.png" for i in range(len(ws))], in_chunks(len(ws), args.batch, draw)


def _tflite_images(args, seeds):
    """Images of an exported `.tflite`, whose truncation cutoff and noise
    handling were fixed at export time."""
    from keras_stylegan.cli.errors import CommandError
    from keras_stylegan.export.tflite import TFLiteGenerator
    from keras_stylegan.generate import latents_from_seeds
    from keras_stylegan.noise import noise_key

    if not os.path.isfile(args.network):
        raise FileNotFoundError(f"No such network file: {args.network}")
    gen = TFLiteGenerator(args.network)
    if args.trunc_cutoff is not None:
        raise CommandError("--trunc-cutoff is fixed when a .tflite is exported; "
                           "re-export with `keras-stylegan export --trunc-cutoff N`")
    if gen.noise_from_seed and args.noise_mode != "random":
        raise CommandError(
            f"{args.network} takes noise maps as inputs (exported with --noise input): "
            "use --noise-mode random (noise from each seed)")
    if not gen.noise_from_seed and args.noise_mode != "const":
        raise CommandError(
            f"{args.network} has the stored noise maps built in (exported with --noise "
            "const): use --noise-mode const, or re-export with --noise input")
    plan_seeds, labels, names = plan(args, seeds, gen.label_size)

    def draw(i, j):
        z = latents_from_seeds(plan_seeds[i:j], gen.z_dim)
        return gen(z, truncation_psi=args.trunc,
                   seeds=noise_key(plan_seeds[i:j], args.noise_seed),
                   labels=None if labels is None else labels[i:j])[1]
    return names, in_chunks(len(plan_seeds), gen.batch * max(args.batch // gen.batch, 1), draw)


def in_chunks(n, size, draw):
    """`draw(i, j)` for consecutive ranges of `size` of `n` images, concatenated;
    reports the images done on stderr."""
    import numpy as np

    from keras_stylegan.cli.progress import Progress
    progress = Progress("generate", n, "images")
    out = []
    for i in range(0, n, size):
        j = min(i + size, n)
        out.append(draw(i, j))
        progress.update(j)
    return np.concatenate(out)


def plan(args, seeds, label_size):
    """(seeds, labels, file names) of `--seeds`/`--class` for a network with `label_size`."""
    from keras_stylegan.cli.errors import CommandError
    from keras_stylegan.generate import parse_seeds, seed_class_plan
    try:
        classes = None if args.class_idx is None else parse_seeds(args.class_idx)
        return seed_class_plan(seeds, classes, label_size)
    except ValueError as e:
        raise CommandError(str(e).replace("seed range", "class range")) from None


def write_images(args, images, names, num_seeds):
    """One PNG per image, and with --grid `grid.png` (a row per class when the
    images are several classes of `num_seeds` seeds each)."""
    from keras_stylegan.generate import image_grid, save_png
    for name, img in zip(names, images):
        save_png(img, os.path.join(args.outdir, name))
    if args.grid:
        cols = num_seeds if len(names) > num_seeds else None
        save_png(image_grid(images, cols=cols, scale=args.grid_scale),
                 os.path.join(args.outdir, "grid.png"))
    print(f"Wrote {len(names)} image(s) to {args.outdir}")

"""Draw the papers' figures of a network as PNGs (and an animated GIF).

Kinds:
  uncurated      a grid of seeds (Figures 10-13; psi 0.7 as the paper)
  style-mixing   Figure 3: --cols sources' styles replace the --rows sources' in
                 --styles (coarse 4-8 px, middle 16-32 px, fine 64 px and up, or
                 a range such as 0-3); a source is a seed range or a ws file
                 (.npz, e.g. the projector's projected_w.npz)
  truncation     Figure 8: a row per seed, a column per psi, around w_avg
  noise          Figure 4 (one w under --draws noise draws, a zoomed crop and the
                 per-pixel std) and Figure 5 (noise on all / no / fine / coarse layers)
  interpolation  lerp in W (or slerp in Z) between seeds: a strip PNG and a GIF

Random noise comes from each image's seed and --noise-seed, so a command
always writes the same PNGs.

Examples:
  keras-stylegan figures style-mixing --network runs/demo --rows 0-3 --cols 4-8 \\
      --styles coarse --scale 4 --outdir fig
  keras-stylegan figures truncation --network ffhq.pkl --seeds 91,388 --psi 1..-1:9 --outdir fig
  keras-stylegan figures noise --network ffhq.pkl --seeds 3 --draws 100 --outdir fig
  keras-stylegan figures interpolation --network ffhq.pkl --seeds 0-3 --space z --outdir fig
"""

import os

MAX_DRAWS = 1000  # noise draws kept in memory for the std image
MAX_SIDE = 16384  # px of one enlarged image
KINDS = ("uncurated", "style-mixing", "truncation", "noise", "interpolation")


def add_arguments(p):
    p.add_argument("kind", choices=KINDS, help="the figure to draw")
    p.add_argument("--network", required=True, metavar="NET",
                   help="NVIDIA .pkl (TF1 or PyTorch), .keras snapshot, training run dir, "
                   "preset:NAME, or an exported SavedModel (folder)")
    p.add_argument("--outdir", required=True, help="output folder")
    p.add_argument("--seeds", default=None,
                   help="seeds (uncurated: 0-11; truncation: 91,388; noise: 3,7 (the first "
                   "for Figure 4); interpolation: 0-3)")
    p.add_argument("--trunc", type=float, default=None, metavar="PSI",
                   help="truncation psi of the images (uncurated: 0.7 as the paper; else 1)")
    p.add_argument("--trunc-cutoff", "--cutoff", dest="cutoff", type=int, default=None,
                   metavar="N", help="truncate only the first N styles (default: the network's)")
    p.add_argument("--noise-mode", choices=("const", "random", "none"), default="const",
                   help="noise of the images (not of `noise`): stored maps (default, as "
                   "NVIDIA's figures), random maps from each seed, or none")
    p.add_argument("--noise-seed", type=int, default=0, metavar="N",
                   help="another draw of the random noise (default 0)")
    p.add_argument("--class", dest="class_idx", type=int, default=None, metavar="C",
                   help="class index of a conditional network")
    p.add_argument("--scale", type=int, default=1, metavar="N",
                   help="enlarge every pixel N times (nearest; for small networks)")
    p.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    g = p.add_argument_group("uncurated")
    g.add_argument("--per-row", type=int, default=None, metavar="N",
                   help="images per row (default: a square grid)")
    g = p.add_argument_group("style-mixing")
    g.add_argument("--rows", default="85,100,75,458,1500",
                   help="row sources: seeds and/or ws files, e.g. '0-3' or "
                   "'proj/projected_w.npz,5' (default: NVIDIA's 85,100,75,458,1500)")
    g.add_argument("--cols", default="55,821,1789,293",
                   help="column sources (default: NVIDIA's 55,821,1789,293)")
    g.add_argument("--styles", default="coarse",
                   help="styles the columns give: coarse, middle, fine or a range such as "
                   "'0-6' (default coarse)")
    g = p.add_argument_group("truncation")
    g.add_argument("--psi", default="1,0.7,0.5,0,-0.5,-1",
                   help="psi values: a list, or A..B:N for N steps (default: the paper's "
                   "1,0.7,0.5,0,-0.5,-1)")
    g = p.add_argument_group("noise")
    g.add_argument("--draws", type=int, default=100,
                   help="noise draws for the std image (default 100, NVIDIA's)")
    g.add_argument("--show", type=int, default=None,
                   help="draws shown (default 4, or --draws if fewer)")
    g.add_argument("--crop", default=None, metavar="X,Y,SIZE",
                   help="the zoomed square (default: a quarter-size square at the centre)")
    g.add_argument("--noise-figures", choices=("both", "variation", "layers"), default="both",
                   help="Figure 4 (variation), Figure 5 (layers) or both (default)")
    g.add_argument("--noise-split", type=int, default=None, metavar="PX",
                   help="fine noise = this resolution and up (default: the paper's 64 px, "
                   "or half the resolution for networks of 64 px and less)")
    g = p.add_argument_group("interpolation")
    g.add_argument("--space", choices=("w", "z"), default="w",
                   help="lerp in W (default) or slerp in Z")
    g.add_argument("--steps", type=int, default=8,
                   help="frames from one seed to the next, both included (default 8)")
    g.add_argument("--fps", type=int, default=10, help="frames per second of the GIF")


def run(args):
    from keras_stylegan.cli.errors import CommandError
    from keras_stylegan.generate import image_grid, save_png

    check_args(args)
    net = load_network(args)
    if net.resolution * args.scale > MAX_SIDE:
        raise CommandError(f"--scale {args.scale} makes {net.resolution * args.scale} px "
                           f"images; keep resolution x scale <= {MAX_SIDE}")
    outputs = DRAW[args.kind](net, args)
    for name, image in outputs.items():
        path = os.path.join(args.outdir, name)
        if name.endswith(".gif"):
            from keras_stylegan.generate import save_gif
            save_gif(image_grid_frames(image, args.scale), path, fps=args.fps)
        else:
            save_png(image_grid(image[None], cols=1, scale=args.scale), path)
        print(f"Wrote {path}")


def image_grid_frames(frames, scale):
    return frames.repeat(scale, axis=1).repeat(scale, axis=2) if scale > 1 else frames


def check_args(args):
    from keras_stylegan.cli.errors import CommandError
    if args.show is None:
        args.show = min(4, args.draws)
    for name in ("scale", "batch", "draws", "show", "fps"):
        if getattr(args, name) < 1:
            raise CommandError(f"--{name} must be >= 1")
    if args.show > args.draws:
        raise CommandError(f"--show {args.show}: show must be in [1, draws = {args.draws}]")
    if args.fps > 100:
        raise CommandError("--fps must be <= 100 (GIF frame times are in 1/100 s)")
    if args.draws > MAX_DRAWS:
        raise CommandError(f"--draws must be <= {MAX_DRAWS} (all draws are kept for the std)")
    if args.steps < 2:
        raise CommandError("--steps must be >= 2 (both ends of each segment)")
    if args.per_row is not None and args.per_row < 1:
        raise CommandError("--per-row must be >= 1")
    if not 0 <= args.noise_seed < 2 ** 31:
        raise CommandError(f"--noise-seed must be in [0, {2 ** 31 - 1}]")


def load_network(args):
    """The figures' network of `--network`: a `Generator` (any file `generate`
    loads), or a SavedModel; a .tflite gets one clear error."""
    from keras_stylegan.cli.errors import CommandError
    from keras_stylegan.figures.network import FigureNetwork
    from keras_stylegan.loading import load_generator
    spec = args.network
    opts = dict(noise_mode=args.noise_mode, noise_seed=args.noise_seed,
                class_idx=args.class_idx, batch_size=args.batch)
    if spec.endswith(".tflite"):
        raise CommandError(
            f"{spec} is a TFLite model, which has no mapping or synthesis signature to draw "
            "figures with: pass the SavedModel, .keras snapshot, run directory or .pkl it "
            "was exported from")
    saved = savedmodel_path(spec)
    if saved is not None:
        from keras_stylegan.export.figures import SavedModelFigureNetwork
        return SavedModelFigureNetwork(saved, **opts)
    return FigureNetwork(load_generator(spec), **opts)


def savedmodel_path(path):
    """`path` if it is a SavedModel folder, its newest version if it is a model folder
    of numbered versions (`export`'s layout), else None."""
    if not os.path.isdir(path):
        return None
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    versions = sorted(int(d) for d in os.listdir(path)
                      if d.isdigit() and os.path.isfile(os.path.join(path, d, "saved_model.pb")))
    return os.path.join(path, str(versions[-1])) if versions else None


def seeds_of(args, default):
    from keras_stylegan.cli.errors import CommandError
    from keras_stylegan.generate import parse_seeds
    from keras_stylegan.noise import noise_key
    try:
        seeds = parse_seeds(args.seeds or default)
        noise_key(seeds)  # checks their range
        return seeds
    except ValueError as e:
        raise CommandError(f"--seeds: {e}") from None


def psi(args, default=1.0):
    return default if args.trunc is None else args.trunc


def cutoff(args):
    from keras_stylegan.networks.generator import DEFAULT
    return DEFAULT if args.cutoff is None else args.cutoff


def draw_uncurated(net, args):
    from keras_stylegan.figures.uncurated import UNCURATED_PSI, uncurated
    seeds = seeds_of(args, "0-11")
    return {"uncurated.png": uncurated(net, seeds, psi(args, UNCURATED_PSI), cutoff(args),
                                       cols=args.per_row)}


def draw_style_mixing(net, args):
    from keras_stylegan.figures.layers import parse_styles
    from keras_stylegan.figures.style_mixing import style_mixing
    styles = parse_styles(net.synthesis, args.styles)
    rows = sources(net, args, "--rows", args.rows)
    cols = sources(net, args, "--cols", args.cols)
    name = args.styles.strip().replace(",", "_")
    return {f"style-mixing-{name}.png": style_mixing(net, rows, cols, styles)}


def sources(net, args, flag, text):
    """Sources of a style-mixing figure: seeds (truncated by --trunc) and ws files, in order."""
    from keras_stylegan.cli.errors import CommandError
    from keras_stylegan.figures.style_mixing import Source
    from keras_stylegan.generate import parse_seeds
    from keras_stylegan.noise import noise_key
    from keras_stylegan.ws_file import load_ws
    parts = []
    for part in str(text).split(","):
        part = part.strip()
        if part.endswith(".npz"):
            parts.append(Source.from_ws(load_ws(part, net.num_ws, net.w_dim)))
            continue
        try:
            seeds = parse_seeds(part)
            noise_key(seeds)  # checks their range
        except ValueError as e:
            raise CommandError(f"{flag}: {e} A source is a seed range or a ws file (.npz).") \
                from None
        parts.append(Source.from_seeds(net, seeds, psi(args)))
    return Source.concat(parts)


def draw_truncation(net, args):
    from keras_stylegan.figures.truncation import PAPER_SEEDS, parse_psis, truncation
    seeds = seeds_of(args, ",".join(map(str, PAPER_SEEDS)))
    return {"truncation.png": truncation(net, seeds, parse_psis(args.psi), cutoff(args))}


def draw_noise(net, args):
    from keras_stylegan.cli.errors import CommandError
    from keras_stylegan.figures.stochastic import noise_layers, variation
    seeds = seeds_of(args, "3,7")
    crop = None
    if args.crop is not None:
        try:
            crop = tuple(int(v) for v in args.crop.split(","))
            if len(crop) != 3:
                raise ValueError
        except ValueError:
            raise CommandError(f"--crop {args.crop!r}: use X,Y,SIZE, e.g. 16,8,8") from None
    out = {}
    if args.noise_figures in ("both", "layers"):  # first: it may refuse the network
        out["noise-layers.png"] = noise_layers(net, seeds, args.noise_split, psi(args),
                                               cutoff(args))
    if args.noise_figures in ("both", "variation"):
        out["noise-variation.png"] = variation(net, seeds[0], args.draws, args.show, crop,
                                               psi(args), cutoff(args))
    return out


def draw_interpolation(net, args):
    import numpy as np

    from keras_stylegan.figures.interpolation import interpolation_frames
    from keras_stylegan.generate import image_grid
    seeds = seeds_of(args, "0-3")
    frames = interpolation_frames(net, seeds, args.steps, args.space, psi(args), cutoff(args))
    # the strip: a row per segment, both ends shown
    rows = [frames[k * (args.steps - 1):(k + 1) * (args.steps - 1) + 1]
            for k in range(len(seeds) - 1)]
    strip = image_grid(np.concatenate(rows), cols=args.steps)
    return {"interpolation.png": strip, "interpolation.gif": frames}


DRAW = {"uncurated": draw_uncurated, "style-mixing": draw_style_mixing,
        "truncation": draw_truncation, "noise": draw_noise,
        "interpolation": draw_interpolation}

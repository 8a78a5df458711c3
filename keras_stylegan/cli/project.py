"""Project an image into W: StyleGAN2's projector (NVIDIA's projector.py).

Optimises one w (from the average w) and the noise maps so that the network
draws the target image. The distance is LPIPS-VGG16 from the public weight
files (vgg16-397923af.pth and the lpips package's vgg.pth, found as for
`keras-stylegan metrics`); without them a FALLBACK pixel distance is used and
named in the output (see README "Projecting an image into W").

Writes to --outdir: target.png (the cropped, resized target), proj.png (the
projection), target_proj.png (the two side by side), projected_w.npz (NVIDIA's
format: array 'w' [1, num_ws, w_dim], plus the optimised noise maps; use it
with `generate --ws`), and with --save-video proj.gif (target | projection at
every step).

Examples:
  keras-stylegan project --network stylegan2-ffhq-config-f.pkl --target face.jpg \\
      --feature-weights ~/weights --outdir proj
  keras-stylegan generate --network stylegan2-ffhq-config-f.pkl \\
      --ws proj/projected_w.npz --outdir again
"""

import os
import sys
import time

VIDEO_MAX_FRAMES = 100     # frames kept for --save-video (evenly spaced steps)
VIDEO_MAX_SIDE = 512       # each half of a video frame is at most this many pixels
VIDEO_FRAME_MS = 50


def add_arguments(p):
    p.add_argument("--network", required=True, metavar="NET",
                   help="NVIDIA .pkl (TF1 or PyTorch), .keras snapshot, training run dir, or "
                   "preset:NAME (StyleGAN or StyleGAN2)")
    p.add_argument("--target", required=True, metavar="IMAGE",
                   help="PNG or JPEG image; centre-cropped and resized to the network's size")
    p.add_argument("--outdir", required=True, help="output folder")
    p.add_argument("--steps", type=int, default=1000, help="optimisation steps (default 1000)")
    p.add_argument("--seed", type=int, default=303,
                   help="seed of the initial noise maps and the w noise (default 303, NVIDIA's)")
    p.add_argument("--save-video", action="store_true",
                   help="also write proj.gif, target | projection at every step")
    p.add_argument("--distance", choices=("auto", "lpips", "pixel"), default="auto",
                   help="lpips: LPIPS-VGG16 (needs the weight files); pixel: the fallback "
                   "multi-scale pixel MSE; auto (default): lpips when the files are found")
    p.add_argument("--feature-weights", metavar="DIR",
                   help="folder holding vgg16-397923af.pth and vgg.pth (default: "
                   "$KERAS_STYLEGAN_WEIGHTS)")
    p.add_argument("--class", dest="class_idx", type=int, default=None, metavar="C",
                   help="class of a conditional network (for the average w; default: all)")
    p.add_argument("--w-avg-samples", type=int, default=10000, metavar="N",
                   help="random z mapped for the average w and its spread (default 10000)")


def run(args):
    from keras_stylegan.cli.errors import CommandError
    from keras_stylegan.errors import ConfigError
    from keras_stylegan.generate import class_labels
    from keras_stylegan.loading import load_generator
    from keras_stylegan.metrics.weights import WeightsFileError
    from keras_stylegan.projection_distance import projection_features
    from keras_stylegan.projector import Projector, ProjectorConfig
    from keras_stylegan.target_image import load_target

    check_network_kind(args.network, CommandError)
    try:
        cfg = ProjectorConfig(num_steps=args.steps, w_avg_samples=args.w_avg_samples)
    except ConfigError as e:
        raise CommandError(str(e).replace("num_steps", "--steps")
                           .replace("w_avg_samples", "--w-avg-samples")) from None
    G = load_generator(args.network)
    if args.class_idx is not None and not G.label_size:
        raise CommandError("the network is unconditional: leave out --class")
    try:
        labels = class_labels(args.class_idx, G.label_size, 1)
    except ValueError as e:
        raise CommandError(f"--class: {e}") from None
    target_u8 = load_target(args.target, G.resolution, G.num_channels)
    try:
        features, note = projection_features(args.distance, args.feature_weights)
    except WeightsFileError as e:
        raise CommandError(f"{e} (or use --distance pixel, the fallback)") from None
    say(f"distance: {features.name}")
    if note:
        say(f"warning: {note}")
    target = target_u8[None].astype("float32") / 127.5 - 1.0
    projector = Projector(G, features, cfg, seed=args.seed, labels=labels)
    video = VideoFrames(target_u8, cfg.num_steps) if args.save_video else None
    report = StepReport(cfg.num_steps)

    def callback(step, dist, image):
        report(step, dist)
        if video is not None:
            video.add(step, image)

    result = projector.project(target, callback)
    write_outputs(args.outdir, target_u8, result, video)
    print(f"Projected {args.target} with {features.name}: final distance "
          f"{result.distance:.6g}. Wrote target.png, proj.png, target_proj.png, "
          f"projected_w.npz{', proj.gif' if video else ''} to {args.outdir}")


def check_network_kind(network, CommandError):
    """The projector needs the synthesis network and gradients: not a .tflite."""
    if os.fspath(network).endswith((".tflite", ".pb")) or os.path.isfile(
            os.path.join(network, "saved_model.pb")):
        raise CommandError(
            f"{network} is an exported model, which has no synthesis network to "
            "differentiate; project with the network it was exported from (.pkl, .keras, "
            "run directory or preset:NAME)")


def say(text):
    print(f"keras-stylegan project: {text}", file=sys.stderr, flush=True)


class StepReport:
    """One progress line per second (and for the first and last step): the step,
    the distance and the estimated time left."""

    def __init__(self, total, min_interval=1.0):
        self.total, self.min_interval = total, min_interval
        self.start = self.last = None

    def __call__(self, step, dist):
        now = time.monotonic()
        done = step + 1
        if self.start is None:
            self.start = now
        if not (done in (1, self.total) or now - self.last >= self.min_interval):
            return
        self.last = now
        left = (now - self.start) / max(done - 1, 1) * (self.total - done)
        say(f"step {done}/{self.total}  dist {dist:.6g}  ETA {format_seconds(left)}")


def format_seconds(seconds):
    """'1h02m', '3m05s' or '12s'.

    >>> format_seconds(3725), format_seconds(185), format_seconds(12.4)
    ('1h02m', '3m05s', '12s')
    """
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def side_by_side(a, b):
    import numpy as np
    return np.concatenate([a, b], axis=1)


class VideoFrames:
    """target | projection frames of evenly spaced steps (at most
    VIDEO_MAX_FRAMES, halves at most VIDEO_MAX_SIDE pixels), saved as a GIF."""

    def __init__(self, target_u8, total):
        self.every = max(1, -(-total // VIDEO_MAX_FRAMES))
        self.total, self.target, self.frames = total, target_u8, []

    def add(self, step, image):
        if step % self.every and step != self.total - 1:
            return
        from keras import ops

        from keras_stylegan.ops.basic import to_uint8_tensor
        proj = ops.convert_to_numpy(to_uint8_tensor(image))[0]
        self.frames.append(self._small(side_by_side(self.target, proj)))

    def _small(self, frame):
        import PIL.Image
        h = frame.shape[0]
        im = PIL.Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame)
        if h > VIDEO_MAX_SIDE:
            im = im.resize((frame.shape[1] * VIDEO_MAX_SIDE // h, VIDEO_MAX_SIDE),
                           PIL.Image.LANCZOS)
        return im

    def save(self, path):
        from keras_stylegan import files
        with files.atomic_file(path, "the video") as tmp:
            self.frames[0].save(tmp, format="GIF", save_all=True,
                                append_images=self.frames[1:], duration=VIDEO_FRAME_MS,
                                loop=0)


def write_outputs(outdir, target_u8, result, video):
    from keras import ops

    from keras_stylegan.generate import save_png
    from keras_stylegan.ops.basic import to_uint8_tensor
    from keras_stylegan.ws_file import save_ws
    proj = ops.convert_to_numpy(to_uint8_tensor(result.image))[0]
    save_png(target_u8, os.path.join(outdir, "target.png"))
    save_png(proj, os.path.join(outdir, "proj.png"))
    save_png(side_by_side(target_u8, proj), os.path.join(outdir, "target_proj.png"))
    save_ws(os.path.join(outdir, "projected_w.npz"), result.ws, noise=result.noise)
    if video is not None:
        video.save(os.path.join(outdir, "proj.gif"))

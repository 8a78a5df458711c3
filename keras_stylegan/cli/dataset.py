"""Convert images into a training dataset: a ZIP (with dataset.json) or NVIDIA TFRecords.

The source is anything `open_dataset` reads: a folder of PNG/JPEG images
(recursive), a .zip, a TFRecords set, or `builtin` / `builtin:N` (the
procedural shapes). Images are normalised exactly as the training reader
does (padded to square, resized to --resolution), so training on the
output gives the same pixels as training on the source.

Formats:
  zip        images as DEST.zip/00000/img00000000.png ... plus dataset.json
             ({"labels": [["00000/img00000000.png", label], ...]} or null)
  tfrecords  NVIDIA's multi-resolution set DEST/NAME-r02.tfrecords ...
             NAME-rNN.tfrecords (NAME = basename of DEST; each level the 2x2
             average of the one above) and NAME-rxx.labels (.npy) with labels

Labels come from --labels FILE.json (names relative to --source), else
from the source's own dataset.json / NAME-rxx.labels / built-in factors;
NAME-rxx.labels holds float32 [N, L] (classes one-hot), as NVIDIA's reader
expects. Files are written under hidden temporary names (.tmp-...) in the
destination folder and renamed into place when complete; readers ignore
them and the next conversion removes those of a killed one. Images that do
not decode (or exceed the size limits) are skipped and listed.

Examples:
  keras-stylegan dataset --source ~/photos --dest photos-256.zip --resolution 256
  keras-stylegan dataset --source builtin:20000 --dest datasets/shapes --format tfrecords
  keras-stylegan dataset --source ~/cars --dest cars.zip --labels ~/cars/classes.json
"""

import argparse
import json
import os
import sys
import time

FORMATS = ("zip", "tfrecords")
PROGRESS_SECONDS = 2.0


def add_arguments(parser):
    io = parser.add_argument_group("input and output")
    io.add_argument("--source", required=True, metavar="PATH",
                    help="folder of PNG/JPEG, .zip, TFRecords, or builtin[:N]")
    io.add_argument("--dest", required=True, metavar="OUT",
                    help="OUT.zip for --format zip, a folder for --format tfrecords")
    io.add_argument("--format", choices=FORMATS, default=None,
                    help="output format (default: zip if --dest ends in .zip, else tfrecords)")
    opts = parser.add_argument_group("options")
    opts.add_argument("--resolution", type=_power_of_two, default=None, metavar="R",
                      help="output resolution, a power of two (default: the source's)")
    opts.add_argument("--labels", default=None, metavar="FILE.json",
                      help='labels {"labels": [["path", label], ...]}, paths relative to '
                           "--source (default: the source's own labels, if any)")
    opts.add_argument("--max-images", type=_positive_int, default=None, metavar="N",
                      help="convert only the first N images")
    opts.add_argument("--force", action="store_true",
                      help="overwrite an existing --dest")


def _power_of_two(text):
    value = _positive_int(text)
    if value < 4 or value & (value - 1):
        raise argparse.ArgumentTypeError(f"must be a power of two >= 4, got {text}")
    return value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def run(args):
    from keras_stylegan.cli.errors import CommandError

    fmt = _resolve_format(args, CommandError)
    _check_dest(args.dest, fmt, args.force, CommandError)
    ds = _open(args, CommandError)
    print(f"Converting {ds.num_images} images from {args.source} ({ds.kind}): "
          f"{ds.resolution}x{ds.resolution}, {ds.num_channels} channel(s), "
          f"{ds.label_size} label(s) -> {fmt} {args.dest}", file=sys.stderr)
    from keras_stylegan.files import write_errors

    try:
        with write_errors("the dataset", args.dest, "Nothing was replaced: free space and "
                          "run the command again.", full_only=True):
            if fmt == "zip":
                write_zip(ds, args.dest)
            else:
                write_tfrecords(ds, args.dest, remove_stale=args.force)
    finally:
        ds.close()
    print(f"Wrote {args.dest}", file=sys.stderr)
    return 0


def _resolve_format(args, error):
    fmt = args.format or ("zip" if args.dest.lower().endswith(".zip") else "tfrecords")
    if fmt == "zip" and not args.dest.lower().endswith(".zip"):
        raise error(f"--format zip needs --dest ending in .zip. Received: --dest {args.dest}")
    if fmt == "tfrecords" and args.dest.lower().endswith(".zip"):
        raise error("--format tfrecords writes a folder; give --dest a folder name, "
                    f"not {args.dest}")
    return fmt


def _check_dest(dest, fmt, force, error):
    if fmt == "zip":
        exists = os.path.exists(dest)
    else:
        exists = bool(_tfrecords_files(dest))
    if exists and not force:
        raise error(f"{dest} already holds a dataset. Choose another --dest or pass --force "
                    "to overwrite it.")


def _open(args, error):
    from keras_stylegan.training.data import open_dataset
    from keras_stylegan.training.data.sources import NoLabelsError

    kwargs = dict(resolution=args.resolution, max_images=args.max_images)
    if args.labels is not None:
        if not os.path.isfile(args.labels):
            raise error(f"--labels file {args.labels} does not exist.")
        if not _is_file_source(args.source):
            raise error("--labels applies to a folder or .zip source only (builtin and "
                        "TFRecords carry their own labels).")
        return open_dataset(args.source, use_labels=True, label_file=args.labels, **kwargs)
    try:
        return open_dataset(args.source, use_labels=True, **kwargs)
    except NoLabelsError:
        return open_dataset(args.source, use_labels=False, **kwargs)


def _is_file_source(source):
    from keras_stylegan.training.data.tfrecords import find_tfrecords

    if source.startswith("builtin") or not os.path.exists(source):
        return False
    return find_tfrecords(source) is None


def _tfrecords_files(dest):
    """The files of the TFRecords set a tfrecords export to `dest` would replace."""
    if not os.path.isdir(dest):
        return []
    name = os.path.basename(os.path.abspath(dest))
    return sorted(f for f in os.listdir(dest)
                  if f.startswith(name + "-r") and f.endswith((".tfrecords", ".labels")))


class _Progress:
    """Prints 'done/total images (pct), rate, time left' every PROGRESS_SECONDS."""

    def __init__(self, total):
        self.total, self.start, self.last = total, time.time(), time.time()

    def update(self, done, force=False):
        now = time.time()
        if not force and now - self.last < PROGRESS_SECONDS:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        left = (self.total - done) / rate if rate > 0 else 0.0
        print(f"  {done}/{self.total} images ({100.0 * done / max(self.total, 1):.0f}%), "
              f"{rate:.0f} images/s, {left:.0f}s left", file=sys.stderr, flush=True)


def zip_name(index):
    """Archive name of image `index`, as NVIDIA's stylegan2-ada dataset_tool names them."""
    return f"{index // 1000:05d}/img{index:08d}.png"


def _json_label(label, are_classes):
    return int(label.argmax()) if are_classes else [float(v) for v in label]


def write_zip(ds, dest):
    """Writes `ds` as a ZIP of PNGs plus dataset.json, atomically (temp file + rename)."""
    import zipfile

    from keras_stylegan import files

    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    files.remove_stale(folder, os.path.basename(dest))
    temp = files.new_temp_file(folder, os.path.basename(dest))
    try:
        entries = []
        progress = _Progress(ds.num_images)
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_STORED) as archive:
            for indices, images in ds.iter_uint8(batch_size=64):
                for index, image in zip(indices, images):
                    archive.writestr(zip_name(int(index)), _png_bytes(image))
                    entries.append(int(index))
                progress.update(len(entries))
            archive.writestr("dataset.json", json.dumps(_labels_json(ds, entries)))
        progress.update(len(entries), force=True)
        os.replace(temp, dest)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise


def _labels_json(ds, entries):
    if ds.label_size == 0:
        return {"labels": None}
    are_classes = getattr(ds.source, "labels_are_classes", False)
    return {"labels": [[zip_name(i), _json_label(ds.labels[i], are_classes)] for i in entries]}


def _png_bytes(image):
    import io

    import PIL.Image

    mode = "L" if image.shape[-1] == 1 else "RGB"
    buffer = io.BytesIO()
    PIL.Image.fromarray(image[..., 0] if mode == "L" else image, mode).save(buffer, "PNG")
    return buffer.getvalue()


def write_tfrecords(ds, dest, remove_stale=False):
    """Writes `ds` as NVIDIA multi-resolution TFRecords in folder `dest`, atomically.

    With `remove_stale`, files of an earlier set in `dest` with the same name
    that the new set does not replace (higher levels, labels) are removed.
    """
    from keras_stylegan.training.data.tfrecords import TFRecordsWriter

    previous = _tfrecords_files(dest)
    progress = _Progress(ds.num_images)
    with TFRecordsWriter(dest, ds.resolution, ds.num_channels) as writer:
        for _, images in ds.iter_uint8(batch_size=64):
            for image in images:
                writer.add_image(image)
            progress.update(writer.num_images)
        if ds.label_size:
            writer.add_labels(ds.labels)  # float32 [N, L], classes one-hot (NVIDIA's)
    progress.update(ds.num_images, force=True)
    if remove_stale:
        written = {os.path.basename(path) for path in writer.written}
        for name in sorted(set(previous) - written):
            os.remove(os.path.join(dest, name))

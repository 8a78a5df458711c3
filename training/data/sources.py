"""Readers of image sources: the built-in shapes, a folder of images, a ZIP.

A source knows its images (count, resolution, channels, labels) and builds the
TensorFlow op that loads image `index` as uint8 [R, R, C]; the pipeline in
`training.data` does the shuffling, batching and pooling.
"""

import collections
import json
import os
import warnings
import zipfile

import numpy as np
import PIL.Image
import tensorflow as tf

from keras_stylegan.training import builtin
from keras_stylegan.training.data import images as image_ops

LABELS_JSON = "dataset.json"
MAX_LISTED = 20


class NoLabelsError(ValueError):
    """use_labels=True on a source that has no labels."""


class Source:
    """Base class: the attributes every source sets (see `training.data.ImageDataset`)."""

    kind = "source"
    name = ""
    path = ""
    num_images = 0
    resolution = 0
    num_channels = 3
    labels = None            # float32 [N, L] or None
    label_names = ()
    labels_are_classes = False
    image_names = None       # names of the images in order (file sources)
    skipped = ()             # [(name, reason)]

    def stored_level(self, resolution):
        """The resolution `tf_load` reads to give `resolution` (pooled down from it)."""
        return self.resolution

    def prepare(self, level):
        """Called before `tf_load(..., level)` is traced (e.g. to index files)."""

    def tf_load(self, index, level):
        """TensorFlow op: image `index` as uint8 [level, level, C]."""
        raise NotImplementedError(f"{type(self).__name__} must implement tf_load.")

    def close(self):
        pass


# --------------------------------------------------------------------------- built-in
class BuiltinSource(Source):
    """`builtin` / `builtin:N`: the procedural shapes of `training.builtin`
    (with `fixed`: some factors held fixed, see `BuiltinShapes`)."""

    kind = "builtin"

    def __init__(self, num_images, resolution=None, use_labels=False, fixed=None):
        self.shapes = builtin.BuiltinShapes(num_images, fixed=fixed)
        self.name = "builtin"
        self.path = f"builtin:{num_images}"
        self.num_images = self.shapes.num_images
        self.resolution = image_ops.check_resolution(
            resolution or builtin.DEFAULT_RESOLUTION, maximum=1024)
        self.factors = self.shapes.factors()
        if use_labels:  # True: all factors; else factor names, e.g. "shape"
            names = None if use_labels is True else use_labels
            self.labels = builtin.factors_to_labels(self.factors, names)
            self.label_names = builtin.label_names(names)

    def render(self, index):
        """uint8 [R, R, 3] image `index` (NumPy)."""
        factors = {key: value[int(index)] for key, value in self.factors.items()}
        return builtin.render_one(factors, self.resolution)

    def tf_load(self, index, level):
        image = tf.numpy_function(self.render, [index], tf.uint8, stateful=False)
        return tf.ensure_shape(image, [level, level, 3])


# --------------------------------------------------------------------------- image files
def _scan_headers(names, open_binary):
    """(infos, skipped): size and mode of each readable image, reasons for the others."""
    infos, skipped = [], []
    for name in names:
        try:
            with open_binary(name) as f, PIL.Image.open(f) as im:
                width, height = im.size
                gray = im.mode in image_ops.GRAY_MODES
            if im.format not in ("PNG", "JPEG", "MPO"):
                raise ValueError(f"{im.format} data, expected PNG or JPEG")
            infos.append((name, width, height, gray))
        except Exception as e:  # noqa: BLE001 - any decoder failure means "unreadable"
            skipped.append((name, f"unreadable ({type(e).__name__}: {_short(e)})"))
    return infos, skipped


def _short(error, limit=120):
    text = str(error).splitlines()[0] if str(error) else ""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _common_side(infos):
    """The most frequent padded side max(w, h) (ties: the larger)."""
    counts = collections.Counter(max(w, h) for _, w, h, _ in infos)
    return max(counts, key=lambda side: (counts[side], side))


def _select(infos, resolution):
    """Keeps images at least `resolution` on their longer side; reasons for the rest."""
    kept, skipped = [], []
    for name, width, height, gray in infos:
        if max(width, height) < resolution:
            skipped.append((name, f"{width}x{height} is smaller than the dataset resolution "
                                  f"{resolution}x{resolution}"))
        else:
            kept.append((name, width, height, gray))
    return kept, skipped


def report_skipped(where, skipped, total):
    """Warns with the names and reasons of skipped files (at most MAX_LISTED listed)."""
    if not skipped:
        return
    lines = [f"  {name}: {reason}" for name, reason in skipped[:MAX_LISTED]]
    if len(skipped) > MAX_LISTED:
        lines.append(f"  ... and {len(skipped) - MAX_LISTED} more")
    warnings.warn(f"Skipped {len(skipped)} of {total} image files in {where}:\n"
                  + "\n".join(lines), UserWarning, stacklevel=4)


def labels_from_json(obj, names, where):
    """(labels float32 [N, L] or None, are_classes) for `names` from a dataset.json object.

    The format is NVIDIA's (stylegan2-ada `dataset_tool.py`):
    `{"labels": [["dir/img.png", 3], ...]}` with an int class (one-hot
    encoded, L = max class + 1) or a list of floats per image; `"labels": null`
    means no labels.
    """
    if not isinstance(obj, dict) or "labels" not in obj:
        raise ValueError(f'{where} must be a JSON object {{"labels": [["path", label], ...]}}.')
    if obj["labels"] is None:
        return None, False
    try:
        mapping = {str(path).replace("\\", "/"): label for path, label in obj["labels"]}
    except (TypeError, ValueError):
        raise ValueError(f'{where}: "labels" must be a list of ["path", label] pairs.') from None
    missing = [name for name in names if name not in mapping]
    if missing:
        raise ValueError(f"{where} has no label for {len(missing)} of {len(names)} images "
                         f"(e.g. {', '.join(missing[:3])}). Give every image a label, or "
                         "open the dataset with use_labels=False.")
    return labels_from_values([mapping[name] for name in names], where)


def labels_from_values(values, where):
    """(float32 [N, L], are_classes) from int classes or equal-length float lists."""
    try:
        array = np.array(values)
    except ValueError:
        raise ValueError(f"{where}: label lists must all have the same length.") from None
    if array.ndim == 1 and array.size and np.issubdtype(array.dtype, np.integer):
        if array.min() < 0:
            raise ValueError(f"{where}: class labels must be >= 0. Received: {array.min()}")
        return np.eye(int(array.max()) + 1, dtype=np.float32)[array], True
    if array.ndim == 1 and np.issubdtype(array.dtype, np.number):
        return array.astype(np.float32)[:, None], False
    if array.ndim == 2 and np.issubdtype(array.dtype, np.number):
        return array.astype(np.float32), False
    raise ValueError(f"{where}: each label must be an int class or a list of numbers.")


class FileSource(Source):
    """Shared logic of the folder and ZIP readers (scan, resolution, labels)."""

    def _setup(self, names, resolution, use_labels, max_images, label_file):
        infos, unreadable = _scan_headers(names, self._open_binary)
        if not infos:
            self._fail_empty(names, unreadable)
        if resolution is None:
            resolution = image_ops.floor_power_of_two(_common_side(infos))
            if resolution < image_ops.MIN_RESOLUTION:
                raise ValueError(f"The images in {self.path} are smaller than "
                                 f"{image_ops.MIN_RESOLUTION}x{image_ops.MIN_RESOLUTION}.")
        self.resolution = image_ops.check_resolution(resolution)
        kept, too_small = _select(infos, self.resolution)
        self.skipped = sorted(unreadable + too_small)
        if not kept:
            self._fail_empty(names, self.skipped)
        report_skipped(self.path, self.skipped, len(names))
        if max_images is not None:
            kept = kept[:max_images]
        self.image_names = [name for name, *_ in kept]
        self.num_images = len(kept)
        self.num_channels = 1 if all(gray for *_, gray in kept) else 3
        if use_labels:
            self._load_labels(label_file)

    def _fail_empty(self, names, skipped):
        looked = ", ".join(f"*{ext}" for ext in image_ops.IMAGE_EXTENSIONS)
        detail = f"found {len(names)} image files"
        if skipped:
            detail += f", all skipped: {skipped[0][0]}: {skipped[0][1]}"
            if len(skipped) > 1:
                detail += f" (and {len(skipped) - 1} more)"
        raise ValueError(f"No usable images in {self.path}: looked for {looked} "
                         f"({self._where_looked}); {detail}.")

    def _load_labels(self, label_file):
        if label_file is not None:
            with open(label_file, "rb") as f:
                obj, where = json.load(f), label_file
        else:
            obj, where = self._read_labels_json(), f"{self.path}/{LABELS_JSON}"
        labels = None
        if obj is not None:
            labels, self.labels_are_classes = labels_from_json(obj, self.image_names, where)
        if labels is None:
            raise NoLabelsError(
                f"use_labels=True but {self.path} has no labels. Add a {LABELS_JSON} "
                '({"labels": [["path/in/dataset.png", label], ...]}) or open it with '
                "use_labels=False.")
        self.labels = labels
        self.label_names = tuple(f"label{i}" for i in range(labels.shape[1]))

    def _tf_decode(self, data, level):
        return image_ops.decode_square(data, self.num_channels, level)


class FolderSource(FileSource):
    """A folder of PNG/JPEG images, searched recursively, in sorted path order."""

    kind = "folder"
    _where_looked = "recursively"

    def __init__(self, path, resolution=None, use_labels=False, max_images=None,
                 label_file=None):
        self.path = os.path.normpath(path)
        self.name = os.path.basename(os.path.abspath(self.path))
        names = sorted(
            os.path.relpath(os.path.join(root, fname), self.path).replace(os.sep, "/")
            for root, _dirs, files in os.walk(self.path) for fname in files
            if image_ops.is_image_name(fname))
        self._setup(names, resolution, use_labels, max_images, label_file)
        self._paths = [os.path.join(self.path, name) for name in self.image_names]

    def _open_binary(self, name):
        return open(os.path.join(self.path, name), "rb")

    def _read_labels_json(self):
        path = os.path.join(self.path, LABELS_JSON)
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return json.load(f)

    def tf_load(self, index, level):
        paths = tf.constant(self._paths)
        return self._tf_decode(tf.io.read_file(tf.gather(paths, index)), level)


class ZipSource(FileSource):
    """A .zip of PNG/JPEG images (any folders inside), with an optional dataset.json."""

    kind = "zip"
    _where_looked = "in the archive"

    def __init__(self, path, resolution=None, use_labels=False, max_images=None,
                 label_file=None):
        self.path = os.path.normpath(path)
        self.name = os.path.splitext(os.path.basename(self.path))[0]
        try:
            self._zip = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as e:
            raise ValueError(f"{self.path} is not a valid ZIP file ({e}).") from None
        names = sorted(name for name in self._zip.namelist()
                       if not name.endswith("/") and image_ops.is_image_name(name))
        self._setup(names, resolution, use_labels, max_images, label_file)

    def _open_binary(self, name):
        return self._zip.open(name)

    def _read_labels_json(self):
        if LABELS_JSON not in self._zip.namelist():
            return None
        return json.loads(self._zip.read(LABELS_JSON))

    def read_bytes(self, index):
        """The raw file bytes of image `index` (NumPy object scalar, keeps NUL bytes)."""
        return np.array(self._zip.read(self.image_names[int(index)]), dtype=object)

    def tf_load(self, index, level):
        data = tf.numpy_function(self.read_bytes, [index], tf.string, stateful=False)
        return self._tf_decode(tf.ensure_shape(data, []), level)

    def close(self):
        self._zip.close()

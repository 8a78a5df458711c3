"""Readers of image sources: the built-in shapes, a folder of images, a ZIP.

A source knows its images (count, resolution, channels, labels) and builds the
TensorFlow op that loads image `index` as uint8 [R, R, C]; the pipeline in
`training.data` does the shuffling, batching and pooling.
"""

import collections
import json
import math
import os
import re
import stat
import warnings
import zipfile

import numpy as np
import PIL.Image
import tensorflow as tf

from keras_stylegan.training import builtin
from keras_stylegan.training.data import images as image_ops

LABELS_JSON = "dataset.json"
MAX_LISTED = 20

# Limits on untrusted dataset files (see the README's "Datasets" section).
MAX_IMAGE_BYTES = 256 << 20     # an image file (or ZIP entry) larger than this is skipped
MAX_IMAGE_PIXELS = 1 << 26      # max(width, height) ** 2 (8192 x 8192); larger: skipped
MAX_JSON_BYTES = 256 << 20      # dataset.json
MAX_LABEL_SIZE = 1 << 16        # classes, or floats per image
MAX_LABEL_ELEMENTS = 1 << 28    # images x label size (1 GiB of float32)
CHECK_CHUNK = 4096              # images decode-checked per tf.data pass
_FUNCTION_NODE = re.compile(r"\{\{function_node [^}]*\}\}\s*")  # TF's op-name prefix


class DatasetError(ValueError):
    """A dataset file cannot be used; the message names the file and what to do."""


class NoLabelsError(DatasetError):
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
def _scan_headers(names, open_binary, file_size):
    """(infos, skipped): size and mode of each readable image, reasons for the others.

    Reads headers only (bounded); files over MAX_IMAGE_BYTES and images whose
    padded square is over MAX_IMAGE_PIXELS are skipped as too large before
    anything is decoded.
    """
    infos, skipped = [], []
    for name in names:
        try:
            size = file_size(name)
            if size > MAX_IMAGE_BYTES:
                skipped.append((name, f"too large ({size} bytes; the limit is "
                                      f"{MAX_IMAGE_BYTES} bytes per image file)"))
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PIL.Image.DecompressionBombWarning)
                with open_binary(name) as f, PIL.Image.open(f) as im:
                    width, height = im.size
                    gray = im.mode in image_ops.GRAY_MODES
            if im.format not in ("PNG", "JPEG", "MPO"):
                raise ValueError(f"{im.format} data, expected PNG or JPEG")
        except PIL.Image.DecompressionBombError as e:
            skipped.append((name, f"too large ({_short(e)})"))
            continue
        except Exception as e:  # noqa: BLE001 - any decoder failure means "unreadable"
            skipped.append((name, f"unreadable ({type(e).__name__}: {_short(e)})"))
            continue
        side = max(width, height)  # decoded, then padded to a side x side square
        if side * side > MAX_IMAGE_PIXELS:
            limit = math.isqrt(MAX_IMAGE_PIXELS)
            skipped.append((name, f"too large ({width}x{height}: the limit is {limit}x{limit} "
                                  "pixels, padded to square)"))
        else:
            infos.append((name, width, height, gray))
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


def load_json(data, where):
    """The JSON value of `data` (bytes); a DatasetError naming `where` if it is not JSON."""
    if len(data) > MAX_JSON_BYTES:
        raise DatasetError(f"{where} is {len(data)} bytes; label files are limited to "
                           f"{MAX_JSON_BYTES} bytes.")
    try:
        return json.loads(data)
    except RecursionError:
        raise DatasetError(f"{where} is nested too deeply to be a label file. Write it as "
                           '{"labels": [["path", label], ...]}.') from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise DatasetError(f"{where} is not valid JSON ({_short(e)}). Fix it, or give "
                           "another file with --labels.") from None


def labels_from_json(obj, names, where):
    """(labels float32 [N, L] or None, are_classes) for `names` from a dataset.json object.

    The format is NVIDIA's (stylegan2-ada `dataset_tool.py`):
    `{"labels": [["dir/img.png", 3], ...]}` with an int class (one-hot
    encoded, L = max class + 1) or a list of floats per image; `"labels": null`
    means no labels.
    """
    if not isinstance(obj, dict) or "labels" not in obj:
        raise DatasetError(f'{where} must be a JSON object {{"labels": [["path", label], ...]}}.')
    if obj["labels"] is None:
        return None, False
    pairs = obj["labels"]
    if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in pairs):
        raise DatasetError(f'{where}: "labels" must be a list of ["path", label] pairs.')
    mapping = {path.replace("\\", "/"): label for path, label in pairs}
    missing = [name for name in names if name not in mapping]
    if missing:
        raise DatasetError(f"{where} has no label for {len(missing)} of {len(names)} images "
                           f"(e.g. {', '.join(missing[:3])}). Give every image a label, or "
                           "open the dataset with use_labels=False.")
    return labels_from_values([mapping[name] for name in names], where)


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value):
    return _is_int(value) or isinstance(value, (float, np.floating))


def labels_from_values(values, where):
    """(float32 [N, L], are_classes) from int classes or equal-length float lists.

    Every value is checked before anything is allocated: classes must lie in
    [0, MAX_LABEL_SIZE), float lists must be flat, of one length <=
    MAX_LABEL_SIZE, and finite; N x L is at most MAX_LABEL_ELEMENTS.
    """
    if isinstance(values, np.ndarray):
        return labels_from_array(values, where)
    count = len(values)
    if count and all(_is_int(v) for v in values):
        low, high = min(values), max(values)
        if low < 0 or high >= MAX_LABEL_SIZE:
            raise DatasetError(f"{where}: class labels must be integers in [0, "
                               f"{MAX_LABEL_SIZE}). Received: {low if low < 0 else high}")
        _check_label_elements(count, high + 1, where)
        classes = np.array(values, np.int64)
        return np.eye(high + 1, dtype=np.float32)[classes], True
    if all(_is_number(v) for v in values):
        rows = [[v] for v in values]
    elif all(isinstance(v, list) and all(_is_number(x) for x in v) for v in values):
        rows = values
    else:
        raise DatasetError(f"{where}: each label must be an int class or a flat list of "
                           "numbers.")
    size = len(rows[0]) if rows else 0
    if any(len(row) != size for row in rows):
        raise DatasetError(f"{where}: label lists must all have the same length.")
    if size > MAX_LABEL_SIZE:
        raise DatasetError(f"{where}: labels of {size} numbers; the limit is {MAX_LABEL_SIZE}.")
    _check_label_elements(count, size, where)
    return _finite(np.array(rows, np.float32).reshape(count, size), where), False


def labels_from_array(array, where):
    """(float32 [N, L], are_classes) of a numeric array: int classes [N] or values [N, L].

    A float [N, L] array whose rows are all one-hot (NVIDIA's labels of
    classes) reports are_classes=True.
    """
    if array.dtype.kind not in "iuf" or array.ndim not in (1, 2):
        raise DatasetError(f"{where}: labels must be int classes [N] or numbers [N, L]. "
                           f"Received: {array.dtype} array of shape {list(array.shape)}.")
    if array.ndim == 1 and array.dtype.kind in "iu":
        return labels_from_values([int(v) for v in array], where) if array.size else (
            np.zeros([0, 1], np.float32), True)
    labels = array.reshape(len(array), -1)
    if labels.shape[1] > MAX_LABEL_SIZE:
        raise DatasetError(f"{where}: labels of {labels.shape[1]} numbers; the limit is "
                           f"{MAX_LABEL_SIZE}.")
    labels = _finite(labels.astype(np.float32), where)
    one_hot = bool(labels.size) and bool(np.all((labels == 0) | (labels == 1))) and bool(
        np.all(labels.sum(axis=1) == 1))
    return labels, one_hot


def _check_label_elements(count, size, where):
    if count * size > MAX_LABEL_ELEMENTS:
        raise DatasetError(f"{where}: {count} images x {size} labels is over the limit of "
                           f"{MAX_LABEL_ELEMENTS} label values.")


def _finite(labels, where):
    if not np.all(np.isfinite(labels)):
        raise DatasetError(f"{where}: labels must be finite numbers (found NaN or infinity, "
                           "or a value too large for float32).")
    return labels


class FileSource(Source):
    """Shared logic of the folder and ZIP readers (scan, check, resolution, labels).

    Subclasses give `_open_binary(name)`, `_file_size(name)`, `_read_bytes(name)`
    (Python) and `_tf_reader(names)` (TensorFlow: index -> the bytes of
    `names[index]`).
    """

    def _setup(self, names, resolution, use_labels, max_images, label_file):
        infos, unreadable = _scan_headers(names, self._open_binary, self._file_size)
        if not infos:
            self._fail_empty(names, unreadable)
        if resolution is None:
            resolution = image_ops.floor_power_of_two(_common_side(infos))
            if resolution < image_ops.MIN_RESOLUTION:
                raise DatasetError(f"The images in {self.path} are smaller than "
                                   f"{image_ops.MIN_RESOLUTION}x{image_ops.MIN_RESOLUTION}.")
        self.resolution = image_ops.check_resolution(resolution)
        kept, too_small = _select(infos, self.resolution)
        channels = 1 if all(gray for *_, gray in kept) else 3
        kept, undecodable = self._check_decodes(kept, channels, max_images)
        self.skipped = sorted(unreadable + too_small + undecodable)
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

    def _check_decodes(self, infos, channels, max_images=None):
        """(kept, skipped): the images TensorFlow decodes, with the op training uses.

        Every file is read and decoded once (in parallel; each at most
        MAX_IMAGE_PIXELS), so that a file that passed the header scan but
        does not decode (garbled or cut short) is skipped here, never in the
        middle of training. With `max_images`, checking stops once that many
        images decoded.
        """
        kept, skipped = [], []
        position = 0
        while position < len(infos) and (max_images is None or len(kept) < max_images):
            size = CHECK_CHUNK if max_images is None else min(CHECK_CHUNK,
                                                              max_images - len(kept))
            chunk = infos[position:position + size]
            position += len(chunk)
            good = _decodable(self._tf_reader([name for name, *_ in chunk]), len(chunk),
                              channels, self.resolution)
            for i, info in enumerate(chunk):
                if i in good:
                    kept.append(info)
                else:
                    skipped.append((info[0], self._decode_failure(info[0], channels)))
        return kept, skipped

    def _decode_failure(self, name, channels):
        """The reason image `name` does not decode (run again eagerly, for the message)."""
        try:
            data = self._read_bytes(name)
            image_ops.decode_square(tf.constant(data), channels, self.resolution)
        except tf.errors.OpError as e:
            return f"does not decode ({_short(_FUNCTION_NODE.sub('', e.message))})"
        except Exception as e:  # noqa: BLE001 - any read failure means "unreadable"
            return f"unreadable ({type(e).__name__}: {_short(e)})"
        return "does not decode"

    def _fail_empty(self, names, skipped):
        looked = ", ".join(f"*{ext}" for ext in image_ops.IMAGE_EXTENSIONS)
        detail = f"found {len(names)} image files"
        if skipped:
            detail += f", all skipped: {skipped[0][0]}: {skipped[0][1]}"
            if len(skipped) > 1:
                detail += f" (and {len(skipped) - 1} more)"
        raise DatasetError(f"No usable images in {self.path}: looked for {looked} "
                           f"({self._where_looked}); {detail}.")

    def _load_labels(self, label_file):
        if label_file is not None:
            where = os.fspath(label_file)
            try:
                with open(where, "rb") as f:
                    data = f.read(MAX_JSON_BYTES + 1)
            except OSError as e:
                raise DatasetError(f"Cannot read the label file {where}: {e.strerror}.") \
                    from None
            obj = load_json(data, where)
        else:
            where = f"{self.path}/{LABELS_JSON}"
            data = self._read_labels_json()
            obj = None if data is None else load_json(data, where)
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

    def tf_load(self, index, level):
        data = self._tf_reader(self.image_names)(index)
        return image_ops.decode_square(data, self.num_channels, level)


def _decodable(read, count, channels, resolution):
    """The set of indices in [0, count) whose bytes `read(i)` decode_square decodes."""
    @tf.autograph.experimental.do_not_convert
    def check(index):
        image = image_ops.decode_square(read(index), channels, resolution)
        return index, tf.shape(image)[0]

    indices = tf.data.Dataset.range(count)
    checked = indices.map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    options = tf.data.Options()
    options.threading.private_threadpool_size = min(os.cpu_count() or 1, 8)
    checked = checked.ignore_errors().with_options(options)
    return {int(index) for index, _ in checked.as_numpy_iterator()}


class FolderSource(FileSource):
    """A folder of PNG/JPEG images, searched recursively, in sorted path order.

    Hidden files and folders (names starting with '.', e.g. temporaries of
    an interrupted write) are ignored.
    """

    kind = "folder"
    _where_looked = "recursively"

    def __init__(self, path, resolution=None, use_labels=False, max_images=None,
                 label_file=None):
        self.path = os.path.normpath(path)
        self.name = os.path.basename(os.path.abspath(self.path))
        names = []
        for root, dirs, files in os.walk(self.path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            names.extend(
                os.path.relpath(os.path.join(root, fname), self.path).replace(os.sep, "/")
                for fname in files
                if image_ops.is_image_name(fname) and not fname.startswith("."))
        self._setup(sorted(names), resolution, use_labels, max_images, label_file)

    def _full_path(self, name):
        return os.path.join(self.path, name)

    def _open_binary(self, name):
        return open(self._full_path(name), "rb")

    def _file_size(self, name):
        info = os.stat(self._full_path(name))
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        return info.st_size

    def _read_bytes(self, name):
        with open(self._full_path(name), "rb") as f:
            return f.read(MAX_IMAGE_BYTES + 1)

    def _read_labels_json(self):
        path = os.path.join(self.path, LABELS_JSON)
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read(MAX_JSON_BYTES + 1)

    def _tf_reader(self, names):
        paths = tf.constant([self._full_path(name) for name in names])

        def read(index):
            return tf.io.read_file(tf.gather(paths, index))
        return read


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
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise DatasetError(f"{self.path} is not a valid ZIP file ({_short(e)}).") from None
        names = sorted(name for name in self._zip.namelist()
                       if not name.endswith("/") and image_ops.is_image_name(name))
        self._setup(names, resolution, use_labels, max_images, label_file)

    def _open_binary(self, name):
        return self._zip.open(name)

    def _file_size(self, name):
        return self._zip.getinfo(name).file_size

    def _read_bytes(self, name):
        return self._zip.read(name)

    def _read_labels_json(self):
        try:
            info = self._zip.getinfo(LABELS_JSON)
        except KeyError:
            return None
        if info.file_size > MAX_JSON_BYTES:
            raise DatasetError(f"{self.path}/{LABELS_JSON} is {info.file_size} bytes; label "
                               f"files are limited to {MAX_JSON_BYTES} bytes.")
        try:
            return self._zip.read(info)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise DatasetError(f"Cannot read {self.path}/{LABELS_JSON}: {_short(e)}. "
                               "Re-create the ZIP.") from None

    def read_bytes(self, names, index):
        """The raw file bytes of `names[index]` (NumPy object scalar, keeps NUL bytes)."""
        return np.array(self._zip.read(names[int(index)]), dtype=object)

    def _tf_reader(self, names):
        names = list(names)

        def read_one(index):
            return self.read_bytes(names, index)

        def read(index):
            data = tf.numpy_function(read_one, [index], tf.string, stateful=False)
            return tf.ensure_shape(data, [])
        return read

    def close(self):
        self._zip.close()

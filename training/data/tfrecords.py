"""NVIDIA's multi-resolution TFRecords: reader (random access) and writer.

The format of NVlabs/stylegan `dataset_tool.py`: one file per resolution,
`NAME-rNN.tfrecords` with NN = log2(resolution) (r02 = 4x4 ... r10 =
1024x1024), uncompressed, the same images in the same order in every file.
Each record is a `tf.train.Example` with features `shape` (int64 [3], CHW)
and `data` (bytes, uint8 CHW). Each level is the 2x2 average of the level
above, computed in float from the unrounded values and rounded per level
(`images.nvidia_pyramid`). Labels, if any, are a NumPy `.npy` array saved
as `NAME-rxx.labels` (int classes [N] or float32 [N, L]).

The reader indexes the record offsets of each file once (a header walk, no
decoding) and then reads records by index with `os.pread`, so epochs can be
shuffled and resumed exactly like the other sources.
"""

import glob
import os
import re
import struct
import tempfile

import numpy as np
import tensorflow as tf

from keras_stylegan.training.data import images as image_ops
from keras_stylegan.training.data.sources import NoLabelsError, Source, labels_from_values

LEVEL_RE = re.compile(r"^(?P<prefix>.+)-r(?P<log2>\d\d)\.tfrecords$")
_HEADER = struct.Struct("<QI")  # length, masked crc32c of the length


def level_file(prefix, resolution):
    """`PREFIX-rNN.tfrecords` for `resolution`."""
    return f"{prefix}-r{resolution.bit_length() - 1:02d}.tfrecords"


def find_tfrecords(path):
    """(prefix, {resolution: file}) of the TFRecords set at `path`, or None.

    `path` is a folder holding one set `NAME-rNN.tfrecords`, or one of its
    files. Raises if a folder holds several sets.
    """
    if os.path.isfile(path):
        match = LEVEL_RE.match(os.path.basename(path))
        if not match:
            return None
        prefix = os.path.join(os.path.dirname(path), match["prefix"])
    else:
        prefixes = sorted({os.path.join(path, m["prefix"]) for m in
                           map(LEVEL_RE.match, os.listdir(path)) if m})
        if not prefixes:
            return None
        if len(prefixes) > 1:
            raise ValueError(f"{path} holds several TFRecords sets "
                             f"({', '.join(map(os.path.basename, prefixes))}). "
                             "Pass the path of one of their files instead.")
        prefix = prefixes[0]
    levels = {}
    for file in glob.glob(glob.escape(prefix) + "-r[0-9][0-9].tfrecords"):
        log2 = int(LEVEL_RE.match(os.path.basename(file))["log2"])
        levels[1 << log2] = file
    return prefix, levels


def index_records(path):
    """(offsets, lengths) int64 arrays of the payload of every record in `path`."""
    offsets, lengths = [], []
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        position = 0
        while position < size:
            header = f.read(_HEADER.size)
            if len(header) < _HEADER.size:
                break
            length, _ = _HEADER.unpack(header)
            offsets.append(position + _HEADER.size)
            lengths.append(length)
            position += _HEADER.size + length + 4
            f.seek(position)
    if position != size:
        raise ValueError(f"{path} is not an uncompressed TFRecord file (truncated or "
                         "compressed at byte {}). Re-create it with "
                         "`keras-stylegan dataset --format tfrecords`.".format(position))
    return np.array(offsets, np.int64), np.array(lengths, np.int64)


def parse_example(record):
    """(shape [3] int64 CHW, data bytes) of a serialized NVIDIA tf.train.Example."""
    features = tf.io.parse_single_example(record, {
        "shape": tf.io.FixedLenFeature([3], tf.int64),
        "data": tf.io.FixedLenFeature([], tf.string)})
    return features["shape"], features["data"]


def decode_example(record, resolution, channels):
    """A serialized NVIDIA example -> uint8 [R, R, C] HWC (TensorFlow)."""
    _, data = parse_example(record)
    chw = tf.reshape(tf.io.decode_raw(data, tf.uint8), [channels, resolution, resolution])
    return tf.transpose(chw, [1, 2, 0])


class TFRecordsSource(Source):
    """Reader of an NVIDIA multi-resolution TFRecords set (see the module doc)."""

    kind = "tfrecords"

    def __init__(self, prefix, levels, resolution=None, use_labels=False, max_images=None):
        self.path = os.path.normpath(os.path.dirname(prefix) or ".")
        self.name = os.path.basename(prefix)
        self._prefix = prefix
        top = max(levels)
        self.resolution = image_ops.check_resolution(resolution or top)
        if self.resolution > top:
            raise ValueError(f"{self.name} has TFRecords up to {top}x{top}; cannot give "
                             f"resolution={self.resolution}. Use resolution<={top}.")
        self._files = dict(levels)
        self._index = {}
        self._fds = {}
        stored = self.stored_level(self.resolution)
        offsets, _ = self._records(stored)
        if len(offsets) == 0:
            raise ValueError(f"No usable images in {self._files[stored]}: the file holds no "
                             "records.")
        self.num_images = len(offsets) if max_images is None else min(len(offsets), max_images)
        self.num_channels = self._read_channels(stored)
        if use_labels:
            self._load_labels()

    def stored_level(self, resolution):
        """The smallest stored level >= resolution (pooled down from there)."""
        return min(r for r in self._files if r >= resolution)

    def _records(self, level):
        """(offsets, lengths) of the records of `level`, indexed on first use."""
        if level not in self._index:
            offsets, lengths = index_records(self._files[level])
            for other, (other_offsets, _) in self._index.items():
                if len(other_offsets) != len(offsets):
                    raise ValueError(
                        f"{self._files[level]} holds {len(offsets)} records but "
                        f"{self._files[other]} holds {len(other_offsets)}; the levels of a "
                        "set must hold the same images. Re-create the set.")
            self._index[level] = offsets, lengths
        return self._index[level]

    def _read_channels(self, level):
        """Channels of the records at `level`, checking their shape."""
        offsets, lengths = self._records(level)
        file = self._files[level]
        with open(file, "rb") as f:
            f.seek(int(offsets[0]))
            shape, _ = parse_example(f.read(int(lengths[0])))
        channels, height, width = (int(v) for v in shape.numpy())
        if height != level or width != level or channels not in (1, 3):
            raise ValueError(f"{file}: records have shape CHW {[channels, height, width]}, "
                             f"expected [1 or 3, {level}, {level}].")
        return channels

    def _load_labels(self):
        candidates = [self._prefix + "-rxx.labels"] + sorted(
            glob.glob(os.path.join(glob.escape(self.path), "*.labels")))
        file = next((c for c in candidates if os.path.isfile(c)), None)
        if file is None:
            raise NoLabelsError(f"use_labels=True but {self.path} has no {self.name}-rxx.labels "
                             "file. Add one (np.save of [N] classes or [N, L] floats) or open "
                             "it with use_labels=False.")
        values = np.load(file, allow_pickle=False)
        if len(values) < self.num_images:
            raise ValueError(f"{file} holds {len(values)} labels for {self.num_images} images.")
        values = values[:self.num_images]
        if values.ndim == 1 and np.issubdtype(values.dtype, np.integer):
            self.labels, self.labels_are_classes = labels_from_values(values, file)
        else:
            self.labels = np.asarray(values, np.float32).reshape(len(values), -1)
        self.label_names = tuple(f"label{i}" for i in range(self.labels.shape[1]))

    def read_record(self, level, index):
        """The serialized example of image `index` at `level` (NumPy object scalar)."""
        level, index = int(level), int(index)
        offsets, lengths = self._records(level)
        offset, length = int(offsets[index]), int(lengths[index])
        if not hasattr(os, "pread"):  # Windows: no positional read, open per record
            with open(self._files[level], "rb") as f:
                f.seek(offset)
                return np.array(f.read(length), dtype=object)
        return np.array(os.pread(self._fd(level), length, offset), dtype=object)

    def _fd(self, level):
        """A read-only descriptor of the file of `level`, shared by all threads."""
        fd = self._fds.get(level)
        if fd is None:
            fd = os.open(self._files[level], os.O_RDONLY)
            if self._fds.setdefault(level, fd) != fd:  # another thread opened it first
                os.close(fd)
                fd = self._fds[level]
        return fd

    def prepare(self, level):
        self._records(level)  # index the file now, not while tracing the pipeline

    def tf_load(self, index, level):
        record = tf.numpy_function(self.read_record, [tf.constant(level, tf.int64), index],
                                   tf.string, stateful=False)
        return decode_example(tf.ensure_shape(record, []), level, self.num_channels)

    def close(self):
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}


def new_temp_file(folder, final_name):
    """An empty temporary file in `folder` for an atomic write of `final_name`.

    Created with the permissions a plain `open(..., "w")` would give (not
    mkstemp's 0600), so the file renamed into place is readable as usual.
    """
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix="-" + final_name)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)
    return temp


class TFRecordsWriter:
    """Writes an NVIDIA multi-resolution TFRecords set, atomically.

    Files go to temporary names in `out_dir` and are renamed into place by
    `close()` (all levels together, after the last image); `abort()` (or an
    exception inside a `with` block) removes them.

    Example:

    >>> with TFRecordsWriter("datasets/shapes", 32, 3) as w:  # doctest: +SKIP
    ...     for image in images_uint8_hwc:
    ...         w.add_image(image)
    ...     w.add_labels(labels)
    """

    def __init__(self, out_dir, resolution, num_channels):
        self.out_dir = out_dir
        self.resolution = image_ops.check_resolution(resolution)
        self.num_channels = num_channels
        self.prefix = os.path.join(out_dir, os.path.basename(os.path.abspath(out_dir)))
        self.num_images = 0
        self.written = []  # final paths, filled by close()
        os.makedirs(out_dir, exist_ok=True)
        self._final, self._temp, self._writers = [], [], []
        for log2 in range(self.resolution.bit_length() - 1, 1, -1):
            self._writers.append(tf.io.TFRecordWriter(self._new_temp(level_file(
                self.prefix, 1 << log2))))
        self._labels = None

    def _new_temp(self, final):
        temp = new_temp_file(self.out_dir, os.path.basename(final))
        self._final.append(final)
        self._temp.append(temp)
        return temp

    def add_image(self, image):
        """Adds one uint8 HWC image of shape [R, R, C]."""
        image = np.asarray(image, np.uint8)
        expected = (self.resolution, self.resolution, self.num_channels)
        if image.shape != expected:
            raise ValueError(f"TFRecordsWriter expects images of shape {expected}. "
                             f"Received: {image.shape}")
        for writer, level in zip(self._writers, image_ops.nvidia_pyramid(image)):
            chw = np.ascontiguousarray(level.transpose(2, 0, 1))
            example = tf.train.Example(features=tf.train.Features(feature={
                "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=chw.shape)),
                "data": tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[chw.tobytes()]))}))
            writer.write(example.SerializeToString())
        self.num_images += 1

    def add_labels(self, labels):
        """Stores labels ([N] int classes or [N, L] float32) as `NAME-rxx.labels`."""
        self._labels = np.asarray(labels)

    def close(self):
        """Flushes everything and renames the files into place."""
        for writer in self._writers:
            writer.close()
        self._writers = []
        if self._labels is not None:
            if len(self._labels) != self.num_images:
                raise ValueError(f"{len(self._labels)} labels for {self.num_images} images.")
            with open(self._new_temp(self.prefix + "-rxx.labels"), "wb") as f:
                np.save(f, self._labels)
        for temp, final in zip(self._temp, self._final):
            os.replace(temp, final)
        self.written = list(self._final)
        self._temp, self._final = [], []
        return self.prefix

    def abort(self):
        """Removes the temporary files (nothing is renamed into place)."""
        for writer in self._writers:
            writer.close()
        self._writers = []
        for temp in self._temp:
            if os.path.exists(temp):
                os.remove(temp)
        self._temp, self._final = [], []

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()

"""NVIDIA's multi-resolution TFRecords: reader (random access) and writer.

The format of NVlabs/stylegan `dataset_tool.py`: one file per resolution,
`NAME-rNN.tfrecords` with NN = log2(resolution) (r02 = 4x4 ... r10 =
1024x1024), uncompressed, the same images in the same order in every file.
Each record is a `tf.train.Example` with features `shape` (int64 [3], CHW)
and `data` (bytes, uint8 CHW). Each level is the 2x2 average of the level
above, computed in float from the unrounded values and rounded per level
(`images.nvidia_pyramid`). Labels, if any, are a NumPy `.npy` array saved
as `NAME-rxx.labels`: float32 [N, L] (classes one-hot), as NVIDIA's
`dataset_tool.py` writes and its `TFRecordDataset` requires; the reader also
accepts int classes [N] (written by keras-stylegan before 0.2).

The reader indexes the record offsets of each level once (a header walk, no
decoding; every level it may read, at open, so a level that holds fewer
records than the others is an error before training starts) and then reads
records by index with `os.pread`, so epochs can be shuffled and resumed
exactly like the other sources. Hidden files (temporaries of an interrupted
write, `.tmp-...`) are ignored; the writer removes those of dead processes.
"""

import glob
import os
import re
import struct

import numpy as np
import tensorflow as tf

from keras_stylegan import files
from keras_stylegan.training.data import images as image_ops
from keras_stylegan.training.data.sources import (DatasetError, NoLabelsError, Source, labels_from_array,
                                   _short)

LEVEL_RE = re.compile(r"^(?P<prefix>.+)-r(?P<log2>\d\d)\.tfrecords$")
_HEADER = struct.Struct("<QI")  # length, masked crc32c of the length


def level_file(prefix, resolution):
    """`PREFIX-rNN.tfrecords` for `resolution`."""
    return f"{prefix}-r{resolution.bit_length() - 1:02d}.tfrecords"


def find_tfrecords(path):
    """(prefix, {resolution: file}) of the TFRecords set at `path`, or None.

    `path` is a folder holding one set `NAME-rNN.tfrecords`, or one of its
    files. Raises if a folder holds several sets. Hidden files (`.tmp-...`
    temporaries of an interrupted write) are ignored.
    """
    if os.path.isfile(path):
        match = _match_level(os.path.basename(path))
        if not match:
            return None
        prefix = os.path.join(os.path.dirname(path), match["prefix"])
    else:
        prefixes = sorted({os.path.join(path, m["prefix"]) for m in
                           map(_match_level, os.listdir(path)) if m})
        if not prefixes:
            return None
        if len(prefixes) > 1:
            raise DatasetError(f"{path} holds several TFRecords sets "
                               f"({', '.join(map(os.path.basename, prefixes))}). "
                               "Pass the path of one of their files instead.")
        prefix = prefixes[0]
    levels = {}
    for file in glob.glob(glob.escape(prefix) + "-r[0-9][0-9].tfrecords"):
        log2 = int(LEVEL_RE.match(os.path.basename(file))["log2"])
        if 2 <= log2 <= 14:
            levels[1 << log2] = file
    if not levels:
        raise DatasetError(f"{prefix}-rNN.tfrecords: no level between r02 (4x4) and r14.")
    return prefix, levels


def _match_level(name):
    return None if files.is_temp_name(name) else LEVEL_RE.match(name)


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
            if position > size:  # a length past the end (cut short or garbage)
                break
            f.seek(position)
    if position != size:
        raise DatasetError(f"{path} is not an uncompressed TFRecord file (truncated, corrupt "
                           f"or compressed at byte {min(position, size)}). Re-create it with "
                           "`keras-stylegan dataset --format tfrecords`.")
    return np.array(offsets, np.int64), np.array(lengths, np.int64)


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
            raise DatasetError(f"{self.name} has TFRecords up to {top}x{top}; cannot give "
                               f"resolution={self.resolution}. Use resolution<={top}.")
        self._files = dict(levels)
        self._index = {}
        self._fds = {}
        stored = self.stored_level(self.resolution)
        for level in sorted((r for r in self._files if r <= stored), reverse=True):
            self._records(level)  # every level training may read: counts compared now
        offsets, _ = self._records(stored)
        if len(offsets) == 0:
            raise DatasetError(f"No usable images in {self._files[stored]}: the file holds no "
                               "records.")
        self.num_images = len(offsets) if max_images is None else min(len(offsets), max_images)
        channels = {level: self._read_channels(level) for level in self._index}
        if len(set(channels.values())) > 1:
            raise DatasetError(f"The levels of {self.name} disagree in channels "
                               f"({channels}). Re-create the set.")
        self.num_channels = channels[stored]
        if use_labels:
            self._load_labels()

    def stored_level(self, resolution):
        """The smallest stored level >= resolution (pooled down from there)."""
        return min(r for r in self._files if r >= resolution)

    def _records(self, level):
        """(offsets, lengths) of the records of `level`, indexed on first use."""
        if level not in self._index:
            file = self._files[level]
            offsets, lengths = index_records(file)
            for other, (other_offsets, _) in self._index.items():
                if len(other_offsets) != len(offsets):
                    raise DatasetError(
                        f"{file} holds {len(offsets)} records but "
                        f"{self._files[other]} holds {len(other_offsets)}; the levels of a "
                        "set must hold the same images (one was cut short?). Re-create "
                        "the set with `keras-stylegan dataset --format tfrecords`.")
            if len(lengths) and lengths.min() != lengths.max():
                odd = int(np.argmax(lengths != lengths[0]))
                raise DatasetError(
                    f"{file} is corrupt: record {odd} is {int(lengths[odd])} bytes, record 0 "
                    f"is {int(lengths[0])} (all images of a level have one size). Re-create "
                    "the set.")
            self._index[level] = offsets, lengths
        return self._index[level]

    def _read_channels(self, level):
        """Channels of the records at `level`, checking the first one's shape and size."""
        offsets, lengths = self._records(level)
        if len(offsets) == 0:
            return None
        with open(self._files[level], "rb") as f:
            f.seek(int(offsets[0]))
            record = f.read(int(lengths[0]))
        channels, _ = self._parse(record, level, 0)
        return channels

    def _parse(self, record, level, index, channels=None):
        """(channels, pixel bytes CHW) of a serialized NVIDIA example, checked.

        Raises a DatasetError naming the file and the record if the record is
        not a tf.train.Example of `shape` [C, level, level] and C*level*level
        bytes of `data` (C: 1 or 3, or `channels`).
        """
        file = self._files[level]
        try:
            feature = tf.train.Example.FromString(record).features.feature
            shape = [int(v) for v in feature["shape"].int64_list.value]
            data = feature["data"].bytes_list.value[0]
        except Exception as e:  # noqa: BLE001 - protobuf DecodeError, missing features
            raise DatasetError(f"{file} is corrupt: record {index} is not an NVIDIA "
                               f"tf.train.Example ({type(e).__name__}: {_short(e)}). "
                               "Re-create the set.") from None
        allowed = (1, 3) if channels is None else (channels,)
        if len(shape) != 3 or shape[0] not in allowed or shape[1:] != [level, level]:
            raise DatasetError(f"{file}: record {index} has shape CHW {shape}, expected "
                               f"[{' or '.join(map(str, allowed))}, {level}, {level}].")
        if len(data) != shape[0] * level * level:
            raise DatasetError(f"{file} is corrupt: record {index} holds {len(data)} bytes of "
                               f"pixels for shape {shape}. Re-create the set.")
        return shape[0], data

    def _load_labels(self):
        candidates = [self._prefix + "-rxx.labels"] + sorted(
            glob.glob(os.path.join(glob.escape(self.path), "*.labels")))  # hidden: not matched
        file = next((c for c in candidates if os.path.isfile(c)), None)
        if file is None:
            raise NoLabelsError(f"use_labels=True but {self.path} has no {self.name}-rxx.labels "
                                "file. Add one (np.save of float32 [N, L], one-hot for classes) "
                                "or open it with use_labels=False.")
        values = load_labels_file(file)
        if len(values) < self.num_images:
            raise DatasetError(f"{file} holds {len(values)} labels for {self.num_images} "
                               "images.")
        self.labels, self.labels_are_classes = labels_from_array(values[:self.num_images], file)
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

    def read_pixels(self, level, index):
        """The CHW pixel bytes of image `index` at `level`, checked (NumPy object scalar).

        A corrupt record raises a DatasetError naming the file and the record
        (inside a tf.data pipeline, the error's message carries it).
        """
        record = self.read_record(level, index).item()
        _, data = self._parse(record, int(level), int(index), self.num_channels)
        return np.array(data, dtype=object)

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
        data = tf.numpy_function(self.read_pixels, [tf.constant(level, tf.int64), index],
                                 tf.string, stateful=False)
        chw = tf.reshape(tf.io.decode_raw(tf.ensure_shape(data, []), tf.uint8),
                         [self.num_channels, level, level])
        return tf.transpose(chw, [1, 2, 0])

    def close(self):
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}


def load_labels_file(path):
    """The array of a `.labels` (.npy) file, checked before anything is allocated.

    Numeric dtypes only, 1 or 2 dimensions, and a data size that matches the
    file's; anything else is a DatasetError naming the file.
    """
    def fail(why):
        return DatasetError(f"{path} is not a labels file ({why}). Write it with "
                            "numpy.save of a float32 [N, L] array (one-hot for classes).")

    size = os.path.getsize(path)
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f".npy version {version}")
        except (ValueError, OSError, EOFError, SyntaxError) as e:
            raise fail(f"not a NumPy .npy file: {_short(e)}") from None
        if dtype.hasobject or dtype.fields is not None or dtype.kind not in "iuf":
            raise fail(f"dtype {dtype}, expected numbers")
        if len(shape) not in (1, 2):
            raise fail(f"shape {list(shape)}, expected [N] or [N, L]")
        expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if expected != size - f.tell():
            raise fail(f"the header declares {expected} bytes of data, the file holds "
                       f"{size - f.tell()}")
        values = np.fromfile(f, dtype=dtype, count=int(np.prod(shape, dtype=object)))
    order = "F" if fortran else "C"
    return values.reshape(shape, order=order)


new_temp_file = files.new_temp_file  # the atomic-write temporaries of every writer


class TFRecordsWriter:
    """Writes an NVIDIA multi-resolution TFRecords set, atomically.

    Files go to temporary names in `out_dir` and are renamed into place by
    `close()` (all levels together, after the last image); `abort()` (or an
    exception inside a `with` block) removes them, and a new writer removes
    those a killed one left (`keras_stylegan.files.remove_stale`).
    Labels are stored as NVIDIA stores them: float32 [N, L].

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
        name = os.path.basename(self.prefix)
        files.remove_stale(out_dir, match=lambda temp: _is_set_file(temp, name))
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
        """Stores labels as `NAME-rxx.labels`, float32 [N, L] as NVIDIA's reader expects.

        Int classes [N] are one-hot encoded (L = max class + 1).
        """
        labels = np.asarray(labels)
        if labels.ndim == 1 and labels.dtype.kind in "iu":
            labels, _ = labels_from_array(labels, "labels")
        self._labels = np.asarray(labels, np.float32).reshape(len(labels), -1)

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


def _is_set_file(temp_name, name):
    """True for the temporary of a level or labels file of the set `name`."""
    pattern = rf"-{re.escape(name)}-r(\d\d\.tfrecords|xx\.labels)$"
    return re.search(pattern, temp_name) is not None

"""Training data: one reader for the built-in shapes, image folders, ZIPs and TFRecords.

`open_dataset(source)` returns an `ImageDataset`; its `as_tf_dataset(...)`
gives the `tf.data` stream the training loop consumes: batches of
`(images, labels)`, images float32 NHWC in [-1, 1] (uint8 x -> x / 127.5 - 1),
labels float32 [N, label_size].

Sources:

* `"builtin"` / `"builtin:N"`: the procedural shapes of `training.builtin`
  (10000 images by default, 32x32 unless `resolution` is given).
* A folder of PNG/JPEG files, searched recursively, in sorted path order,
  with an optional `dataset.json` of labels at its top.
* A `.zip` of PNG/JPEG files with an optional `dataset.json` (NVIDIA's
  stylegan2-ada format: `{"labels": [["dir/img.png", 3], ...]}`, an int
  class, one-hot encoded, or a list of floats per image).
* NVIDIA's multi-resolution TFRecords (`NAME-rNN.tfrecords`, as FFHQ is
  distributed): their folder or one of their files; labels from
  `NAME-rxx.labels`. Hidden files (temporaries of an interrupted write) are
  ignored.

A file that cannot be used is a `DatasetError` (a ValueError) naming it.

Image files are normalised the same way everywhere (and by the
`keras-stylegan dataset` converter, so a folder, its ZIP and its TFRecords
give identical images):

* The dataset resolution is the `resolution` argument, or else the largest
  power of two <= the most common image size (the longer side).
* Non-square images are padded to square with centred black bars (as NVIDIA
  did for LSUN cars). Images larger than the resolution are resized to it
  with area averaging (an exact box mean for power-of-two factors); images
  smaller than it, files that cannot be read as PNG/JPEG or do not decode
  (every image is decoded once when the source is opened, with the decoder
  training uses), and files over the size limits of `training.data.sources`
  (MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS) are skipped and listed in one warning
  (and in `ds.skipped`).
* If every image is grayscale the dataset has 1 channel; otherwise grayscale
  images are converted to RGB by copying the gray value. Alpha is dropped.

Example:

>>> from keras_stylegan.training.data import open_dataset
>>> ds = open_dataset("builtin:1000", use_labels=True)
>>> ds.resolution, ds.num_channels, ds.label_size, ds.num_images
(32, 3, 18, 1000)
>>> images, labels = next(iter(ds.as_tf_dataset(batch_size=8, mirror=True)))
>>> images.shape, labels.shape
(TensorShape([8, 32, 32, 3]), TensorShape([8, 18]))
>>> ds.grid_reals(4).shape
(4, 32, 32, 3)
"""

import contextlib
import os
import re

import numpy as np
import tensorflow as tf

from keras_stylegan.errors import ConfigError
from keras_stylegan.training import builtin
from keras_stylegan.training.data import images as image_ops
from keras_stylegan.training.data.sources import BuiltinSource, DatasetError, FolderSource, ZipSource
from keras_stylegan.training.data.tfrecords import TFRecordsSource, find_tfrecords

__all__ = ["ImageDataset", "DatasetError", "open_dataset", "epoch_order", "dataset_errors"]

_PIPELINE_ERROR = re.compile(r"DatasetError: (.+)")


@contextlib.contextmanager
def dataset_errors():
    """Re-raises a DatasetError raised inside a tf.data pipeline as itself.

    TensorFlow reports it as an `InvalidArgumentError` whose message holds
    the DatasetError's (and a Python traceback); consumers of a stream (the
    training loop, the `dataset` converter) wrap their loop in this so the
    user sees one error naming the file.
    """
    try:
        yield
    except tf.errors.OpError as e:
        match = _PIPELINE_ERROR.search(e.message or "")
        if match is None:
            raise
        raise DatasetError(match[1].strip()) from None


def _parse_builtin(source):
    """Number of images of a 'builtin[:N]' source string, or None if it is not one."""
    if source == "builtin":
        return builtin.DEFAULT_NUM_IMAGES
    if source.startswith("builtin:"):
        count = source[len("builtin:"):]
        if not count.isdigit() or int(count) <= 0:
            raise DatasetError(f"Write the built-in dataset as 'builtin' or 'builtin:N' with "
                               f"N > 0 images. Received: {source!r}")
        return int(count)
    return None


def _open_source(source, resolution, use_labels, max_images, label_file, builtin_fixed):
    source = os.fspath(source)
    count = _parse_builtin(source)
    if count is not None:
        if max_images is not None:
            count = min(count, max_images)
        return BuiltinSource(count, resolution, use_labels, builtin_fixed)
    if builtin_fixed:
        raise DatasetError(f"builtin_fixed={builtin_fixed!r} holds built-in factors fixed, but "
                           f"{source!r} is not the built-in dataset: remove it "
                           "(--set builtin_fixed=null).")
    if use_labels not in (False, True, None):
        raise DatasetError(f"use_labels={use_labels!r} names built-in factors, but {source!r} is "
                           "not the built-in dataset: use use_labels=True (--labels) to load its "
                           "labels.")
    if not os.path.exists(source):
        raise FileNotFoundError(
            f"Dataset source {source!r} does not exist. Expected 'builtin', 'builtin:N', a "
            "folder of PNG/JPEG images, a .zip of images, or NVIDIA TFRecords "
            "(NAME-rNN.tfrecords).")
    records = find_tfrecords(source)
    if records is not None:
        prefix, levels = records
        return TFRecordsSource(prefix, levels, resolution, use_labels, max_images)
    if os.path.isdir(source):
        return FolderSource(source, resolution, use_labels, max_images, label_file)
    if source.lower().endswith(".zip"):
        return ZipSource(source, resolution, use_labels, max_images, label_file)
    raise DatasetError(f"Cannot read {source!r} as a dataset: expected a folder, a .zip, or a "
                       "NAME-rNN.tfrecords file.")


def open_dataset(source, resolution=None, use_labels=False, max_images=None, label_file=None,
                 builtin_fixed=None):
    """Opens a training dataset.

    Args:
        source: "builtin", "builtin:N" (N images; default 10000), a folder of
            PNG/JPEG images (recursive), a .zip of images, or NVIDIA
            TFRecords (a folder holding `NAME-rNN.tfrecords` or one such file).
        resolution: int power of two, or None for the source's own
            (built-in: 32; image files: the largest power of two <= the most
            common size; TFRecords: the largest level).
        use_labels: bool. True loads labels (dataset.json, NAME-rxx.labels,
            or the built-in factors) and fails if there are none. The
            built-in dataset also takes factor names ("shape", "shape,color"
            or a list): labels of those factors only.
        max_images: int or None; keeps the first `max_images` images.
        label_file: optional path of a dataset.json to use instead of the one
            inside a folder/ZIP source (names relative to the source).
        builtin_fixed: built-in dataset only: {factor: value} held fixed in
            every image, e.g. `{"x": 0.5, "y": 0.5}` (centred objects).

    Returns:
        An `ImageDataset`.

    Example:

    >>> ds = open_dataset("~/data/ffhq-tfrecords", resolution=256)  # doctest: +SKIP
    >>> ds = open_dataset("builtin:2000", use_labels=True)
    >>> ds.label_size
    18
    >>> open_dataset("builtin:2000", use_labels="shape").label_size
    5
    """
    if max_images is not None and int(max_images) <= 0:
        raise ConfigError(f"`max_images` must be > 0 or None. Received: max_images={max_images}")
    if resolution is not None:
        resolution = image_ops.check_resolution(resolution)
    src = _open_source(os.path.expanduser(os.fspath(source)), resolution, use_labels,
                       max_images, label_file, builtin_fixed)
    return ImageDataset(src)


def epoch_order(num_images, seed, epoch, shuffle=True, mirror=False):
    """(indices int64 [N], flips bool [N]) of epoch `epoch` of the stream of `seed`.

    The order is `np.random.default_rng([seed, epoch, 0]).permutation(N)` (or
    0..N-1 without shuffling); image i is mirrored in that epoch if
    `np.random.default_rng([seed, epoch, 1]).random(N)[i] < 0.5`, so a flip
    depends on (seed, index, epoch) only.
    """
    num_images, seed, epoch = int(num_images), int(seed), int(epoch)
    if shuffle:
        indices = np.random.default_rng([seed, epoch, 0]).permutation(num_images)
    else:
        indices = np.arange(num_images)
    indices = indices.astype(np.int64)
    if mirror:
        flips = np.random.default_rng([seed, epoch, 1]).random(num_images)[indices] < 0.5
    else:
        flips = np.zeros(num_images, bool)
    return indices, flips


class ImageDataset:
    """A dataset opened by `open_dataset`.

    Attributes:
        name: str, the dataset's name (folder/ZIP/TFRecords name or "builtin").
        resolution: int, side of the (square) images.
        num_channels: 1 or 3.
        label_size: int, 0 when there are no labels or use_labels was False.
        num_images: int.
        labels: float32 [num_images, label_size].
        label_names: names of the label columns.
        skipped: [(file name, reason)] of image files that were skipped.
        kind: "builtin", "folder", "zip" or "tfrecords".
        source: the reader (for the built-in set, `source.shapes` is the
            `training.builtin.BuiltinShapes` with its raw factors).
    """

    def __init__(self, source):
        self.source = source
        self.kind = source.kind
        self.name = source.name
        self.resolution = source.resolution
        self.num_channels = source.num_channels
        self.num_images = source.num_images
        self.skipped = list(source.skipped)
        if source.labels is not None:
            self.labels = np.asarray(source.labels[:self.num_images], np.float32)
            self.label_names = tuple(source.label_names)
        else:
            self.labels = np.zeros([self.num_images, 0], np.float32)
            self.label_names = ()
        self.label_size = self.labels.shape[1]

    def __repr__(self):
        return (f"ImageDataset(name={self.name!r}, kind={self.kind!r}, "
                f"num_images={self.num_images}, resolution={self.resolution}, "
                f"num_channels={self.num_channels}, label_size={self.label_size})")

    def factors(self, indices=None):
        """Raw factors of the built-in dataset (see `training.builtin.sample_factors`)."""
        if self.kind != "builtin":
            raise ValueError(f"Only the built-in dataset has known factors; {self.name!r} is "
                             f"a {self.kind} dataset.")
        return self.source.shapes.factors(indices)

    def _check_resolution(self, resolution):
        if resolution is None:
            return self.resolution
        resolution = image_ops.check_resolution(resolution, maximum=self.resolution)
        return resolution

    # ------------------------------------------------------------------ streams
    def _order_dataset(self, seed, shuffle, mirror, repeat, start):
        """tf.data of (index, flip) from stream position `start` (no image is read)."""
        num_images = self.num_images
        first_epoch, offset = divmod(start, num_images)

        def order(epoch):
            return epoch_order(num_images, seed, epoch, shuffle, mirror)

        @tf.autograph.experimental.do_not_convert
        def epoch_elements(epoch):
            indices, flips = tf.numpy_function(order, [epoch], [tf.int64, tf.bool],
                                               stateful=False)
            indices = tf.ensure_shape(indices, [num_images])
            flips = tf.ensure_shape(flips, [num_images])
            return tf.data.Dataset.from_tensor_slices((indices, flips))

        last_epoch = np.iinfo(np.int64).max if repeat else 1
        epochs = tf.data.Dataset.range(first_epoch, max(last_epoch, first_epoch))
        return epochs.flat_map(epoch_elements).skip(offset)

    def _load_fn(self, level):
        labels = tf.constant(self.labels)
        source = self.source
        source.prepare(level)

        @tf.autograph.experimental.do_not_convert
        def load(index, flip):
            return source.tf_load(index, level), flip, tf.gather(labels, index)
        return load

    def as_tf_dataset(self, batch_size, resolution=None, seed=0, shuffle=True, mirror=False,
                      repeat=True, skip_batches=0, skip_images=0):
        """The training stream: a `tf.data.Dataset` of `(images, labels)` batches.

        Args:
            batch_size: int > 0.
            resolution: power of two <= `self.resolution` (default: it).
                Lower resolutions are 2x2-average pooled (read from the
                matching level of a TFRecords set instead).
            seed: int >= 0; the order of epoch e is
                `np.random.default_rng([seed, e, 0]).permutation(N)`.
            shuffle: bool; False streams images in index order every epoch.
            mirror: bool; flip images left-right with probability 1/2, decided
                by (seed, index, epoch) (see `epoch_order`).
            repeat: bool. True: an endless stream of full batches that run on
                across epoch boundaries. False: one epoch (from the skipped
                position), the last batch possibly smaller.
            skip_batches: int >= 0; starts the stream at batch `skip_batches`
                (exactly the batches an unskipped stream gives from there;
                skipped images are never read or decoded).
            skip_images: int >= 0; further images to skip (for resuming after
                a change of batch size).

        Returns:
            `tf.data.Dataset` of (images float32 [B, R, R, C] in [-1, 1],
            labels float32 [B, label_size]).

        Example:

        >>> ds = open_dataset("builtin:100")
        >>> stream = ds.as_tf_dataset(16, resolution=8, seed=1, skip_batches=3)
        >>> [tuple(t.shape) for t in next(iter(stream))]
        [(16, 8, 8, 3), (16, 0)]
        """
        if int(batch_size) <= 0:
            raise ValueError(f"`batch_size` must be > 0. Received: batch_size={batch_size}")
        if int(seed) < 0 or int(skip_batches) < 0 or int(skip_images) < 0:
            raise ValueError("`seed`, `skip_batches` and `skip_images` must be >= 0. Received: "
                             f"seed={seed}, skip_batches={skip_batches}, "
                             f"skip_images={skip_images}")
        batch_size = int(batch_size)
        resolution = self._check_resolution(resolution)
        level = self.source.stored_level(resolution)
        start = int(skip_batches) * batch_size + int(skip_images)
        stream = self._order_dataset(int(seed), shuffle, mirror, repeat, start)
        stream = stream.map(self._load_fn(level), num_parallel_calls=tf.data.AUTOTUNE,
                            deterministic=True)
        stream = stream.batch(batch_size, drop_remainder=bool(repeat))
        factor = level // resolution

        @tf.autograph.experimental.do_not_convert
        def finish(images, flips, labels):
            images = image_ops.to_float(images)
            if factor > 1:
                images = tf.nn.avg_pool2d(images, factor, factor, "VALID")
            images = tf.where(flips[:, None, None, None], tf.reverse(images, [2]), images)
            return images, labels

        stream = stream.map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return stream.prefetch(tf.data.AUTOTUNE).with_options(_options())

    def iter_uint8(self, batch_size=64, indices=None):
        """Yields (indices int64 [b], images uint8 [b, R, R, C]) in index order (NumPy).

        The stored pixels at `self.resolution`, as the converters write them.
        """
        if indices is None:
            indices = np.arange(self.num_images)
        indices = np.asarray(indices, np.int64)
        level = self.source.stored_level(self.resolution)
        load = self._load_fn(level)
        stream = tf.data.Dataset.from_tensor_slices(indices)
        stream = stream.map(tf.autograph.experimental.do_not_convert(lambda i: load(i, False)[0]),
                            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        stream = stream.batch(batch_size).prefetch(2).with_options(_options())
        position = 0
        iterator = iter(stream)
        while True:
            with dataset_errors():
                batch = next(iterator, None)
            if batch is None:
                return
            images = batch.numpy()
            if level != self.resolution:
                images = _pool_uint8(images, level // self.resolution)
            yield indices[position:position + len(images)], images
            position += len(images)

    def grid_indices(self, n, seed=0):
        """The `n` image indices shown by `grid_reals(n, seed)` (cycling if n > N)."""
        order = np.random.default_rng([int(seed), 0, 2]).permutation(self.num_images)
        return np.resize(order, int(n)).astype(np.int64)

    def grid_reals(self, n, seed=0):
        """`n` real images for image grids, float32 NumPy [n, R, R, C] in [-1, 1].

        A fixed random choice of images (by `seed`); their labels are
        `ds.labels[ds.grid_indices(n, seed)]`.
        """
        indices = self.grid_indices(n, seed)
        batches = [images for _, images in self.iter_uint8(64, indices)]
        return image_ops.to_float(np.concatenate(batches, axis=0))

    def grid_labels(self, n, seed=0):
        """The labels [n, label_size] of `grid_reals(n, seed)`."""
        return self.labels[self.grid_indices(n, seed)]

    def close(self):
        """Releases open files (ZIP, TFRecords)."""
        self.source.close()


def _pool_uint8(images, factor):
    return np.rint(image_ops.avg_pool_np(images, factor)).clip(0, 255).astype(np.uint8)


def _options():
    options = tf.data.Options()
    options.deterministic = True
    return options


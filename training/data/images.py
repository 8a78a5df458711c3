"""Image helpers shared by the readers and writers: decode, pad, resize, pool.

Images are NHWC (or HWC). The TensorFlow functions run inside `tf.data`
pipelines; the NumPy ones are the references the writers and tests use.
"""

import numpy as np
import tensorflow as tf

from keras_stylegan.errors import ConfigError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
MIN_RESOLUTION = 4
MAX_RESOLUTION = 1 << 14


def is_image_name(name):
    """True if `name` ends with one of IMAGE_EXTENSIONS (case-insensitive)."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def is_power_of_two(n):
    return isinstance(n, (int, np.integer)) and n >= 1 and (n & (n - 1)) == 0


def floor_power_of_two(n):
    """The largest power of two <= n (n >= 1)."""
    return 1 << (int(n).bit_length() - 1)


def check_resolution(resolution, name="resolution", maximum=None):
    """Returns `resolution` as int if it is a power of two in [4, maximum], else raises."""
    upper = maximum or MAX_RESOLUTION
    if not (is_power_of_two(resolution) and MIN_RESOLUTION <= resolution <= upper):
        raise ConfigError(f"`{name}` must be a power of two between {MIN_RESOLUTION} and "
                          f"{upper}. Received: {name}={resolution!r}")
    return int(resolution)


def avg_pool_np(images, factor):
    """Average pooling of NHWC `images` by `factor` (a power of two), as float32."""
    x = np.asarray(images, np.float32)
    if factor == 1:
        return x
    n, h, w, c = x.shape
    return x.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def nvidia_pyramid(image, min_resolution=MIN_RESOLUTION):
    """The levels NVIDIA's dataset_tool writes for one HWC uint8 image, largest first.

    Each level is the 2x2 average of the previous level's unrounded float
    values, rounded with `np.rint` and stored as uint8 (as in
    `TFRecordExporter.add_image` of NVlabs/stylegan).
    """
    levels = [np.asarray(image, np.uint8)]
    current = levels[0].astype(np.float32)
    while current.shape[0] > min_resolution:
        current = (current[0::2, 0::2] + current[0::2, 1::2]
                   + current[1::2, 0::2] + current[1::2, 1::2]) * 0.25
        levels.append(np.rint(current).clip(0, 255).astype(np.uint8))
    return levels


def decode_square(data, channels, resolution):
    """Decodes PNG/JPEG bytes to a uint8 [R, R, C] square image (TensorFlow).

    JPEGs use the accurate integer IDCT (as PIL and libjpeg's default do).

    Grayscale images become RGB by copying the gray value when `channels` is
    3 (alpha is dropped); non-square images are padded to square with black
    bars, centred as NVIDIA does for LSUN cars (offset `(side - size) // 2`);
    images larger than `resolution` are resized with area averaging (exact
    box means for power-of-two factors) and rounded half to even.
    """
    image = tf.cond(tf.io.is_jpeg(data),
                    lambda: tf.io.decode_jpeg(data, channels, dct_method="INTEGER_ACCURATE"),
                    lambda: tf.io.decode_png(data, channels))
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    side = tf.maximum(height, width)
    image = tf.image.pad_to_bounding_box(
        image, (side - height) // 2, (side - width) // 2, side, side)
    image = tf.cond(tf.equal(side, resolution),
                    lambda: image,
                    lambda: _area_resize_uint8(image, resolution))
    return tf.ensure_shape(image, [resolution, resolution, channels])


def _area_resize_uint8(image, resolution):
    resized = tf.image.resize(tf.cast(image, tf.float32), [resolution, resolution],
                              method="area")
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


def to_float(images_uint8):
    """uint8 -> float32 in [-1, 1] (x / 127.5 - 1), TensorFlow or NumPy."""
    if isinstance(images_uint8, np.ndarray):
        return images_uint8.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    return tf.cast(images_uint8, tf.float32) / 127.5 - 1.0

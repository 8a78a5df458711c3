"""Tensor operations shared by the StyleGAN networks, written with `keras.ops`.

Every function takes and returns NHWC tensors (NVIDIA's code is NCHW; the
legacy importer converts weights so that the numbers agree). They run on any
Keras backend and compile with XLA.
"""

import numpy as np
from keras import ops

SQRT2 = float(np.sqrt(2.0))


def lrelu(x, alpha=0.2):
    """Leaky ReLU as NVIDIA writes it: `max(x * alpha, x)`."""
    return ops.maximum(x * alpha, x)


ACTIVATIONS = {
    "linear": lambda x: x,
    "lrelu": lrelu,
    "relu": ops.relu,
}


def activation(name):
    """Returns the activation function called `name` ('linear', 'lrelu', 'relu')."""
    if name not in ACTIVATIONS:
        raise ValueError(
            f"Unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}."
        )
    return ACTIVATIONS[name]


def pixel_norm(x, axis=-1, epsilon=1e-8):
    """Normalizes the second moment along `axis`: `x * rsqrt(mean(x**2) + eps)`."""
    return x * ops.rsqrt(ops.mean(ops.square(x), axis=axis, keepdims=True) + epsilon)


def instance_norm(x, epsilon=1e-8):
    """Instance normalization over H and W of an NHWC tensor (no affine part)."""
    x = x - ops.mean(x, axis=(1, 2), keepdims=True)
    return x * ops.rsqrt(ops.mean(ops.square(x), axis=(1, 2), keepdims=True) + epsilon)


def fir_kernel(taps, normalize=True, gain=1.0):
    """Makes a 2-D FIR kernel (NumPy float32) from separable 1-D `taps`.

    A 1-D list of taps gives the outer product; a 2-D array is used as is.
    With `normalize` the kernel sums to 1 before `gain` is applied.
    """
    k = np.asarray(taps, dtype=np.float64)
    if k.ndim == 1:
        k = np.outer(k, k)
    if k.ndim != 2:
        raise ValueError(f"FIR taps must be 1-D or 2-D; received shape {k.shape}.")
    if normalize:
        k = k / np.sum(k)
    return (k * gain).astype(np.float32)


def _depthwise_kernel(kernel, channels):
    # [kh, kw] -> [kh, kw, C, 1] for ops.depthwise_conv.
    k = np.asarray(kernel, dtype=np.float32)[:, :, None, None]
    return np.tile(k, [1, 1, channels, 1])


def filter2d(x, kernel, stride=1, padding="same"):
    """Correlates every channel of NHWC `x` with the 2-D `kernel` (zero padding).

    This is NVIDIA's `_blur2d` for symmetric kernels such as [1,2,1].
    """
    c = x.shape[-1]
    k = ops.convert_to_tensor(_depthwise_kernel(kernel, c), dtype=x.dtype)
    return ops.depthwise_conv(x, k, strides=stride, padding=padding)


def blur2d(x, taps=(1, 2, 1), normalize=True):
    """StyleGAN1's blur: the normalized `taps x taps` filter, same-size output."""
    return filter2d(x, fir_kernel(taps, normalize=normalize))


def upscale2d(x, factor=2):
    """Nearest-neighbour upscaling of an NHWC tensor by an integer factor."""
    if factor == 1:
        return x
    x = ops.repeat(x, factor, axis=1)
    return ops.repeat(x, factor, axis=2)


def downscale2d(x, factor=2):
    """Average-pools an NHWC tensor by an integer factor (NVIDIA's `downscale2d`)."""
    if factor == 1:
        return x
    return ops.average_pool(x, factor, strides=factor, padding="valid")


def lerp(a, b, t):
    """`a + (b - a) * t`."""
    return a + (b - a) * t


def lerp_clip(a, b, t):
    """`a + (b - a) * clip(t, 0, 1)`: the progressive-growing fade-in."""
    return a + (b - a) * ops.clip(t, 0.0, 1.0)


def minibatch_stddev(x, group_size=4, num_new_features=1):
    """Appends NVIDIA's minibatch-stddev feature maps to an NHWC tensor.

    The batch is split into `G = min(group_size, N)` rows of `M = N / G`
    samples; sample `i` belongs to group `i mod M` (a strided grouping, as in
    NVIDIA's code). For each group the standard deviation of every feature is
    averaged over H, W and the channels of each of `num_new_features` slices,
    and appended as `num_new_features` extra channels. `N` must be a multiple
    of `G`.
    """
    n = ops.shape(x)[0]
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    if isinstance(n, int):
        g = min(group_size, n)
        if n % g:
            raise ValueError(
                f"Minibatch-stddev needs a batch size that is a multiple of "
                f"{g}; received batch size {n}. Use a batch size divisible by "
                f"{group_size}."
            )
    else:
        g = ops.minimum(group_size, n)
    f = num_new_features
    y = ops.reshape(x, (g, -1, h, w, f, c // f))  # [GMHWnc]
    y = y - ops.mean(y, axis=0, keepdims=True)
    y = ops.mean(ops.square(y), axis=0)  # [MHWnc]
    y = ops.sqrt(y + 1e-8)
    y = ops.mean(y, axis=(1, 2, 4))  # [Mn]
    y = ops.reshape(y, (-1, 1, 1, f))
    y = ops.tile(y, (g, h, w, 1))  # [NHWn]
    return ops.concatenate([x, ops.cast(y, x.dtype)], axis=-1)


def to_uint8_tensor(images):
    """NHWC float images in [-1, 1] to uint8 with NVIDIA's rounding, as a tensor.

    Computes `saturate_cast<uint8>(x * 127.5 + 128)`: add 0.5 and truncate
    after clamping to [0, 255].
    """
    x = ops.cast(images, "float32") * 127.5 + 128.0
    return ops.cast(ops.floor(ops.clip(x, 0.0, 255.0)), "uint8")


def to_uint8(images):
    """Converts NHWC float images in [-1, 1] to a uint8 NumPy array.

    Uses the same rounding as NVIDIA's `convert_images_to_uint8` (so the
    result matches their PNGs bit for bit):

    >>> to_uint8(np.array([[[[-1.0, 0.0, 1.0]]]])).tolist()
    [[[[0, 128, 255]]]]
    """
    x = np.asarray(ops.convert_to_numpy(images), dtype=np.float32)
    x = x * np.float32(127.5) + np.float32(128.0)
    return np.clip(x, 0, 255).astype(np.uint8)

"""Elementwise, normalization and resampling ops of the StyleGAN networks, in `keras.ops`.

Every function takes and returns NHWC tensors (NVIDIA's code is NCHW; the
legacy importer converts weights so that the numbers agree). They run on any
Keras backend and compile with XLA.
"""

import numpy as np
from keras import ops

SQRT2 = float(np.sqrt(2.0))


def lrelu(x, alpha=0.2):
    """Leaky ReLU: NVIDIA's `max(x * alpha, x)`, as the backend's fused op (the
    same values; a cheaper gradient than `maximum`'s select)."""
    return ops.leaky_relu(x, negative_slope=alpha)


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


def instance_norm(x, epsilon=1e-8, scale=None, shift=None):
    """Instance normalization over H and W of an NHWC tensor.

    With `scale` and/or `shift` (broadcastable to [N, 1, 1, C]) it returns
    `normalized * scale + shift` with the scale folded into the normalizing
    factor: one multiply over the full tensor instead of two (AdaIN).

    >>> import numpy as np
    >>> y = instance_norm(np.arange(8, dtype="float32").reshape(1, 2, 2, 2))
    >>> [round(float(v), 3) for v in ops.convert_to_numpy(y)[0, :, :, 0].ravel()]
    [-1.342, -0.447, 0.447, 1.342]
    """
    x = x - ops.mean(x, axis=(1, 2), keepdims=True)
    factor = ops.rsqrt(ops.mean(ops.square(x), axis=(1, 2), keepdims=True) + epsilon)
    if scale is not None:
        factor = factor * scale
    x = x * factor
    return x if shift is None else x + shift


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


# NVIDIA's default gains of `fused_bias_act`.
DEFAULT_ACT_GAIN = {"linear": 1.0, "relu": SQRT2, "lrelu": SQRT2}


def bias_act(x, bias=None, activation="linear", gain=None, clamp=None):
    """NVIDIA's `fused_bias_act` on NHWC `x`: `clamp(act(x + bias) * gain)`.

    Args:
        x: [..., C] tensor.
        bias: [C] or None.
        activation: 'linear', 'relu' or 'lrelu' (slope 0.2).
        gain: None for the activation's default (sqrt(2) for relu/lrelu, 1 for linear).
        clamp: clip the result to [-clamp, clamp]; None disables.
    """
    if activation not in DEFAULT_ACT_GAIN:
        raise ValueError(
            f"Unknown activation {activation!r}; expected one of {sorted(DEFAULT_ACT_GAIN)}.")
    if bias is not None:
        x = x + ops.cast(bias, x.dtype)
    x = ACTIVATIONS[activation](x)
    gain = DEFAULT_ACT_GAIN[activation] if gain is None else float(gain)
    if gain != 1.0:
        x = x * gain
    if clamp is not None:
        x = ops.clip(x, -float(clamp), float(clamp))
    return x

"""Small `keras.ops` building blocks shared by the feature networks (NHWC).

Each reproduces the PyTorch op the reference network uses, exactly:
`conv2d` with explicit zero padding, `resize_bilinear` as
`F.interpolate(mode='bilinear', align_corners=False)` (no antialiasing, on
every backend), `avg_pool3_exclude_pad` as
`F.avg_pool2d(k=3, s=1, p=1, count_include_pad=False)`.
"""

import keras
import numpy as np
from keras import ops


def torch_conv_kernel(w):
    """PyTorch conv weight [O, I, kh, kw] -> Keras kernel [kh, kw, I, O]."""
    return np.ascontiguousarray(np.transpose(w, (2, 3, 1, 0)))


def conv2d(x, kernel, bias=None, stride=1, padding=(0, 0)):
    """`torch.nn.functional.conv2d` on NHWC `x` with symmetric zero padding (ph, pw)."""
    ph, pw = padding
    if ph or pw:
        x = ops.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]])
    y = ops.conv(x, kernel, strides=stride, padding="valid")
    return y if bias is None else y + bias


def _resize_matrix(n_in, n_out):
    """[n_out, n_in] bilinear weights of PyTorch's align_corners=False resize,
    computed in float32 as PyTorch does (its source positions are float32)."""
    f32 = np.float32
    scale = f32(n_in) / f32(n_out)
    src = np.maximum(scale * (np.arange(n_out, dtype=f32) + f32(0.5)) - f32(0.5), f32(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = np.clip(src - i0.astype(f32), f32(0), f32(1))
    m = np.zeros((n_out, n_in), f32)
    np.add.at(m, (np.arange(n_out), i0), f32(1) - lam)
    np.add.at(m, (np.arange(n_out), i1), lam)
    return m


def resize_bilinear(x, size):
    """Resizes NHWC `x` to `size` (h, w) as `F.interpolate(..., 'bilinear',
    align_corners=False)` does (no antialiasing).

    >>> tuple(resize_bilinear(np.zeros([1, 64, 64, 3], 'float32'), (299, 299)).shape)
    (1, 299, 299, 3)
    """
    h, w = int(x.shape[1]), int(x.shape[2])
    if (h, w) == tuple(size):
        return x
    mh = ops.convert_to_tensor(_resize_matrix(h, size[0]))
    mw = ops.convert_to_tensor(_resize_matrix(w, size[1]))
    x = ops.einsum("oh,nhwc->nowc", mh, x)
    return ops.einsum("pw,nowc->nopc", mw, x)


def avg_pool3_exclude_pad(x):
    """3x3 stride-1 average pool, padding 1, padded zeros not counted."""
    h, w = int(x.shape[1]), int(x.shape[2])
    ones = np.pad(np.ones((h, w), np.float32), 1)
    counts = sum(ones[i:i + h, j:j + w] for i in range(3) for j in range(3))
    total = ops.average_pool(ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 1,
                             padding="valid") * 9.0
    return total / ops.convert_to_tensor(counts[None, :, :, None])


def max_pool(x, size, stride, padding="valid"):
    """`F.max_pool2d` (floor mode); padding 'same' for the k=3, s=1, p=1 case."""
    return ops.max_pool(x, size, stride, padding=padding)


def to_float_images(images):
    """uint8 (or float 0..255) NHWC -> float32 in [0, 1], checked."""
    x = ops.convert_to_tensor(images)
    if len(x.shape) != 4 or x.shape[-1] != 3:
        raise ValueError(f"images must be NHWC with 3 channels; got shape {tuple(x.shape)}.")
    return ops.cast(x, "float32") / 255.0


class StateLayer(keras.layers.Layer):
    """A Layer whose weights are fixed arrays (non-trainable), accessed by name."""

    def __init__(self, arrays, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.w = {}
        for name, arr in arrays.items():
            arr = np.asarray(arr, dtype=np.float32)
            self.w[name] = self.add_weight(
                shape=arr.shape, initializer=lambda shape, dtype=None, a=arr: a,
                trainable=False, name=name.replace(".", "_"), dtype="float32")

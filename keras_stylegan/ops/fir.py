"""FIR filtering and resampling, NHWC: StyleGAN2's `upfirdn2d` and the helpers
built on it, and StyleGAN1's blur (`blur2d`, a same-size depthwise filter).

`fir_taps` is the one normalization of user-given taps (for configs), and
`fir_kernel` the one 2-D kernel maker (outer product, normalized).

`upfirdn2d(x, k, up, down, pad)` does what NVIDIA's `upfirdn_2d` does, on
every channel of an NHWC tensor:

1. upsample by inserting `up - 1` zeros after every pixel (H -> H * up),
2. zero-pad by `pad` (negative values crop),
3. convolve with the 2-D FIR kernel `k` (a true convolution: `k` is flipped,
   as in `scipy.signal.upfirdn`), 'valid',
4. keep every `down`-th pixel, starting with the first.

The output size along an axis is `(H * up + pad0 + pad1 - kh) // down + 1`.
With `up=1, down=1, pad=(kh - 1, kh - 1)` it is `scipy.signal.upfirdn`'s full
convolution; the tests check it against SciPy.

The helpers reproduce the padding choices of NVIDIA's StyleGAN2 code (TF
`dnnlib/tflib/ops/upfirdn_2d.py`), which the released networks depend on at
the image borders:

* `filter_2d`: same-size filtering;
* `upsample_2d` / `downsample_2d`: x2 resampling with the FIR low-pass;
* `upsample_conv_2d`: a stride-2 transposed conv followed by the FIR filter,
  padded once (the 'Conv0_up' layers and the resnet 'Skip' of G);
* `conv_downsample_2d`: the FIR filter followed by a stride-2 'valid' conv
  (D's 'Conv1_down' and 'Skip').

Everything is `keras.ops`, so it runs on every Keras backend; the kernels are
NumPy constants. Grouped convolutions (the fused modulated conv) are
supported by `upsample_conv_2d` / `conv_downsample_2d` when the input has a
multiple of the weight's input channels.

Example:

>>> import numpy as np
>>> x = np.ones((1, 4, 4, 2), "float32")
>>> tuple(upsample_2d(x).shape)
(1, 8, 8, 2)
>>> float(np.asarray(upsample_2d(x))[0, 3, 3, 0])  # the FIR keeps DC gain 1
1.0
"""

import numpy as np
from keras import ops

# The [1, 3, 3, 1] binomial filter of StyleGAN2 ("resample_kernel").
DEFAULT_KERNEL = (1, 3, 3, 1)


def fir_taps(taps):
    """Taps as plain floats for configs: None stays None, 1-D gives a list,
    2-D a nested list.

    >>> fir_taps((1, 2, 1))
    [1.0, 2.0, 1.0]
    """
    if taps is None:
        return None
    return np.asarray(taps, dtype=np.float64).tolist()


def fir_kernel(taps, normalize=True, gain=1.0):
    """Makes a 2-D FIR kernel (NumPy float32) from separable 1-D `taps`.

    A 1-D list of taps gives the outer product; a 2-D array is used as is.
    With `normalize` the kernel sums to 1 before `gain` is applied.
    """
    k = np.asarray(taps, dtype=np.float64)
    if k.ndim == 1:
        k = np.outer(k, k)
    if k.ndim != 2 or k.size == 0:
        raise ValueError(f"FIR taps must be 1-D or 2-D; received shape {k.shape}.")
    if normalize:
        total = np.sum(k)
        if total == 0:
            raise ValueError("FIR kernel taps sum to 0; they cannot be normalized.")
        k = k / total
    return (k * gain).astype(np.float32)


def setup_kernel(k, factor=2):
    """NumPy float32 2-D kernel from `k` as NVIDIA's `_setup_kernel` makes it.

    `k`: 1-D taps (outer product with itself), a square 2-D array, or None
    (the box filter `[1] * factor`). The result is normalized to sum to 1.
    """
    kernel = fir_kernel([1] * factor if k is None else k)
    if kernel.shape[0] != kernel.shape[1]:
        raise ValueError(f"FIR kernel must be 1-D taps or a square 2-D array; received "
                         f"shape {kernel.shape}.")
    return kernel


def _pads(pad):
    """(pad_y0, pad_y1, pad_x0, pad_x1) from an int, a pair or a 4-tuple."""
    if isinstance(pad, int):
        return (pad,) * 4
    pad = tuple(int(p) for p in pad)
    if len(pad) == 2:
        return pad + pad
    if len(pad) == 4:
        return pad
    raise ValueError(f"pad must be an int, (p0, p1) or (py0, py1, px0, px1); received {pad}.")


def _static_hwc(x, what):
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    if h is None or w is None or c is None:
        raise ValueError(
            f"{what} needs static height, width and channels; received shape {x.shape}.")
    return int(h), int(w), int(c)


def zero_insert(x, up):
    """Inserts `up - 1` zeros after every pixel of NHWC `x` (H, W -> H*up, W*up).

    Uses only 4-D reshapes and pads (TFLite builtins).
    """
    if up == 1:
        return x
    h, w, c = _static_hwc(x, "zero_insert")
    x = ops.reshape(x, (-1, h, 1, w * c))
    x = ops.pad(x, ((0, 0), (0, 0), (0, up - 1), (0, 0)))
    x = ops.reshape(x, (-1, w, 1, c))
    x = ops.pad(x, ((0, 0), (0, 0), (0, up - 1), (0, 0)))
    return ops.reshape(x, (-1, h * up, w * up, c))


def pad_or_crop(x, pad):
    """Zero-pads H and W of NHWC `x` by `(py0, py1, px0, px1)`; negative values crop."""
    py0, py1, px0, px1 = _pads(pad)
    if max(py0, py1, px0, px1) > 0:
        x = ops.pad(x, ((0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0)),
                        (0, 0)))
    if min(py0, py1, px0, px1) < 0:
        h, w = x.shape[1], x.shape[2]
        x = x[:, max(-py0, 0):h - max(-py1, 0), max(-px0, 0):w - max(-px1, 0), :]
    return x


def upfirdn2d(x, k, up=1, down=1, pad=0, gain=1.0):
    """Upsample, FIR-filter and downsample every channel of NHWC `x`.

    Args:
        x: [N, H, W, C] tensor.
        k: 2-D kernel (NumPy, used as given: not normalized; see
            `setup_kernel`), or 1-D taps used as their outer product.
        up, down: integer factors.
        pad: int, (p0, p1) for both axes, or (py0, py1, px0, px1); applied
            after upsampling; negative values crop.
        gain: multiplies the kernel.

    Returns:
        [N, (H*up + py0 + py1 - kh) // down + 1, (same for W), C].
    """
    k = np.asarray(k, dtype=np.float32)
    if k.ndim == 1:
        k = np.outer(k, k)
    if k.ndim != 2:
        raise ValueError(f"upfirdn2d: kernel must be 1-D or 2-D; received shape {k.shape}.")
    up, down = int(up), int(down)
    if up < 1 or down < 1:
        raise ValueError(f"upfirdn2d: up and down must be >= 1; received up={up}, down={down}.")
    x = zero_insert(x, up)
    x = pad_or_crop(x, pad)
    c = x.shape[-1]
    # A true convolution: flip the kernel, then correlate (what depthwise_conv does).
    w = np.tile((k[::-1, ::-1] * np.float32(gain))[:, :, None, None], (1, 1, c, 1))
    return ops.depthwise_conv(x, ops.cast(w, x.dtype), strides=down, padding="valid")


def filter_2d(x, k=DEFAULT_KERNEL, gain=1.0):
    """Same-size FIR filtering with NVIDIA's padding (`filter_2d`)."""
    k = setup_kernel(k) * np.float32(gain)
    p = k.shape[0] - 1
    return upfirdn2d(x, k, pad=((p + 1) // 2, p // 2))


def upsample_2d(x, k=DEFAULT_KERNEL, factor=2, gain=1.0):
    """Upsamples NHWC `x` by `factor` with the FIR low-pass `k` (NVIDIA's `upsample_2d`).

    The kernel is normalized and scaled by `gain * factor**2` so that the
    mean is preserved; `k=None` gives nearest-neighbour upsampling.
    """
    k = setup_kernel(k, factor) * np.float32(gain * factor ** 2)
    p = k.shape[0] - factor
    return upfirdn2d(x, k, up=factor, pad=((p + 1) // 2 + factor - 1, p // 2))


def downsample_2d(x, k=DEFAULT_KERNEL, factor=2, gain=1.0):
    """Downsamples NHWC `x` by `factor` after the FIR low-pass `k` (`downsample_2d`).

    `k=None` gives average pooling.
    """
    k = setup_kernel(k, factor) * np.float32(gain)
    p = k.shape[0] - factor
    return upfirdn2d(x, k, down=factor, pad=((p + 1) // 2, p // 2))


def _groups(x, w, what):
    cin, wcin = x.shape[-1], w.shape[-2]
    if cin is None or cin % wcin:
        raise ValueError(
            f"{what}: input channels ({cin}) must be a multiple of the weight's input "
            f"channels ({wcin}).")
    return cin // wcin


def transposed_conv_input(x, kernel_size, factor=2):
    """Zero-inserts and pads `x` so that a 'valid' correlation with a
    `kernel_size` kernel `w` equals the stride-`factor` transposed conv with
    the flipped kernel (what `upsample_conv_2d` runs); H -> (H-1)*factor + 2*kernel_size - 1.
    """
    x = zero_insert(x, factor)
    return pad_or_crop(x, (kernel_size - 1, kernel_size - factor))


def upsample_conv_fir(x, k=DEFAULT_KERNEL, kernel_size=3, factor=2, gain=1.0):
    """The FIR step of `upsample_conv_2d`: (H-1)*factor + kernel_size -> H*factor."""
    kf = setup_kernel(k, factor) * np.float32(gain * factor ** 2)
    p = (kf.shape[0] - factor) - (kernel_size - 1)
    return upfirdn2d(x, kf, pad=((p + 1) // 2 + factor - 1, p // 2 + 1))


def conv_downsample_fir(x, k=DEFAULT_KERNEL, kernel_size=3, factor=2, gain=1.0):
    """The FIR step of `conv_downsample_2d`, before its stride-`factor` 'valid' conv."""
    kf = setup_kernel(k, factor) * np.float32(gain)
    p = (kf.shape[0] - factor) + (kernel_size - 1)
    return upfirdn2d(x, kf, pad=((p + 1) // 2, p // 2))


def _check_kernel(w, what):
    kh, kw = w.shape[0], w.shape[1]
    if kh != kw or kh % 2 != 1:
        raise ValueError(f"{what} needs a square, odd-sized kernel; received shape {w.shape}.")
    return int(kh)


def upsample_conv_2d(x, w, k=DEFAULT_KERNEL, factor=2, gain=1.0):
    """Transposed conv with stride `factor`, then the FIR filter (`upsample_conv_2d`).

    Args:
        x: [N, H, W, G * Cin]; G > 1 means a grouped convolution.
        w: [kh, kw, Cin, G * Cout] (HWIO, as stored by NVIDIA) for the
            forward conv whose transpose is taken; square, odd size.
        k, factor, gain: the FIR filter (normalized, times `gain * factor**2`).

    Returns:
        [N, H * factor, W * factor, G * Cout].

    The transposed conv maps H to `(H - 1) * factor + kh`; the FIR filter,
    padded once, brings it to `H * factor`. Ungrouped inputs use
    `ops.conv_transpose` with the spatially flipped kernel (a TFLite builtin).
    Grouped inputs use the equivalent zero-insertion + grouped conv, since
    `conv_transpose` has no groups.
    """
    kh = _check_kernel(w, "upsample_conv_2d")
    if _groups(x, w, "upsample_conv_2d") == 1:
        wt = ops.transpose(ops.flip(ops.flip(w, axis=0), axis=1), (0, 1, 3, 2))  # [kkOI]
        # output_padding=0 pins the length to (H-1)*factor + kh (Keras' default
        # adds factor - kh rows when kh < factor).
        x = ops.conv_transpose(x, ops.cast(wt, x.dtype), strides=factor, padding="valid",
                               output_padding=0)
    else:
        x = transposed_conv_input(x, kh, factor)
        x = ops.conv(x, ops.cast(w, x.dtype), padding="valid")
    return upsample_conv_fir(x, k, kh, factor, gain)


def conv_downsample_2d(x, w, k=DEFAULT_KERNEL, factor=2, gain=1.0):
    """FIR filter, then a 'valid' conv with stride `factor` (`conv_downsample_2d`).

    Args:
        x: [N, H, W, G * Cin]; G > 1 means a grouped convolution.
        w: [kh, kw, Cin, G * Cout] (HWIO), square, odd size.

    Returns:
        [N, H // factor, W // factor, G * Cout].
    """
    kh = _check_kernel(w, "conv_downsample_2d")
    _groups(x, w, "conv_downsample_2d")
    x = conv_downsample_fir(x, k, kh, factor, gain)
    return ops.conv(x, ops.cast(w, x.dtype), strides=factor, padding="valid")


# StyleGAN1's blur: same-size depthwise correlation ------------------------

def _depthwise_kernel(kernel, channels):
    # [kh, kw] -> [kh, kw, C, 1] for ops.depthwise_conv.
    k = np.asarray(kernel, dtype=np.float32)[:, :, None, None]
    return np.tile(k, [1, 1, channels, 1])


def depthwise_filter_2d(x, kernel, stride=1, padding="same"):
    """Correlates every channel of NHWC `x` with the 2-D `kernel` (zero padding).

    This is NVIDIA's `_blur2d` for symmetric kernels such as [1,2,1].
    """
    c = x.shape[-1]
    k = ops.convert_to_tensor(_depthwise_kernel(kernel, c), dtype=x.dtype)
    return ops.depthwise_conv(x, k, strides=stride, padding=padding)


def blur2d(x, taps=(1, 2, 1), normalize=True):
    """StyleGAN1's blur: the normalized `taps x taps` filter, same-size output."""
    return depthwise_filter_2d(x, fir_kernel(taps, normalize=normalize))

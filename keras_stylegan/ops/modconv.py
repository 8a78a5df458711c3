"""StyleGAN2's modulated convolution (with demodulation), NHWC, in `keras.ops`.

For each sample `n` the conv weight is scaled per *input* channel by the
style `s[n]`, and (with demodulation) every output channel is rescaled to unit
L2 norm:

    w'[n, kh, kw, i, o] = w[kh, kw, i, o] * s[n, i]
    d[n, o]             = 1 / sqrt(sum_{kh, kw, i} w'[n, kh, kw, i, o]**2 + eps)
    y[n]                = conv(x[n], w'[n] * d[n])

Two implementations give the same numbers (the tests check them against each
other and against a NumPy loop):

* fused (`fused=True`): per-sample weights, run as one grouped convolution
  with the batch folded into the channels (NVIDIA's default, fast on GPUs);
* non-fused (`fused=False`): scale the activations by `s`, run an ordinary
  convolution with the shared weight, scale the output by `d`. It uses only
  ordinary convs, elementwise ops and a matmul, so it exports to TFLite
  builtins.

Example:

>>> import numpy as np
>>> x = np.random.RandomState(0).randn(2, 8, 8, 4).astype("float32")
>>> w = np.random.RandomState(1).randn(3, 3, 4, 5).astype("float32")
>>> s = np.ones((2, 4), "float32")
>>> a = modulated_conv2d(x, w, s, fused=True)
>>> b = modulated_conv2d(x, w, s, fused=False)
>>> bool(np.allclose(a, b, atol=1e-5)), tuple(a.shape)
(True, (2, 8, 8, 5))
"""

import numpy as np
from keras import ops

from keras_stylegan.ops import fir

DEMOD_EPSILON = 1e-8


def demodulation_coefficients(weight, styles, epsilon=DEMOD_EPSILON):
    """`d[n, o] = rsqrt(sum_{kh,kw,i} (weight * styles[n, i])**2 + eps)` as [N, O].

    Computed as `styles**2 @ sum_{kh,kw}(weight**2)`, which is the same sum
    without materializing per-sample weights.
    """
    wsq = ops.sum(ops.square(weight), axis=(0, 1))  # [IO]
    return ops.rsqrt(ops.matmul(ops.square(styles), wsq) + epsilon)  # [NO]


def modulated_weights(weight, styles, demodulate=True, epsilon=DEMOD_EPSILON):
    """Per-sample weights [N, kh, kw, I, O] (modulated, optionally demodulated)."""
    ww = weight[None] * styles[:, None, None, :, None]  # [NkkIO]
    if demodulate:
        d = ops.rsqrt(ops.sum(ops.square(ww), axis=(1, 2, 3)) + epsilon)  # [NO]
        ww = ww * d[:, None, None, None, :]
    return ww


def _conv(x, w, up, down, resample_kernel):
    if up:
        return fir.upsample_conv_2d(x, w, k=resample_kernel)
    if down:
        return fir.conv_downsample_2d(x, w, k=resample_kernel)
    return ops.conv(x, w, padding="same")


def _grouped_conv(x, ww, up, down, resample_kernel):
    """Per-sample conv of x [N,H,W,I] with ww [N,k,k,I,O], as one grouped conv.

    The batch is folded into channel groups (x -> [1,H,W,N*I], weights ->
    [k,k,I,N*O]; group n owns outputs n*O..n*O+O-1). Resampling pads and
    filters run on the unfolded tensors, so a dynamic batch size works.
    """
    kh, cin, cout = ww.shape[1], ww.shape[3], ww.shape[4]
    if up:
        x = fir.transposed_conv_input(x, kh)
    elif down:
        x = fir.conv_downsample_fir(x, resample_kernel, kh)
    h, w = x.shape[1], x.shape[2]
    x = ops.reshape(ops.transpose(x, (1, 2, 0, 3)), (1, h, w, -1))  # [1,H,W,N*I]
    wg = ops.reshape(ops.transpose(ww, (1, 2, 3, 0, 4)), (kh, kh, cin, -1))  # [kkI(N*O)]
    padding = "same" if not (up or down) else "valid"
    y = ops.conv(x, ops.cast(wg, x.dtype), strides=2 if down else 1, padding=padding)
    y = ops.transpose(ops.reshape(y, (y.shape[1], y.shape[2], -1, cout)), (2, 0, 1, 3))
    if up:
        y = fir.upsample_conv_fir(y, resample_kernel, kh)
    return y


def modulated_conv2d(x, weight, styles, demodulate=True, up=False, down=False,
                     resample_kernel=fir.DEFAULT_KERNEL, fused=True,
                     epsilon=DEMOD_EPSILON):
    """Modulated 2-D convolution of NHWC `x`.

    Args:
        x: [N, H, W, I] activations (any float dtype; the convolution runs in it).
        weight: [kh, kw, I, O] runtime weight (already scaled by 1/sqrt(fan_in)).
        styles: [N, I] per-sample input-channel scales (NVIDIA's `s`, with the +1).
        demodulate: normalize each output channel (ToRGB does not).
        up, down: resample by 2 with NVIDIA's FIR up-conv / conv-down.
        resample_kernel: FIR taps for `up`/`down` (None: box filter).
        fused: grouped per-sample conv (True) or activation scaling (False).
        epsilon: added under the demodulation square root.

    Returns:
        [N, H', W', O] in the dtype of `x`. The weight math (modulation,
        demodulation) runs in the dtype of `weight`/`styles` (float32).
    """
    if up and down:
        raise ValueError("modulated_conv2d: `up` and `down` cannot both be True.")
    dtype = x.dtype
    if fused:
        ww = modulated_weights(weight, styles, demodulate, epsilon)  # [NkkIO]
        return _grouped_conv(x, ops.cast(ww, dtype), up, down, resample_kernel)
    x = x * ops.cast(styles[:, None, None, :], dtype)
    y = _conv(x, ops.cast(weight, dtype), up, down, resample_kernel)
    if demodulate:
        d = demodulation_coefficients(weight, styles, epsilon)
        y = y * ops.cast(d[:, None, None, :], dtype)
    return y


def prenormalize_fp16(weight, styles):
    """Rescales weight and styles so a float16 non-fused modconv cannot overflow.

    StyleGAN2-ADA's trick: with demodulation the result is unchanged, since
    the scale of `weight` per output channel and of `styles` cancel out.
    """
    fan_in = float(np.prod(weight.shape[:-1]))
    weight = weight * (1.0 / np.sqrt(fan_in)) / ops.max(
        ops.abs(weight), axis=(0, 1, 2), keepdims=True)
    styles = styles / ops.max(ops.abs(styles))
    return weight, styles

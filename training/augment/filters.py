"""FIR filters and resampling steps of the augmentation pipeline (NHWC, TF).

* `SYM6`, `SYM2`: low-pass decomposition filters of Daubechies' symlets
  (orthogonal wavelets), as in StyleGAN2-ADA: `SYM6` anti-aliases the
  geometric transforms (upsample x2, resample, downsample x2), `SYM2`
  builds the 4-band filter bank of `imgfilter`.
* `filter_bank()`: the 4 zero-phase band-pass filters (43 taps) whose sum
  is the identity.
* `fir_axis`: upsample / pad / FIR / downsample along one image axis with a
  dynamic image size (the geometric padding depends on the batch).
* `reflect_pad`: reflection padding ('d c b | a b c d | c b a') of any
  width, repeating the reflection when the padding exceeds the image.

Reference: Karras et al., "Training Generative Adversarial Networks with
Limited Data", NeurIPS 2020, appendix B.
"""

import numpy as np
import tensorflow as tf

SYM2 = np.asarray([-0.12940952255092145, 0.22414386804185735, 0.836516303737469,
                   0.48296291314469025])
SYM6 = np.asarray([0.015404109327027373, 0.0034907120842174702, -0.11799011114819057,
                   -0.048311742585633, 0.4910559419267466, 0.787641141030194,
                   0.3379294217276218, -0.07263752278646252, -0.021060292512300564,
                   0.04472490177066578, 0.0017677118642428036, -0.007800708325034148])

NUM_BANDS = 4


def filter_bank(taps=SYM2, num_bands=NUM_BANDS):
    """[num_bands, K] NumPy filters splitting the spectrum into octaves, the
    lowest first (ADA's `imgfilter` bank). Built from the half-band pair
    `H(z)H(1/z)/2`, `H(-z)H(-1/z)/2` of the orthogonal low-pass `taps`: each
    round dilates the bank by 2, low-passes it and adds the high-pass to the
    next band. The filters are symmetric (zero phase) and sum to a unit impulse.

    >>> bank = filter_bank()
    >>> bank.shape, round(float(bank.sum(axis=0)[21]), 6)
    ((4, 43), 1.0)
    """
    lo = np.asarray(taps, np.float64)
    hi = lo * (-1.0) ** np.arange(lo.size)
    lo2 = np.convolve(lo, lo[::-1]) / 2
    hi2 = np.convolve(hi, hi[::-1]) / 2
    bank = np.eye(num_bands, 1)
    for i in range(1, num_bands):
        dilated = np.zeros((num_bands, bank.shape[1] * 2 - 1))
        dilated[:, ::2] = bank
        bank = np.stack([np.convolve(row, lo2) for row in dilated])
        start = (bank.shape[1] - hi2.size) // 2
        bank[i, start:start + hi2.size] += hi2
    return bank


def reflect_pad(x, axis, before, after):
    """Pads `x` along `axis` by reflection (no edge repeat); `before` / `after`
    may be tensors; reflections repeat for pads wider than the image."""
    n = tf.shape(x)[axis]
    period = tf.maximum(2 * (n - 1), 1)
    idx = tf.math.floormod(tf.range(-before, n + after), period)
    idx = tf.where(idx >= n, period - idx, idx)
    return tf.gather(x, idx, axis=axis)


def _zero_insert(x, axis, up):
    """Inserts `up - 1` zeros after every pixel along `axis` (1 or 2)."""
    shape = tf.shape(x)
    x = tf.stack([x] + [tf.zeros_like(x)] * (up - 1), axis=axis + 1)
    new = [shape[0], shape[1], shape[2], shape[3]]
    new[axis] = new[axis] * up
    return tf.reshape(x, new)


def fir_axis(x, taps, axis, up=1, down=1, pad=(0, 0), flip=True, gain=1.0):
    """One axis of NVIDIA's `upfirdn2d` on NHWC `x` (`axis` 1 = H, 2 = W):
    insert `up - 1` zeros after each pixel, zero-pad by `pad` (negative
    crops), filter with `taps * gain` ('valid'; a true convolution, or a
    correlation with `flip=False`), keep every `down`-th pixel from the first.
    """
    if up > 1:
        x = _zero_insert(x, axis, up)
    p0, p1 = pad
    if p0 > 0 or p1 > 0:
        paddings = [[0, 0]] * 4
        paddings[axis] = [max(p0, 0), max(p1, 0)]
        x = tf.pad(x, paddings)
    if p0 < 0 or p1 < 0:
        n = tf.shape(x)[axis]
        x = tf.gather(x, tf.range(max(-p0, 0), n - max(-p1, 0)), axis=axis)
    k = np.asarray(taps, np.float64)[::-1 if flip else 1] * gain
    c = int(x.shape[-1])
    kshape = (k.size, 1) if axis == 1 else (1, k.size)
    kernel = np.tile(k.reshape(kshape)[:, :, None, None], (1, 1, c, 1)).astype(np.float32)
    x = tf.nn.depthwise_conv2d(x, tf.constant(kernel, x.dtype), [1, 1, 1, 1], "VALID")
    if down > 1:
        x = tf.gather(x, tf.range(0, tf.shape(x)[axis], down), axis=axis)
    return x

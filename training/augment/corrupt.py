"""Image-space filtering and corruptions of StyleGAN2-ADA: `imgfilter`
(random amplification of 4 frequency bands), additive RGB `noise` and
`cutout` (a rectangle of half the image size set to 0).

Reference: Karras et al., "Training Generative Adversarial Networks with
Limited Data", NeurIPS 2020, appendix B.3-B.4; NVIDIA's `augment.py`.
"""

import numpy as np
import tensorflow as tf

from keras_stylegan.training.augment.draws import gate
from keras_stylegan.training.augment.filters import NUM_BANDS, filter_bank, reflect_pad

OPS = ("imgfilter", "noise", "cutout")
DEFAULT_RANGES = dict(imgfilter_bands=(1, 1, 1, 1), imgfilter_std=1.0, noise_std=0.1,
                      cutout_size=0.5)
# Expected power of natural images in the 4 bands (1/f spectrum).
EXPECTED_POWER = np.asarray([10, 1, 1, 1], np.float32) / 13


def sample(draw, p, multipliers, shape, ranges=None):
    """Per-image parameters of the enabled ops for images of `shape` (N, H, W, C):
    `imgfilter_t` [N, 4] (band amplifications, 1 = off), `noise` [N] (the
    noise sigma, 0 = off) and `noise_field` [N, H, W, C], `cutout` [N]
    (rectangle size, 0 = off) and `cutout_center` [N, 2] (x, y in [0, 1))."""
    r = dict(DEFAULT_RANGES, **(ranges or {}))
    m = {op: float(multipliers.get(op, 0)) for op in OPS}
    out = {}
    if m["imgfilter"]:
        bands = []
        for i, band_strength in enumerate(r["imgfilter_bands"]):
            t = 2 ** (draw(40 + 2 * i) * r["imgfilter_std"])
            bands.append(gate(draw, 41 + 2 * i, m["imgfilter"] * p * band_strength, t, 1.0))
        out["imgfilter_t"] = tf.stack(bands, axis=1)
    if m["noise"]:
        sigma = tf.abs(draw(50)) * r["noise_std"]
        out["noise"] = gate(draw, 51, m["noise"] * p, sigma, 0.0)
        out["noise_field"] = draw(52, tuple(shape[1:]))
    if m["cutout"]:
        size = tf.fill(tf.shape(draw(53)), np.float32(r["cutout_size"]))
        out["cutout"] = gate(draw, 54, m["cutout"] * p, size, 0.0)
        out["cutout_center"] = draw(55, (2,), True)
    return out


def band_gains(t):
    """Global gains g [N, 4] from the band amplifications t [N, 4]: each band's
    factor applied in turn, renormalized to the expected power each time."""
    g = tf.ones_like(t)
    for i in range(NUM_BANDS):
        ti = tf.concat([tf.ones_like(t[:, :i]), t[:, i:i + 1], tf.ones_like(t[:, i + 1:])], 1)
        ti /= tf.sqrt(tf.reduce_sum(EXPECTED_POWER * tf.square(ti), axis=-1, keepdims=True))
        g *= ti
    return g


def apply_filter(images, g):
    """Filters NHWC `images` with the per-image zero-phase filter `g @ bank`
    along x, then y (reflection padding)."""
    bank = filter_bank().astype(np.float32)                            # [4, K]
    pad = bank.shape[1] // 2
    c = int(images.shape[-1])
    for axis in (2, 1):
        x = reflect_pad(images, axis, pad, pad)
        kshape = (1, bank.shape[1]) if axis == 2 else (bank.shape[1], 1)
        kernel = np.tile(bank.T.reshape(kshape + (1, NUM_BANDS)), (1, 1, c, 1))
        y = tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "VALID")  # [N, H, W, C*4]
        y = tf.reshape(y, tf.concat([tf.shape(y)[:3], [c, NUM_BANDS]], 0))
        images = tf.reduce_sum(y * g[:, None, None, None, :], axis=-1)
    return images


def cutout_mask(center, size, height, width):
    """[N, H, W, 1] float mask: 0 inside each image's centred rectangle of
    `size` x `size` (fractions of the image), 1 elsewhere."""
    xs = (np.arange(width, dtype=np.float32) + 0.5) / width
    ys = (np.arange(height, dtype=np.float32) + 0.5) / height
    half = size[:, None] / 2
    out_x = tf.abs(xs[None, :] - center[:, 0:1]) >= half                # [N, W]
    out_y = tf.abs(ys[None, :] - center[:, 1:2]) >= half                # [N, H]
    mask = out_x[:, None, :] | out_y[:, :, None]
    return tf.cast(mask, tf.float32)[..., None]

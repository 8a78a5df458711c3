"""Colour augmentations of StyleGAN2-ADA: brightness, contrast, luma flip, hue
rotation and saturation, each a 4x4 matrix on homogeneous RGB colours.

Their product `C` is applied to every pixel (`rgb' = C[:3, :3] rgb + C[:3,
3]`); single-channel images use the mean of C's colour rows (hue and
saturation do nothing there). Images are in [-1, 1], so the luma axis
(1, 1, 1) / sqrt(3) goes through mid-grey.

Reference: Karras et al., "Training Generative Adversarial Networks with
Limited Data", NeurIPS 2020, appendix B.2; NVIDIA's `augment.py`.
"""

import numpy as np
import tensorflow as tf

from keras_stylegan.training.augment import matrices as M
from keras_stylegan.training.augment.draws import gate

OPS = ("brightness", "contrast", "lumaflip", "hue", "saturation")
DEFAULT_RANGES = dict(brightness_std=0.2, contrast_std=0.5, hue_max=1.0, saturation_std=1.0)
IDENTITY = dict(brightness=0.0, contrast=1.0, lumaflip=0.0, hue=0.0, saturation=1.0)
_PURPOSES = dict(brightness=(30, 31), contrast=(32, 33), lumaflip=(34, 35), hue=(36, 37),
                 saturation=(38, 39))


def sample(draw, p, multipliers, num_channels=3, ranges=None):
    """Per-image parameters {name: [N]} of the enabled colour augmentations."""
    r = dict(DEFAULT_RANGES, **(ranges or {}))
    m = {op: float(multipliers.get(op, 0)) for op in OPS}
    if num_channels == 1:  # no hue or saturation in grey images
        m["hue"] = m["saturation"] = 0.0
    values = dict(
        brightness=lambda k: draw(k) * r["brightness_std"],
        contrast=lambda k: 2 ** (draw(k) * r["contrast_std"]),
        lumaflip=lambda k: tf.floor(draw(k, (), True) * 2),
        hue=lambda k: (draw(k, (), True) * 2 - 1) * np.pi * r["hue_max"],
        saturation=lambda k: 2 ** (draw(k) * r["saturation_std"]))
    out = {}
    for op in OPS:
        if m[op]:
            value_p, gate_p = _PURPOSES[op]
            out[op] = gate(draw, gate_p, m[op] * p, values[op](value_p), IDENTITY[op])
    return out


def matrix(params):
    """`C` [N, 4, 4] of the parameters of `sample`; None when empty."""
    v = M.LUMA_AXIS
    vv = np.outer(v, v).astype(np.float32)
    eye = np.eye(4, dtype=np.float32)
    steps = []
    if "brightness" in params:
        b = params["brightness"]
        steps.append(M.translate3d(b, b, b))
    if "contrast" in params:
        c = params["contrast"]
        steps.append(M.scale3d(c, c, c))
    if "lumaflip" in params:  # Householder reflection across the plane normal to v
        steps.append(eye - 2 * vv * params["lumaflip"][:, None, None])
    if "hue" in params:
        steps.append(M.rotate3d(v, params["hue"]))
    if "saturation" in params:
        steps.append(vv + (eye - vv) * params["saturation"][:, None, None])
    if not steps:
        return None
    C = steps[0]
    for step in steps[1:]:
        C = step @ C
    return C


def apply(images, C):
    """Applies `C` [N, 4, 4] to NHWC `images` with 3 or 1 channels."""
    channels = images.shape[-1]
    if channels == 3:
        out = tf.einsum("nij,nhwj->nhwi", C[:, :3, :3], images)
        return out + C[:, None, None, :3, 3]
    if channels == 1:
        grey = tf.reduce_mean(C[:, :3, :], axis=1)                     # [N, 4]
        gain = tf.reduce_sum(grey[:, :3], axis=1)
        return images * gain[:, None, None, None] + grey[:, None, None, 3:]
    raise ValueError(f"Colour augmentation needs RGB (3) or grey (1) images; "
                     f"received {channels} channels.")

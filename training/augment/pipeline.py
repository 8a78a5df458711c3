"""StyleGAN2-ADA's augmentation pipeline: `AugmentPipe` and the `--augpipe`
presets.

`AugmentPipe(**multipliers)(images, p, draw)` augments a batch of NHWC
images in [-1, 1]: every enabled operation fires per image with
probability `multiplier * p` (p, the augmentation strength, is the same for
every image D sees in a step). Order: geometric (one combined matrix, one
resampling), colour (one combined matrix), image-space filtering, additive
noise, cutout. Images for which nothing fired are returned bit-identical,
so p = 0 leaves the batch untouched.

Every operation is differentiable (G is trained through the augmented
fakes, R1 is the gradient through the augmented reals) and invertible in
distribution, so with p below ~0.8 the augmentations do not leak into the
generated images (the paper's section 2.2).

Example:

>>> import numpy as np
>>> from keras_stylegan.training.augment.draws import stateless_draws
>>> pipe = AugmentPipe.preset("bgc")
>>> images = np.zeros((4, 16, 16, 3), np.float32)
>>> pipe(images, 0.5, stateless_draws(seed=0, n=4)).shape.as_list()
[4, 16, 16, 3]

Reference: Karras et al., "Training Generative Adversarial Networks with
Limited Data", NeurIPS 2020 (appendix B); NVIDIA's `augment.py` and the
`augpipe` table of its `train.py`.
"""

import tensorflow as tf

from keras_stylegan.errors import ConfigError
from keras_stylegan.training.augment import color, corrupt, geometric

_BLIT = dict(xflip=1, rotate90=1, xint=1)
_GEOM = dict(scale=1, rotate=1, aniso=1, xfrac=1)
_COLOR = dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
PRESETS = {
    "blit": _BLIT,
    "geom": _GEOM,
    "color": _COLOR,
    "filter": dict(imgfilter=1),
    "noise": dict(noise=1),
    "cutout": dict(cutout=1),
    "bg": dict(_BLIT, **_GEOM),
    "bgc": dict(_BLIT, **_GEOM, **_COLOR),
    "bgcf": dict(_BLIT, **_GEOM, **_COLOR, imgfilter=1),
    "bgcfn": dict(_BLIT, **_GEOM, **_COLOR, imgfilter=1, noise=1),
    "bgcfnc": dict(_BLIT, **_GEOM, **_COLOR, imgfilter=1, noise=1, cutout=1),
}
OPS = geometric.OPS + color.OPS + corrupt.OPS
RANGES = dict(geometric.DEFAULT_RANGES, **color.DEFAULT_RANGES, **corrupt.DEFAULT_RANGES)


def check_preset(name):
    """Returns `name` if it is a preset, else raises `ConfigError`."""
    if name not in PRESETS:
        raise ConfigError(f"Unknown augmentation pipeline {name!r} (--augpipe). "
                          f"Available: {', '.join(PRESETS)}.")
    return name


class AugmentPipe:
    """The ADA pipeline with probability multipliers per operation.

    Args:
        **options: probability multipliers (`xflip`, `rotate90`, `xint`,
            `scale`, `rotate`, `aniso`, `xfrac`, `brightness`, `contrast`,
            `lumaflip`, `hue`, `saturation`, `imgfilter`, `noise`, `cutout`;
            0 = off) and ranges (`xint_max`, `scale_std`, `rotate_max`,
            `aniso_std`, `xfrac_std`, `brightness_std`, `contrast_std`,
            `hue_max`, `saturation_std`, `imgfilter_bands`, `imgfilter_std`,
            `noise_std`, `cutout_size`) with ADA's defaults.
    """

    def __init__(self, **options):
        unknown = sorted(set(options) - set(OPS) - set(RANGES))
        if unknown:
            raise ConfigError(f"Unknown augmentation options {unknown}; known: "
                              f"{', '.join(OPS + tuple(RANGES))}.")
        self.multipliers = {op: float(options.get(op, 0)) for op in OPS}
        self.ranges = {k: options.get(k, v) for k, v in RANGES.items()}

    @classmethod
    def preset(cls, name):
        """The pipeline of an `--augpipe` preset ('bgc', ...)."""
        return cls(**PRESETS[check_preset(name)])

    def check_channels(self, num_channels):
        """Colour ops need RGB or grey images: `ConfigError` otherwise."""
        if num_channels not in (1, 3) and any(self.multipliers[op] for op in color.OPS):
            raise ConfigError(f"The colour augmentations (brightness ... saturation) need "
                              f"RGB or greyscale images; the data has {num_channels} "
                              "channels. Choose --augpipe blit, geom, filter, noise or cutout.")

    def sample(self, draw, p, shape):
        """Per-image parameters of every enabled operation (dict of tensors)."""
        params = geometric.sample(draw, p, self.multipliers, self.ranges)
        params.update(color.sample(draw, p, self.multipliers, shape[-1], self.ranges))
        params.update(corrupt.sample(draw, p, self.multipliers, shape, self.ranges))
        return params

    def apply(self, images, params):
        """Applies the parameters of `sample` to NHWC float32 `images`."""
        height, width = int(images.shape[1]), int(images.shape[2])
        G_inv = geometric.matrix(params, height, width)
        if G_inv is not None:
            changed = tf.reduce_any(tf.not_equal(G_inv, tf.eye(3)), axis=[1, 2])
            images = _where(changed, geometric.transform(images, G_inv), images)
        C = color.matrix(params)
        if C is not None:
            changed = tf.reduce_any(tf.not_equal(C, tf.eye(4)), axis=[1, 2])
            images = _where(changed, color.apply(images, C), images)
        if "imgfilter_t" in params:
            t = params["imgfilter_t"]
            changed = tf.reduce_any(tf.not_equal(t, 1.0), axis=1)
            filtered = corrupt.apply_filter(images, corrupt.band_gains(t))
            images = _where(changed, filtered, images)
        if "noise" in params:
            images = images + params["noise_field"] * params["noise"][:, None, None, None]
        if "cutout" in params:
            images = images * corrupt.cutout_mask(params["cutout_center"], params["cutout"],
                                                  height, width)
        return images

    def __call__(self, images, p, draw):
        """Augmented `images` (NHWC float32, static H, W, C) at strength `p`."""
        images = tf.convert_to_tensor(images, tf.float32)
        shape = [tf.shape(images)[0]] + images.shape.as_list()[1:]
        return self.apply(images, self.sample(draw, p, shape))


def _where(changed, augmented, images):
    return tf.where(changed[:, None, None, None], augmented, images)

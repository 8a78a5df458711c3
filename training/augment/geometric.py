"""Geometric augmentations of StyleGAN2-ADA: pixel blitting (x-flip, 90-degree
rotations, integer translation) and general transforms (isotropic scaling,
arbitrary rotation, anisotropic scaling, fractional translation).

Every augmentation is a 3x3 matrix; their product `G_inv` maps a pixel of
the output to the point of the input it samples (coordinates from the image
centre, x right, y down). `transform` executes it the way the paper does
to avoid aliasing and leaking: reflection padding (so no black borders
reach D), x2 upsampling with the `SYM6` wavelet low-pass, bilinear
resampling of the upsampled image, low-pass and x2 downsampling.

Parameters are drawn per image; each augmentation is applied with
probability `multiplier * p` (rotation: before and after the anisotropic
scaling, each with `1 - sqrt(1 - multiplier * p)`, so that P(either) =
multiplier * p).

Reference: Karras et al., "Training Generative Adversarial Networks with
Limited Data", NeurIPS 2020, appendix B.1; NVIDIA's `augment.py`.
"""

import numpy as np
import tensorflow as tf

from keras_stylegan.training.augment import matrices as M
from keras_stylegan.training.augment.draws import gate
from keras_stylegan.training.augment.filters import SYM6, fir_axis, reflect_pad

# Probability multipliers and parameter ranges (ADA's defaults).
OPS = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
DEFAULT_RANGES = dict(xint_max=0.125, scale_std=0.2, rotate_max=1.0, aniso_std=0.2,
                      xfrac_std=0.125)
# The value of each parameter that leaves the image unchanged.
IDENTITY = dict(xflip=0.0, rotate90=0.0, xint=0.0, scale=1.0, rotate_pre=0.0, aniso=1.0,
                rotate_post=0.0, xfrac=0.0)
# Random-stream purposes: (value, gate).
_PURPOSES = dict(xflip=(10, 11), rotate90=(12, 13), xint=(14, 15), scale=(16, 17),
                 rotate_pre=(18, 19), aniso=(20, 21), rotate_post=(22, 23), xfrac=(24, 25))


def sample(draw, p, multipliers, ranges=None):
    """Per-image parameters {name: [N] or [N, 2]} of the enabled augmentations
    (`multipliers[op] > 0`), at strength `p` (a float or scalar tensor)."""
    r = dict(DEFAULT_RANGES, **(ranges or {}))
    m = {op: float(multipliers.get(op, 0)) for op in OPS}
    out = {}

    def gated(name, value, probability):
        value_p, gate_p = _PURPOSES[name]
        out[name] = gate(draw, gate_p, probability, value(value_p), IDENTITY[name])

    pi = np.pi
    if m["xflip"]:
        gated("xflip", lambda k: tf.floor(draw(k, (), True) * 2), m["xflip"] * p)
    if m["rotate90"]:
        gated("rotate90", lambda k: tf.floor(draw(k, (), True) * 4), m["rotate90"] * p)
    if m["xint"]:
        gated("xint", lambda k: (draw(k, (2,), True) * 2 - 1) * r["xint_max"], m["xint"] * p)
    if m["scale"]:
        gated("scale", lambda k: 2 ** (draw(k) * r["scale_std"]), m["scale"] * p)
    p_rot = 1 - tf.sqrt(tf.clip_by_value(1 - m["rotate"] * tf.cast(p, tf.float32), 0, 1))
    rotation = lambda k: (draw(k, (), True) * 2 - 1) * pi * r["rotate_max"]  # noqa: E731
    if m["rotate"]:
        gated("rotate_pre", rotation, p_rot)
    if m["aniso"]:
        gated("aniso", lambda k: 2 ** (draw(k) * r["aniso_std"]), m["aniso"] * p)
    if m["rotate"]:
        gated("rotate_post", rotation, p_rot)
    if m["xfrac"]:
        gated("xfrac", lambda k: draw(k, (2,)) * r["xfrac_std"], m["xfrac"] * p)
    return out


def matrix(params, height, width):
    """`G_inv` [N, 3, 3] (output pixel -> input pixel) of the parameters of
    `sample` for images of `height` x `width`; None when `params` is empty."""
    steps = []
    if "xflip" in params:
        steps.append(M.scale2d_inv(1 - 2 * params["xflip"], 1))
    if "rotate90" in params:
        steps.append(M.rotate2d_inv(-np.pi / 2 * params["rotate90"]))
    if "xint" in params:
        t = params["xint"]
        steps.append(M.translate2d_inv(tf.round(t[:, 0] * width), tf.round(t[:, 1] * height)))
    if "scale" in params:
        steps.append(M.scale2d_inv(params["scale"], params["scale"]))
    if "rotate_pre" in params:
        steps.append(M.rotate2d_inv(-params["rotate_pre"]))
    if "aniso" in params:
        steps.append(M.scale2d_inv(params["aniso"], 1 / params["aniso"]))
    if "rotate_post" in params:
        steps.append(M.rotate2d_inv(-params["rotate_post"]))
    if "xfrac" in params:
        t = params["xfrac"]
        steps.append(M.translate2d_inv(t[:, 0] * width, t[:, 1] * height))
    if not steps:
        return None
    G_inv = steps[0]
    for step in steps[1:]:
        G_inv = G_inv @ step
    return G_inv


def margins(G_inv, height, width, filter_pad):
    """Reflection padding (x0, y0, x1, y1), int32, that covers every sampled
    point of the batch plus the filter support (at most the image size - 1)."""
    cx, cy = (width - 1) / 2, (height - 1) / 2
    corners = np.float32([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]]).T
    cp = (G_inv @ corners)[:, :2, :]                                   # [N, xy, corner]
    cp = tf.reshape(tf.transpose(cp, [1, 0, 2]), [2, -1])             # [xy, N * corner]
    m = tf.reduce_max(tf.concat([-cp, cp], axis=0), axis=1)           # [x0, y0, x1, y1]
    m = m + np.float32([filter_pad * 2 - cx, filter_pad * 2 - cy] * 2)
    m = tf.clip_by_value(m, 0.0, np.float32([width - 1, height - 1] * 2))
    return tf.cast(tf.math.ceil(m), tf.int32)


def bilinear(images, G_inv, out_height, out_width):
    """Samples NHWC `images` (dynamic size) at `G_inv @ (x, y, 1)` of every
    output pixel (centred coordinates), bilinearly; zero outside the image.
    Built from gathers, so it is differentiable to any order."""
    n, c = tf.shape(images)[0], images.shape[-1]
    h_in, w_in = tf.shape(images)[1], tf.shape(images)[2]
    ys, xs = np.mgrid[0:out_height, 0:out_width].astype(np.float32)
    pts = np.stack([xs.ravel() - (out_width - 1) / 2, ys.ravel() - (out_height - 1) / 2,
                    np.ones(xs.size, np.float32)])                    # [3, P]
    src = G_inv @ pts                                                  # [N, 3, P]
    x = src[:, 0] + (tf.cast(w_in, tf.float32) - 1) / 2
    y = src[:, 1] + (tf.cast(h_in, tf.float32) - 1) / 2
    x0, y0 = tf.floor(x), tf.floor(y)
    flat = tf.reshape(images, [n, -1, c])
    out = 0.0
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        xi, yi = x0 + dx, y0 + dy
        weight = (1 - tf.abs(x - xi)) * (1 - tf.abs(y - yi))
        inside = ((xi >= 0) & (xi <= tf.cast(w_in, tf.float32) - 1)
                  & (yi >= 0) & (yi <= tf.cast(h_in, tf.float32) - 1))
        xi = tf.clip_by_value(tf.cast(xi, tf.int32), 0, w_in - 1)
        yi = tf.clip_by_value(tf.cast(yi, tf.int32), 0, h_in - 1)
        values = tf.gather(flat, yi * w_in + xi, batch_dims=1)        # [N, P, C]
        out += values * (weight * tf.cast(inside, tf.float32))[:, :, None]
    return tf.reshape(out, [n, out_height, out_width, c])


def transform(images, G_inv, taps=SYM6):
    """Applies `G_inv` [N, 3, 3] to NHWC float32 `images` [N, H, W, C]:
    reflect-pad, upsample x2 (FIR `taps`), bilinear resampling, FIR and
    downsample x2 (StyleGAN2-ADA's geometric pipeline)."""
    height, width = int(images.shape[1]), int(images.shape[2])
    taps = np.asarray(taps, np.float64) / np.sum(taps)
    fpad = taps.size // 4
    m = margins(G_inv, height, width, fpad)
    images = reflect_pad(images, 2, m[0], m[2])
    images = reflect_pad(images, 1, m[1], m[3])
    m = tf.cast(m, tf.float32)
    G_inv = M.translate2d((m[0] - m[2]) / 2, (m[1] - m[3]) / 2) @ G_inv
    # Upsample x2 (NVIDIA's upsample2d padding), in the coordinates of the
    # upsampled image.
    up_pad = ((taps.size + 1) // 2, (taps.size - 2) // 2)
    for axis in (2, 1):
        images = fir_axis(images, taps, axis, up=2, pad=up_pad, gain=2.0)
    G_inv = M.scale2d(2, 2) @ G_inv @ M.scale2d_inv(2, 2)
    G_inv = M.translate2d(-0.5, -0.5) @ G_inv @ M.translate2d_inv(-0.5, -0.5)
    images = bilinear(images, G_inv, (height + fpad * 2) * 2, (width + fpad * 2) * 2)
    # Low-pass and downsample x2, cropping the filter margin.
    down_pad = ((taps.size - 1) // 2 - fpad * 2, (taps.size - 2) // 2 - fpad * 2)
    for axis in (2, 1):
        images = fir_axis(images, taps, axis, down=2, pad=down_pad, flip=False)
    return images

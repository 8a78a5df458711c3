"""Batched homogeneous transformation matrices of the augmentation pipeline.

2-D matrices [N, 3, 3] act on pixel coordinates (x, y, 1) measured from the
image centre; 3-D matrices [N, 4, 4] act on colours (r, g, b, 1). Every
argument is a Python number or an [N] tensor; scalars are broadcast to the
batch. `*_inv` give the inverse transforms, which the geometric pipeline
composes (output pixel -> input pixel), as in StyleGAN2-ADA.

Example:

>>> import numpy as np
>>> m = translate2d(np.float32([1.0, 2.0]), 0.0)
>>> m.shape.as_list(), float(m[1, 0, 2])
([2, 3, 3], 2.0)
"""

import numpy as np
import tensorflow as tf

# The luma axis of RGB colours (homogeneous).
LUMA_AXIS = np.asarray([1, 1, 1, 0], np.float32) / np.sqrt(3)


def batch_of_matrices(*rows):
    """[N, R, C] from R rows of C entries, each a number or an [N] tensor."""
    rows = [[tf.convert_to_tensor(v, tf.float32) for v in row] for row in rows]
    vectors = [v for row in rows for v in row if v.shape.rank]
    n = tf.shape(vectors[0])[0] if vectors else 1
    return tf.stack([tf.stack([tf.broadcast_to(v, [n]) for v in row], axis=-1)
                     for row in rows], axis=-2)


def translate2d(tx, ty):
    return batch_of_matrices([1, 0, tx], [0, 1, ty], [0, 0, 1])


def scale2d(sx, sy):
    return batch_of_matrices([sx, 0, 0], [0, sy, 0], [0, 0, 1])


def rotate2d(theta):
    """Rotation by `theta` radians (counter-clockwise in x-right, y-up axes)."""
    c, s = tf.cos(theta), tf.sin(theta)
    return batch_of_matrices([c, -s, 0], [s, c, 0], [0, 0, 1])


def translate2d_inv(tx, ty):
    return translate2d(-tx, -ty)


def scale2d_inv(sx, sy):
    return scale2d(1 / sx, 1 / sy)


def rotate2d_inv(theta):
    return rotate2d(-theta)


def translate3d(tx, ty, tz):
    return batch_of_matrices([1, 0, 0, tx], [0, 1, 0, ty], [0, 0, 1, tz], [0, 0, 0, 1])


def scale3d(sx, sy, sz):
    return batch_of_matrices([sx, 0, 0, 0], [0, sy, 0, 0], [0, 0, sz, 0], [0, 0, 0, 1])


def rotate3d(v, theta):
    """Rotation by `theta` around the unit axis `v` (3 numbers; Rodrigues' formula)."""
    vx, vy, vz = (float(a) for a in v[:3])
    s, c = tf.sin(theta), tf.cos(theta)
    cc = 1 - c
    return batch_of_matrices(
        [vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
        [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
        [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
        [0, 0, 0, 1])

"""The TensorFlow twin of `keras_stylegan.noise`: per-sample noise maps from seeds.

The SavedModel's `generate`, `synthesis` and `mix` signatures take a `seed`
per sample and build every noise map from it inside the graph with
`seed_noise_tf`, the same numbers as `keras_stylegan.noise.seed_noise_np`
(the one definition of the rule, used by `generate` and `figures` for every
other network kind). TFLite cannot run this (its builtins lack unsigned
32-bit integer arithmetic), so a `.tflite` exported with `--noise input`
takes the maps as inputs and the caller fills them with `seed_noise_np`.
"""

import numpy as np

from keras_stylegan.noise import GOLDEN, K1, M1, M2, TWO_PI, layer_tweak, seed_noise_np

__all__ = ["seed_noise_np", "seed_noise_tf"]


def _mix_tf(tf, x):
    c = lambda v: tf.constant(v, tf.uint32)  # noqa: E731
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, c(16)))
    x = x * c(M1)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, c(15)))
    x = x * c(M2)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, c(16)))


def seed_noise_tf(seeds, shapes):
    """TensorFlow twin of `seed_noise_np`: `seeds` is an int64 [N] tensor."""
    import tensorflow as tf

    seeds = tf.cast(tf.reshape(seeds, [-1]), tf.int64)
    u64 = tf.bitcast(seeds, tf.uint64)
    lo = tf.cast(tf.bitwise.bitwise_and(u64, tf.constant(0xFFFFFFFF, tf.uint64)), tf.uint32)
    hi = tf.cast(tf.bitwise.right_shift(u64, tf.constant(32, tf.uint64)), tf.uint32)
    key = _mix_tf(tf, tf.bitwise.bitwise_xor(lo, _mix_tf(tf, tf.bitwise.bitwise_xor(
        hi, tf.constant(K1, tf.uint32)))))
    out = []
    for l, (h, w) in enumerate(shapes):
        layer = layer_tweak(l)
        key_l = _mix_tf(tf, tf.bitwise.bitwise_xor(key, tf.constant(layer, tf.uint32)))
        counters = tf.constant(np.arange(2 * h * w, dtype=np.uint32) * np.uint32(GOLDEN))
        bits = _mix_tf(tf, key_l[:, None] + counters[None, :])
        u = (tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32)
             + 0.5) * (2.0 ** -24)
        u0, u1 = u[:, 0::2], u[:, 1::2]
        n = tf.sqrt(-2.0 * tf.math.log(u0)) * tf.cos(TWO_PI * u1)
        out.append(tf.reshape(n, [-1, h, w, 1]))
    return out

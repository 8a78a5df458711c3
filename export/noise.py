"""Per-sample noise maps derived from an integer seed, identical in TensorFlow and NumPy.

The SavedModel's `generate`, `synthesis` and `mix` signatures take a `seed`
per sample and build every noise map from it inside the graph, so the same
seed gives the same image in every process, on every restart, whatever else
is in the batch, and whatever global seed was set when the model was
exported. TFLite cannot run this (its builtins lack unsigned 32-bit integer
arithmetic), so a `.tflite` exported with `--noise input` takes the maps as
inputs and the caller fills them with `seed_noise_np`: the same numbers.

The generator is a counter-based hash, no state:

* `key = mix(lo32(seed) ^ mix(hi32(seed) ^ K1))` per sample, then
  `key_l = mix(key ^ mix(l ^ K2))` for noise map `l`;
* element `j` of map `l` (row-major over H x W) uses the uniforms
  `u = (mix(key_l + c * GOLDEN) >> 8 + 0.5) / 2**24` for the counters
  `c = 2j` and `2j + 1` (all arithmetic modulo 2**32);
* Box-Muller: `sqrt(-2 log u0) * cos(2 pi u1)`, a standard normal.

`mix` is Chris Wellons' "lowbias32" integer hash. Both implementations use
only exact integer arithmetic before the float32 Box-Muller step, so they
agree to float32 rounding of `log` and `cos` (~1e-6).
"""

import numpy as np

K1 = 0x9E3779B9  # hi-word tweak
K2 = 0x85EBCA6B  # layer tweak
GOLDEN = 0x9E3779B9  # Weyl-sequence step between counters
M1 = 0x7FEB352D
M2 = 0x846CA68B
TWO_PI = float(2 * np.pi)


def _mix_np(x):
    x = x.astype(np.uint32)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint32(16)
        x *= np.uint32(M1)
        x ^= x >> np.uint32(15)
        x *= np.uint32(M2)
        x ^= x >> np.uint32(16)
    return x


def _keys_np(seeds, num_maps):
    seeds = np.asarray(seeds).astype(np.int64).reshape(-1).view(np.uint64)
    lo = (seeds & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    hi = (seeds >> np.uint64(32)).astype(np.uint32)
    key = _mix_np(lo ^ _mix_np(hi ^ np.uint32(K1)))  # [N]
    layers = _mix_np(np.arange(num_maps, dtype=np.uint32) ^ np.uint32(K2))  # [L]
    return _mix_np(key[:, None] ^ layers[None, :])  # [N, L]


def seed_noise_np(seeds, shapes):
    """NumPy reference: a list of float32 [N, H, W, 1] maps, one per `(H, W)` in `shapes`."""
    keys = _keys_np(seeds, len(shapes))
    out = []
    for l, (h, w) in enumerate(shapes):
        counters = np.arange(2 * h * w, dtype=np.uint32) * np.uint32(GOLDEN)
        with np.errstate(over="ignore"):
            bits = _mix_np(keys[:, l:l + 1] + counters[None, :])  # [N, 2HW]
        u = ((bits >> np.uint32(8)).astype(np.float32) + np.float32(0.5)) * np.float32(2.0 ** -24)
        u0, u1 = u[:, 0::2], u[:, 1::2]
        r = np.sqrt(np.float32(-2.0) * np.log(u0))
        n = r * np.cos(np.float32(TWO_PI) * u1)
        out.append(n.astype(np.float32).reshape(-1, h, w, 1))
    return out


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
        layer = int(_mix_np(np.array([l ^ K2], np.uint32))[0])
        key_l = _mix_tf(tf, tf.bitwise.bitwise_xor(key, tf.constant(layer, tf.uint32)))
        counters = tf.constant(np.arange(2 * h * w, dtype=np.uint32) * np.uint32(GOLDEN))
        bits = _mix_tf(tf, key_l[:, None] + counters[None, :])
        u = (tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32)
             + 0.5) * (2.0 ** -24)
        u0, u1 = u[:, 0::2], u[:, 1::2]
        n = tf.sqrt(-2.0 * tf.math.log(u0)) * tf.cos(TWO_PI * u1)
        out.append(tf.reshape(n, [-1, h, w, 1]))
    return out

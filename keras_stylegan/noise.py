"""Per-sample noise maps derived from integer seeds: the one rule every command uses.

`generate --noise-mode random`, every `figures` command, the SavedModel's
`seed` input (`export/noise.py`, its TensorFlow twin) and a `.tflite`
exported with `--noise input` all draw an image's noise maps from its seed
with this function, so the same seed gives the same image for every network
kind, in every process, whatever else is in the batch.

A second, independent stream of noise for the same seed comes from a *noise
seed*: the maps of `(seed, noise_seed)` are those of the 64-bit key
`seed + noise_seed * 2**32` (`noise_key`), so noise seed 0 is the seed itself
(what a SavedModel's `seed` input gets), and a SavedModel caller can
reproduce any other draw by passing the key.

The generator is a counter-based hash, no state:

* `key = mix(lo32(seed) ^ mix(hi32(seed) ^ K1))` per sample, then
  `key_l = mix(key ^ mix(l ^ K2))` for noise map `l`;
* element `j` of map `l` (row-major over H x W) uses the uniforms
  `u = (mix(key_l + c * GOLDEN) >> 8 + 0.5) / 2**24` for the counters
  `c = 2j` and `2j + 1` (all arithmetic modulo 2**32);
* Box-Muller: `sqrt(-2 log u0) * cos(2 pi u1)`, a standard normal.

`mix` is Chris Wellons' "lowbias32" integer hash. Only exact integer
arithmetic comes before the float32 Box-Muller step, so the TensorFlow twin
agrees to float32 rounding of `log` and `cos` (~1e-6).

Example:

>>> maps = seed_noise_np([0, 1], [(4, 4), (8, 8)])
>>> [m.shape for m in maps]
[(2, 4, 4, 1), (2, 8, 8, 1)]
>>> bool((seed_noise_np([1], [(4, 4)])[0] == maps[0][1:]).all())  # per sample
True
>>> int(noise_key([5], noise_seed=2)[0]) == 5 + 2 * 2**32
True
"""

import numpy as np

K1 = 0x9E3779B9  # hi-word tweak
K2 = 0x85EBCA6B  # layer tweak
GOLDEN = 0x9E3779B9  # Weyl-sequence step between counters
M1 = 0x7FEB352D
M2 = 0x846CA68B
TWO_PI = float(2 * np.pi)
MAX_SEED = 2 ** 32 - 1  # seeds of NVIDIA's `RandomState(seed)` latents
MAX_NOISE_SEED = 2 ** 31 - 1  # keeps the 64-bit key a non-negative int64


def noise_key(seeds, noise_seed=0):
    """int64 keys `seed + noise_seed * 2**32` of `seeds` (each in [0, 2**32)).

    Raises ValueError naming the bad seed or noise seed.
    """
    seeds = np.asarray(seeds, np.int64).reshape(-1)
    if seeds.size and (seeds.min() < 0 or seeds.max() > MAX_SEED):
        raise ValueError(f"seeds must be in [0, {MAX_SEED}]; received {seeds.tolist()}.")
    if not 0 <= int(noise_seed) <= MAX_NOISE_SEED:
        raise ValueError(f"the noise seed must be in [0, {MAX_NOISE_SEED}]; "
                         f"received {noise_seed}.")
    return seeds + np.int64(noise_seed) * np.int64(2 ** 32)


def seed_noise(seeds, shapes, noise_seed=0):
    """The noise maps of `(seed, noise_seed)` for each seed: `seed_noise_np` of the keys."""
    return seed_noise_np(noise_key(seeds, noise_seed), shapes)


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


def layer_tweak(l):
    """`mix(l ^ K2)`, the per-map tweak, as a Python int (for the TensorFlow twin)."""
    return int(_mix_np(np.array([l ^ K2], np.uint32))[0])


def seed_noise_np(seeds, shapes):
    """A list of float32 [N, H, W, 1] maps, one per `(H, W)` in `shapes`, for the
    int64 keys `seeds` (see `noise_key`)."""
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

"""Computes named metrics for a generator: generated-image features, dataset
features (cached on disk), FID / KID / precision-recall, and perceptual path
length with NVIDIA's definition (stylegan2-ada-pytorch
`metrics/perceptual_path_length.py`).

The dataset side is given as a function, so this module stays free of any
input pipeline: `real_batches(n)` yields uint8 NHWC batches of the first `n`
images (NVIDIA reads the first `max_items` in dataset order).
"""

import hashlib
import json
import os
import sys
import time
import weakref

import numpy as np
from keras import ops

from keras_stylegan import files
from keras_stylegan.metrics import distances

PROGRESS_SECONDS = 2.0


class Progress:
    """'what: done/total images (rate, ETA)' on stderr, at most every 2 seconds."""

    def __init__(self, what, total, stream=None):
        self.what, self.total, self.done = what, int(total), 0
        self.stream = stream or sys.stderr
        self.start = self.last = time.monotonic()

    def update(self, n):
        self.done += int(n)
        now = time.monotonic()
        if now - self.last >= PROGRESS_SECONDS or self.done >= self.total:
            rate = self.done / max(now - self.start, 1e-9)
            eta = (self.total - self.done) / max(rate, 1e-9)
            print(f"  {self.what}: {self.done}/{self.total} images ({rate:.1f}/s, ETA "
                  f"{int(eta) // 60}:{int(eta) % 60:02d})", file=self.stream, flush=True)
            self.last = now


def rgb(images):
    """NHWC with 1 or 3 channels -> 3 channels (gray repeated, as NVIDIA does)."""
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def random_labels(label_size, label_pool=None):
    """(rng, n) -> labels: rows of `label_pool` (the dataset's labels) at random,
    else uniform one-hot classes; None for unconditional networks. A pool whose
    width is not `label_size` (other labels than the network's) is not used."""
    if label_pool is not None and np.shape(label_pool)[-1:] != (label_size,):
        label_pool = None

    def sample(rng, n):
        if not label_size:
            return None
        if label_pool is not None and len(label_pool):
            return np.asarray(label_pool, np.float32)[rng.randint(len(label_pool), size=n)]
        return np.eye(label_size, dtype=np.float32)[rng.randint(label_size, size=n)]
    return sample


def noise_maps(G, rng, n):
    """Per-sample N(0, 1) noise maps [n, H, W, 1] for every noise input, from `rng`
    (so results depend on the seed only, unlike the layers' own random noise)."""
    return [rng.randn(n, h, w, 1).astype(np.float32) for h, w in G.synthesis.noise_shapes]


_DRAW = weakref.WeakKeyDictionary()  # G -> its compiled (z, labels, noise) -> uint8


def compiled_draw(G):
    """G's compiled (z, labels, noise) -> uint8 NHWC images (psi 1), one per G."""
    if G not in _DRAW:
        from keras_stylegan.generate import compile_function
        from keras_stylegan.ops.basic import to_uint8_tensor

        def draw(z, c, noise):
            return to_uint8_tensor(G(z, labels=c, truncation_psi=1.0, noise=noise))
        _DRAW[G] = compile_function(draw)
    return _DRAW[G]


def generated_features(G, net, num, batch_size=16, seed=0, labels=None, progress=None,
                       draw=None):
    """Features [num, D] of `num` images of G (z ~ N(0, I), psi 1, random noise),
    all drawn from `np.random.RandomState(seed)` in batches of `batch_size`.

    `draw` (z, labels, noise) -> uint8 images replaces G's own (e.g. spread over
    the replicas of a distribution strategy); the samples stay the same."""
    draw = draw or compiled_draw(G)
    rng = np.random.RandomState(seed)
    labels = labels or random_labels(G.label_size)
    feats = []
    for start in range(0, num, batch_size):
        b = min(batch_size, num - start)
        z = rng.randn(batch_size, G.z_dim).astype(np.float32)  # full batches: one trace
        images = ops.convert_to_numpy(draw(z, labels(rng, batch_size),
                                           noise_maps(G, rng, batch_size)))[:b]
        feats.append(np.asarray(ops.convert_to_numpy(net(rgb(images))), np.float32))
        if progress:
            progress.update(b)
    return np.concatenate(feats)


def cache_key(**identity):
    """A file-name-safe fingerprint of everything that determines cached features."""
    blob = json.dumps(identity, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def real_features(real_batches, num, net, key=None, cache_dir=None, progress=None):
    """Features [num, D] of the first `num` dataset images, cached as `key`.npy.

    A cache file that cannot be read or has the wrong shape is recomputed.
    """
    path = os.path.join(cache_dir, f"{key}.npy") if cache_dir and key else None
    if path and os.path.isfile(path):
        try:
            feats = np.load(path, allow_pickle=False)
            if feats.ndim == 2 and len(feats) == num and feats.dtype == np.float32:
                return feats
        except (OSError, ValueError):
            pass
        print(f"  ignoring unreadable cache file {path}; recomputing", file=sys.stderr)
    feats = []
    for images in real_batches(num):
        feats.append(np.asarray(ops.convert_to_numpy(net(rgb(images))), np.float32))
        if progress:
            progress.update(len(images))
    feats = np.concatenate(feats)[:num]
    if path:
        with files.atomic_file(path, "the feature cache") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, feats)
    return feats



def feature_metric(spec, gen_feats, real_feats, seed=0):
    """{result name: value} of a fid / kid / pr / fd_shapes spec on the two feature sets."""
    if spec.kind in ("fid", "fd_shapes"):
        mu_g, sig_g = distances.feature_statistics(gen_feats)
        mu_r, sig_r = distances.feature_statistics(real_feats)
        return {spec.name: distances.frechet_distance(mu_g, sig_g, mu_r, sig_r)}
    if spec.kind == "kid":
        return {spec.name: distances.kernel_inception_distance(
            gen_feats, real_feats, num_subsets=100, max_subset_size=1000, seed=seed)}
    p, r = distances.precision_recall(real_feats, gen_feats, k=spec.k)
    return {f"{spec.name}_precision": p, f"{spec.name}_recall": r}


# --------------------------------------------------------------------------- PPL
def slerp(a, b, t):
    """Spherical interpolation of the directions of a and b (NVIDIA's PPL `slerp`)."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    d = np.sum(a * b, axis=-1, keepdims=True)
    p = t * np.arccos(np.clip(d, -1, 1))
    c = b - d * a
    c = c / np.linalg.norm(c, axis=-1, keepdims=True)
    out = a * np.cos(p) + c * np.sin(p)
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def ppl_endpoints(G, spec, rng, n, labels, epsilon=1e-4):
    """ws [2n, num_ws, w_dim] of the n pairs (t, t + epsilon) of NVIDIA's PPL sampler."""
    t = rng.uniform(size=[n, 1]) * (1.0 if spec.sampling == "full" else 0.0)
    z0, z1 = rng.randn(n, G.z_dim), rng.randn(n, G.z_dim)
    c = labels(rng, n)
    cc = None if c is None else np.concatenate([c, c])
    if spec.space == "w":
        w = ops.convert_to_numpy(G.mapping(np.concatenate([z0, z1]).astype(np.float32),
                                           labels=cc))
        w0, w1 = w[:n].astype(np.float64), w[n:].astype(np.float64)
        t = t[:, :, None]
        return np.concatenate([w0 + (w1 - w0) * t, w0 + (w1 - w0) * (t + epsilon)]).astype(
            np.float32)
    z = np.concatenate([slerp(z0, z1, t), slerp(z0, z1, t + epsilon)]).astype(np.float32)
    return ops.convert_to_numpy(G.mapping(z, labels=cc))


def ppl_images(G, ws, rng, crop):
    """Images of ws [2n, ...] with the same random noise for both ends of a pair,
    NVIDIA's face crop (optional) and box downsampling to at most 256."""
    noise = [np.tile(m, (2, 1, 1, 1)) for m in noise_maps(G, rng, len(ws) // 2)]
    img = ops.convert_to_numpy(G.synthesis(ws, noise=noise, noise_mode="const"))
    if crop:
        c = img.shape[1] // 8
        img = img[:, c * 3:c * 7, c * 2:c * 6]
    factor = G.resolution // 256
    if factor > 1:
        b, h, w, ch = img.shape
        img = img.reshape(b, h // factor, factor, w // factor, factor, ch).mean(axis=(2, 4))
    return rgb(img)


def ppl_distances(G, lpips, spec, batch_size=8, seed=0, labels=None, progress=None,
                  epsilon=1e-4):
    """[num] squared LPIPS path-length samples d = lpips(t, t + eps) / eps^2."""
    rng = np.random.RandomState(seed)
    labels = labels or random_labels(G.label_size)
    out = []
    for start in range(0, spec.num_gen, batch_size):
        n = min(batch_size, spec.num_gen - start)
        img = ppl_images(G, ppl_endpoints(G, spec, rng, n, labels, epsilon), rng, spec.crop)
        d = ops.convert_to_numpy(lpips(img[:n], img[n:]))
        out.append(np.asarray(d, np.float64) / epsilon ** 2)
        if progress:
            progress.update(n)
    return np.concatenate(out)


def ppl_from_distances(dist):
    """Mean of the samples between the 1st and 99th percentiles (NVIDIA's filter)."""
    lo = np.percentile(dist, 1, method="lower")
    hi = np.percentile(dist, 99, method="higher")
    return float(np.extract(np.logical_and(dist >= lo, dist <= hi), dist).mean())

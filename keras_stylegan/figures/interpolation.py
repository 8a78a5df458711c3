"""Interpolation between seeds: linear in W (the paper's default) or spherical in Z.

Example:

>>> from keras_stylegan import presets
>>> net = FigureNetwork(presets.generator("stylegan-tiny-32"))
>>> interpolation_frames(net, [0, 1, 2], steps=4).shape   # 2 segments of 4, no repeats
(7, 32, 32, 3)
"""

import numpy as np

from keras_stylegan.errors import ConfigError
from keras_stylegan.figures.network import FigureNetwork  # noqa: F401 (doctest)
from keras_stylegan.generate import latents_from_seeds
from keras_stylegan.networks.generator import DEFAULT

SPACES = ("w", "z")


def lerp(a, b, t):
    """a + (b - a) * t.

    >>> lerp(np.zeros(2), np.ones(2), 0.25).tolist()
    [0.25, 0.25]
    """
    return a + (b - a) * t


def slerp(a, b, t):
    """Spherical interpolation of the vectors (last axis) `a` to `b`; lerp when parallel.

    >>> np.round(slerp(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.5), 6).tolist()
    [0.707107, 0.707107]
    """
    na, nb = np.linalg.norm(a, axis=-1, keepdims=True), np.linalg.norm(b, axis=-1, keepdims=True)
    cos = np.clip(np.sum(a * b, axis=-1, keepdims=True) / (na * nb), -1.0, 1.0)
    omega = np.arccos(cos)
    so = np.sin(omega)
    if np.all(so > 1e-6):
        return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / so
    return lerp(a, b, t)


def path_ts(num_seeds, steps):
    """(segment, t) of every frame through `num_seeds` keys, `steps` per segment,
    the last key included once."""
    if num_seeds < 2:
        raise ConfigError("interpolation needs at least two seeds, e.g. --seeds 0-3")
    if steps < 2:
        raise ConfigError(f"steps must be >= 2; received {steps}.")
    ts = [(k, i / (steps - 1)) for k in range(num_seeds - 1) for i in range(steps - 1)]
    return ts + [(num_seeds - 2, 1.0)]


def interpolation_ws(net, seeds, steps, space="w", psi=1.0, cutoff=DEFAULT):
    """ws of every frame: lerp of the (truncated) ws, or slerp of the zs mapped and truncated."""
    if space not in SPACES:
        raise ConfigError(f"space must be one of {SPACES}; received {space!r}.")
    seeds = list(seeds)
    ts = path_ts(len(seeds), steps)
    if space == "w":
        keys = net.ws(seeds, psi, cutoff)
        return np.stack([lerp(keys[k], keys[k + 1], t) for k, t in ts]).astype(np.float32)
    zs = latents_from_seeds(seeds, net.z_dim).astype(np.float64)
    z = np.stack([slerp(zs[k], zs[k + 1], t) for k, t in ts]).astype(np.float32)
    return net.ws_from_z(z, psi, cutoff)


def interpolation_frames(net, seeds, steps=8, space="w", psi=1.0, cutoff=DEFAULT):
    """uint8 frames [T, H, W, C] along the path; random noise: the first seed's, fixed."""
    ws = interpolation_ws(net, seeds, steps, space, psi, cutoff)
    return net.images(ws, seeds=[list(seeds)[0]] * len(ws))

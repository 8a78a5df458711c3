"""A generator as the figures use it: seeds -> ws -> uint8 images, in batches.

Example:

>>> from keras_stylegan import presets
>>> net = FigureNetwork(presets.generator("stylegan-tiny-32"), noise_mode="random")
>>> ws = net.ws([0, 1], psi=0.7)          # NumPy [2, num_ws, w_dim]
>>> net.images(ws, seeds=[0, 1]).shape    # noise drawn from the seeds
(2, 32, 32, 3)
"""

import numpy as np
from keras import ops

from keras_stylegan.errors import ConfigError
from keras_stylegan.generate import class_labels, compile_function, latents_from_seeds
from keras_stylegan.layers.common import check_noise_mode
from keras_stylegan.networks.generator import DEFAULT
from keras_stylegan.noise import noise_key, seed_noise_np
from keras_stylegan.ops.basic import to_uint8_tensor


class FigureNetwork:
    """Wraps a `Generator` for the figures.

    Args:
        G: a `Generator` (StyleGAN1 runs at its own `lod`, as `generate`).
        noise_mode: 'const' (stored maps), 'random' (maps from each image's
            seed and `noise_seed`, `keras_stylegan.noise`) or 'none'.
        noise_seed: the second seed of random noise.
        class_idx: the class of a conditional network (None: unconditional).
        batch_size: images per call.
    """

    def __init__(self, G, noise_mode="const", noise_seed=0, class_idx=None, batch_size=8):
        check_noise_mode(noise_mode)
        noise_key([0], noise_seed)  # checks the range
        if G.label_size and class_idx is None:
            raise ConfigError(f"the network is conditional ({G.label_size} classes): pass "
                              f"a class, e.g. --class 0")
        if not G.label_size and class_idx is not None:
            raise ConfigError("the network is unconditional: leave out the class")
        self.G, self.synthesis = G, G.synthesis
        self.noise_mode, self.noise_seed = noise_mode, int(noise_seed)
        self.class_idx, self.batch_size = class_idx, int(batch_size)
        self._map = compile_function(lambda z, labels: G.mapping(z, labels=labels))
        self._synth = compile_function(lambda ws, noise: to_uint8_tensor(
            G.synthesis(ws, noise_mode=noise_mode, noise=noise)))

    @property
    def resolution(self):
        return self.G.resolution

    @property
    def z_dim(self):
        return self.G.z_dim

    @property
    def num_ws(self):
        return self.G.num_ws

    @property
    def w_dim(self):
        return self.G.w_dim

    #: noise_layers (Figure 5) needs per-layer noise maps
    per_layer_noise = True

    @property
    def noise_shapes(self):
        return [tuple(s) for s in self.synthesis.noise_shapes]

    @property
    def w_avg(self):
        """The tracked average w, NumPy [w_dim]."""
        return ops.convert_to_numpy(self.G.w_avg)

    def ws(self, seeds, psi=1.0, cutoff=DEFAULT):
        """ws of `seeds` (z as NVIDIA's scripts), truncated: NumPy [N, num_ws, w_dim]."""
        return self.ws_from_z(latents_from_seeds(seeds, self.G.z_dim), psi, cutoff)

    def ws_from_z(self, z, psi=1.0, cutoff=DEFAULT):
        z = np.asarray(z, np.float32)
        labels = class_labels(self.class_idx, self.G.label_size, len(z))
        out = [ops.convert_to_numpy(self._map(
            z[i:i + self.batch_size], None if labels is None else labels[i:i + self.batch_size]))
            for i in range(0, len(z), self.batch_size)]
        return self.truncate(np.concatenate(out), psi, cutoff)

    def truncate(self, ws, psi, cutoff=DEFAULT):
        """`G.truncate` on NumPy ws (psi a scalar)."""
        return ops.convert_to_numpy(self.G.truncate(ops.convert_to_tensor(
            np.asarray(ws, np.float32)), float(psi), cutoff))

    def noise_keys(self, seeds, noise_seeds=None):
        """The noise key of each image: `(seed, noise_seed)` (default: the network's)."""
        return noise_keys(seeds, self.noise_seed if noise_seeds is None else noise_seeds)

    def seed_noise(self, seeds, noise_seeds=None):
        """Noise maps of each image: `(seed, noise_seed)` (default: the network's)."""
        return seed_noise_np(self.noise_keys(seeds, noise_seeds), self.noise_shapes)

    def images(self, ws, seeds=None, noise_seeds=None, noise=None):
        """uint8 NHWC images of `ws` [N, num_ws, w_dim].

        Noise: explicit maps `noise` (a list, one [N, H, W, 1] per noise input);
        else random maps of `(seeds, noise_seeds)` when `noise_seeds` are given
        or the mode is 'random' (the network's noise seed); else the `noise_mode`.
        """
        ws = np.asarray(ws, np.float32)
        if noise is None and (noise_seeds is not None or self.noise_mode == "random"):
            if seeds is None:
                raise ValueError("random noise needs the seed of each image")
            noise = self.seed_noise(seeds, noise_seeds)
        out = []
        for i in range(0, len(ws), self.batch_size):
            j = i + self.batch_size
            part = None if noise is None else [n[i:j] for n in noise]
            out.append(ops.convert_to_numpy(self._synth(ws[i:j], part)))
        return np.concatenate(out)


def noise_keys(seeds, noise_seeds):
    """int64 noise keys of `seeds` with one noise seed, or one per seed.

    >>> noise_keys([1, 2], [0, 1]).tolist() == [1, 2 + 2**32]
    True
    """
    seeds = np.asarray(seeds).reshape(-1)
    noise_seeds = np.broadcast_to(np.asarray(noise_seeds), seeds.shape)
    if not len(seeds):
        return np.zeros([0], np.int64)
    return np.concatenate([noise_key([s], n) for s, n in zip(seeds, noise_seeds)])

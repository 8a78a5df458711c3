"""An exported SavedModel as a network of `keras_stylegan.figures`.

Its signatures allow every figure but Figure 5 (noise on some layers only:
the `synthesis` signature draws all noise maps from one seed): `mapping`
gives the ws (truncated with the cutoff fixed at export), `synthesis` draws
the images with the noise of a key (`keras_stylegan.noise`) and
`synthesis_const` with the stored maps. The style layer ranges come from a
skeleton generator of the exported family and resolution (the block
structure, not the weights).

Example:

>>> net = SavedModelFigureNetwork("models/stylegan/1")       # doctest: +SKIP
>>> net.images(net.ws([0, 1], psi=0.7)).shape                # doctest: +SKIP
(2, 32, 32, 3)
"""

import numpy as np

from keras_stylegan.errors import ConfigError, NetworkFileError
from keras_stylegan.figures.network import noise_keys
from keras_stylegan.generate import class_labels, latents_from_seeds
from keras_stylegan.networks.generator import DEFAULT


class SavedModelFigureNetwork:
    """`FigureNetwork`'s interface over a SavedModel written by `keras-stylegan export`."""

    per_layer_noise = False

    def __init__(self, path, noise_mode="const", noise_seed=0, class_idx=None, batch_size=8):
        from keras_stylegan.export.savedmodel import load, read_metadata
        meta = read_metadata(path)
        if meta is None or meta.get("format") != "keras_stylegan":
            raise NetworkFileError(f"{path} is not a SavedModel written by keras-stylegan "
                                   "export (no keras_stylegan.json)")
        if noise_mode == "none":
            raise ConfigError("a SavedModel has no noise-free signature: use --noise-mode "
                              "const or random, or the network it was exported from")
        self.meta, self.loaded = meta, load(path)
        self.noise_mode, self.noise_seed = noise_mode, int(noise_seed)
        self.batch_size = int(batch_size)
        self.labels = lambda n: class_labels(class_idx, meta["label_size"], n)
        if meta["label_size"] and class_idx is None:
            raise ConfigError(f"the network is conditional ({meta['label_size']} classes): "
                              "pass a class, e.g. --class 0")
        if not meta["label_size"] and class_idx is not None:
            raise ConfigError("the network is unconditional: leave out the class")
        self.synthesis = skeleton_synthesis(meta)

    resolution = property(lambda self: self.meta["resolution"])
    z_dim = property(lambda self: self.meta["z_dim"])
    num_ws = property(lambda self: self.meta["num_ws"])
    w_dim = property(lambda self: self.meta["w_dim"])

    def _call(self, name, **inputs):
        from keras_stylegan.export.savedmodel import call_signature
        n = len(next(iter(inputs.values())))
        outs = []
        for i in range(0, n, self.batch_size):
            part = {k: v[i:i + self.batch_size] for k, v in inputs.items()}
            outs.append(call_signature(self.loaded, name, **part))
        return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}

    def ws(self, seeds, psi=1.0, cutoff=DEFAULT):
        return self.ws_from_z(latents_from_seeds(seeds, self.z_dim), psi, cutoff)

    def ws_from_z(self, z, psi=1.0, cutoff=DEFAULT):
        fixed = self.meta["truncation_cutoff"]
        if cutoff != DEFAULT and cutoff != fixed:
            raise ConfigError(f"this SavedModel's truncation cutoff is fixed at export "
                              f"({fixed}): leave out --cutoff, or re-export with "
                              "`keras-stylegan export --trunc-cutoff N`")
        z = np.asarray(z, np.float32)
        inputs = dict(z=z, truncation_psi=np.full([len(z)], psi, np.float32))
        if self.meta["label_size"]:
            inputs["labels"] = self.labels(len(z))
        return self._call("mapping", **inputs)["ws"]

    def images(self, ws, seeds=None, noise_seeds=None, noise=None):
        ws = np.asarray(ws, np.float32)
        if noise is not None:
            raise ConfigError("a SavedModel draws all noise maps from one seed; figures "
                              "with noise on some layers only need the network it was "
                              "exported from")
        if noise_seeds is not None or self.noise_mode == "random":
            if seeds is None:
                raise ValueError("random noise needs the seed of each image")
            keys = noise_keys(seeds, self.noise_seed if noise_seeds is None else noise_seeds)
            return self._call("synthesis", ws=ws, seed=keys)["images"]
        return self._call("synthesis_const", ws=ws)["images"]


def skeleton_synthesis(meta):
    """A synthesis network with the exported family's and resolution's blocks
    (their style and noise indices), tiny channels, no trained weights."""
    from keras_stylegan.networks.generator import Generator
    G = Generator(family=meta["family"], resolution=meta["resolution"], latent_size=4,
                  dlatent_size=4, mapping_kwargs=dict(mapping_fmaps=4, mapping_layers=1),
                  synthesis_kwargs=dict(fmap_base=8, fmap_max=2))
    if G.num_ws != meta["num_ws"] or [list(s) for s in G.synthesis.noise_shapes] != \
            meta["noise_shapes"]:
        raise NetworkFileError("the SavedModel's style or noise layout is not that of a "
                               f"{meta['family']} network of {meta['resolution']} px")
    return G.synthesis

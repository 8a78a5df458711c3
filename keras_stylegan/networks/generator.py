"""The generator: mapping + tracked `w_avg` + truncation + style mixing + synthesis."""

import keras
import numpy as np
from keras import ops

from keras_stylegan.layers.common import register
from keras_stylegan.networks import registry
from keras_stylegan.networks.common import check_family
from keras_stylegan.networks.mapping import MappingNetwork

DEFAULT = "default"

# NVIDIA's defaults: G_style truncates the first 8 style layers, G_main all.
DEFAULT_TRUNCATION_CUTOFF = {"stylegan1": 8, "stylegan2": None}


@register
class Generator(keras.Model):
    """StyleGAN generator with NVIDIA's public semantics, NHWC output in [-1, 1].

    Args:
        family: 'stylegan1' or 'stylegan2' (selects the synthesis network).
        resolution, num_channels: output image size and channels.
        latent_size, dlatent_size, label_size: sizes of z, w and labels.
        mapping_kwargs: extra `MappingNetwork` arguments (mapping_layers,
            mapping_fmaps, mapping_lrmul, nonlinearity, normalize_latents).
        synthesis_kwargs: extra arguments of the family's synthesis network
            (fmap_base, fmap_decay, fmap_max, ...).
        truncation_cutoff: default number of style layers that truncation
            affects; None = all. Defaults to 8 for StyleGAN1 and None for
            StyleGAN2, as in NVIDIA's code.
        w_avg_beta: decay of the tracked average w (`update_w_avg`).

    Example:

    >>> G = Generator(resolution=8, latent_size=16, dlatent_size=16,
    ...               mapping_kwargs=dict(mapping_fmaps=16),
    ...               synthesis_kwargs=dict(fmap_base=32, fmap_max=16))
    >>> z = np.random.RandomState(0).randn(2, 16).astype("float32")
    >>> ws = G.mapping(z)                          # [2, num_ws, 16]
    >>> ws = G.truncate(ws, psi=0.7, cutoff=None)  # around G.w_avg
    >>> G.synthesis(ws, noise_mode="const").shape
    (2, 8, 8, 3)
    >>> G(z, truncation_psi=0.7, noise_mode="const").shape
    (2, 8, 8, 3)
    """

    def __init__(self, family="stylegan1", resolution=1024, num_channels=3, latent_size=512,
                 dlatent_size=512, label_size=0, mapping_kwargs=None, synthesis_kwargs=None,
                 truncation_cutoff=DEFAULT, w_avg_beta=0.995, **kwargs):
        if registry.synthesis_class(family).own_precision:
            kwargs.setdefault("dtype", "float32")  # StyleGAN2: num_fp16_res decides
        super().__init__(**kwargs)
        self.family = check_family(family)
        self.mapping_kwargs = dict(mapping_kwargs or {})
        self.synthesis_kwargs = dict(synthesis_kwargs or {})
        if truncation_cutoff == DEFAULT:
            truncation_cutoff = DEFAULT_TRUNCATION_CUTOFF[family]
        self.truncation_cutoff = None if truncation_cutoff is None else int(truncation_cutoff)
        self.w_avg_beta = float(w_avg_beta)
        with keras.name_scope(self.name):
            self.synthesis = registry.synthesis_class(family)(
                resolution=resolution, num_channels=num_channels, dlatent_size=dlatent_size,
                name="synthesis", **self.synthesis_kwargs)
            self.mapping = MappingNetwork(
                latent_size=latent_size, label_size=label_size, dlatent_size=dlatent_size,
                num_ws=self.synthesis.num_ws, family=family, name="mapping",
                **({"dtype": "float32"} if self.synthesis.own_precision else {}),
                **self.mapping_kwargs)
        self.build()

    def build(self, input_shape=None):
        self.w_avg = self.add_weight(
            name="w_avg", shape=(self.w_dim,), initializer="zeros", trainable=False)

    # Sizes -----------------------------------------------------------------
    @property
    def z_dim(self):
        return self.mapping.latent_size

    @property
    def w_dim(self):
        return self.mapping.dlatent_size

    @property
    def label_size(self):
        return self.mapping.label_size

    @property
    def num_ws(self):
        return self.synthesis.num_ws

    @property
    def progressive(self):
        """Whether the network grows with `lod` (StyleGAN1) or not (StyleGAN2)."""
        return self.synthesis.progressive

    @property
    def resolution(self):
        return self.synthesis.resolution

    @property
    def num_channels(self):
        return self.synthesis.num_channels

    # Latent-space operations -------------------------------------------------
    def truncate(self, ws, psi=0.7, cutoff=DEFAULT):
        """Truncation trick: `w_avg + (w - w_avg) * psi` on layers `< cutoff`.

        Args:
            ws: [N, num_ws, w_dim].
            psi: scalar, or a per-sample [N] tensor.
            cutoff: number of layers affected; None = all layers; default:
                the generator's `truncation_cutoff`. (NVIDIA's StyleGAN1
                `Gs.run(truncation_cutoff=None)` disables truncation; here
                that is `psi=1`.)
        """
        if cutoff == DEFAULT:
            cutoff = self.truncation_cutoff
        layers = self.num_ws if cutoff is None else min(int(cutoff), self.num_ws)
        if layers <= 0 or (isinstance(psi, (int, float)) and psi == 1):
            return ws
        mask = (np.arange(self.num_ws) < layers)[None, :, None]
        psi = ops.reshape(ops.cast(psi, ws.dtype), (-1, 1, 1))
        coefs = ops.where(mask, psi, ops.ones_like(psi))
        avg = ops.cast(self.w_avg, ws.dtype)
        return avg + (ws - avg) * coefs

    def mix_styles(self, ws, ws2, crossover):
        """Style mixing: layers `< crossover` from `ws`, the rest from `ws2`.

        `crossover` is an int, a scalar tensor or a per-sample [N] tensor.
        """
        idx = ops.arange(self.num_ws)[None, :, None]
        cut = ops.reshape(ops.cast(crossover, idx.dtype), (-1, 1, 1))
        return ops.where(idx < cut, ws, ws2)

    def update_w_avg(self, ws):
        """Moves `w_avg` towards the batch mean of `ws[:, 0]` (decay `w_avg_beta`)."""
        batch_avg = ops.mean(ops.cast(ws[:, 0], "float32"), axis=0)
        self.w_avg.assign(batch_avg + (self.w_avg - batch_avg) * self.w_avg_beta)

    # Generation --------------------------------------------------------------
    def call(self, z, labels=None, truncation_psi=1.0, truncation_cutoff=DEFAULT,
             noise_mode="random", lod=None, noise=None, resolution=None):
        """z (+ labels) -> NHWC images; see the class docstring."""
        ws = self.mapping(z, labels=labels)
        ws = self.truncate(ws, truncation_psi, truncation_cutoff)
        kwargs = dict(noise_mode=noise_mode, noise=noise, resolution=resolution)
        if lod is not None:
            kwargs["lod"] = lod
        return self.synthesis(ws, **kwargs)

    def get_config(self):
        return {**super().get_config(), "family": self.family,
                "resolution": self.resolution, "num_channels": self.num_channels,
                "latent_size": self.z_dim, "dlatent_size": self.w_dim,
                "label_size": self.label_size, "mapping_kwargs": self.mapping_kwargs,
                "synthesis_kwargs": self.synthesis_kwargs,
                "truncation_cutoff": self.truncation_cutoff, "w_avg_beta": self.w_avg_beta}

"""The mapping network z -> w shared by StyleGAN1 and StyleGAN2."""

import keras
from keras import ops

from keras_stylegan.layers.common import EqualizedDense, register
from keras_stylegan.networks.common import check_choice, check_family, require_labels
from keras_stylegan.ops import basic as sgops
from keras_stylegan.ops.basic import SQRT2


@register
class MappingNetwork(keras.layers.Layer):
    """Maps latents `z` (and optional labels) to `num_ws` copies of `w`.

    With `label_embedding="concat"` (StyleGAN, StyleGAN2) `z` is concatenated
    with `labels @ embed` and the result normalized to unit second moment;
    with `"embed"` (StyleGAN2-ADA) `z` and the embedded labels (an equalized
    dense layer with bias, `label_fmaps` wide) are normalized separately, then
    concatenated. The vector then goes through `mapping_layers` equalized dense
    layers with learning-rate multiplier `mapping_lrmul`, each followed by the
    activation (the last one too), and is broadcast to `[N, num_ws, w_dim]`.

    Args:
        latent_size, label_size, dlatent_size: sizes of z, labels and w.
        num_ws: number of style layers to broadcast to.
        mapping_layers, mapping_fmaps, mapping_lrmul: depth, width, lr multiplier.
        nonlinearity: 'lrelu' or 'relu'.
        normalize_latents: normalize the input's second moment.
        family: 'stylegan1' (gain sqrt(2) in the weights) or 'stylegan2'
            (gain sqrt(2) after the activation).
        label_embedding: 'concat' or 'embed' (see above).
        label_fmaps: width of the 'embed' label embedding (None: latent_size).

    Example:

    >>> m = MappingNetwork(latent_size=8, dlatent_size=8, num_ws=4, mapping_fmaps=8)
    >>> m(np.zeros((2, 8), "float32")).shape
    (2, 4, 8)
    """

    def __init__(self, latent_size=512, label_size=0, dlatent_size=512, num_ws=18,
                 mapping_layers=8, mapping_fmaps=512, mapping_lrmul=0.01,
                 nonlinearity="lrelu", normalize_latents=True, family="stylegan1",
                 label_embedding="concat", label_fmaps=None, **kwargs):
        super().__init__(**kwargs)
        self.latent_size = int(latent_size)
        self.label_size = int(label_size)
        self.dlatent_size = int(dlatent_size)
        self.num_ws = int(num_ws)
        self.mapping_layers = int(mapping_layers)
        self.mapping_fmaps = int(mapping_fmaps)
        self.mapping_lrmul = float(mapping_lrmul)
        self.nonlinearity = nonlinearity
        self.normalize_latents = bool(normalize_latents)
        self.family = check_family(family)
        self.label_embedding = check_choice("label_embedding", label_embedding,
                                            ("concat", "embed"))
        self.label_fmaps = int(label_fmaps or self.latent_size)
        if self.label_embedding == "embed" and self.label_size:
            self.label_embed = EqualizedDense(self.label_fmaps, gain=1.0, name="label_embed")
        sg2 = family == "stylegan2"
        self.dense_layers = [
            EqualizedDense(
                self.dlatent_size if i == self.mapping_layers - 1 else self.mapping_fmaps,
                gain=1.0 if sg2 else SQRT2, lrmul=self.mapping_lrmul,
                activation=nonlinearity, act_gain=SQRT2 if sg2 else 1.0, name=f"dense{i}")
            for i in range(self.mapping_layers)]
        self.build()

    def build(self, input_shape=None):
        fan_in = self.latent_size
        if self.label_size and self.label_embedding == "concat":
            self.embed = self.add_weight(
                name="embed", shape=(self.label_size, self.latent_size),
                initializer=keras.initializers.RandomNormal(stddev=1.0))
            fan_in += self.latent_size
        elif self.label_size:
            self.label_embed.build((None, self.label_size))
            fan_in += self.label_fmaps
        for layer in self.dense_layers:
            layer.build((None, fan_in))
            fan_in = layer.units

    def call(self, z, labels=None, broadcast=True):
        x = ops.cast(z, self.compute_dtype)
        labels = require_labels(labels, self.label_size, "This mapping network")
        if self.label_embedding == "embed":  # StyleGAN2-ADA: normalize each part
            x = sgops.pixel_norm(x) if self.normalize_latents else x
            if labels is not None:
                y = sgops.pixel_norm(self.label_embed(ops.cast(labels, x.dtype)))
                x = ops.concatenate([x, y], axis=1)
        else:
            if labels is not None:
                y = ops.matmul(ops.cast(labels, x.dtype), ops.cast(self.embed, x.dtype))
                x = ops.concatenate([x, y], axis=1)
            if self.normalize_latents:
                x = sgops.pixel_norm(x)
        for layer in self.dense_layers:
            x = layer(x)
        if not broadcast:
            return x
        return ops.tile(ops.expand_dims(x, 1), (1, self.num_ws, 1))

    def get_config(self):
        return {**super().get_config(), "latent_size": self.latent_size,
                "label_size": self.label_size, "dlatent_size": self.dlatent_size,
                "num_ws": self.num_ws, "mapping_layers": self.mapping_layers,
                "mapping_fmaps": self.mapping_fmaps, "mapping_lrmul": self.mapping_lrmul,
                "nonlinearity": self.nonlinearity,
                "normalize_latents": self.normalize_latents, "family": self.family,
                "label_embedding": self.label_embedding, "label_fmaps": self.label_fmaps}

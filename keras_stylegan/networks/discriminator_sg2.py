"""StyleGAN2 discriminator (NVIDIA's `D_stylegan2`; StyleGAN2-ADA's `D_main`), NHWC.

Blocks `bR, ..., b8`, one `DiscriminatorBlockSG2` class looped over the
resolutions, then the 4x4 `DiscriminatorEpilogueSG2`. Each block has
`conv0` (3x3), `conv1` (FIR + stride-2 3x3 conv) and, by architecture:

* 'resnet' (config-f): a `skip` 1x1 FIR down-conv without bias,
  `x = (conv1(conv0(x)) + skip(x)) / sqrt(2)`; `fromrgb` only at the input;
* 'orig': `fromrgb` only at the input;
* 'skip': a `fromrgb` at every resolution (and at 4x4) added to the
  features, fed with the FIR-downsampled image.

The epilogue runs minibatch stddev, `conv` (3x3), `dense0` and `out`.
Conditional D: the scores are projected onto the labels
(`sum(out * labels)`, StyleGAN2), or with `cmap_dim` onto an embedding of
the labels (`sum(out * cmap) / sqrt(cmap_dim)`, StyleGAN2-ADA).
"""

import keras
import numpy as np
from keras import ops

from keras_stylegan.layers.common import EqualizedDense, register
from keras_stylegan.layers.sg1 import LodFadeIn
from keras_stylegan.layers.sg2 import ResampleConv2D
from keras_stylegan.networks.common import (
    check_choice,
    num_features,
    own_precision,
    require_labels,
    resolution_log2,
)
from keras_stylegan.networks.discriminator_sg1 import DiscriminatorHead
from keras_stylegan.networks.synthesis_sg2 import (
    ARCHITECTURES,
    FP16,
    NONLINEARITIES,
    check_num_fp16_res,
)
from keras_stylegan.ops import basic as sgops
from keras_stylegan.ops import fir
from keras_stylegan.ops.basic import SQRT2


class DiscriminatorBlockSG2(keras.layers.Layer):
    """One resolution of the StyleGAN2 discriminator. Built by `DiscriminatorSG2`.

    Children: optional `fromrgb`, `conv0`, `conv1` (downsampling), optional
    `skip` (resnet).
    """

    def __init__(self, fromrgb, conv0, conv1, skip, use_fp16=False, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.fromrgb, self.conv0, self.conv1, self.skip = fromrgb, conv0, conv1, skip
        self.use_fp16 = bool(use_fp16)
        self.act_dtype = "float16" if self.use_fp16 else "float32"

    def build_from(self, x_shape, img_shape):
        with keras.name_scope(self.name):
            if self.fromrgb is not None:
                self.fromrgb.build(img_shape)
                x_shape = self.fromrgb.compute_output_shape(img_shape)
            self.conv0.build(x_shape)
            shape = self.conv0.compute_output_shape(x_shape)
            self.conv1.build(shape)
            if self.skip is not None:
                self.skip.build(x_shape)
        self.built = True
        return self.conv1.compute_output_shape(shape)

    def call(self, x, img):
        if self.fromrgb is not None:
            t = self.fromrgb(ops.cast(img, self.act_dtype))
            x = t if x is None else ops.cast(x, self.act_dtype) + t
        x = ops.cast(x, self.act_dtype)
        t = x
        x = self.conv1(self.conv0(x))
        if self.skip is not None:
            x = (x + self.skip(t)) * ops.cast(np.sqrt(0.5), x.dtype)
        return x


class DiscriminatorEpilogueSG2(DiscriminatorHead, keras.layers.Layer):
    """The 4x4 part: optional `fromrgb` (skip), minibatch stddev, `conv`, `dense0`, `out`."""

    def __init__(self, fromrgb, conv, dense0, out, mbstd_group_size, mbstd_num_features,
                 **kwargs):
        super().__init__(**kwargs)
        self.fromrgb, self.conv, self.dense0, self.out = fromrgb, conv, dense0, out
        self.mbstd_group_size = mbstd_group_size
        self.mbstd_num_features = mbstd_num_features

    def build_from(self, x_shape, img_shape):
        with keras.name_scope(self.name):
            if self.fromrgb is not None:
                self.fromrgb.build(img_shape)
            self.build_head((None, 4, 4, x_shape[-1] + self.mbstd_num_features))
        self.built = True

    def call(self, x, img):
        if self.fromrgb is not None:
            t = self.fromrgb(img)
            x = t + ops.cast(x, t.dtype)
        x = ops.cast(x, "float32")
        if self.mbstd_num_features > 0:
            n = ops.shape(x)[0]
            group = n if self.mbstd_group_size is None else self.mbstd_group_size
            x = sgops.minibatch_stddev(x, group, self.mbstd_num_features)
        return self.head(x)


@register
@own_precision
class DiscriminatorSG2(keras.Model):
    """StyleGAN2 discriminator: NHWC image (+ labels) -> score [N, 1].

    Args:
        resolution, num_channels, label_size: input image and label sizes.
        fmap_base, fmap_decay, fmap_min, fmap_max: channel counts (see `num_features`).
        architecture: 'resnet' (config-f), 'orig' or 'skip'.
        nonlinearity: 'lrelu' or 'relu'.
        mbstd_group_size: minibatch-stddev group size (None: the whole batch,
            StyleGAN2-ADA's default). The batch must be a multiple of it.
        mbstd_num_features: minibatch-stddev channels; 0 disables it.
        resample_kernel: FIR taps of the downsampling (None: box filter).
        num_fp16_res: the highest `num_fp16_res` resolutions compute in
            float16 (StyleGAN2-ADA); 0 disables.
        conv_clamp: clamp conv outputs to [-conv_clamp, conv_clamp]; None disables.
        cmap_dim: None projects the scores onto the labels (StyleGAN2); an int
            embeds the labels first (StyleGAN2-ADA's `mapping_fmaps`):
            `LabelEmbed` dense, 2nd-moment normalization, `mapping_layers`
            dense layers with `mapping_lrmul`, and scores
            `sum(out * cmap) / sqrt(cmap_dim)`.
        mapping_layers, mapping_lrmul: of that label mapping.
        progressive: StyleGAN2 configs a-d (`D_stylegan`): architecture
            'orig' with a `fromrgb_lod{n}` at every resolution and StyleGAN's
            progressive-growing fade-ins (box-downsampled images) driven by
            `lod` (a stored variable). Requires architecture 'orig'.

    Call args:
        images: [N, R, R, C] in [-1, 1].
        labels: [N, label_size] for a conditional D, else None.
        lod: with `progressive`, the level of detail (None: the `lod`
            variable). Otherwise None or 0.

    Example:

    >>> import numpy as np
    >>> d = DiscriminatorSG2(resolution=8, fmap_base=64, fmap_max=16)
    >>> tuple(d(np.zeros((4, 8, 8, 3), "float32")).shape)
    (4, 1)
    """

    family = "stylegan2"

    def __init__(self, resolution=1024, num_channels=3, label_size=0, fmap_base=16384,
                 fmap_decay=1.0, fmap_min=1, fmap_max=512, architecture="resnet",
                 nonlinearity="lrelu", mbstd_group_size=4, mbstd_num_features=1,
                 resample_kernel=fir.DEFAULT_KERNEL, num_fp16_res=0, conv_clamp=None,
                 cmap_dim=None, mapping_layers=0, mapping_lrmul=0.1, progressive=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.resolution = int(resolution)
        self.resolution_log2 = r = resolution_log2(resolution)
        self.num_channels, self.label_size = int(num_channels), int(label_size)
        self.fmap_base, self.fmap_decay = int(fmap_base), float(fmap_decay)
        self.fmap_min, self.fmap_max = int(fmap_min), int(fmap_max)
        self.architecture = check_choice("architecture", architecture, ARCHITECTURES)
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        self.mbstd_group_size = None if mbstd_group_size is None else int(mbstd_group_size)
        if self.mbstd_group_size is not None and self.mbstd_group_size < 1:
            raise ValueError(
                f"mbstd_group_size must be >= 1 or None (whole batch); received "
                f"{mbstd_group_size}. Use mbstd_num_features=0 to disable minibatch stddev.")
        self.mbstd_num_features = int(mbstd_num_features)
        self.resample_kernel = fir.fir_taps(resample_kernel)
        fir.setup_kernel(self.resample_kernel)
        self.num_fp16_res = check_num_fp16_res(num_fp16_res)
        self.conv_clamp = None if conv_clamp is None else float(conv_clamp)
        self.cmap_dim = None if cmap_dim is None else int(cmap_dim)
        self.mapping_layers, self.mapping_lrmul = int(mapping_layers), float(mapping_lrmul)
        if self.cmap_dim is None and self.mapping_layers:
            raise ValueError("mapping_layers > 0 needs cmap_dim (the label embedding size).")
        self.progressive = bool(progressive)
        if self.progressive and self.architecture != "orig":
            raise ValueError("progressive=True (StyleGAN2 configs a-d) needs architecture "
                             f"'orig'; received {self.architecture!r}.")
        self.blocks = [self._make_block(k) for k in range(r, 2, -1)]
        self.fromrgbs, self.fades = [], []
        if self.progressive:
            self.fromrgbs = [self._fromrgb(k, name=f"fromrgb_lod{r - k}")
                             for k in range(r, 1, -1)]
            self.fades = [LodFadeIn(r - k, name=f"fade{2 ** k}") for k in range(r, 2, -1)]
        self.epilogue = DiscriminatorEpilogueSG2(
            self._fromrgb(2) if self.architecture == "skip" else None,
            ResampleConv2D(self.nf(1), 3, conv_clamp=self.conv_clamp, name="conv",
                           **self._act()),
            EqualizedDense(self.nf(0), gain=1.0, act_gain=SQRT2, name="dense0",
                           activation=self.nonlinearity),
            EqualizedDense(self.cmap_dim or max(self.label_size, 1), gain=1.0, name="out"),
            self.mbstd_group_size, self.mbstd_num_features, name="b4")
        self.label_embed, self.label_mapping = None, []
        if self.label_size and self.cmap_dim:
            self.label_embed = EqualizedDense(self.cmap_dim, gain=1.0, name="label_embed")
            self.label_mapping = [
                EqualizedDense(self.cmap_dim, gain=1.0, lrmul=self.mapping_lrmul,
                               activation=self.nonlinearity, act_gain=SQRT2,
                               name=f"label_mapping{i}")
                for i in range(self.mapping_layers)]
        self.build()

    def nf(self, stage):
        return num_features(stage, self.fmap_base, self.fmap_decay, self.fmap_max,
                            self.fmap_min)

    def _act(self):
        return dict(activation=self.nonlinearity)

    def _policy(self, k):
        fp16 = k > self.resolution_log2 - self.num_fp16_res
        return dict(dtype=FP16 if fp16 else None), fp16

    def _fromrgb(self, k, name="fromrgb"):
        policy, _ = self._policy(k)
        return ResampleConv2D(self.nf(k - 1), 1, conv_clamp=self.conv_clamp, name=name,
                              **self._act(), **policy)

    def _make_block(self, k):
        policy, fp16 = self._policy(k)
        fromrgb = self._fromrgb(k) if (self.architecture == "skip" or (
            k == self.resolution_log2 and not self.progressive)) else None
        down = dict(resample_kernel=self.resample_kernel, **policy)
        conv0 = ResampleConv2D(self.nf(k - 1), 3, conv_clamp=self.conv_clamp, name="conv0",
                               **self._act(), **policy)
        conv1 = ResampleConv2D(self.nf(k - 2), 3, down=True, conv_clamp=self.conv_clamp,
                               name="conv1", **self._act(), **down)
        skip = (ResampleConv2D(self.nf(k - 2), 1, down=True, use_bias=False, name="skip",
                               **down) if self.architecture == "resnet" else None)
        return DiscriminatorBlockSG2(fromrgb, conv0, conv1, skip, use_fp16=fp16,
                                     name=f"b{2 ** k}")

    def build(self, input_shape=None):
        if self.progressive:
            self.lod = self.add_weight(name="lod", shape=(), initializer="zeros",
                                       trainable=False)
            for k, layer in zip(range(self.resolution_log2, 1, -1), self.fromrgbs):
                layer.build((None, 2 ** k, 2 ** k, self.num_channels))
        shape = None
        for k, block in zip(range(self.resolution_log2, 2, -1), self.blocks):
            img_shape = (None, 2 ** k, 2 ** k, self.num_channels)
            if self.progressive and shape is None:
                shape = self.fromrgbs[0].compute_output_shape(img_shape)
            shape = block.build_from(shape, img_shape)
        self.epilogue.build_from(shape, (None, 4, 4, self.num_channels))
        if self.label_embed is not None:
            self.label_embed.build((None, self.label_size))
            for layer in self.label_mapping:
                layer.build((None, self.cmap_dim))

    def call(self, images, labels=None, lod=None):
        labels = require_labels(labels, self.label_size, "This discriminator")
        img = ops.cast(images, "float32")
        if self.progressive:
            scores = self._progressive_scores(img, self.lod if lod is None else lod)
        else:
            if lod is not None and not (isinstance(lod, (int, float)) and lod == 0):
                raise ValueError("This discriminator has no progressive growing "
                                 f"(progressive=False): lod must be None or 0; received {lod}.")
            x = None
            for block in self.blocks:
                x = block(x, img)
                if self.architecture == "skip":
                    img = fir.downsample_2d(img, k=self.resample_kernel)
            scores = self.epilogue(x, img)
        if labels is None:
            return scores
        labels = ops.cast(labels, scores.dtype)
        if self.label_embed is None:
            return ops.sum(scores * labels, axis=1, keepdims=True)
        cmap = sgops.pixel_norm(self.label_embed(labels))
        for layer in self.label_mapping:
            cmap = layer(cmap)
        return ops.sum(scores * cmap, axis=1, keepdims=True) / float(np.sqrt(self.cmap_dim))

    def _progressive_scores(self, img, lod):
        """Configs a-d: each block's output faded with FromRGB of the 2x2-averaged image."""
        x = self.fromrgbs[0](img)
        for block, fromrgb, fade in zip(self.blocks, self.fromrgbs[1:], self.fades):
            x = block(x, img)
            img = sgops.downscale2d(img)
            y = fromrgb(img)
            x = fade(ops.cast(x, y.dtype), y, lod=lod)
        return self.epilogue(x, img)

    def get_config(self):
        return {**super().get_config(), "resolution": self.resolution,
                "num_channels": self.num_channels, "label_size": self.label_size,
                "fmap_base": self.fmap_base, "fmap_decay": self.fmap_decay,
                "fmap_min": self.fmap_min, "fmap_max": self.fmap_max,
                "architecture": self.architecture, "nonlinearity": self.nonlinearity,
                "mbstd_group_size": self.mbstd_group_size,
                "mbstd_num_features": self.mbstd_num_features,
                "resample_kernel": self.resample_kernel, "num_fp16_res": self.num_fp16_res,
                "conv_clamp": self.conv_clamp, "cmap_dim": self.cmap_dim,
                "mapping_layers": self.mapping_layers, "mapping_lrmul": self.mapping_lrmul,
                "progressive": self.progressive}

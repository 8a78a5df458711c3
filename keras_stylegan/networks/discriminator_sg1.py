"""StyleGAN1 discriminator (NVIDIA's `D_basic`), NHWC, with progressive growing."""

import keras
from keras import ops

from keras_stylegan.layers.common import EqualizedDense, MinibatchStddev, register
from keras_stylegan.layers.sg1 import Blur, EqualizedConv2D, FromRGB, LodFadeIn
from keras_stylegan.networks.common import (
    check_choice,
    num_features,
    require_labels,
    resolution_log2,
    stop_level,
)
from keras_stylegan.ops import basic as sgops
from keras_stylegan.ops import fir


class DiscriminatorBlockSG1(keras.layers.Layer):
    """`conv0` (3x3) then blur + `conv1` (3x3, downsampling by 2). Built by D."""

    def __init__(self, conv0, blur, conv1, **kwargs):
        super().__init__(**kwargs)
        self.conv0, self.blur, self.conv1 = conv0, blur, conv1

    def build_from(self, x_shape):
        with keras.name_scope(self.name):
            self.conv0.build(x_shape)
            shape = self.conv0.compute_output_shape(x_shape)
            self.conv1.build(shape)
        self.built = True
        return self.conv1.compute_output_shape(shape)

    def call(self, x):
        x = self.conv0(x)
        if self.blur is not None:
            x = self.blur(x)
        return self.conv1(x)


class DiscriminatorHead:
    """The end of both families' D epilogues: `conv` at 4x4, flatten, `dense0`, `out`.

    A mixin over the epilogue's own `conv`, `dense0` and `out` children: each
    epilogue sets its children itself, in its own order (the order of its
    weights, which saved optimizer state follows).
    """

    def build_head(self, x_shape):
        """Builds `conv` for [N, 4, 4, C] `x_shape`, then `dense0` and `out`.

        Call it inside the epilogue's name scope (the weights' paths).
        """
        self.conv.build(x_shape)
        self.dense0.build((None, 16 * self.conv.filters))
        self.out.build((None, self.dense0.units))

    def head(self, x):
        x = self.conv(x)
        # NHWC flatten (h, w, c); the importer permutes NVIDIA's (c, h, w) rows.
        x = ops.reshape(x, (-1, 16 * self.conv.filters))
        return self.out(self.dense0(x))


class DiscriminatorEpilogueSG1(DiscriminatorHead, keras.layers.Layer):
    """The 4x4 block: minibatch stddev, `conv`, `dense0`, `out`. Built by D."""

    def __init__(self, mbstd, conv, dense0, out, **kwargs):
        super().__init__(**kwargs)
        self.mbstd, self.conv, self.dense0, self.out = mbstd, conv, dense0, out

    def build_from(self, x_shape):
        if self.mbstd is not None:
            x_shape = self.mbstd.compute_output_shape(x_shape)
        with keras.name_scope(self.name):
            self.build_head(x_shape)
        self.built = True

    def call(self, x):
        if self.mbstd is not None:
            x = self.mbstd(x)
        return self.head(x)


@register
class DiscriminatorSG1(keras.Model):
    """StyleGAN1 discriminator: NHWC image (+ labels) -> score [N, 1].

    Args:
        resolution, num_channels, label_size: input image and label sizes.
        fmap_base, fmap_decay, fmap_max: channel counts (see `num_features`).
        nonlinearity: 'lrelu' or 'relu'.
        mbstd_group_size, mbstd_num_features: minibatch stddev (group size
            0 or 1 disables it).
        fused_scale: 'auto' (fused down-conv at >= 128 px input), True, False.
        blur_filter: taps of the blur before each downsampling conv, or None.

    Call args:
        images: [N, R, R, C] in [-1, 1] (or [N, r, r, C] with `resolution=r`).
        labels: [N, label_size] for a conditional D, else None.
        lod: level of detail (None: the `lod` variable).
        resolution: optional lower input resolution; valid when
            `lod >= log2(full / resolution)` (the images are then the 2x2
            average-pooled full-size images, as NVIDIA's `D` sees them).

    Example:

    >>> d = DiscriminatorSG1(resolution=8, fmap_base=32, fmap_max=16)
    >>> d(np.zeros((4, 8, 8, 3), "float32")).shape
    (4, 1)
    """

    family = "stylegan1"
    progressive = True  # grows with `lod`
    own_precision = False  # follows the global dtype policy (scores stay float32)

    def __init__(self, resolution=1024, num_channels=3, label_size=0, fmap_base=8192,
                 fmap_decay=1.0, fmap_max=512, nonlinearity="lrelu", mbstd_group_size=4,
                 mbstd_num_features=1, fused_scale="auto", blur_filter=(1, 2, 1), **kwargs):
        super().__init__(**kwargs)
        self.resolution = int(resolution)
        self.resolution_log2 = r = resolution_log2(resolution)
        self.num_channels, self.label_size = int(num_channels), int(label_size)
        self.fmap_base, self.fmap_decay, self.fmap_max = int(fmap_base), float(fmap_decay), int(fmap_max)
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, ("lrelu", "relu"))
        self.mbstd_group_size, self.mbstd_num_features = int(mbstd_group_size), int(mbstd_num_features)
        self.fused_scale = check_choice("fused_scale", fused_scale, ("auto", True, False))
        self.blur_filter = fir.fir_taps(blur_filter)
        act = dict(activation=self.nonlinearity)
        # fromrgb[k - 2] reads images of 2**k px (k = 2..r); blocks[k - 3] and
        # fades[k - 3] belong to the level at 2**k px (k = 3..r).
        self.fromrgb = [FromRGB(self.nf(k - 1), name=f"fromrgb{2 ** k}", **act)
                        for k in range(2, r + 1)]
        self.blocks = [self._make_block(k) for k in range(3, r + 1)]
        self.fades = [LodFadeIn(r - k, name=f"fade{2 ** k}") for k in range(3, r + 1)]
        mbstd = (MinibatchStddev(self.mbstd_group_size, self.mbstd_num_features, name="mbstd")
                 if self.mbstd_group_size > 1 else None)
        self.epilogue = DiscriminatorEpilogueSG1(
            mbstd, EqualizedConv2D(self.nf(1), 3, name="conv", **act),
            EqualizedDense(self.nf(0), name="dense0", **act),
            EqualizedDense(max(self.label_size, 1), gain=1.0, name="out", dtype="float32"),
            name="b4")  # scores stay float32 under a mixed precision policy
        self.build()

    def nf(self, stage):
        return num_features(stage, self.fmap_base, self.fmap_decay, self.fmap_max)

    def _make_block(self, k):
        fused = (2 ** k >= 128) if self.fused_scale == "auto" else self.fused_scale
        act = dict(activation=self.nonlinearity)
        blur = Blur(self.blur_filter, name="blur") if self.blur_filter else None
        return DiscriminatorBlockSG1(
            EqualizedConv2D(self.nf(k - 1), 3, name="conv0", **act), blur,
            EqualizedConv2D(self.nf(k - 2), 3, down=True, fused_scale=fused, name="conv1", **act),
            name=f"b{2 ** k}")

    def build(self, input_shape=None):
        self.lod = self.add_weight(name="lod", shape=(), initializer="zeros", trainable=False)
        for k, layer in enumerate(self.fromrgb, start=2):
            layer.build((None, 2 ** k, 2 ** k, self.num_channels))
        shape = (None, self.resolution, self.resolution, self.nf(self.resolution_log2 - 1))
        for k in range(self.resolution_log2, 2, -1):
            shape = self.blocks[k - 3].build_from(shape)
        self.epilogue.build_from(shape)

    def call(self, images, labels=None, lod=None, resolution=None):
        lod = self.lod if lod is None else lod
        labels = require_labels(labels, self.label_size, "This discriminator")
        start = stop_level(resolution, self.resolution_log2)
        img = ops.cast(images, self.compute_dtype)
        x = self.fromrgb[start - 2](img)
        for k in range(start, 2, -1):
            x = self.blocks[k - 3](x)
            img = sgops.downscale2d(img)
            x = self.fades[k - 3](x, self.fromrgb[k - 3](img), lod=lod)
        scores = self.epilogue(x)
        if labels is not None:
            scores = ops.sum(scores * ops.cast(labels, scores.dtype), axis=1, keepdims=True)
        return scores

    def get_config(self):
        return {**super().get_config(), "resolution": self.resolution,
                "num_channels": self.num_channels, "label_size": self.label_size,
                "fmap_base": self.fmap_base, "fmap_decay": self.fmap_decay,
                "fmap_max": self.fmap_max, "nonlinearity": self.nonlinearity,
                "mbstd_group_size": self.mbstd_group_size,
                "mbstd_num_features": self.mbstd_num_features,
                "fused_scale": self.fused_scale, "blur_filter": self.blur_filter}

"""StyleGAN1 synthesis network (NVIDIA's `G_synthesis`), NHWC.

Blocks `b4, b8, ..., bR`; each has `conv0` (the learned constant at 4x4,
else the upsampling conv + blur), `conv1` (3x3 conv) and `torgb`. Each
block knows the style (w) and noise indices its layers read (`w_indices`,
`noise_indices`): the blocks take two consecutive styles each, in order, so
layer `j` of the block at `2**k` px reads style and noise `2k - 4 + j`.
"""

import keras

from keras_stylegan.layers.common import ConstantInput, check_noise_mode, register
from keras_stylegan.layers.sg1 import Blur, EqualizedConv2D, LayerEpilogue, LodFadeIn, ToRGB
from keras_stylegan.networks.common import check_choice, num_features, resolution_log2, stop_level
from keras_stylegan.ops import basic as sgops
from keras_stylegan.ops import fir
from keras_stylegan.ops.basic import SQRT2


@register
class SynthesisLayer(keras.layers.Layer):
    """One StyleGAN1 layer: (constant | [upsampling] conv [+ blur]) + epilogue.

    Args:
        filters: output channels.
        const_input: start from a learned 4x4 constant instead of a conv.
        up: upsample by 2 (nearest + conv, or fused transposed conv).
        fused_scale: use the fused transposed conv for `up`.
        blur_filter: taps of the blur applied after an upsampling conv, or None.
        epilogue: kwargs of `LayerEpilogue`.
    """

    def __init__(self, filters, const_input=False, up=False, fused_scale=False,
                 blur_filter=(1, 2, 1), epilogue=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.const_input = bool(const_input)
        self.up = bool(up)
        self.fused_scale = bool(fused_scale)
        self.blur_filter = fir.fir_taps(blur_filter)
        self.epilogue_kwargs = dict(epilogue or {})
        gain = SQRT2 if self.epilogue_kwargs.get("activation", "lrelu") != "linear" else 1.0
        if self.const_input:
            self.const = ConstantInput(self.filters, name="const")
        else:
            self.conv = EqualizedConv2D(self.filters, 3, gain=gain, use_bias=False, up=up,
                                        fused_scale=fused_scale, name="conv")
        self.blur = Blur(self.blur_filter, name="blur") if (up and self.blur_filter) else None
        self.epilogue = LayerEpilogue(name="epilogue", **self.epilogue_kwargs)

    def build(self, x_shape, w_shape):
        n, h, w, _ = x_shape
        if self.const_input:
            self.const.build()
            out = (n, 4, 4, self.filters)
        else:
            self.conv.build(x_shape)
            out = self.conv.compute_output_shape(x_shape)
        self.epilogue.build(out, w_shape)

    def call(self, x, w, noise_mode="random", noise=None):
        x = self.const(x) if self.const_input else self.conv(x)
        if self.blur is not None:
            x = self.blur(x)
        return self.epilogue(x, w, noise_mode=noise_mode, noise=noise)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "const_input": self.const_input, "up": self.up,
                "fused_scale": self.fused_scale, "blur_filter": self.blur_filter,
                "epilogue": self.epilogue_kwargs}


@register
class SynthesisNetworkSG1(keras.layers.Layer):
    """StyleGAN1 synthesis: w's -> NHWC image, with progressive growing.

    Args:
        resolution: output resolution (power of two).
        num_channels: image channels.
        dlatent_size: w dimensionality.
        fmap_base, fmap_decay, fmap_max: channel counts, see `num_features`.
        use_styles, use_noise, use_pixel_norm, use_instance_norm, nonlinearity:
            the layer epilogue (NVIDIA's defaults).
        fused_scale: 'auto' (fused up-conv at >= 128 px), True or False.
        blur_filter: taps of the blur after each upsampling conv, or None.

    Call args:
        ws: [N, num_ws, dlatent_size].
        noise_mode: 'const', 'random' or 'none'.
        lod: level of detail (None: the network's `lod` variable). 0 is the
            full resolution; `j` gives the level `j` steps lower, upscaled by
            nearest neighbour; fractions blend two levels.
        noise: optional list of `num_ws` noise tensors [N, H, W, 1].
        resolution: optional lower output resolution; only valid when
            `lod >= log2(full / resolution)`, where it equals the full output
            downsampled (cheaper: higher blocks are not run).

    Example:

    >>> s = SynthesisNetworkSG1(resolution=8, dlatent_size=16, fmap_base=32, fmap_max=16)
    >>> s(np.zeros((2, s.num_ws, 16), "float32"), noise_mode="const").shape
    (2, 8, 8, 3)
    """

    def __init__(self, resolution=1024, num_channels=3, dlatent_size=512, fmap_base=8192,
                 fmap_decay=1.0, fmap_max=512, use_styles=True, use_noise=True,
                 use_pixel_norm=False, use_instance_norm=True, nonlinearity="lrelu",
                 fused_scale="auto", blur_filter=(1, 2, 1), **kwargs):
        super().__init__(**kwargs)
        self.resolution = int(resolution)
        self.resolution_log2 = resolution_log2(resolution)
        self.num_channels = int(num_channels)
        self.dlatent_size = int(dlatent_size)
        self.fmap_base, self.fmap_decay, self.fmap_max = int(fmap_base), float(fmap_decay), int(fmap_max)
        self.fused_scale = check_choice("fused_scale", fused_scale, ("auto", True, False))
        self.blur_filter = fir.fir_taps(blur_filter)
        self.epilogue = dict(use_styles=bool(use_styles), use_noise=bool(use_noise),
                             use_pixel_norm=bool(use_pixel_norm),
                             use_instance_norm=bool(use_instance_norm),
                             activation=check_choice("nonlinearity", nonlinearity, ("lrelu", "relu")))
        self.blocks = []
        for k in range(2, self.resolution_log2 + 1):
            self.blocks.append(self._make_block(k, self.blocks[-1].w_end if self.blocks else 0))
        self.num_ws = self.blocks[-1].w_end
        # Outputs stay float32 under a mixed precision policy.
        self.fades = [LodFadeIn(self.resolution_log2 - k, name=f"fade{2 ** k}", dtype="float32")
                      for k in range(3, self.resolution_log2 + 1)]
        self.build()

    progressive = True  # grows with `lod`
    own_precision = False  # follows the global dtype policy (outputs stay float32)

    def nf(self, stage):
        return num_features(stage, self.fmap_base, self.fmap_decay, self.fmap_max)

    def _make_block(self, k, w_start):
        fused = (2 ** k >= 128) if self.fused_scale == "auto" else self.fused_scale
        common = dict(blur_filter=self.blur_filter, epilogue=self.epilogue)
        conv0 = SynthesisLayer(self.nf(k - 1), const_input=(k == 2), up=(k > 2),
                                fused_scale=fused, name="conv0", **common)
        conv1 = SynthesisLayer(self.nf(k - 1), name="conv1", **common)
        torgb = ToRGB(self.num_channels, name="torgb", dtype="float32")
        return SynthesisBlockSG1(conv0, conv1, torgb, 2 ** k, w_start, name=f"b{2 ** k}")

    def build(self, input_shape=None):
        self.lod = self.add_weight(name="lod", shape=(), initializer="zeros", trainable=False)
        w_shape = (None, self.dlatent_size)
        x_shape = (None, 2, 2, 1)
        for block in self.blocks:
            x_shape = block.build_from(x_shape, w_shape)

    @property
    def noise_shapes(self):
        """[(H, W)] of the noise input of each style layer."""
        return [shape for block in self.blocks for shape in block.noise_shapes]

    def ws_in_use(self):
        """[number of styles the output reads at each `floor(lod)`], lod 0 first."""
        return [block.w_end for block in reversed(self.blocks)]

    def call(self, ws, noise_mode="random", lod=None, noise=None, resolution=None):
        check_noise_mode(noise_mode)
        lod = self.lod if lod is None else lod
        stop = stop_level(resolution, self.resolution_log2)
        noise = list(noise) if noise is not None else [None] * self.num_ws
        x, img = ws, None
        for k, block in zip(range(2, stop + 1), self.blocks):
            x = block(x, ws, noise_mode=noise_mode, noise=noise)
            y = block.torgb(x)
            img = y if img is None else self.fades[k - 3](y, sgops.upscale2d(img), lod=lod)
        return img

    def get_config(self):
        return {**super().get_config(), "resolution": self.resolution,
                "num_channels": self.num_channels, "dlatent_size": self.dlatent_size,
                "fmap_base": self.fmap_base, "fmap_decay": self.fmap_decay,
                "fmap_max": self.fmap_max, "use_styles": self.epilogue["use_styles"],
                "use_noise": self.epilogue["use_noise"],
                "use_pixel_norm": self.epilogue["use_pixel_norm"],
                "use_instance_norm": self.epilogue["use_instance_norm"],
                "nonlinearity": self.epilogue["activation"],
                "fused_scale": self.fused_scale, "blur_filter": self.blur_filter}


class SynthesisBlockSG1(keras.layers.Layer):
    """A StyleGAN1 synthesis block: `conv0`, `conv1` and its `torgb`.

    `layer{j}` reads style (w) and noise `w_start + j`; both run at
    `resolution` px. Built by
    `SynthesisNetworkSG1`; not serialized on its own.
    """

    num_ws = 2  # styles read: one per layer

    def __init__(self, conv0, conv1, torgb, resolution, w_start, **kwargs):
        super().__init__(**kwargs)
        self.conv0, self.conv1, self.torgb = conv0, conv1, torgb
        self.resolution, self.w_start = int(resolution), int(w_start)

    @property
    def w_indices(self):
        """The style of `conv0` and of `conv1`."""
        return tuple(range(self.w_start, self.w_end))

    noise_indices = w_indices  # each layer's noise input has its style's index

    @property
    def w_end(self):
        return self.w_start + self.num_ws

    @property
    def noise_shapes(self):
        """[(H, W)] of each layer's noise input."""
        return [(self.resolution, self.resolution)] * self.num_ws

    def build_from(self, x_shape, w_shape):
        """Builds the children from the previous block's output shape; returns ours."""
        with keras.name_scope(self.name):
            self.conv0.build(x_shape, w_shape)
            h = 4 if self.conv0.const_input else 2 * x_shape[1]
            out = (None, h, h, self.conv0.filters)
            self.conv1.build(out, w_shape)
            self.torgb.build(out)
        self.built = True
        return out

    def call(self, x, ws, noise_mode="random", noise=None):
        """`ws`: all styles [N, num_ws, w_dim]; `noise`: all noise inputs or None."""
        for layer, i in zip((self.conv0, self.conv1), self.w_indices):
            x = layer(x, ws[:, i], noise_mode=noise_mode,
                      noise=None if noise is None else noise[i])
        return x

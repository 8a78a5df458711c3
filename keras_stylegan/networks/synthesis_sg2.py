"""StyleGAN2 synthesis network (NVIDIA's `G_synthesis_stylegan2`; StyleGAN2-ADA's
`G_synthesis`), NHWC.

Blocks `b4, b8, ..., bR`, one `SynthesisBlockSG2` class looped over the
resolutions. The 4x4 block starts from the learned constant and has `conv1`
only; every other block has `conv0` (FIR up-conv), `conv1`, and, depending on
the architecture, `torgb` and `skip`:

* 'skip' (config-f): every block has a `torgb`; the image is
  `upsample_2d(image) + torgb(x)`;
* 'orig': only the last block's `torgb`;
* 'resnet': `x = (conv1(conv0(x)) + skip(x)) / sqrt(2)` with a 1x1 FIR
  up-conv `skip`; only the last block's `torgb`.

Style (w) and noise indices are the blocks' own (`w_index`, `noise_index`):
each conv reads the next style and the next noise input in order, and a
block's `torgb` reads the style after its convs (shared with the next
block's conv0). So the block at `2**k` px uses styles `2k-5` (conv0), `2k-4`
(conv1) and `2k-3` (torgb), noise `2k-5` and `2k-4` (the 4x4 block: style 0
and noise 0 for its conv, style 1 for its torgb), and there are `num_ws - 1`
noise inputs.
"""

import keras
import numpy as np
from keras import ops

from keras_stylegan.layers.common import ConstantInput, check_noise_mode, register
from keras_stylegan.layers.sg1 import LodFadeIn
from keras_stylegan.layers.sg2 import ModulatedToRGB, ResampleConv2D, StyledConv2D
from keras_stylegan.networks.common import (
    check_choice, num_features, on_accelerator, own_precision, resolution_log2)
from keras_stylegan.ops import basic as sgops
from keras_stylegan.ops import fir

ARCHITECTURES = ("orig", "skip", "resnet")
NONLINEARITIES = ("lrelu", "relu")
FP16 = "mixed_float16"


FUSED_MODCONV = (True, False, "auto")


def check_fused_modconv(value):
    """`value` if it is True, False or "auto"; a ValueError otherwise."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value == "auto":
        return value
    raise ValueError(f"fused_modconv must be one of {FUSED_MODCONV}; received {value!r}.")


def resolve_fused_modconv(value):
    """True/False for `value`; "auto" is True on a GPU/TPU, False on a CPU."""
    return on_accelerator() if value == "auto" else value


def check_num_fp16_res(num_fp16_res):
    n = int(num_fp16_res)
    if n < 0:
        raise ValueError(f"num_fp16_res must be >= 0; received {num_fp16_res}.")
    return n


class SynthesisBlockSG2(keras.layers.Layer):
    """One resolution of the StyleGAN2 synthesis network. Built by `SynthesisNetworkSG2`.

    Children: `const` (4x4 only) or `conv0`; `conv1`; optional `torgb`;
    optional `skip` (resnet). `res_log2` is k for the block at `2**k` px.
    Its convs read styles `w_start, w_start + 1, ...` and noise inputs
    `noise_start, ...` in order; `torgb` reads the style after them.
    """

    def __init__(self, res_log2, const, conv0, conv1, torgb, skip, architecture,
                 resample_kernel, use_fp16=False, w_start=0, noise_start=0, **kwargs):
        kwargs.setdefault("autocast", False)  # keep ws float32, x in our own dtype
        super().__init__(**kwargs)
        self.res_log2 = int(res_log2)
        self.const, self.conv0, self.conv1 = const, conv0, conv1
        self.torgb, self.skip = torgb, skip
        self.architecture = architecture
        self.resample_kernel = resample_kernel
        self.use_fp16 = bool(use_fp16)
        self.act_dtype = "float16" if self.use_fp16 else "float32"
        convs = ("conv1",) if const is not None else ("conv0", "conv1")
        self.w_index = {name: int(w_start) + j for j, name in enumerate(convs)}
        self.w_index["torgb"] = int(w_start) + len(convs)
        self.noise_index = {name: int(noise_start) + j for j, name in enumerate(convs)}

    @property
    def num_ws(self):
        """Styles this block's convs read (its torgb's is the next block's first)."""
        return len(self.noise_index)

    @property
    def w_end(self):
        """One past the highest style index this block reads."""
        return self.w_index["torgb"] + 1

    @property
    def noise_shapes(self):
        """[(H, W)] of each noise input, in `noise_index` order."""
        return [(2 ** self.res_log2,) * 2] * len(self.noise_index)

    def noise_layers(self):
        """The `NoiseInjection` layer of each conv, in `noise_index` order."""
        return [getattr(self, name).noise for name in self.noise_index]

    def build_from(self, x_shape, w_shape):
        """Builds the children from the previous block's output shape; returns ours."""
        with keras.name_scope(self.name):
            if self.const is not None:
                self.const.build()
                x_shape = (None, 4, 4, self.const.channels)
            else:
                if self.skip is not None:
                    self.skip.build(x_shape)
                self.conv0.build(x_shape, w_shape)
                x_shape = self.conv0.compute_output_shape(x_shape)
            self.conv1.build(x_shape, w_shape)
            x_shape = self.conv1.compute_output_shape(x_shape)
            if self.torgb is not None:
                self.torgb.build(x_shape, w_shape)
        self.built = True
        return x_shape

    def call(self, x, img, ws, noise_mode="random", noise=None, fused_modconv=True):
        """(features, image) -> (features, image); `ws` are all [N, num_ws, w_dim],
        `noise` all noise inputs (or None)."""
        opts = dict(noise_mode=noise_mode, fused_modconv=fused_modconv)
        w, n = self.w_index, self.noise_index

        def conv(name, x):
            return getattr(self, name)(x, ws[:, w[name]], **opts,
                                       noise=None if noise is None else noise[n[name]])

        if self.const is not None:
            x = conv("conv1", ops.cast(self.const(ws), self.act_dtype))
        else:
            x = t = ops.cast(x, self.act_dtype)
            x = conv("conv1", conv("conv0", x))
            if self.skip is not None:
                x = (x + self.skip(t)) * ops.cast(np.sqrt(0.5), x.dtype)
        if img is not None and self.architecture == "skip":
            img = fir.upsample_2d(img, k=self.resample_kernel)
        if self.torgb is not None:
            y = self.torgb(x, ws[:, w["torgb"]], fused_modconv=fused_modconv)
            img = y if img is None else img + y
        return x, img


@register
@own_precision
class SynthesisNetworkSG2(keras.layers.Layer):
    """StyleGAN2 synthesis: w's -> NHWC image in [-1, 1] (not clipped).

    Args:
        resolution: output resolution (power of two >= 4).
        num_channels: image channels.
        dlatent_size: w dimensionality.
        fmap_base, fmap_decay, fmap_min, fmap_max: channel counts, see
            `num_features` (NVIDIA's StyleGAN2 default base is 16384).
        fmap_const: channels of the 4x4 constant (None: nf(1); StyleGAN2-ADA option).
        architecture: 'skip' (config-f), 'orig' or 'resnet'.
        nonlinearity: 'lrelu' or 'relu'.
        resample_kernel: FIR taps for up/downsampling (None: box filter).
        use_noise: add per-layer noise inputs.
        num_fp16_res: the highest `num_fp16_res` resolutions (of those >= 8)
            compute in float16, as StyleGAN2-ADA does; 0 disables.
        conv_clamp: clamp every conv layer's output to [-conv_clamp,
            conv_clamp] (StyleGAN2-ADA uses 256 with float16); None disables.
        fused_modconv: default of the `call` argument of the same name
            (True, False or "auto": the faster form on this device).
        progressive: StyleGAN2 configs a-d (`G_synthesis_stylegan_revised`):
            architecture 'orig' with a `torgb_lod{n}` at every resolution and
            StyleGAN's progressive-growing fade-ins driven by `lod` (a stored
            variable, 0 for a finished network). Requires architecture 'orig'.

    Call args:
        ws: [N, num_ws, dlatent_size].
        noise_mode: 'const' (stored noise maps), 'random' or 'none'.
        noise: optional list of `len(noise_shapes)` tensors [N, H, W, 1]
            (None entries fall back to `noise_mode`).
        resolution: must be None or the full resolution: StyleGAN2 has no
            progressive growing, so lower-resolution outputs do not exist.
        lod: with `progressive`, the level of detail (None: the `lod`
            variable); `j` gives the level `j` steps lower, upscaled by nearest
            neighbour; fractions blend two levels. Otherwise None or 0.
        fused_modconv: True runs each modulated conv as one grouped conv with
            per-sample weights (NVIDIA's default); False scales activations
            instead (no grouped conv: exports to TFLite builtins); "auto" is
            True on a GPU/TPU and False on a CPU, where the non-fused form is
            1.6x (batch 1) to 2.6x (batch 8) faster (docs/BENCHMARKS.md). Same
            numbers; None uses the constructor's default.

    Example:

    >>> import numpy as np
    >>> s = SynthesisNetworkSG2(resolution=8, dlatent_size=16, fmap_base=64, fmap_max=16)
    >>> s.num_ws, s.noise_shapes
    (4, [(4, 4), (8, 8), (8, 8)])
    >>> tuple(s(np.zeros((2, s.num_ws, 16), "float32"), noise_mode="const").shape)
    (2, 8, 8, 3)
    """

    def __init__(self, resolution=1024, num_channels=3, dlatent_size=512, fmap_base=16384,
                 fmap_decay=1.0, fmap_min=1, fmap_max=512, fmap_const=None,
                 architecture="skip", nonlinearity="lrelu",
                 resample_kernel=fir.DEFAULT_KERNEL, use_noise=True, num_fp16_res=0,
                 conv_clamp=None, fused_modconv="auto", progressive=False, **kwargs):
        super().__init__(**kwargs)
        self.resolution = int(resolution)
        self.resolution_log2 = resolution_log2(resolution)
        self.num_channels = int(num_channels)
        self.dlatent_size = int(dlatent_size)
        self.fmap_base, self.fmap_decay = int(fmap_base), float(fmap_decay)
        self.fmap_min, self.fmap_max = int(fmap_min), int(fmap_max)
        self.fmap_const = None if fmap_const is None else int(fmap_const)
        self.architecture = check_choice("architecture", architecture, ARCHITECTURES)
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        self.resample_kernel = fir.fir_taps(resample_kernel)
        fir.setup_kernel(self.resample_kernel)  # validates the taps
        self.use_noise = bool(use_noise)
        self.num_fp16_res = check_num_fp16_res(num_fp16_res)
        self.conv_clamp = None if conv_clamp is None else float(conv_clamp)
        self.fused_modconv = check_fused_modconv(fused_modconv)
        self.progressive = bool(progressive)  # StyleGAN2 configs a-d grow with `lod`
        if self.progressive and self.architecture != "orig":
            raise ValueError("progressive=True (StyleGAN2 configs a-d) needs architecture "
                             f"'orig'; received {self.architecture!r}.")
        self.blocks = []
        for k in range(2, self.resolution_log2 + 1):
            w_start = self.blocks[-1].w_index["torgb"] if self.blocks else 0
            noise_start = sum(block.num_ws for block in self.blocks)
            self.blocks.append(self._make_block(k, w_start, noise_start))
        self.num_ws = self.blocks[-1].w_end
        r = self.resolution_log2
        self.torgbs, self.fades = [], []
        if self.progressive:
            self.torgbs = [ModulatedToRGB(self.num_channels, conv_clamp=self.conv_clamp,
                                          name=f"torgb_lod{r - k}") for k in range(2, r + 1)]
            self.fades = [LodFadeIn(r - k, name=f"fade{2 ** k}") for k in range(3, r + 1)]
        self.build()

    def ws_in_use(self):
        """[number of styles the output reads at each `floor(lod)`], lod 0 first."""
        return [block.w_end for block in reversed(self.blocks)]

    def nf(self, stage):
        return num_features(stage, self.fmap_base, self.fmap_decay, self.fmap_max,
                            self.fmap_min)

    def _make_block(self, k, w_start, noise_start):
        r = self.resolution_log2
        use_fp16 = k >= 3 and k > r - self.num_fp16_res
        policy = dict(dtype=FP16 if use_fp16 else None)
        conv = dict(activation=self.nonlinearity, use_noise=self.use_noise,
                    conv_clamp=self.conv_clamp, resample_kernel=self.resample_kernel, **policy)
        const = conv0 = skip = torgb = None
        if k == 2:
            const = ConstantInput(self.fmap_const or self.nf(1), name="const")
        else:
            conv0 = StyledConv2D(self.nf(k - 1), 3, up=True, name="conv0", **conv)
            if self.architecture == "resnet":
                skip = ResampleConv2D(self.nf(k - 1), 1, up=True, use_bias=False,
                                      resample_kernel=self.resample_kernel, name="skip",
                                      **policy)
        conv1 = StyledConv2D(self.nf(k - 1), 3, name="conv1", **conv)
        if (self.architecture == "skip" or k == r) and not self.progressive:
            torgb = ModulatedToRGB(self.num_channels, conv_clamp=self.conv_clamp,
                                   name="torgb", **policy)
        return SynthesisBlockSG2(k, const, conv0, conv1, torgb, skip, self.architecture,
                                 self.resample_kernel, use_fp16=use_fp16, w_start=w_start,
                                 noise_start=noise_start, name=f"b{2 ** k}")

    def build(self, input_shape=None):
        w_shape = (None, self.dlatent_size)
        x_shape = None
        if self.progressive:
            self.lod = self.add_weight(name="lod", shape=(), initializer="zeros",
                                       trainable=False)
        for i, block in enumerate(self.blocks):
            x_shape = block.build_from(x_shape, w_shape)
            if self.torgbs:
                self.torgbs[i].build(x_shape, w_shape)

    @property
    def noise_shapes(self):
        """[(H, W)] of each noise input (`num_ws - 1` of them, NVIDIA's `noise{i}`)."""
        return [shape for block in self.blocks for shape in block.noise_shapes]

    def noise_layers(self):
        """The `NoiseInjection` layer of each noise input, in `noise{i}` order (or [])."""
        if not self.use_noise:
            return []
        return [layer for block in self.blocks for layer in block.noise_layers()]

    def call(self, ws, noise_mode="random", noise=None, resolution=None, fused_modconv=None,
             lod=None):
        check_noise_mode(noise_mode)
        if not self.progressive and lod is not None and not (
                isinstance(lod, (int, float)) and lod == 0):
            raise ValueError("This StyleGAN2 synthesis network has no progressive growing "
                             f"(progressive=False): lod must be None or 0; received {lod}.")
        if resolution is not None and int(resolution) != self.resolution:
            raise ValueError(
                f"StyleGAN2 synthesis has no lower-resolution outputs (no progressive "
                f"growing): resolution must be None or {self.resolution}; received "
                f"{resolution}. Downsample the full image instead.")
        n_noise = len(self.noise_shapes)
        if noise is None:
            noise = [None] * n_noise
        elif len(noise) != n_noise:
            raise ValueError(
                f"noise must be a list of {n_noise} tensors [N, H, W, 1] (shapes "
                f"{self.noise_shapes}) or None; received {len(noise)} entries.")
        noise = list(noise)
        fused = resolve_fused_modconv(self.fused_modconv if fused_modconv is None
                                      else check_fused_modconv(fused_modconv))
        ws = ops.cast(ws, "float32")
        x = img = None
        lod = (self.lod if lod is None else lod) if self.progressive else None
        for block in self.blocks:
            x, img = block(x, img, ws, noise_mode=noise_mode, noise=noise, fused_modconv=fused)
            if self.progressive:  # StyleGAN2 config a-d: fade in each level's ToRGB
                k = block.res_log2
                y = self.torgbs[k - 2](x, ws[:, block.w_index["torgb"]], fused_modconv=fused)
                img = y if img is None else self.fades[k - 3](y, sgops.upscale2d(img), lod=lod)
        return img

    def get_config(self):
        return {**super().get_config(), "resolution": self.resolution,
                "num_channels": self.num_channels, "dlatent_size": self.dlatent_size,
                "fmap_base": self.fmap_base, "fmap_decay": self.fmap_decay,
                "fmap_min": self.fmap_min, "fmap_max": self.fmap_max,
                "fmap_const": self.fmap_const, "architecture": self.architecture,
                "nonlinearity": self.nonlinearity, "resample_kernel": self.resample_kernel,
                "use_noise": self.use_noise, "num_fp16_res": self.num_fp16_res,
                "conv_clamp": self.conv_clamp, "fused_modconv": self.fused_modconv,
                "progressive": self.progressive}

"""Keras layers of StyleGAN (1), NHWC, math in `keras.ops`: the equalized
convolution with NVIDIA's fused up/down forms, ToRGB/FromRGB, blur, AdaIN
(`LayerEpilogue`: noise, bias, activation, normalization, `StyleMod`) and the
progressive-growing fade-in.

Example:

>>> import numpy as np
>>> layer = EqualizedConv2D(8, 3, name="conv")
>>> layer(np.zeros((1, 4, 4, 2), "float32")).shape
(1, 4, 4, 8)
"""

import keras
import numpy as np
from keras import ops

from keras_stylegan.layers.common import (
    EqualizedDense,
    NoiseInjection,
    _init,
    register,
    resampled_shape,
)
from keras_stylegan.ops import basic as sgops
from keras_stylegan.ops import fir
from keras_stylegan.ops.basic import SQRT2


def _shift_sum_matrix(k, flip=False):
    """[k+1, k] matrix S with S @ v = the sum of the two one-pixel shifts of v
    (zero-padded): row i adds v[i - 1] and v[i]; `flip` reverses v first."""
    s = np.eye(k + 1, k, dtype="float32") + np.eye(k + 1, k, -1, dtype="float32")
    return s[:, ::-1].copy() if flip else s


def _shift_sum(w, flip=False):
    """The sum of the four one-pixel shifts of the [k,k,c,d] kernel `w` (spatially
    flipped first with `flip`): two skinny matrix products with the shift matrix,
    one per spatial axis (no transposes or reversals; their gradients are products
    too, unlike four slices')."""
    k, c, d = int(w.shape[0]), int(w.shape[2]), int(w.shape[3])
    s = ops.convert_to_tensor(_shift_sum_matrix(k, flip), dtype=w.dtype)
    x = ops.matmul(s, ops.reshape(w, (k, k * c * d)))            # shift along H
    x = ops.matmul(s, ops.reshape(x, (k + 1, k, c * d)))         # shift along W
    return ops.reshape(x, (k + 1, k + 1, c, d))


def fused_up_kernel(w, flip=False):
    """StyleGAN1's fused upscale kernel: [k,k,in,out] -> [k+1,k+1,out,in].

    The sum of the four one-pixel shifts of the kernel, laid out for a
    stride-2 transposed convolution. With `flip`, of the spatially flipped
    kernel: then the transposed conv equals nearest upsampling + conv with `w`.
    """
    return _shift_sum(ops.transpose(w, (0, 1, 3, 2)), flip)


def fused_down_kernel(w):
    """StyleGAN1's fused downscale kernel: 0.25 * the four shifts, [k+1,k+1,in,out]."""
    return _shift_sum(w) * 0.25


@register
class EqualizedConv2D(keras.layers.Layer):
    """2-D convolution with equalized learning rate and StyleGAN1 resampling.

    `up=True` upsamples by 2 first (nearest neighbour, or with `fused_scale`
    a stride-2 transposed conv with the 4x4 "shifted sum" kernel NVIDIA uses
    at >= 128 px; being a transposed conv, that equals nearest upsampling
    followed by the *spatially flipped* kernel, so the two forms are not
    interchangeable for a given weight); `down=True` downsamples by 2 after the conv (2x2 average,
    or with `fused_scale` one stride-2 conv). Blurs are separate layers.

    Args:
        filters: output channels.
        kernel_size: square kernel size.
        gain, lrmul, use_bias, activation, act_gain: as in `EqualizedDense`.
        up, down: resample by 2.
        fused_scale: use NVIDIA's fused resampling conv.
    """

    def __init__(self, filters, kernel_size=3, gain=SQRT2, lrmul=1.0, use_bias=True,
                 activation="linear", act_gain=1.0, up=False, down=False,
                 fused_scale=False, **kwargs):
        super().__init__(**kwargs)
        if up and down:
            raise ValueError("EqualizedConv2D: `up` and `down` cannot both be True.")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.gain = float(gain)
        self.lrmul = float(lrmul)
        self.use_bias = bool(use_bias)
        self.activation = activation
        self.act_gain = float(act_gain)
        self.up = bool(up)
        self.down = bool(down)
        self.fused_scale = bool(fused_scale)
        self._act = sgops.activation(activation)

    def build(self, input_shape):
        cin = int(input_shape[-1])
        k = self.kernel_size
        self.kernel = self.add_weight(
            name="kernel", shape=(k, k, cin, self.filters), initializer=_init(1.0 / self.lrmul))
        self.scale = self.gain * self.lrmul / float(np.sqrt(k * k * cin))
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def convolve(self, x):
        """The resampling convolution without bias and activation.

        Both forms of `fused_scale` run as one stride-2 convolution: nearest
        upsampling + conv is the transposed conv with the shifted-sum kernel of
        the spatially flipped weight, and conv + 2x2 average is the stride-2 conv
        with the shifted-sum kernel (exact identities; 4/9 of the multiplies of
        resampling first, 2-2.5x faster on CPU, see docs/BENCHMARKS.md).
        """
        w = self.kernel * self.scale
        if self.up:
            kernel = fused_up_kernel(w, flip=not self.fused_scale)
            return ops.conv_transpose(x, kernel, strides=2, padding="same")
        if self.down:
            return ops.conv(x, fused_down_kernel(w), strides=2, padding="same")
        return ops.conv(x, w, padding="same")

    def call(self, x):
        x = self.convolve(x)
        if self.use_bias:
            x = x + self.bias * self.lrmul
        x = self._act(x)
        return x * self.act_gain if self.act_gain != 1.0 else x

    def compute_output_shape(self, input_shape):
        return resampled_shape(input_shape, self.filters, self.up, self.down)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "gain": self.gain, "lrmul": self.lrmul,
                "use_bias": self.use_bias, "activation": self.activation,
                "act_gain": self.act_gain, "up": self.up, "down": self.down,
                "fused_scale": self.fused_scale}


@register
class ToRGB(EqualizedConv2D):
    """StyleGAN1 ToRGB: 1x1 conv, gain 1, bias, no activation."""

    def __init__(self, filters=3, **kwargs):
        kwargs.setdefault("kernel_size", 1)
        kwargs.setdefault("gain", 1.0)
        super().__init__(filters, **kwargs)


@register
class FromRGB(EqualizedConv2D):
    """FromRGB: 1x1 conv with bias and leaky ReLU (gain sqrt(2))."""

    def __init__(self, filters, **kwargs):
        kwargs.setdefault("kernel_size", 1)
        kwargs.setdefault("activation", "lrelu")
        super().__init__(filters, **kwargs)


@register
class Blur(keras.layers.Layer):
    """Same-size FIR filtering of each channel; StyleGAN1 uses taps [1, 2, 1].

    Args:
        taps: 1-D separable taps (or a 2-D kernel).
        normalize: scale the kernel to sum to 1.
    """

    def __init__(self, taps=(1, 2, 1), normalize=True, **kwargs):
        super().__init__(**kwargs)
        self.taps = fir.fir_taps(taps)
        self.normalize = bool(normalize)
        self._kernel = fir.fir_kernel(self.taps, normalize=self.normalize)

    def call(self, x):
        return fir.depthwise_filter_2d(x, self._kernel)

    def get_config(self):
        return {**super().get_config(), "taps": self.taps, "normalize": self.normalize}


@register
class PixelNorm(keras.layers.Layer):
    """Normalizes the second moment of the last axis to 1."""

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x):
        return sgops.pixel_norm(x, epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@register
class StyleMod(keras.layers.Layer):
    """AdaIN's style part: `x * (scale + 1) + shift`, scale/shift = A(w).

    The learned affine map `A` is an `EqualizedDense` with gain 1 producing
    `2 * C` values: the first C are the scale, the last C the shift.

    Call args:
        x: NHWC features (already instance-normalized).
        w: [N, w_dim] style vector for this layer.
    """

    def build(self, x_shape, w_shape):
        c = int(x_shape[-1])
        self.dense = EqualizedDense(2 * c, gain=1.0, name="dense")
        self.dense.build(w_shape)
        self.channels = c

    def scale_and_shift(self, w, dtype):
        """`(scale + 1, shift)` as [N, 1, 1, C] tensors of `dtype`."""
        s = ops.cast(self.dense(w), dtype)
        s = ops.reshape(s, (-1, 1, 1, 2 * self.channels))
        return s[..., :self.channels] + 1.0, s[..., self.channels:]

    def call(self, x, w):
        scale, shift = self.scale_and_shift(w, x.dtype)
        return x * scale + shift


@register
class LayerEpilogue(keras.layers.Layer):
    """StyleGAN1's layer epilogue: noise, bias, activation, norm(s), style.

    Order (as NVIDIA's `layer_epilogue`): `x += noise * weight`, `x += bias`,
    leaky ReLU, optional pixel norm, instance norm, then `StyleMod`.
    """

    def __init__(self, use_noise=True, use_pixel_norm=False, use_instance_norm=True,
                 use_styles=True, activation="lrelu", **kwargs):
        super().__init__(**kwargs)
        self.use_noise = bool(use_noise)
        self.use_pixel_norm = bool(use_pixel_norm)
        self.use_instance_norm = bool(use_instance_norm)
        self.use_styles = bool(use_styles)
        self.activation = activation
        self._act = sgops.activation(activation)

    def build(self, x_shape, w_shape):
        c = int(x_shape[-1])
        if self.use_noise:
            self.noise = NoiseInjection(name="noise")
            self.noise.build(x_shape)
        self.bias = self.add_weight(name="bias", shape=(c,), initializer="zeros")
        if self.use_styles:
            self.style = StyleMod(name="style")
            self.style.build(x_shape, w_shape)

    def call(self, x, w, noise_mode="random", noise=None):
        if self.use_noise:
            x = self.noise(x, noise_mode=noise_mode, noise=noise)
        x = self._act(x + self.bias)
        if self.use_pixel_norm:
            x = sgops.pixel_norm(x)
        if self.use_instance_norm and self.use_styles:  # AdaIN, the style folded in
            scale, shift = self.style.scale_and_shift(w, x.dtype)
            return sgops.instance_norm(x, scale=scale, shift=shift)
        if self.use_instance_norm:
            x = sgops.instance_norm(x)
        if self.use_styles:
            x = self.style(x, w)
        return x

    def get_config(self):
        return {**super().get_config(), "use_noise": self.use_noise,
                "use_pixel_norm": self.use_pixel_norm,
                "use_instance_norm": self.use_instance_norm,
                "use_styles": self.use_styles, "activation": self.activation}


@register
class LodFadeIn(keras.layers.Layer):
    """Progressive-growing fade-in: `lerp_clip(high, low, lod - level)`.

    `high` is the output of the new, higher-resolution level `level` (its
    distance from the top, in lods), `low` the previous level's output at the
    same size. At `lod <= level` the result is `high`, at `lod >= level + 1`
    it is `low`.
    """

    def __init__(self, level, **kwargs):
        super().__init__(**kwargs)
        self.level = int(level)

    def call(self, high, low, lod):
        return sgops.lerp_clip(high, low, ops.cast(lod, high.dtype) - self.level)

    def get_config(self):
        return {**super().get_config(), "level": self.level}


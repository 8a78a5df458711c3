"""Keras layers of StyleGAN2, NHWC, math in `keras.ops`.

Weights are stored as NVIDIA stores them (HWIO conv kernels, [in, out] dense
matrices, raw biases; equalized learning rate: the runtime scale
`lrmul / sqrt(fan_in)` is a Python float computed in `build()`), so legacy
pickles load by copying arrays.

StyleGAN2 puts every weight gain at 1 and applies NVIDIA's "fused bias +
activation" afterwards: `act(x + b) * gain`, with gain sqrt(2) for 'lrelu'
and 'relu' and 1 for 'linear', optionally clamped to `[-conv_clamp,
conv_clamp]` (StyleGAN2-ADA).

Mixed precision: the layers compute in their dtype policy's compute dtype
(e.g. 'mixed_float16' in the highest-resolution blocks) and do the weight
math (modulation, demodulation) in float32. They cast their inputs
themselves (`autocast=False`), so the style vectors are never rounded to
float16.

Example:

>>> import numpy as np
>>> conv = StyledConv2D(8, name="conv")
>>> x, w = np.zeros((2, 4, 4, 6), "float32"), np.zeros((2, 16), "float32")
>>> tuple(conv(x, w, noise_mode="const").shape)
(2, 4, 4, 8)
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
from keras_stylegan.ops import fir, modconv
from keras_stylegan.ops import basic as sgops
from keras_stylegan.ops.basic import bias_act


class _SG2Layer(keras.layers.Layer):
    """Base: no automatic input casting (we cast in `call`, weights stay float32)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)

    def _fp32_dense(self, units, name, **kwargs):
        # Sub-layers that must stay float32 (the style affine) whatever our policy.
        return EqualizedDense(units, name=name, dtype="float32", **kwargs)


class _SG2Conv(_SG2Layer):
    """Base of the StyleGAN2 convolutions: a [k, k, I, O] `kernel` (odd k) with
    the runtime scale `lrmul / sqrt(k * k * I)`, resampling by 2 if `up` or
    `down` (FIR `resample_kernel`)."""

    def __init__(self, filters, kernel_size, up, down, resample_kernel, lrmul, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        if up and down:
            raise ValueError(f"{cls}: `up` and `down` cannot both be True.")
        if int(kernel_size) % 2 != 1:
            raise ValueError(f"{cls}: kernel_size must be odd; received {kernel_size}.")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.up, self.down = bool(up), bool(down)
        self.resample_kernel = fir.fir_taps(resample_kernel)
        self.lrmul = float(lrmul)

    def _build_kernel(self, x_shape):
        """Adds `kernel` for inputs [..., I] and sets `scale`; returns I."""
        cin, k = int(x_shape[-1]), self.kernel_size
        self.kernel = self.add_weight(
            name="kernel", shape=(k, k, cin, self.filters), initializer=_init(1.0 / self.lrmul))
        self.scale = self.lrmul / float(np.sqrt(k * k * cin))
        return cin

    def compute_output_shape(self, x_shape, w_shape=None):
        return resampled_shape(x_shape, self.filters, self.up, self.down)


@register
class ModulatedConv2D(_SG2Conv):
    """Modulated convolution: styles from `w` scale the weight per input channel.

    `s = w @ mod_weight / sqrt(w_dim) + mod_bias + 1` (the `affine` sub-layer
    plus 1), then `modconv.modulated_conv2d`. No bias, noise or activation.

    Args:
        filters: output channels.
        kernel_size: odd kernel size.
        demodulate: normalize each output channel (False for ToRGB).
        up, down: resample by 2 with the FIR up-conv / conv-down.
        resample_kernel: FIR taps (None: box filter).
        lrmul: learning-rate multiplier of the kernel.

    Call args:
        x: [N, H, W, I]; w: [N, w_dim];
        fused_modconv: grouped per-sample conv (True) or the non-fused form.

    Weights: `kernel` [k, k, I, O] (NVIDIA's `weight`), `affine/kernel`
    [w_dim, I] (`mod_weight`), `affine/bias` [I] (`mod_bias`).
    """

    def __init__(self, filters, kernel_size=3, demodulate=True, up=False, down=False,
                 resample_kernel=fir.DEFAULT_KERNEL, lrmul=1.0, **kwargs):
        super().__init__(filters, kernel_size, up, down, resample_kernel, lrmul, **kwargs)
        self.demodulate = bool(demodulate)

    def build(self, x_shape, w_shape):
        cin = self._build_kernel(x_shape)
        self.affine = self._fp32_dense(cin, "affine", gain=1.0)
        self.affine.build(w_shape)
        self.in_channels = cin

    def styles(self, w):
        """The per-input-channel scales `s` [N, I] (float32) for dlatents `w`."""
        return self.affine(ops.cast(w, "float32")) + 1.0

    def call(self, x, w, fused_modconv=True):
        x = ops.cast(x, self.compute_dtype)
        weight = ops.cast(self.kernel, "float32") * self.scale
        s = self.styles(w)
        if x.dtype == "float16" and not fused_modconv and self.demodulate:
            weight, s = modconv.prenormalize_fp16(weight, s)
        return modconv.modulated_conv2d(
            x, weight, s, demodulate=self.demodulate, up=self.up, down=self.down,
            resample_kernel=self.resample_kernel, fused=fused_modconv)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "demodulate": self.demodulate,
                "up": self.up, "down": self.down, "resample_kernel": self.resample_kernel,
                "lrmul": self.lrmul}


@register
class StyledConv2D(_SG2Layer):
    """One StyleGAN2 synthesis layer: modulated conv, noise, bias, activation.

    `x = act(modconv(x, w) + noise * strength + bias) * sqrt(2)`, clamped to
    `conv_clamp` if given. The noise strength is one scalar per layer.

    Args:
        filters, kernel_size, up, resample_kernel: of the `ModulatedConv2D`.
        activation: 'lrelu', 'relu' or 'linear'.
        use_noise: add the (scaled) noise input.
        conv_clamp: clamp the output to [-conv_clamp, conv_clamp]; None disables.

    Call args:
        x: [N, H, W, I]; w: [N, w_dim];
        noise_mode: 'const', 'random' or 'none'; noise: optional [N, H', W', 1];
        fused_modconv: see `ModulatedConv2D`.
    """

    def __init__(self, filters, kernel_size=3, up=False,
                 resample_kernel=fir.DEFAULT_KERNEL, activation="lrelu",
                 use_noise=True, conv_clamp=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.up = bool(up)
        self.resample_kernel = fir.fir_taps(resample_kernel)
        self.activation = activation
        sgops.activation(activation)  # validates the name
        self.use_noise = bool(use_noise)
        self.conv_clamp = None if conv_clamp is None else float(conv_clamp)
        self.conv = ModulatedConv2D(self.filters, self.kernel_size, up=self.up,
                                    resample_kernel=self.resample_kernel, name="conv",
                                    dtype=self.dtype_policy)
        self.noise = (NoiseInjection(per_channel=False, name="noise", dtype=self.dtype_policy)
                      if self.use_noise else None)

    def build(self, x_shape, w_shape):
        self.conv.build(x_shape, w_shape)
        out = self.conv.compute_output_shape(x_shape)
        if self.noise is not None:
            self.noise.build(out)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, x, w, noise_mode="random", noise=None, fused_modconv=True):
        x = self.conv(x, w, fused_modconv=fused_modconv)
        if self.noise is not None:
            x = self.noise(x, noise_mode=noise_mode, noise=noise)
        return bias_act(x, self.bias, self.activation, clamp=self.conv_clamp)

    def compute_output_shape(self, x_shape, w_shape=None):
        return self.conv.compute_output_shape(x_shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "up": self.up,
                "resample_kernel": self.resample_kernel, "activation": self.activation,
                "use_noise": self.use_noise, "conv_clamp": self.conv_clamp}


@register
class ModulatedToRGB(_SG2Layer):
    """StyleGAN2 ToRGB: modulated 1x1 conv without demodulation, plus a bias.

    No activation; the output is clamped to `conv_clamp` if given and
    returned in float32.

    Call args:
        x: [N, H, W, I]; w: [N, w_dim]; fused_modconv: see `ModulatedConv2D`.
    """

    def __init__(self, filters=3, conv_clamp=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.conv_clamp = None if conv_clamp is None else float(conv_clamp)
        self.conv = ModulatedConv2D(self.filters, 1, demodulate=False, name="conv",
                                    dtype=self.dtype_policy)

    def build(self, x_shape, w_shape):
        self.conv.build(x_shape, w_shape)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, x, w, fused_modconv=True):
        x = self.conv(x, w, fused_modconv=fused_modconv)
        return ops.cast(bias_act(x, self.bias, "linear", clamp=self.conv_clamp), "float32")

    def compute_output_shape(self, x_shape, w_shape=None):
        return tuple(x_shape[:-1]) + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "conv_clamp": self.conv_clamp}


@register
class ResampleConv2D(_SG2Conv):
    """StyleGAN2 convolution (gain 1) with optional FIR up/downsampling, bias, activation.

    Used for D's FromRGB, Conv0, Conv1_down and Skip, and G's resnet Skip.
    `up` is the FIR transposed conv (`fir.upsample_conv_2d`), `down` the
    FIR-then-stride-2 conv (`fir.conv_downsample_2d`); otherwise a 'same'
    conv. Then `bias_act` when `use_bias` or an activation is set.

    Args:
        filters, kernel_size: output channels, odd kernel size.
        up, down, resample_kernel: resampling.
        use_bias: learn a bias (NVIDIA's 'Skip' layers have none).
        activation: 'linear', 'relu' or 'lrelu' (gain sqrt(2) after it).
        conv_clamp: clamp after the activation; None disables.
        lrmul: learning-rate multiplier.
    """

    def __init__(self, filters, kernel_size=3, up=False, down=False,
                 resample_kernel=fir.DEFAULT_KERNEL, use_bias=True, activation="linear",
                 conv_clamp=None, lrmul=1.0, **kwargs):
        super().__init__(filters, kernel_size, up, down, resample_kernel, lrmul, **kwargs)
        self.use_bias = bool(use_bias)
        self.activation = activation
        sgops.activation(activation)
        self.conv_clamp = None if conv_clamp is None else float(conv_clamp)

    def build(self, x_shape):
        self._build_kernel(x_shape)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, x):
        x = ops.cast(x, self.compute_dtype)
        w = ops.cast(ops.cast(self.kernel, "float32") * self.scale, x.dtype)
        if self.up:
            x = fir.upsample_conv_2d(x, w, k=self.resample_kernel)
        elif self.down:
            x = fir.conv_downsample_2d(x, w, k=self.resample_kernel)
        else:
            x = ops.conv(x, w, padding="same")
        if not self.use_bias and self.activation == "linear" and self.conv_clamp is None:
            return x
        bias = self.bias * self.lrmul if self.use_bias else None
        return bias_act(x, bias, self.activation, clamp=self.conv_clamp)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "up": self.up, "down": self.down,
                "resample_kernel": self.resample_kernel, "use_bias": self.use_bias,
                "activation": self.activation, "conv_clamp": self.conv_clamp,
                "lrmul": self.lrmul}

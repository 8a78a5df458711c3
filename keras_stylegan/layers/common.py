"""Keras layers both StyleGAN families use, NHWC, math in `keras.ops`.

Weights are stored the way NVIDIA stores them (equalized learning rate: the
variable holds `w / (gain * lrmul / sqrt(fan_in))`, the runtime scale is a
Python float computed in `build()`), so legacy pickles load by copying arrays.
`register` makes a layer loadable from `.keras` files.

Example:

>>> import numpy as np
>>> layer = EqualizedDense(8, name="dense")
>>> tuple(layer(np.zeros((1, 4), "float32")).shape)
(1, 8)
"""

import keras
import numpy as np
from keras import ops

from keras_stylegan.ops import basic as sgops
from keras_stylegan.ops.basic import SQRT2

register = keras.saving.register_keras_serializable(package="keras_stylegan")


def _init(stddev):
    return keras.initializers.RandomNormal(stddev=stddev)


@register
class EqualizedDense(keras.layers.Layer):
    """Dense layer with equalized learning rate.

    Runtime: `act(x @ (kernel * gain * lrmul / sqrt(in)) + bias * lrmul) * act_gain`.

    Args:
        units: output features.
        gain: weight gain (sqrt(2) before a leaky ReLU in StyleGAN1, 1 in StyleGAN2).
        lrmul: learning-rate multiplier (0.01 in the mapping network).
        use_bias: add a bias.
        activation: 'linear', 'lrelu' or 'relu'.
        act_gain: gain applied after the activation (StyleGAN2 uses sqrt(2)).
        bias_init: initial bias value (StyleGAN2 modulation uses 1).
    """

    def __init__(self, units, gain=SQRT2, lrmul=1.0, use_bias=True,
                 activation="linear", act_gain=1.0, bias_init=0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.gain = float(gain)
        self.lrmul = float(lrmul)
        self.use_bias = bool(use_bias)
        self.activation = activation
        self.act_gain = float(act_gain)
        self.bias_init = float(bias_init)
        self._act = sgops.activation(activation)

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.kernel = self.add_weight(
            name="kernel", shape=(fan_in, self.units), initializer=_init(1.0 / self.lrmul))
        self.scale = self.gain * self.lrmul / float(np.sqrt(fan_in))
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.units,),
                initializer=keras.initializers.Constant(self.bias_init / self.lrmul))

    def call(self, x):
        x = ops.matmul(x, self.kernel * self.scale)
        if self.use_bias:
            x = x + self.bias * self.lrmul
        x = self._act(x)
        return x * self.act_gain if self.act_gain != 1.0 else x

    def get_config(self):
        return {**super().get_config(), "units": self.units, "gain": self.gain,
                "lrmul": self.lrmul, "use_bias": self.use_bias,
                "activation": self.activation, "act_gain": self.act_gain,
                "bias_init": self.bias_init}


def resampled_shape(shape, filters, up=False, down=False):
    """NHWC output shape of a conv to `filters` channels that resamples by 2 if `up`/`down`."""
    n, h, w, _ = shape
    f = 2 if up else (0.5 if down else 1)
    size = lambda s: None if s is None else int(s * f)  # noqa: E731
    return (n, size(h), size(w), filters)


@register
class NoiseInjection(keras.layers.Layer):
    """Adds per-pixel noise scaled per channel (StyleGAN1) or by a scalar (StyleGAN2).

    Holds the stored noise map `const` ([1, H, W, 1], used with
    `noise_mode="const"`) and the learned `weight`.

    Call args:
        x: NHWC features.
        noise_mode: 'const' (stored map), 'random' (fresh N(0,1) per sample)
            or 'none'.
        noise: optional explicit noise, [N, H, W, 1]; overrides `noise_mode`.
    """

    def __init__(self, per_channel=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.per_channel = bool(per_channel)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        _, h, w, c = input_shape
        self.const = self.add_weight(
            name="const", shape=(1, h, w, 1),
            initializer=keras.initializers.RandomNormal(stddev=1.0),  # NVIDIA's: N(0, 1)
            trainable=False)
        self.weight = self.add_weight(
            name="weight", shape=(c,) if self.per_channel else (), initializer="zeros")

    def call(self, x, noise_mode="random", noise=None):
        if noise is None:
            check_noise_mode(noise_mode)
            if noise_mode == "none":
                return x
            if noise_mode == "const":
                noise = self.const
            else:
                shape = (ops.shape(x)[0], x.shape[1], x.shape[2], 1)
                noise = keras.random.normal(shape, dtype=x.dtype, seed=self.seed_generator)
        return x + ops.cast(noise, x.dtype) * self.weight

    def get_config(self):
        return {**super().get_config(), "per_channel": self.per_channel, "seed": self.seed}


NOISE_MODES = ("const", "random", "none")


def check_noise_mode(noise_mode):
    """Raises a clear error unless `noise_mode` is 'const', 'random' or 'none'."""
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"noise_mode must be one of {NOISE_MODES}; received {noise_mode!r}.")


@register
class ConstantInput(keras.layers.Layer):
    """The learned constant that StyleGAN's synthesis starts from, tiled over the batch.

    Call args:
        batch_like: any tensor whose first dimension is the batch size.
    """

    def __init__(self, channels, size=4, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.size = int(size)

    def build(self, input_shape=None):
        self.const = self.add_weight(
            name="const", shape=(1, self.size, self.size, self.channels), initializer="ones")

    def call(self, batch_like):
        n = ops.shape(batch_like)[0]
        return ops.tile(self.const, (n, 1, 1, 1))

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "size": self.size}


@register
class MinibatchStddev(keras.layers.Layer):
    """Appends minibatch standard-deviation channels (see `ops.minibatch_stddev`)."""

    def __init__(self, group_size=4, num_new_features=1, **kwargs):
        super().__init__(**kwargs)
        self.group_size = int(group_size)
        self.num_new_features = int(num_new_features)

    def call(self, x):
        return sgops.minibatch_stddev(x, self.group_size, self.num_new_features)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] + self.num_new_features,)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size,
                "num_new_features": self.num_new_features}



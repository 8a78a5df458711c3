"""Projecting an image into W: StyleGAN2's projector (Karras et al. 2020, Sec. 5).

Follows NVIDIA's stylegan2-ada-pytorch `projector.py` (the TF stylegan2
`projector.py` has the same schedule): one w, shared by all layers, starts at
the average w of 10,000 mapped random z (`w_std` is their spread); every step
adds Gaussian noise of `w_std * 0.05 * max(0, 1 - t / 0.75) ** 2` to w (t =
step / steps), draws the image with the per-layer noise maps as variables,
and takes an Adam step (betas 0.9, 0.999) on w and the noise maps with a
learning rate ramped up over the first 5% of the steps and cosine-ramped down
over the last 25% from 0.1. The loss is the image distance to the target plus
1e5 times NVIDIA's noise regularisation (squared autocorrelation of each noise
map with its one-pixel shifts, at every scale down to 8 px); after each step
every noise map is renormalised to zero mean and unit variance.

Where the gradient lives: the loss, the schedules, Adam and the noise
renormalisation are `keras.ops`, so the projector runs on the TensorFlow and
the JAX backends. The one backend-specific piece is `value_and_grad`, a
dispatch to `tf.GradientTape` or `jax.value_and_grad` in the way
`generate.compile_function` dispatches compilation; it holds no TensorFlow-only
state, so it belongs in the library rather than in `training/`, and the
`project` command stays a thin shell over `Projector`.

Example:

>>> from keras_stylegan import presets
>>> from keras_stylegan.projection_distance import PixelFeatures
>>> G = presets.generator("stylegan2-tiny-32")
>>> proj = Projector(G, PixelFeatures(), ProjectorConfig(num_steps=3, w_avg_samples=100))
>>> target = np.zeros([1, 32, 32, 3], "float32")
>>> result = proj.project(target)
>>> result.ws.shape, len(result.noise), result.image.shape
((1, 8, 64), 7, (1, 32, 32, 3))
"""

import dataclasses
import math

import keras
import numpy as np
from keras import ops

from keras_stylegan.errors import ConfigError
from keras_stylegan.generate import compile_function

W_STATS_SEED = 123  # NVIDIA: np.random.RandomState(123) draws the w_avg samples


@dataclasses.dataclass(frozen=True)
class ProjectorConfig:
    """NVIDIA's projector settings (`projector.py`'s `project()` defaults)."""

    num_steps: int = 1000
    w_avg_samples: int = 10000
    initial_learning_rate: float = 0.1
    initial_noise_factor: float = 0.05
    lr_rampdown_length: float = 0.25
    lr_rampup_length: float = 0.05
    noise_ramp_length: float = 0.75
    regularize_noise_weight: float = 1e5
    adam_betas: tuple = (0.9, 0.999)
    adam_epsilon: float = 1e-8

    def __post_init__(self):
        if int(self.num_steps) < 1:
            raise ConfigError(f"num_steps must be >= 1; received {self.num_steps}.")
        if int(self.w_avg_samples) < 2:
            raise ConfigError(f"w_avg_samples must be >= 2; received {self.w_avg_samples}.")


@dataclasses.dataclass
class ProjectionResult:
    """What `Projector.project` returns (NumPy arrays).

    Attributes:
        ws: `[1, num_ws, w_dim]`, the projected w repeated for every layer
            (what `projected_w.npz` holds).
        noise: the optimised noise maps, `[1, H, W, 1]` each.
        image: `[1, H, W, C]` float in [-1, 1], drawn from `ws` and `noise`.
        distance: the distance of `image` to the target.
        distances: the distance at every step (with that step's w noise).
    """

    ws: np.ndarray
    noise: list
    image: np.ndarray
    distance: float
    distances: list


def learning_rate(step, cfg):
    """NVIDIA's learning rate at `step` (0-based) of `cfg.num_steps`.

    >>> cfg = ProjectorConfig(num_steps=100)
    >>> [round(learning_rate(s, cfg), 4) for s in (0, 1, 50, 99)]
    [0.0, 0.02, 0.1, 0.0004]
    """
    t = step / cfg.num_steps
    ramp = min(1.0, (1.0 - t) / cfg.lr_rampdown_length)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    ramp = ramp * min(1.0, t / cfg.lr_rampup_length)
    return cfg.initial_learning_rate * ramp


def w_noise_scale(step, w_std, cfg):
    """Standard deviation of the noise added to w at `step` (0 after 75% of the steps).

    >>> cfg = ProjectorConfig(num_steps=100)
    >>> [round(w_noise_scale(s, 2.0, cfg), 4) for s in (0, 30, 75)]
    [0.1, 0.036, 0.0]
    """
    t = step / cfg.num_steps
    return w_std * cfg.initial_noise_factor * max(0.0, 1.0 - t / cfg.noise_ramp_length) ** 2


def w_statistics(G, num_samples, labels=None, batch_size=1000):
    """(w_avg [1, 1, w_dim], w_std) of `num_samples` mapped z, as NVIDIA's
    projector: z from `RandomState(123)`, `w_std = sqrt(sum |w - w_avg|^2 / N)`.

    `labels` ([num_samples, label_size]) for a conditional network; None draws
    a random class for every sample.
    """
    rs = np.random.RandomState(W_STATS_SEED)
    z = rs.randn(num_samples, G.z_dim).astype(np.float32)
    if G.label_size and labels is None:
        labels = np.eye(G.label_size, dtype=np.float32)[rs.randint(G.label_size,
                                                                   size=num_samples)]
    ws = []
    for i in range(0, num_samples, batch_size):
        lab = None if labels is None else labels[i:i + batch_size]
        ws.append(ops.convert_to_numpy(G.mapping(z[i:i + batch_size], labels=lab))[:, :1])
    ws = np.concatenate(ws).astype(np.float64)  # [N, 1, C]
    w_avg = ws.mean(axis=0, keepdims=True)
    w_std = float(np.sqrt(np.sum((ws - w_avg) ** 2) / num_samples))
    return w_avg.astype(np.float32), w_std


def noise_regularization(noise):
    """NVIDIA's noise regulariser: for every map (NHWC `[1, H, W, 1]`) and its
    2x2-averaged pyramid down to 8 px, the squared mean of the map times itself
    rolled by one pixel, horizontally and vertically, summed."""
    total = 0.0
    for n in noise:
        while True:
            total = total + ops.mean(n * ops.roll(n, 1, axis=2)) ** 2
            total = total + ops.mean(n * ops.roll(n, 1, axis=1)) ** 2
            if n.shape[1] <= 8:
                break
            n = ops.average_pool(n, 2, 2, padding="valid")
    return total


def normalize_noise(noise):
    """Every map shifted and scaled to zero mean and unit mean square."""
    out = []
    for n in noise:
        n = n - ops.mean(n)
        out.append(n * ops.rsqrt(ops.mean(n * n)))
    return out


def adam_update(params, grads, m, v, step, lr, cfg):
    """One step of `torch.optim.Adam` (bias-corrected, epsilon outside the
    square root) on lists of tensors; `step` counts from 1."""
    b1, b2 = cfg.adam_betas
    new_p, new_m, new_v = [], [], []
    for p, g, mi, vi in zip(params, grads, m, v):
        mi = b1 * mi + (1 - b1) * g
        vi = b2 * vi + (1 - b2) * g * g
        m_hat = mi / (1 - b1 ** step)
        v_hat = vi / (1 - b2 ** step)
        new_p.append(p - lr * m_hat / (ops.sqrt(v_hat) + cfg.adam_epsilon))
        new_m.append(mi)
        new_v.append(vi)
    return new_p, new_m, new_v


def value_and_grad(fn):
    """`fn(params, *args) -> (value, aux)` -> a function returning
    `((value, aux), d value / d params)`: `tf.GradientTape` on TensorFlow,
    `jax.value_and_grad` on JAX (see the module docstring)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        def tf_value_and_grad(params, *args):
            with tf.GradientTape() as tape:
                tape.watch(params)
                value, aux = fn(params, *args)
            return (value, aux), tape.gradient(value, params)
        return tf_value_and_grad
    if backend == "jax":
        import jax
        return jax.value_and_grad(fn, has_aux=True)
    raise ConfigError(f"the projector runs on the TensorFlow or JAX backend, not {backend!r}; "
                      "set KERAS_BACKEND=tensorflow.")


class Projector:
    """Finds the w (and noise maps) that draw an image closest to a target.

    Args:
        G: a `Generator` (StyleGAN or StyleGAN2).
        features: the distance's feature function (`projection_distance`).
        config: a `ProjectorConfig`.
        seed: seeds the initial noise maps and the w noise of every step.
        labels: `[1, label_size]` class of a conditional network (for the w
            statistics); None: random classes.

    Example: see the module docstring.
    """

    def __init__(self, G, features, config=None, seed=0, labels=None):
        self.G, self.features = G, features
        self.config = config or ProjectorConfig()
        self.seed = int(seed)
        n = self.config.w_avg_samples
        lab = None if labels is None else np.repeat(np.asarray(labels, np.float32), n, axis=0)
        self.w_avg, self.w_std = w_statistics(G, n, lab)
        self.noise_shapes = list(G.synthesis.noise_shapes) if self._uses_noise() else []
        self._step = compile_function(self._make_step())

    def _uses_noise(self):
        return bool(self.G.synthesis.get_config().get("use_noise", True)) and \
            bool(self.G.synthesis.noise_shapes)

    def synthesize(self, ws, noise):
        """Images of `ws` [N, num_ws, w_dim] with the given noise maps."""
        return self.G.synthesis(ws, noise_mode="const", noise=list(noise) or None)

    def _make_step(self):
        cfg, num_ws = self.config, self.G.num_ws

        def loss(params, w_noise, target_features):
            w, noise = params[0], list(params[1:])
            image = self.synthesize(ops.repeat(w + w_noise, num_ws, axis=1), noise)
            image = ops.cast(image, "float32")
            dist = ops.sum((self.features(image) - target_features) ** 2)
            return dist + cfg.regularize_noise_weight * noise_regularization(noise), \
                (dist, image)

        grad_fn = value_and_grad(loss)

        def step(params, m, v, t, lr, w_noise, target_features):
            (_, (dist, image)), grads = grad_fn(params, w_noise, target_features)
            params, m, v = adam_update(params, grads, m, v, t, lr, cfg)
            params = params[:1] + normalize_noise(params[1:])
            return params, m, v, dist, image
        return step

    def project(self, target, callback=None):
        """Projects `target` (`[1, H, W, C]` float in [-1, 1], the network's size).

        `callback(step, distance, image)` is called after every step (`image`:
        that step's drawn image as a backend tensor). Returns a `ProjectionResult`.
        """
        target = np.asarray(target, np.float32)
        want = (1, self.G.resolution, self.G.resolution, self.G.num_channels)
        if target.shape != want:
            raise ValueError(f"target must have shape {list(want)}; received "
                             f"{list(target.shape)}.")
        cfg, rs = self.config, np.random.RandomState(self.seed)
        target_features = self.features(target)
        params = [ops.convert_to_tensor(self.w_avg)] + [
            ops.convert_to_tensor(rs.randn(1, h, w, 1).astype(np.float32))
            for h, w in self.noise_shapes]
        m = [ops.zeros_like(p) for p in params]
        v = [ops.zeros_like(p) for p in params]
        distances = []
        for step in range(cfg.num_steps):
            w_noise = rs.randn(*self.w_avg.shape).astype(np.float32) * \
                w_noise_scale(step, self.w_std, cfg)
            params, m, v, dist, image = self._step(
                params, m, v, np.float32(step + 1), np.float32(learning_rate(step, cfg)),
                w_noise, target_features)
            distances.append(float(ops.convert_to_numpy(dist)))
            if callback is not None:
                callback(step, distances[-1], image)
        return self._result(params, target_features, distances)

    def _result(self, params, target_features, distances):
        ws = ops.repeat(params[0], self.G.num_ws, axis=1)
        noise = list(params[1:])
        image = ops.cast(self.synthesize(ws, noise), "float32")
        dist = ops.sum((self.features(image) - target_features) ** 2)
        return ProjectionResult(
            ws=ops.convert_to_numpy(ws), noise=[ops.convert_to_numpy(n) for n in noise],
            image=ops.convert_to_numpy(image), distance=float(ops.convert_to_numpy(dist)),
            distances=distances)

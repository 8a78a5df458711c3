"""Tiny networks, a synthetic tf.data source and the step's randomness contract,
re-implemented independently of `training.gan` for reference computations."""

import socket

import numpy as np

from keras_stylegan.training.configs import CONFIGS

# The networks of the `tiny` training config.
G_KWARGS = CONFIGS["tiny"]["G_kwargs"]
D_KWARGS = CONFIGS["tiny"]["D_kwargs"]


def networks(resolution=16, label_size=0, seed=1, family="stylegan1", **extra):
    """(G, D, Gs) with fixed random initial weights; `extra` goes to the
    synthesis network and D (e.g. num_fp16_res, conv_clamp)."""
    import keras

    from keras_stylegan.networks.generator import Generator
    from keras_stylegan.networks.registry import build_discriminator
    keras.utils.set_random_seed(seed)
    common = dict(resolution=resolution, label_size=label_size, family=family)
    g_kwargs = dict(G_KWARGS, synthesis_kwargs=dict(G_KWARGS["synthesis_kwargs"], **extra))
    G = Generator(name="G", **common, **g_kwargs)
    D = build_discriminator(name="D", **common, **D_KWARGS, **extra)
    Gs = Generator(name="Gs", **common, **g_kwargs)
    return G, D, Gs


def adam(lr=0.001, eps=1e-8):
    import keras
    return keras.optimizers.Adam(lr, beta_1=0.0, beta_2=0.99, epsilon=eps)


def synthetic_images(n=64, resolution=16, seed=0):
    """Smooth random colour blobs in [-1, 1], NHWC float32."""
    rs = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:resolution, 0:resolution] / resolution
    out = np.empty((n, resolution, resolution, 3), np.float32)
    for i in range(n):
        cx, cy, r = rs.uniform(0.3, 0.7), rs.uniform(0.3, 0.7), rs.uniform(0.15, 0.3)
        mask = ((xx - cx) ** 2 + (yy - cy) ** 2 < r * r)[..., None]
        out[i] = np.where(mask, rs.uniform(-1, 1, 3), rs.uniform(-1, 1, 3))
    return out


def stream(images, labels, batch, resolution):
    """An endless tf.data stream of (images pooled to `resolution`, labels)."""
    import tensorflow as tf
    factor = images.shape[1] // resolution
    x = images if factor == 1 else images.reshape(
        len(images), resolution, factor, resolution, factor, -1).mean((2, 4))
    return tf.data.Dataset.from_tensor_slices((x.astype(np.float32), labels)).batch(
        batch, drop_remainder=True).repeat()


def log_recorder():
    """A Keras callback whose `.logs` collects every step's logs as floats."""
    import keras

    class LogRecorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.logs = []

        def on_train_batch_end(self, batch, logs=None):
            self.logs.append({k: float(np.asarray(v).reshape(-1)[0]) for k, v in logs.items()})

    return LogRecorder()


# The randomness contract of training.gan (see its module docstring).
def step_key(seed, nimg):
    import tensorflow as tf
    return tf.random.experimental.stateless_fold_in(tf.constant([seed, 0], tf.int64),
                                                    tf.constant(nimg, tf.int64))


def draw(key, purpose, shape, uniform=False):
    import tensorflow as tf
    k = tf.random.experimental.stateless_fold_in(key, purpose)
    fn = tf.random.stateless_uniform if uniform else tf.random.stateless_normal
    return fn(shape, seed=k).numpy()


def crossover(key, purpose, num_ws, lod, prob):
    import tensorflow as tf
    mix_key = tf.random.experimental.stateless_fold_in(key, purpose)
    cur = num_ws - 2 * int(np.floor(lod))
    u = tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(mix_key, 0))
    c = tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(mix_key, 1),
                                    minval=1, maxval=max(cur, 2), dtype=tf.int32)
    return int(c) if float(u) < prob else cur


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

"""GAN losses of StyleGAN1 (NVIDIA's `training/loss.py`), per sample.

Every function returns a per-sample loss `[N]` (float32); the model sums it
and divides by the GLOBAL batch size, so gradients summed over replicas are
the mean over the whole minibatch, as NVIDIA's per-GPU `reduce_mean` averaged
over GPUs.

Penalties that need the gradient of D with respect to its input take a
`grad_fn(images) -> (scores, grads)` callable: the model computes the input
gradient with an inner tape and undoes loss scaling (mixed precision) there.
"""

import tensorflow as tf

from keras_stylegan.errors import ConfigError

LOSSES = ("r1", "wgan-gp")


def check_loss(name):
    if name not in LOSSES:
        raise ConfigError(f"loss must be one of {LOSSES}; received {name!r}.")
    return name


def _flat(scores):
    return tf.reshape(tf.cast(scores, tf.float32), [-1])


def g_logistic_nonsaturating(fake_scores):
    """G: `softplus(-D(G(z)))` = -log(sigmoid(D(G(z))))."""
    return tf.nn.softplus(-_flat(fake_scores))


def g_wgan(fake_scores):
    """G of WGAN(-GP): `-D(G(z))`."""
    return -_flat(fake_scores)


def r1_penalty(real_grads):
    """`||grad_x D(x)||^2` per sample, x = reals."""
    g = tf.cast(real_grads, tf.float32)
    return tf.reduce_sum(tf.square(g), axis=[1, 2, 3])


def d_logistic_r1(real_scores, fake_scores, real_grads=None, r1_gamma=10.0):
    """D: `softplus(D(G(z))) + softplus(-D(x)) + gamma/2 * ||grad_x D(x)||^2`.

    Returns (per-sample loss, per-sample R1 penalty or zeros).
    """
    loss = tf.nn.softplus(_flat(fake_scores)) + tf.nn.softplus(-_flat(real_scores))
    if r1_gamma and real_grads is not None:
        penalty = r1_penalty(real_grads)
        return loss + penalty * (r1_gamma * 0.5), penalty
    return loss, tf.zeros_like(loss)


def d_wgan_gp(real_scores, fake_scores, mixed_grads, wgan_lambda=10.0, wgan_epsilon=0.001,
              wgan_target=1.0):
    """D of WGAN-GP (Gulrajani et al. 2017) with NVIDIA's drift term.

    `D(G(z)) - D(x) + lambda/target^2 * (||grad D(mix)|| - target)^2 + eps * D(x)^2`,
    `mix` a per-sample random interpolation of reals and fakes. Returns
    (per-sample loss, per-sample gradient penalty).
    """
    real, fake = _flat(real_scores), _flat(fake_scores)
    norms = tf.sqrt(tf.reduce_sum(tf.square(tf.cast(mixed_grads, tf.float32)), axis=[1, 2, 3]))
    penalty = tf.square(norms - wgan_target)
    loss = fake - real + penalty * (wgan_lambda / wgan_target ** 2)
    loss += tf.square(real) * wgan_epsilon
    return loss, penalty


def path_lengths(ws_grads):
    """StyleGAN2 path lengths `sqrt(mean_layers(sum_w(g^2)))` per sample, from the
    gradient `g` [N, num_ws, w_dim] of `sum(G(w) * y)` with respect to the ws."""
    g = tf.cast(ws_grads, tf.float32)
    return tf.sqrt(tf.reduce_mean(tf.reduce_sum(tf.square(g), axis=2), axis=1))


def path_length_penalty(lengths, batch_mean, pl_mean, pl_decay=0.01):
    """StyleGAN2's path-length penalty `(|J^T y| - a)^2` per sample.

    `a` is the moving average of the lengths: `pl_mean + (batch_mean -
    pl_mean) * pl_decay`, with `batch_mean` the mean over the whole (global)
    batch; the gradient flows through it, as in NVIDIA's code. Returns
    (per-sample penalty, the new moving average).
    """
    new_mean = pl_mean + (batch_mean - pl_mean) * pl_decay
    return tf.square(lengths - new_mean), new_mean

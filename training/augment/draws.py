"""Random draws of the augmentation pipeline.

The pipeline never calls a stateful random op: it takes `draw(purpose,
tail=(), uniform=False)`, a callable returning an [N, *tail] float32 tensor
of standard normal (or U[0, 1)) numbers for the N images of the batch, a
different stream for every `purpose` (an int). The training step passes a
draw built on its per-step key and the replica's slice of the global batch,
so the augmentation of image i is the same on any number of replicas and
after a resume; `stateless_draws` makes one for a plain batch.

Example:

>>> draw = stateless_draws(seed=3, n=4)
>>> draw(1, (2,)).shape.as_list()
[4, 2]
"""

import tensorflow as tf


def stateless_draws(seed, n):
    """A `draw` callable for a batch of `n` images from an int `seed`."""
    key = tf.constant([int(seed), 0], tf.int64)

    def draw(purpose, tail=(), uniform=False):
        k = tf.random.experimental.stateless_fold_in(key, purpose)
        fn = tf.random.stateless_uniform if uniform else tf.random.stateless_normal
        return fn([n, *tail], seed=k)
    return draw


def gate(draw, purpose, probability, value, disabled):
    """`value` for the images whose U[0, 1) draw is below `probability`, else
    `disabled` (per image; `value` is [N] or [N, K])."""
    u = draw(purpose, (), uniform=True)
    on = u < tf.cast(probability, tf.float32)
    on = tf.reshape(on, [-1] + [1] * (value.shape.rank - 1))
    return tf.where(on, value, tf.cast(disabled, value.dtype) * tf.ones_like(value))

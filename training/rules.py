"""Training rules checked in two places: when a config is resolved (so that
`keras-stylegan train --dry-run` fails early) and by `training.gan.StyleGAN`
(for users of the model without a config). One definition, one message.

Example:

>>> from keras_stylegan.training import rules
>>> rules.is_lazy(16, 10.0)      # R1 every 16 D steps
True
>>> rules.check_growing("stylegan2", progressive=True)
Traceback (most recent call last):
...
keras_stylegan.errors.ConfigError: StyleGAN2 trains without progressive growing: set the config key progressive to false (the stylegan2 configs do) or use Schedule(..., progressive=False).
"""

from keras_stylegan.errors import ConfigError


def is_lazy(interval, weight):
    """Whether a regularizer runs lazily: every `interval` steps, with a weight > 0."""
    return int(interval) > 1 and float(weight) > 0


def check_growing(family, progressive):
    """StyleGAN2 has no progressive growing."""
    if family == "stylegan2" and progressive:
        raise ConfigError("StyleGAN2 trains without progressive growing: set the config key "
                          "progressive to false (the stylegan2 configs do) or use "
                          "Schedule(..., progressive=False).")


def check_steps_per_execution(steps_per_execution, lazy):
    """Lazy regularization chooses each step's phases on the host: one step per call."""
    if int(steps_per_execution) > 1 and lazy:
        raise ConfigError(
            "steps_per_execution > 1 cannot be combined with lazy regularization "
            "(D_reg_interval or G_reg_interval > 1): each step's phases are chosen "
            "on the host. Use steps_per_execution 1.")


def check_pl_batch(per_replica, pl_batch_shrink, pl_weight, where=""):
    """Path-length regularization runs on per_replica / pl_batch_shrink images:
    the shrink must divide the per-replica minibatch (`where`: e.g. " at 32 px")."""
    if pl_weight and per_replica % int(pl_batch_shrink):
        raise ConfigError(
            f"The per-replica minibatch{where} ({per_replica}) must be a multiple of "
            f"pl_batch_shrink ({int(pl_batch_shrink)}) for path-length regularization: "
            "change the minibatch (minibatch_base/minibatch_dict, --batch), the number of "
            "GPUs, or pl_batch_shrink.")

"""The augmentation strength p of StyleGAN2-ADA: modes, config checks and the
adaptive update.

Modes (config key `aug`, option `--aug`):

* `noaug`: no augmentation (the default);
* `fixed`: the pipeline at the constant p = `aug_p` (`--p`);
* `ada`: p starts at `aug_p` (0) and is adjusted every `ada_interval` (4)
  steps from the overfitting heuristic r_t = E[sign(D(x_real))] over the
  reals D saw in those steps (all replicas):
  `p <- max(0, p + sign(r_t - target) * N / (ada_kimg * 1000))`, N the
  number of those reals, so p moves by at most 1 every `ada_kimg` (500)
  kimg (`ada_target` 0.6, `--target`).

Example:

>>> round(float(update_p(0.0, r_t=0.9, num_images=64, target=0.6, ada_kimg=500)), 9)
0.000128
>>> float(update_p(0.0, r_t=0.1, num_images=64, target=0.6, ada_kimg=500))
0.0
"""

import tensorflow as tf

from keras_stylegan.errors import ConfigError
from keras_stylegan.training.augment import geometric
from keras_stylegan.training.augment.pipeline import PRESETS, check_preset

MODES = ("noaug", "fixed", "ada")


def update_p(p, r_t, num_images, target, ada_kimg):
    """ADA's p after an interval of `num_images` reals with mean sign r_t."""
    p = tf.cast(p, tf.float32)
    step = tf.sign(tf.cast(r_t, tf.float32) - target) * tf.cast(num_images, tf.float32)
    return tf.maximum(p + step / (float(ada_kimg) * 1000.0), 0.0)


def accumulate(p, acc, signs, num_steps, interval, target, ada_kimg, adapt):
    """One step of the r_t accumulator (tensors, inside the compiled step).

    Args:
        p: current p; acc: [sum of signs, count] since the last update;
        signs: this step's [sum of sign(D(real)), count] over all replicas;
        num_steps: the step counter after this step; adapt: update p ('ada').

    Returns:
        (p, acc, r_t, due): `due` is 1.0 at the end of an interval
        (`num_steps % interval == 0`): r_t is then the interval's mean sign, p
        is updated (if `adapt`) and the accumulator restarts. Otherwise `due`
        is 0.0, p and the accumulated signs carry over, and r_t is the running
        mean so far (the caller keeps its last r_t).
    """
    acc = acc + signs
    due = tf.cast(tf.equal(tf.math.floormod(num_steps, interval), 0), tf.float32)
    r_t = acc[0] / tf.maximum(acc[1], 1.0)
    if adapt:
        p = due * update_p(p, r_t, acc[1], target, ada_kimg) + (1.0 - due) * p
    return p, acc * (1.0 - due), r_t, due


def check_config(cfg):
    """Raises `ConfigError` for bad augmentation keys of a training config."""
    if cfg["aug"] not in MODES:
        raise ConfigError(f"aug (--aug) must be one of {', '.join(MODES)}; received "
                          f"{cfg['aug']!r}.")
    check_preset(cfg["augpipe"])
    if cfg.get("jit_compile") and cfg["aug"] != "noaug" and set(PRESETS[cfg["augpipe"]]) & set(
            geometric.OPS):
        raise ConfigError("The geometric augmentations (--augpipe with blit or geom ops) pad "
                          "each batch by an amount that depends on its transforms, which XLA "
                          "cannot compile: set jit_compile false, or use --augpipe color, "
                          "filter, noise or cutout.")
    if not 0 <= cfg["aug_p"] <= 1:
        raise ConfigError(f"aug_p (--p) must be between 0 and 1; received {cfg['aug_p']!r}.")
    if not 0 < cfg["ada_target"] < 1:
        raise ConfigError(f"ada_target (--target) must be between 0 and 1 (ADA: 0.6); "
                          f"received {cfg['ada_target']!r}.")
    if not cfg["ada_kimg"] > 0:
        raise ConfigError(f"ada_kimg must be > 0 (ADA: 500); received {cfg['ada_kimg']!r}.")
    if cfg["ada_interval"] < 1:
        raise ConfigError(f"ada_interval must be >= 1 (ADA: 4); received "
                          f"{cfg['ada_interval']!r}.")

"""Trains the same tiny run on 1 device and mirrored over 2 logical CPU devices;
prints the largest difference of every checkpointed tensor as JSON.

Run as a script (it must split the CPU before TensorFlow starts):
    python tests/helpers/replicas_check.py OUTDIR [r1|wgan-gp|stylegan2]
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_stylegan.training import configs, distribute, loop  # noqa: E402
from keras_stylegan.training.data import open_dataset  # noqa: E402

distribute.split_cpu(2)


def config_sg2():
    """StyleGAN2 with lazy R1 (steps 0 and 4) and path length (steps 0 and 4)
    over 6 steps; minibatch stddev off (its groups are formed per replica)."""
    tiny = configs.CONFIGS["stylegan2-tiny"]
    return configs.get(
        "stylegan2-tiny", total_kimg=0.048, snap_kimg=0, checkpoint_kimg=0, tick_kimg=1.0,
        mirror_augment=True, D_reg_interval=4, G_reg_interval=4,
        D_kwargs=dict(tiny["D_kwargs"], mbstd_num_features=0))


def config(loss):
    """The tiny config, made well conditioned for an exact comparison.

    * Instance norm is replaced by pixel norm in G: at the 4x4 constant the
      input of instance norm is ~1 everywhere, so the bias and noise strength
      there have a gradient that is zero in exact arithmetic and pure
      round-off (amplified by rsqrt(var + 1e-8)) in float32; Adam turns it
      into +-lr steps of random sign, different for every split of the batch.
    * Minibatch stddev is off: its groups are formed within each replica.
    """
    tiny = configs.CONFIGS["tiny"]
    G_kwargs = dict(tiny["G_kwargs"])
    G_kwargs["synthesis_kwargs"] = dict(G_kwargs["synthesis_kwargs"], use_instance_norm=False,
                                        use_pixel_norm=True)
    return configs.get(
        "tiny", loss=loss, lod_training_kimg=0.016, lod_transition_kimg=0.016,
        total_kimg=0.048, snap_kimg=0, checkpoint_kimg=0, tick_kimg=1.0, mirror_augment=True,
        G_kwargs=G_kwargs, D_kwargs=dict(tiny["D_kwargs"], mbstd_group_size=0))


def tensors(path):
    reader = tf.train.load_checkpoint(path)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if not k.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}


def main(outdir, loss="r1"):
    ds = open_dataset("builtin:64", resolution=16)
    quiet = lambda *a, **k: None  # noqa: E731
    cfg = config_sg2() if loss == "stylegan2" else config(loss)
    one = loop.train(cfg, os.path.join(outdir, "one"), dataset=ds, print_fn=quiet)
    two = loop.train(cfg, os.path.join(outdir, "two"), dataset=ds, cpu_replicas=2,
                     print_fn=quiet)
    a, b = tensors(one["checkpoint"]), tensors(two["checkpoint"])
    with open(os.path.join(outdir, "two", "config.json")) as f:
        strategy = json.load(f)["strategy"]
    diffs = {k: float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64))))
             if a[k].size else 0.0 for k in a}
    print(json.dumps(dict(keys_one=sorted(a), keys_two=sorted(b), diffs=diffs,
                          strategy=strategy, end_nimg=[one["end_nimg"], two["end_nimg"]])))


if __name__ == "__main__":
    main(*sys.argv[1:])

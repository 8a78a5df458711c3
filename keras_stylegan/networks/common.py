"""Helpers shared by every network: channel counts, resolution checks, config checks."""

import contextlib
import inspect
import math

import keras
import numpy as np

FAMILIES = ("stylegan1", "stylegan2")


@contextlib.contextmanager
def global_dtype_policy(name):
    """Temporarily sets Keras' global dtype policy (restored on exit)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def own_precision(cls):
    """Class decorator for networks that set their own precision (StyleGAN2's
    `num_fp16_res`): the network and every sublayer it constructs compute in
    float32, or in the dtype policy they name, whatever the global policy.

    `cls.own_precision` tells other code (the generator, training) so.
    """
    init = cls.__init__

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("dtype", "float32")
        with global_dtype_policy("float32"):
            init(self, *args, **kwargs)

    __init__.__doc__, __init__.__qualname__ = init.__doc__, init.__qualname__
    # The constructor's own signature, for help() and Keras' config capture.
    __init__.__signature__ = inspect.signature(init)
    cls.__init__ = __init__
    cls.own_precision = True
    return cls


def num_features(stage, fmap_base, fmap_decay=1.0, fmap_max=512, fmap_min=1):
    """Channel count at `stage` (= log2(resolution) - 1 for a block's output).

    `clip(int(fmap_base / 2**(stage * fmap_decay)), fmap_min, fmap_max)`, the
    one formula NVIDIA's G and D share (StyleGAN1 has no `fmap_min`).
    """
    return int(np.clip(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_min, fmap_max))


def resolution_log2(resolution, minimum=4):
    """log2 of a power-of-two resolution, with a clear error otherwise."""
    r = int(resolution)
    if r < minimum or r & (r - 1):
        raise ValueError(
            f"resolution must be a power of two >= {minimum}; received {resolution}. "
            "Non-square datasets (e.g. LSUN car 512x384) are padded to a square.")
    return int(math.log2(r))


def check_family(family):
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}; received {family!r}.")
    return family


def on_accelerator():
    """Whether Keras' backend computes on a GPU or TPU here (for "auto" choices).

    >>> isinstance(on_accelerator(), bool)
    True
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        return bool(tf.config.list_logical_devices("GPU"))
    if backend == "jax":
        import jax
        return jax.default_backend() != "cpu"
    if backend == "torch":
        import torch
        return bool(torch.cuda.is_available())
    return False


def check_choice(name, value, choices):
    """Raises a ValueError naming `name` unless `value` is in `choices`."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}; received {value!r}.")
    return value


def stop_level(resolution, full_log2):
    """log2 of an optional lower output `resolution` (None: the full one)."""
    if resolution is None:
        return full_log2
    k = resolution_log2(resolution)
    if k > full_log2:
        raise ValueError(
            f"resolution={resolution} exceeds the network's resolution {2 ** full_log2}.")
    return k


def require_labels(labels, label_size, what):
    """Checks `labels` against a network's `label_size`; returns labels or None."""
    if label_size == 0:
        return None
    if labels is None:
        raise ValueError(
            f"{what} is conditional (label_size={label_size}): pass labels of shape "
            f"[N, {label_size}] (one-hot for class labels). NVIDIA's code treats "
            "labels=None as all-zero labels; pass zeros to reproduce that.")
    return labels


def num_fp16_res(model):
    """The `num_fp16_res` of a Generator (its synthesis) or discriminator (0 if none)."""
    if hasattr(model, "synthesis"):
        return int(model.synthesis_kwargs.get("num_fp16_res", 0))
    return int(getattr(model, "num_fp16_res", 0))


def as_fp32(model):
    """A copy of `model` built with `num_fp16_res=0`, holding the same weights.

    Example:

    >>> from keras_stylegan.networks.discriminator_sg2 import DiscriminatorSG2
    >>> d = DiscriminatorSG2(resolution=8, fmap_base=16, fmap_max=8, num_fp16_res=1)
    >>> as_fp32(d).num_fp16_res
    0
    """
    config = model.get_config()
    if hasattr(model, "synthesis"):
        config["synthesis_kwargs"] = {**config["synthesis_kwargs"], "num_fp16_res": 0}
    else:
        config["num_fp16_res"] = 0
    copy = type(model).from_config(config)
    copy.set_weights(model.get_weights())
    return copy

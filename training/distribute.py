"""Choosing the `tf.distribute` strategy of a run.

* `TF_CONFIG` naming a cluster with more than one task: `MultiWorkerMirroredStrategy`
  (every worker runs the same command; the chief writes the run directory).
* Otherwise `gpus` GPUs (None: all visible): `MirroredStrategy` when more than
  one, else the default (single-device) strategy.
* `cpu_replicas=N` splits the CPU into N logical devices and mirrors over
  them (tests and debugging of the multi-device path without GPUs); it must
  be called before TensorFlow initializes its devices.

`steps_per_execution > 1` under MirroredStrategy uses
`ReductionToOneDevice` all-reduce (the default CPU all-reduce fails with it).
"""

import json
import os

import tensorflow as tf

from keras_stylegan.errors import ConfigError


def tf_config():
    """The parsed `TF_CONFIG` environment variable, or None."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {e}") from None


def is_multi_worker():
    """True when TF_CONFIG describes a cluster of more than one task."""
    cfg = tf_config()
    if not cfg:
        return False
    cluster = cfg.get("cluster", {})
    return sum(len(v) for k, v in cluster.items() if k in ("chief", "worker")) > 1


def task_info():
    """(task_type, task_index, is_chief) from TF_CONFIG (single process: chief)."""
    cfg = tf_config() or {}
    task = cfg.get("task", {})
    task_type, index = task.get("type", "chief"), int(task.get("index", 0))
    has_chief = "chief" in cfg.get("cluster", {})
    is_chief = task_type == "chief" or (task_type == "worker" and index == 0 and not has_chief)
    return task_type, index, is_chief


def split_cpu(num_devices):
    """Splits the CPU into `num_devices` logical devices (before TF uses devices)."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current and len(current) == num_devices:
        return
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)


def make_strategy(gpus=None, cpu_replicas=None, steps_per_execution=1):
    """The strategy for this process (see the module docstring).

    Args:
        gpus: number of GPUs to use; None = all visible; 0 = CPU only.
        cpu_replicas: mirror over this many logical CPU devices instead of GPUs.
        steps_per_execution: > 1 selects `ReductionToOneDevice` all-reduce.
    """
    if is_multi_worker():
        if cpu_replicas:
            raise ConfigError("--cpu-replicas cannot be combined with TF_CONFIG (multi-worker).")
        if steps_per_execution > 1:
            raise ConfigError("steps_per_execution > 1 is not supported with "
                              "MultiWorkerMirroredStrategy (TF_CONFIG); use 1.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if cpu_replicas and int(cpu_replicas) > 1:
        split_cpu(int(cpu_replicas))
        devices = [f"/cpu:{i}" for i in range(int(cpu_replicas))]
        return tf.distribute.MirroredStrategy(
            devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    visible = tf.config.list_physical_devices("GPU")
    n = len(visible) if gpus is None else int(gpus)
    if n < 0 or n > len(visible):
        raise ConfigError(f"--gpus {gpus}: {len(visible)} GPU(s) visible.")
    if n == 0 and visible:
        tf.config.set_visible_devices([], "GPU")
    if n <= 1:
        return tf.distribute.get_strategy()
    cross = tf.distribute.ReductionToOneDevice() if steps_per_execution > 1 else None
    return tf.distribute.MirroredStrategy([f"/gpu:{i}" for i in range(n)],
                                          cross_device_ops=cross)


def describe(strategy):
    """A one-line description of `strategy` for logs."""
    name = type(strategy).__name__
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        name = "MultiWorkerMirroredStrategy"
    if name == "_DefaultDistributionStrategy":
        gpu = tf.config.list_logical_devices("GPU")
        return f"single device ({'GPU' if gpu else 'CPU'})"
    return f"{name} with {strategy.num_replicas_in_sync} replicas"

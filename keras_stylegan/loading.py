"""Loading a generator from whatever a user has: a legacy pickle, a `.keras`
snapshot, a training run directory, or a preset name (random weights)."""

import glob
import os
import tempfile

import keras

from keras_stylegan import legacy, presets
from keras_stylegan.errors import ConfigError, NetworkFileError
from keras_stylegan.networks import renames
from keras_stylegan.networks.generator import Generator


SNAPSHOT_PATTERN = "network-snapshot-{kimg:06d}.keras"


def snapshot_name(nimg):
    """File name of the Gs snapshot a training run writes after `nimg` images.

    >>> snapshot_name(250_000)
    'network-snapshot-000250.keras'
    """
    return SNAPSHOT_PATTERN.format(kimg=int(nimg) // 1000)


def find_snapshot(run_dir):
    """The newest `network-snapshot-*.keras` in a training run directory."""
    snaps = sorted(glob.glob(os.path.join(glob.escape(run_dir),
                                          SNAPSHOT_PATTERN.replace("{kimg:06d}", "*"))))
    if not snaps:
        raise FileNotFoundError(
            f"{run_dir} holds no network-snapshot-*.keras; pass a snapshot, a .pkl, "
            "or a finished training run directory.")
    return snaps[-1]


def load_generator(spec, which="Gs"):
    """Returns a `Generator` from `spec`.

    Args:
        spec: `FILE.pkl` (NVIDIA pickle: TF1, or PyTorch's G_ema), `FILE.keras` (a saved
            Generator), a training run directory (its newest snapshot), or
            `preset:NAME` (random weights, for trying things out).
        which: for pickles, 'Gs' (moving average, default) or 'G'.

    Example:

    >>> G = load_generator("preset:stylegan-tiny-32")
    >>> G.resolution
    32
    """
    spec = os.fspath(spec)
    if spec.startswith("preset:"):
        return presets.generator(spec[len("preset:"):])
    if os.path.isdir(spec):
        spec = find_snapshot(spec)
    if not os.path.exists(spec):
        raise FileNotFoundError(f"No such network file: {spec}")
    if spec.endswith(".keras"):
        return _load_keras(spec)
    if which not in ("G", "Gs"):
        raise ConfigError(f"which must be 'G' or 'Gs'; received {which!r}.")
    return legacy.load_network_pkl(spec, networks=(which,))[which]


def _load_keras(path):
    """The `Generator` saved in a `.keras` file (`NetworkFileError` if it holds none)."""
    import zipfile
    try:
        model = _load_keras_model(path)
    except (ValueError, TypeError, KeyError, OSError, zipfile.BadZipFile) as e:
        raise NetworkFileError(f"{path} is not a readable Keras generator file ({e}); pass "
                               "a network-snapshot-*.keras written by keras-stylegan.") from e
    if not isinstance(model, Generator):
        raise NetworkFileError(f"{path} holds a {type(model).__name__}, not a Generator.")
    return model


def _load_keras_model(path):
    """`keras.saving.load_model`, after renaming the weight paths of a file
    written by an earlier version (`networks.renames`) into a temporary copy."""
    if not renames.is_old_keras_file(path):
        return keras.saving.load_model(path, compile=False)
    with tempfile.TemporaryDirectory() as tmp:
        upgraded = os.path.join(tmp, os.path.basename(path))
        renames.upgrade_keras_file(path, upgraded)
        return keras.saving.load_model(upgraded, compile=False)

"""The public weight files of the feature networks, and where we look for them.

Nothing is downloaded at run time: the user downloads each file once (its URL
is below) and either passes its path, or puts it, under its public name, in a
folder given by `--feature-weights DIR` or the `KERAS_STYLEGAN_WEIGHTS`
environment variable.

>>> find_weights("vgg16")                       # doctest: +SKIP
'/home/me/.cache/keras-stylegan/vgg16-397923af.pth'
"""

import dataclasses
import os

from keras_stylegan.metrics.torch_checkpoint import CheckpointError, read_state_dict

ENV_VAR = "KERAS_STYLEGAN_WEIGHTS"


class WeightsFileError(ValueError):
    """A feature network's weight file is missing or unusable (message says which
    file is expected, where to get it and where to put it)."""


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One public weight file: its name, where it comes from, its SHA-256."""

    key: str
    filename: str
    url: str
    sha256: str
    what: str


WEIGHT_FILES = {
    "inception": WeightsFile(
        "inception", "pt_inception-2015-12-05-6726825d.pth",
        "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
        "pt_inception-2015-12-05-6726825d.pth",
        "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
        "pytorch-fid's FID Inception-v3 (the 2015-12-05 graph)"),
    "vgg16": WeightsFile(
        "vgg16", "vgg16-397923af.pth",
        "https://download.pytorch.org/models/vgg16-397923af.pth",
        "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
        "torchvision's ImageNet VGG16"),
    "lpips": WeightsFile(
        "lpips", "vgg.pth",
        "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/"
        "v0.1/vgg.pth",
        "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
        "the lpips package's v0.1 linear layers for VGG16 (lpips/weights/v0.1/vgg.pth)"),
}


def how_to_get(key, folder=None):
    """The sentence every weights error ends with: where to get the file, where to put it."""
    wf = WEIGHT_FILES[key]
    where = (f"put it in {folder}" if folder else
             f"pass its path, or put it in a folder given by --feature-weights DIR or "
             f"${ENV_VAR}")
    return f"Download {wf.filename} ({wf.what}) from {wf.url} and {where}."


def find_weights(key, weights=None, folder=None):
    """Path of the weight file for `key` ('inception', 'vgg16' or 'lpips').

    Args:
        key: which public file.
        weights: an explicit path (a file, or a folder holding the public name).
        folder: the `--feature-weights` folder; else `$KERAS_STYLEGAN_WEIGHTS`.

    Raises:
        WeightsFileError: not found; the message says what to download and where.
    """
    wf = WEIGHT_FILES[key]
    if weights is not None:
        path = os.fspath(weights)
        if os.path.isdir(path):
            path = os.path.join(path, wf.filename)
        if os.path.isfile(path):
            return path
        raise WeightsFileError(f"{wf.what}: {path} does not exist. {how_to_get(key)}")
    folder = folder or os.environ.get(ENV_VAR)
    if not folder:
        raise WeightsFileError(f"no weights given for {wf.what}. {how_to_get(key)}")
    path = os.path.join(folder, wf.filename)
    if not os.path.isfile(path):
        raise WeightsFileError(f"{wf.what}: {path} not found. {how_to_get(key, folder)}")
    return path


def load_state(key, path, required):
    """{name: array} of `path`, checked to hold `required` {name: shape}.

    Raises:
        WeightsFileError: unreadable, not a checkpoint, or not the expected file.
    """
    try:
        state = read_state_dict(path)
    except CheckpointError as e:
        raise WeightsFileError(f"{e} Expected {WEIGHT_FILES[key].what}. "
                               f"{how_to_get(key)}") from None
    missing = [k for k in required if k not in state]
    wrong = [f"{k} {state[k].shape} (expected {shape})" for k, shape in required.items()
             if k in state and tuple(state[k].shape) != tuple(shape)]
    bad_dtype = [k for k in required if k in state and state[k].dtype.kind != "f"]
    if missing or wrong or bad_dtype:
        detail = "; ".join(filter(None, [
            missing and f"missing {len(missing)} tensors (e.g. {missing[:3]})",
            wrong and f"wrong shapes: {wrong[:3]}",
            bad_dtype and f"non-float tensors {bad_dtype[:3]}"]))
        raise WeightsFileError(f"{path} is not {WEIGHT_FILES[key].what}: {detail}. "
                               f"{how_to_get(key)}")
    return {k: state[k].astype("float32", copy=False) for k in required}

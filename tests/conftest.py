"""Shared test set-up: quiet TensorFlow, locate the official fixtures."""

import json
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = pathlib.Path(
    os.environ.get("KERAS_STYLEGAN_FIXTURES", REPO.parent / "shared" / "fixtures"))
LEGACY = FIXTURES / "legacy"


def fixture_folder(kind, name):
    """Path of `fixtures/KIND/NAME` (kind: legacy, pytorch); a missing fixture
    fails under CI, else skips."""
    path = FIXTURES / kind / name
    if not (path / "manifest.json").is_file():
        msg = (f"fixture {path} not found; set KERAS_STYLEGAN_FIXTURES to the folder "
               f"holding {kind}/")
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def legacy_fixture(name):
    """Path of `fixtures/legacy/NAME` (see `fixture_folder`)."""
    return fixture_folder("legacy", name)


def load_fixture(name):
    """(pickle path, manifest dict, ref npz) of a legacy fixture."""
    path = legacy_fixture(name)
    manifest = json.loads((path / "manifest.json").read_text())
    return path / "network-stripped.pkl", manifest, np.load(path / "ref.npz")


def nchw_to_nhwc(x):
    return np.transpose(x, (0, 2, 3, 1))


def nhwc_to_nchw(x):
    return np.transpose(x, (0, 3, 1, 2))

"""Feature networks (keras_stylegan.metrics) against the reference implementations.

Reference outputs come from pytorch-fid's `InceptionV3([3])`, torchvision's
`vgg16` (fc2 after ReLU) and the `lpips` package's `LPIPS(net='vgg')`, run on
the same seeded random weights (genuine torch.save files) and inputs by
tests/fixtures_gen/make_feature_fixtures.py. The issue's bar: within 1e-4
relative (max abs error over the largest reference value; LPIPS per distance).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import feature_parity
from helpers import paths

REL = 1e-4


def assert_close(ours, ref):
    assert ours.shape == ref.shape
    err = np.abs(ours - ref).max() / np.abs(ref).max()
    assert err < REL, f"max error {err:.2e} of the largest value"


@pytest.mark.parametrize("name", ["inception", "vgg16"])
def test_features_match_reference(name):
    results = feature_parity.run(name)
    assert len(results) >= 1
    for ours, ref in results.values():
        assert_close(ours, ref)
        assert ours.shape[1] == (2048 if name == "inception" else 4096)


def test_lpips_matches_reference():
    (ours, ref), = feature_parity.run("lpips").values()
    assert ref[2] == 0 and ref[0] > 0  # the fixture's third pair is identical
    np.testing.assert_allclose(ours, ref, rtol=REL, atol=1e-7)


def test_lpips_on_jax_backend(tmp_path):
    out = tmp_path / "jax.npz"
    env = dict(os.environ, KERAS_BACKEND="jax", CUDA_VISIBLE_DEVICES="",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-m", "helpers.feature_parity", str(out), "lpips"],
                          cwd=paths.TESTS, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = np.load(out)
    np.testing.assert_allclose(r["lpips_ours"], r["lpips_ref"], rtol=REL, atol=1e-7)


def test_resize_is_pytorch_bilinear():
    """Second code path: bilinear, align_corners=False, evaluated pixel by pixel."""
    from keras_stylegan.metrics.nn_ops import resize_bilinear
    x = np.random.default_rng(1).uniform(size=(1, 7, 5, 2)).astype(np.float32)
    for size in [(11, 3), (7, 5), (2, 13)]:
        got = np.asarray(resize_bilinear(x, size))
        want = np.zeros((1,) + size + (2,), np.float32)
        for o in range(size[0]):
            for p in range(size[1]):
                sy = max((o + 0.5) * 7 / size[0] - 0.5, 0)
                sx = max((p + 0.5) * 5 / size[1] - 0.5, 0)
                y0, x0 = int(sy), int(sx)
                y1, x1 = min(y0 + 1, 6), min(x0 + 1, 4)
                ly, lx = sy - y0, sx - x0
                want[0, o, p] = ((1 - ly) * ((1 - lx) * x[0, y0, x0] + lx * x[0, y0, x1])
                                 + ly * ((1 - lx) * x[0, y1, x0] + lx * x[0, y1, x1]))
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_bad_inputs_and_names():
    from keras_stylegan.metrics import WeightsFileError, feature_network
    from keras_stylegan.metrics.nn_ops import to_float_images
    with pytest.raises(ValueError, match="unknown feature network"):
        feature_network("resnet")
    with pytest.raises(WeightsFileError, match="a pair"):
        feature_network("lpips", weights="vgg.pth")
    with pytest.raises(ValueError, match="3 channels"):
        to_float_images(np.zeros((2, 8, 8), np.uint8))

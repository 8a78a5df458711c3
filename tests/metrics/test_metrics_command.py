"""`keras-stylegan metrics`, as a user runs it: JSON lines, the table, the dataset
feature cache and the errors. Feature networks use the committed random-weight
fixtures under their public file names (--feature-weights); the values are
checked against the library pieces computed separately."""

import json
import os
import shutil

import numpy as np
import pytest

from keras_stylegan import cli
from helpers import paths

DATA = os.path.join(paths.DATA, "metrics")


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("weights")
    for src, public in [("inception_random.pth", "pt_inception-2015-12-05-6726825d.pth"),
                        ("vgg16_random.pth", "vgg16-397923af.pth"),
                        ("lpips_random_lin.pth", "vgg.pth")]:
        shutil.copy(os.path.join(DATA, src), d / public)
    return d


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """A tiny generator saved once (a preset draws new random weights on every load)."""
    from keras_stylegan.loading import load_generator
    path = tmp_path_factory.mktemp("net") / "G.keras"
    load_generator("preset:stylegan-tiny-32").save(path)
    return str(path)


def _run(tmp_path, weights_dir, metrics, outdir, network):
    return cli.main(["metrics", "--network", network, "--data", "builtin:4",
                     "--metrics", metrics, "--feature-weights", str(weights_dir),
                     "--cache-dir", str(tmp_path / "cache"), "--outdir", str(outdir),
                     "--batch", "4"])


def _line(outdir, name):
    lines = open(os.path.join(outdir, f"metric-{name}.jsonl")).read().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


@pytest.mark.slow  # about 70 s of CPU (20 full-size Inception passes); minutes when loaded
def test_metrics_command_end_to_end(tmp_path, weights_dir, network, capsys):
    assert _run(tmp_path, weights_dir, "fid4,kid4_full,ppl4_wend", tmp_path / "a",
                network) == 0
    table = capsys.readouterr().out
    for name in ("fid4", "kid4_full", "ppl4_wend"):
        line = _line(tmp_path / "a", name)
        assert line["metric"] == name and set(line["results"]) == {name}
        assert np.isfinite(line["results"][name]) and name in table
    assert _line(tmp_path / "a", "ppl4_wend")["results"]["ppl4_wend"] >= 0

    # KID from the library pieces, on features of the same generated and real images
    # (KID, a polynomial, is well conditioned; FID's sqrtm of a rank-3 covariance
    # product at N = 4 is not, so FID is only checked to be finite above).
    from keras_stylegan.loading import load_generator
    from keras_stylegan.metrics import distances, evaluate, feature_network
    from keras_stylegan.training.data import open_dataset
    net = feature_network("inception", folder=str(weights_dir))
    G = load_generator(network)
    gen = evaluate.generated_features(G, net, 4, batch_size=4, seed=0)
    reals = next(open_dataset("builtin:4").iter_uint8(4))[1]
    real = np.asarray(net(reals))
    want = distances.kernel_inception_distance(gen, real)
    assert _line(tmp_path / "a", "kid4_full")["results"]["kid4_full"] == pytest.approx(
        want, rel=1e-5)

    # Dataset features are cached (one file per network, data and count) and reused:
    # fid4 and kid4_full read the same 4 reals.
    cached = os.listdir(tmp_path / "cache")
    assert len(cached) == 1
    path = tmp_path / "cache" / cached[0]
    np.testing.assert_allclose(np.load(path), real, rtol=1e-5, atol=1e-5)
    np.save(path, real + 1.0)  # poison the cache: a reused cache changes the result
    assert _run(tmp_path, weights_dir, "kid4_full", tmp_path / "b", network) == 0
    shifted = _line(tmp_path / "b", "kid4_full")["results"]["kid4_full"]
    assert shifted == pytest.approx(distances.kernel_inception_distance(gen, real + 1.0),
                                    rel=1e-5)
    assert shifted != pytest.approx(want, rel=1e-3)


def test_metrics_command_errors(tmp_path, weights_dir, network, capsys):
    assert _run(tmp_path, weights_dir, "fid4,isx", tmp_path, network) == 2
    assert "unknown metric 'isx'" in capsys.readouterr().err
    assert _run(tmp_path, tmp_path / "empty", "ppl4_wend", tmp_path, network) == 2
    err = capsys.readouterr().err
    assert "vgg16-397923af.pth" in err and "download.pytorch.org" in err
    assert cli.main(["metrics", "--network", network, "--metrics", "fid4"]) == 2
    assert "--data" in capsys.readouterr().err

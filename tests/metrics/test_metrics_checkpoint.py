"""The torch-free checkpoint reader and the weight-file lookup (keras_stylegan.metrics).

References: genuine `torch.save` files committed in tests/data/metrics (written by
torch in tests/fixtures_gen/make_feature_fixtures.py: zip format and legacy
format), and NumPy arrays written through tests/helpers/torch_files.py.
"""

import pathlib
import pickle
import zipfile

import numpy as np
import pytest

from keras_stylegan.metrics import torch_checkpoint as tc
from keras_stylegan.metrics import weights as wmod
from helpers.torch_files import LEGACY_MAGIC, Tensor, write_legacy, write_zip
from helpers import paths

DATA = pathlib.Path(paths.DATA) / "metrics"


def test_reads_genuine_torch_files_in_both_formats():
    inc = tc.read_state_dict(DATA / "inception_random.pth")  # zip format
    vgg = tc.read_state_dict(DATA / "vgg16_random.pth")  # legacy format
    lin = tc.read_state_dict(DATA / "lpips_random_lin.pth")  # legacy format
    assert zipfile.is_zipfile(DATA / "inception_random.pth")
    assert not zipfile.is_zipfile(DATA / "vgg16_random.pth")
    assert inc["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert inc["Mixed_7c.branch_pool.conv.weight"].shape == (192, 2048, 1, 1)
    assert inc["Conv2d_1a_3x3.bn.num_batches_tracked"].dtype == np.int64
    assert vgg["classifier.0.weight"].shape == (4096, 25088)
    assert vgg["classifier.0.weight"].dtype == np.float32
    # The fixture stores big weights as strided views: row o starts s0 * o into a
    # shared storage, so consecutive rows are shifted copies of each other.
    w = vgg["classifier.0.weight"]
    s0 = next(s for s in range(1, 25088) if np.array_equal(w[1, :-s], w[0, s:]))
    np.testing.assert_array_equal(w[2, :-2 * s0], w[0, 2 * s0:])
    assert [v.shape for v in lin.values()] == [(1, c, 1, 1) for c in (64, 128, 256, 512, 512)]


@pytest.mark.parametrize("writer", [write_zip, write_legacy])
def test_dtypes_strides_offsets(tmp_path, writer):
    rng = np.random.default_rng(0)
    base = rng.normal(size=40).astype(np.float32)
    half = rng.normal(size=6).astype(np.float16)
    bf_src = rng.normal(size=5).astype(np.float32)
    bf_bits = (bf_src.view(np.uint32) >> 16).astype(np.uint16)  # truncate to bfloat16
    tensors = {
        "view": Tensor(base, shape=(3, 4), stride=(5, 2), offset=7, key="0"),
        "same_storage": Tensor(base, shape=(8,), stride=(1,), offset=30, key="0"),
        "half": Tensor(half),
        "bf16": Tensor(bf_bits, storage="BFloat16Storage"),
        "long": Tensor(np.arange(3, dtype=np.int64)),
        "scalar": Tensor(np.array([42], np.int64), shape=(), stride=()),
    }
    writer(tmp_path / "w.pth", tensors)
    sd = tc.read_state_dict(tmp_path / "w.pth")
    np.testing.assert_array_equal(
        sd["view"], np.lib.stride_tricks.as_strided(base[7:], (3, 4), (20, 8)))
    np.testing.assert_array_equal(sd["same_storage"], base[30:38])
    np.testing.assert_array_equal(sd["half"], half)
    np.testing.assert_array_equal(sd["bf16"], (bf_bits.astype(np.uint32) << 16).view(np.float32))
    np.testing.assert_array_equal(sd["long"], [0, 1, 2])
    assert sd["scalar"].shape == () and sd["scalar"] == 42


def test_refuses_code_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    payload = (b"\x80\x02cos\nsystem\nq\x00X" + len(f"touch {marker}").to_bytes(4, "little")
               + f"touch {marker}".encode() + b"q\x01\x85q\x02Rq\x03.")
    with zipfile.ZipFile(tmp_path / "evil.pth", "w") as zf:
        zf.writestr("archive/data.pkl", payload)
    with pytest.raises(tc.UnsafeCheckpointError, match="os.system"):
        tc.read_state_dict(tmp_path / "evil.pth")
    legacy = pickle.dumps(LEGACY_MAGIC, 2) + pickle.dumps(1001, 2) + pickle.dumps({}, 2)
    (tmp_path / "evil_legacy.pth").write_bytes(legacy + payload)
    with pytest.raises(tc.UnsafeCheckpointError, match="nothing in it was run"):
        tc.read_state_dict(tmp_path / "evil_legacy.pth")
    assert not marker.exists()


def test_refuses_non_numeric_storage(tmp_path):
    write_zip(tmp_path / "c.pth", {"c": Tensor(np.zeros(2, np.float32),
                                                storage="ComplexFloatStorage")})
    with pytest.raises(tc.UnsafeCheckpointError, match="ComplexFloatStorage"):
        tc.read_state_dict(tmp_path / "c.pth")


def test_corrupt_files_give_one_clear_error(tmp_path):
    good = (DATA / "lpips_random_lin.pth").read_bytes()
    cases = {
        "empty.pth": (b"", "neither a zip"),
        "text.pth": (b"hello world", "neither a zip"),
        "truncated.pth": (good[:len(good) // 2], "truncated"),
        "short_data.pth": (good[:-3], "truncated or corrupt"),
        "not_torch.pth": (pickle.dumps({"a": 1}, 2), "magic number"),
    }
    for name, (data, msg) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(tc.CheckpointError, match=msg) as e:
            tc.read_state_dict(tmp_path / name)
        assert name in str(e.value)
    write_zip(tmp_path / "missing.pth", {"a": Tensor(np.zeros(3, np.float32))},
              drop_member="0")
    with pytest.raises(tc.CheckpointError, match="missing from the archive"):
        tc.read_state_dict(tmp_path / "missing.pth")
    write_zip(tmp_path / "past.pth", {"a": Tensor(np.zeros(4, np.float32), shape=(3,),
                                                  stride=(2,))})
    with pytest.raises(tc.CheckpointError, match="reads past its storage"):
        tc.read_state_dict(tmp_path / "past.pth")
    with pytest.raises(tc.CheckpointError, match="cannot read"):
        tc.read_state_dict(tmp_path / "nope.pth")


def test_weights_lookup_and_errors(tmp_path, monkeypatch):
    monkeypatch.delenv(wmod.ENV_VAR, raising=False)
    with pytest.raises(wmod.WeightsFileError) as e:
        wmod.find_weights("inception")
    msg = str(e.value)
    assert "pt_inception-2015-12-05-6726825d.pth" in msg and "github.com/mseitzer" in msg
    assert "--feature-weights" in msg and wmod.ENV_VAR in msg
    (tmp_path / "vgg16-397923af.pth").write_bytes(b"x")
    monkeypatch.setenv(wmod.ENV_VAR, str(tmp_path))
    assert wmod.find_weights("vgg16") == str(tmp_path / "vgg16-397923af.pth")
    assert wmod.find_weights("vgg16", weights=tmp_path) == str(tmp_path / "vgg16-397923af.pth")
    with pytest.raises(wmod.WeightsFileError, match=f"put it in {tmp_path}"):
        wmod.find_weights("lpips")
    with pytest.raises(wmod.WeightsFileError, match="does not exist"):
        wmod.find_weights("lpips", weights=tmp_path / "nope.pth")


def test_wrong_or_bad_file_names_the_expected_one(tmp_path):
    required = {"Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3), "fc.weight": (1008, 2048)}
    with pytest.raises(wmod.WeightsFileError) as e:  # a real checkpoint, wrong network
        wmod.load_state("inception", DATA / "lpips_random_lin.pth", required)
    assert "missing 2 tensors" in str(e.value)
    assert "Download pt_inception-2015-12-05-6726825d.pth" in str(e.value)
    required = {"lin0.model.1.weight": (1, 32, 1, 1)}
    with pytest.raises(wmod.WeightsFileError, match=r"wrong shapes.*\(1, 64, 1, 1\)"):
        wmod.load_state("lpips", DATA / "lpips_random_lin.pth", required)
    (tmp_path / "vgg.pth").write_bytes(b"<html>404</html>")
    with pytest.raises(wmod.WeightsFileError) as e:
        wmod.load_state("lpips", tmp_path / "vgg.pth", required)
    assert "not a PyTorch checkpoint" in str(e.value) and "PerceptualSimilarity" in str(e.value)

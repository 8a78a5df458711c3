"""MirroredStrategy over 2 logical CPU devices gives the same training as one
device; strategy selection from TF_CONFIG."""

import json
import os
import subprocess
import sys

import pytest

from keras_stylegan.training import distribute
from helpers.paths import HELPERS, REPO

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow



@pytest.mark.slow
@pytest.mark.parametrize("mode", ["r1", "stylegan2"])
def test_two_replicas_match_one_device(tmp_path, mode):
    """StyleGAN1 over 3 levels; StyleGAN2 with lazy R1 and path length (whose
    running mean is taken over the global batch) at steps 0 and 4."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, os.path.join(HELPERS, "replicas_check.py"),
                          str(tmp_path), mode], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["strategy"] == "MirroredStrategy with 2 replicas"
    assert result["end_nimg"] == [48, 48]
    assert result["keys_one"] == result["keys_two"]
    diffs = result["diffs"]
    weights = {k: d for k, d in diffs.items() if k.startswith(("G/", "D/", "Gs/"))}
    assert len(weights) > 100
    # Every weight of G, D and Gs (and w_avg, lod) after 6 steps.
    assert max(weights.values()) < 1e-5, sorted(weights.items(), key=lambda kv: -kv[1])[:5]
    assert diffs["cur_nimg/.ATTRIBUTES/VARIABLE_VALUE"] == 0
    # Adam moments: the second moment is squared gradients, compare it relatively.
    assert max(d for k, d in diffs.items() if "_opt/" in k) < 1e-3


def test_task_info_and_multi_worker_detection(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert not distribute.is_multi_worker()
    assert distribute.task_info() == ("chief", 0, True)
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    for index, chief in ((0, True), (1, False)):
        monkeypatch.setenv("TF_CONFIG", json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        assert distribute.is_multi_worker()
        assert distribute.task_info() == ("worker", index, chief)
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": dict(cluster, chief=["127.0.0.1:3"]), "task": {"type": "worker",
                                                                   "index": 0}}))
    assert distribute.task_info() == ("worker", 0, False)
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}))
    assert not distribute.is_multi_worker()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG"):
        distribute.tf_config()


def test_too_many_gpus_is_an_error():
    with pytest.raises(ValueError, match="GPU"):
        distribute.make_strategy(gpus=64)

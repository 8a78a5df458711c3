"""Two local worker processes (MultiWorkerMirroredStrategy, TF_CONFIG on
127.0.0.1) train together and end with identical weights."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers.tiny import free_port

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow

HELPERS = os.path.join(os.path.dirname(__file__), "helpers")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
@pytest.mark.parametrize("family", ["stylegan1", "stylegan2"])
def test_two_workers_train_together(tmp_path, family):
    ports = [free_port(), free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    outdir = str(tmp_path / "run")
    procs = []
    try:
        for index in range(2):
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
                       PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
                       TF_CONFIG=json.dumps({"cluster": cluster,
                                             "task": {"type": "worker", "index": index}}))
            log = open(tmp_path / f"worker{index}.log", "w")
            procs.append(subprocess.Popen(
                [sys.executable, os.path.join(HELPERS, "mw_worker.py"), outdir,
                 str(tmp_path / f"w{index}.npz"), family], env=env, stdout=log, stderr=log))
        deadline = time.time() + 300
        for p in procs:
            p.wait(timeout=max(deadline - time.time(), 1))
    except subprocess.TimeoutExpired:
        pytest.fail("the workers did not finish within 300 s:\n" +
                    (tmp_path / "worker0.log").read_text()[-3000:])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for index, p in enumerate(procs):
        assert p.returncode == 0, (tmp_path / f"worker{index}.log").read_text()[-3000:]
    a, b = (np.load(tmp_path / f"w{i}.npz") for i in range(2))
    assert str(a["strategy"]) == str(b["strategy"]) == "MultiWorkerMirroredStrategy with 2 replicas"
    assert bool(a["is_chief"]) and not bool(b["is_chief"])
    assert int(a["cur_nimg"]) == int(b["cur_nimg"]) == 64
    keys = [k for k in a.files if "/" in k]
    assert len(keys) > 100
    for k in keys:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # The chief wrote the run directory; the other worker's checkpoints went to scratch.
    assert sorted(n for n in os.listdir(os.path.join(outdir, "checkpoints"))
                  if n.endswith(".index")) == ["ckpt-32.index", "ckpt-64.index"]
    assert os.path.exists(os.path.join(outdir, "network-snapshot-000000.keras"))

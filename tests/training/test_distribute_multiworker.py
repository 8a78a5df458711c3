"""Two local worker processes (MultiWorkerMirroredStrategy, TF_CONFIG on
127.0.0.1) train together and end with identical weights."""

import os
import pathlib
import sys

import numpy as np
import pytest

from helpers.workers import run_workers
from helpers.paths import DATA, HELPERS

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow


@pytest.mark.slow
@pytest.mark.parametrize("family", ["stylegan1", "stylegan2"])
def test_two_workers_train_together(tmp_path, family):
    outdir = str(tmp_path / "run")
    commands = [[sys.executable, os.path.join(HELPERS, "mw_worker.py"), outdir,
                 str(tmp_path / f"w{index}.npz"), family] for index in range(2)]
    procs, logs = run_workers(commands, tmp_path, timeout=300)
    for index, p in enumerate(procs):
        assert p.returncode == 0, pathlib.Path(logs[index]).read_text()[-3000:]
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


def test_two_workers_compute_the_metrics_once(tmp_path):
    """`train --metrics` under two workers sharing one run directory: each
    snapshot's metrics are computed once (one JSON line per snapshot; a worker
    computing them too would append its own lines to the same file)."""
    import json
    import shutil
    weights = tmp_path / "weights"
    weights.mkdir()
    for src, public in [("vgg16_random.pth", "vgg16-397923af.pth"),
                        ("lpips_random_lin.pth", "vgg.pth")]:
        shutil.copy(os.path.join(DATA, "metrics", src), weights / public)
    outdir = str(tmp_path / "run")
    commands = [[sys.executable, os.path.join(HELPERS, "mw_worker.py"), outdir,
                 str(tmp_path / f"w{index}.npz"), "stylegan1", "ppl4_wend", str(weights)]
                for index in range(2)]
    procs, logs = run_workers(commands, tmp_path, timeout=400)
    text = [pathlib.Path(log).read_text() for log in logs]
    for index, p in enumerate(procs):
        assert p.returncode == 0, text[index][-3000:]
    with open(os.path.join(outdir, "metric-ppl4_wend.jsonl"), encoding="utf-8") as f:
        lines = [json.loads(line) for line in f.read().splitlines()]
    assert len(lines) == 2  # the snapshots at 32 and 64 images
    assert all(np.isfinite(line["results"]["ppl4_wend"]) for line in lines)
    assert text[0].count("metric ppl4_wend at kimg") == 2  # the chief's log

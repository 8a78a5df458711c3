"""Multi-worker resume needs a shared run directory: two local workers whose
--outdir are separate folders (separate disks), only the chief's holding a
checkpoint, both stop with one clear error instead of dying in a collective
("Shape mismatch") or training from different states."""

import json
import os
import subprocess
import sys
import time

import pytest

from helpers.tiny import free_port

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fake_checkpoint(folder, number):
    """What tf.train.latest_checkpoint looks for: the state file and an index."""
    os.makedirs(folder)
    with open(os.path.join(folder, "checkpoint"), "w") as f:
        f.write(f'model_checkpoint_path: "ckpt-{number}"\n'
                f'all_model_checkpoint_paths: "ckpt-{number}"\n')
    open(os.path.join(folder, f"ckpt-{number}.index"), "wb").close()


def test_workers_that_see_different_checkpoints_refuse_to_resume(tmp_path):
    outdirs = [tmp_path / "chief-disk" / "run", tmp_path / "worker-disk" / "run"]
    _fake_checkpoint(outdirs[0] / "checkpoints", 32)
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    procs, logs = [], []
    try:
        for index in range(2):
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
                       PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
                       TF_CONFIG=json.dumps({"cluster": cluster,
                                             "task": {"type": "worker", "index": index}}))
            logs.append(tmp_path / f"worker{index}.log")
            with open(logs[-1], "w") as log:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "keras_stylegan.cli", "train", "--data", "builtin:64",
                     "--config", "tiny", "--kimg", "0.064", "--outdir", str(outdirs[index])],
                    env=env, stdout=log, stderr=log))
        deadline = time.time() + 240
        for p in procs:
            p.wait(timeout=max(deadline - time.time(), 1))
    except subprocess.TimeoutExpired:
        pytest.fail("the workers did not stop within 240 s:\n" + logs[0].read_text()[-3000:])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for index, p in enumerate(procs):
        text = logs[index].read_text()
        assert p.returncode == 2, text[-3000:]
        errors = [line for line in text.splitlines() if "keras-stylegan train:" in line]
        assert len(errors) == 1 and "Traceback" not in text, text[-3000:]
        assert "The workers see different checkpoints" in errors[0]
        assert "ckpt-32, no checkpoint" in errors[0]
        assert "needs one run directory shared by every worker" in errors[0]
    # The chief's checkpoint is untouched; the worker's empty folder is not left behind.
    assert sorted(os.listdir(outdirs[0] / "checkpoints")) == ["checkpoint", "ckpt-32.index"]
    assert not outdirs[1].exists()

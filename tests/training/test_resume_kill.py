"""Exact resume: a training process SIGKILLed mid-run and restarted with the same
command ends with the same weights, optimizer state and counters as an
uninterrupted run (deterministic ops, one device)."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow

KERAS_STYLEGAN = os.path.join(os.path.dirname(sys.executable), "keras-stylegan")
TOTAL_NIMG = 160


def command(outdir):
    return [KERAS_STYLEGAN, "train", "--config", "tiny", "--data", "builtin:64",
            "--resolution", "16", "--outdir", outdir, "--kimg", str(TOTAL_NIMG / 1000),
            "--deterministic", "--seed", "3", "--checkpoint-kimg", "0.016", "--snap", "1",
            "--mirror", "--set", "lod_training_kimg=0.032", "--set", "lod_transition_kimg=0.032"]


def env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


def checkpoints(outdir):
    folder = os.path.join(outdir, "checkpoints")
    if not os.path.isdir(folder):
        return []
    return sorted(int(n[5:-6]) for n in os.listdir(folder)
                  if n.startswith("ckpt-") and n.endswith(".index"))


def tensors(outdir):
    path = tf.train.latest_checkpoint(os.path.join(outdir, "checkpoints"))
    reader = tf.train.load_checkpoint(path)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if not k.startswith(("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter"))}


@pytest.mark.slow
def test_sigkill_and_resume_matches_uninterrupted_run(tmp_path):
    straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
    subprocess.run(command(straight), env=env(), check=True, timeout=300,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert checkpoints(straight)[-1] == TOTAL_NIMG

    proc = subprocess.Popen(command(killed), env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        # Kill during the 16 px fade-in (checkpoints every 16 images, 8 per step).
        while not any(48 <= c < TOTAL_NIMG for c in checkpoints(killed)):
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.time() < deadline, "no checkpoint appeared"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    at_kill = checkpoints(killed)
    assert at_kill and at_kill[-1] < TOTAL_NIMG

    out = subprocess.run(command(killed), env=env(), timeout=300, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"Resuming from {os.path.join(killed, 'checkpoints', 'ckpt-')}" in out.stdout
    assert checkpoints(killed)[-1] == TOTAL_NIMG

    a, b = tensors(straight), tensors(killed)
    assert sorted(a) == sorted(b) and len(a) > 200
    different = [k for k in a if not np.array_equal(a[k], b[k])]
    assert not different, different[:10]

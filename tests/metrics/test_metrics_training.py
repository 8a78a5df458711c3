"""`train --metrics`: a short tiny-config run over 2 CPU replicas computes the
metrics at every snapshot, writes metric-NAME.jsonl and TensorBoard
`Metrics/...` scalars (read back with TensorBoard's EventAccumulator), and the
values equal `keras-stylegan metrics` on the same snapshot (the second code
path: the snapshot file, one device, no replicas)."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from keras_stylegan import cli
from helpers import paths

DATA = os.path.join(paths.DATA, "metrics")
KERAS_STYLEGAN = os.path.join(os.path.dirname(sys.executable), "keras-stylegan")
METRICS = ["fd_shapes128_full", "ls32", "ppl4_wend"]


def _weights(folder):
    os.makedirs(folder)
    for src, public in [("vgg16_random.pth", "vgg16-397923af.pth"),
                        ("lpips_random_lin.pth", "vgg.pth")]:
        shutil.copy(os.path.join(DATA, src), os.path.join(folder, public))
    return folder


def _seed_judge_cache(cache, resolution):
    """A small built-in judge put where the default one is cached (training the
    default takes minutes): both code paths read this same file."""
    from keras_stylegan.training import builtin_judge
    key, extra = builtin_judge.fingerprint(resolution)
    judge, _ = builtin_judge.train(resolution, num_train=300, epochs=1)
    os.makedirs(cache, exist_ok=True)
    judge.save(os.path.join(cache, f"judge-{key}.npz"), extra)


def _lines(run, name):
    with open(os.path.join(run, f"metric-{name}.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f.read().splitlines()]


@pytest.mark.slow  # 41 s on 2 quiet cores, up to 9 min when loaded (training + 3 metrics x 2)
def test_train_metrics_are_logged_and_equal_the_metrics_command(tmp_path):
    run, cache = str(tmp_path / "run"), str(tmp_path / "cache")
    weights = _weights(str(tmp_path / "weights"))
    _seed_judge_cache(cache, 32)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               KERAS_STYLEGAN_CACHE=cache)
    done = subprocess.run(
        [KERAS_STYLEGAN, "train", "--data", "builtin:256", "--config", "tiny", "--outdir", run,
         "--kimg", "0.128", "--snap", "0.064", "--cpu-replicas", "2",
         "--metrics", ",".join(METRICS), "--feature-weights", weights],
        env=env, timeout=1200, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]

    import tensorflow as tf
    from tensorboard.backend.event_processing import event_accumulator
    events = event_accumulator.EventAccumulator(os.path.join(run, "logs"), size_guidance={
        event_accumulator.TENSORS: 0})
    events.Reload()
    tags = set(events.Tags()["tensors"])  # TF2 writes scalars as tensor summaries
    snapshot = os.path.join(run, "network-snapshot-000000.keras")
    for name in METRICS:
        lines = _lines(run, name)
        assert len(lines) == 2  # the snapshots at 64 and 128 images
        assert lines[-1]["snapshot_pkl"] == os.path.abspath(snapshot)
        assert lines[-1]["num_gpus"] == 2
        for key in lines[-1]["results"]:
            assert f"Metrics/{key}" in tags
            scalars = events.Tensors(f"Metrics/{key}")
            assert [s.step for s in scalars] == [64, 128]
            for s, line in zip(scalars, lines):
                value = float(tf.make_ndarray(s.tensor_proto))
                assert value == pytest.approx(line["results"][key], rel=1e-6)
    assert {"ls32_z", "ls32_w", "ls32_z_shape", "ls32_w_size"} <= set(
        _lines(run, "ls32")[-1]["results"])

    # The second code path: the metrics command on the last snapshot (one device).
    os.environ["KERAS_STYLEGAN_CACHE"] = cache
    try:
        assert cli.main(["metrics", "--network", snapshot, "--metrics", ",".join(METRICS),
                         "--feature-weights", weights, "--outdir", str(tmp_path / "cmd")]) == 0
    finally:
        del os.environ["KERAS_STYLEGAN_CACHE"]
    for name in METRICS:
        want = _lines(str(tmp_path / "cmd"), name)[0]["results"]
        got = _lines(run, name)[-1]["results"]
        assert set(got) == set(want)
        for key in want:  # replicas split the batches: float rounding only
            assert got[key] == pytest.approx(want[key], rel=1e-4), key
            assert np.isfinite(got[key])


def test_bad_metric_names_and_missing_needs_fail_before_training(tmp_path, capsys):
    run = str(tmp_path / "run")
    code = cli.main(["train", "--data", "builtin:64", "--config", "tiny", "--outdir", run,
                     "--metrics", "fid1k,bogus7", "--dry-run"])
    assert code == 2 and "unknown metric 'bogus7'" in capsys.readouterr().err

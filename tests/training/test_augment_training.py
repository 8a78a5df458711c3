"""ADA in a short StyleGAN2 run through the `train` command: p and r_t in
TensorBoard, p following ADA's rule from the logged r_t, p in the
checkpoint, an exact resume, and the option errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_stylegan import cli

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow

# 16 steps of 8 images at 16 px, ADA updates every 4 steps (32 images); with
# ada_kimg 0.1 each update moves p by 32 / 100. Lazy R1 at steps 0 and 8.
ARGS = ["--data", "builtin:64", "--config", "stylegan2-tiny", "--resolution", "16",
        "--kimg", "0.128", "--set", "snap_kimg=0.064", "--set", "D_reg_interval=8",
        "--aug", "ada", "--p", "0.5", "--target", "0.5", "--augpipe", "bgcfnc",
        "--set", "ada_kimg=0.1"]


def checkpoint_tensors(path):
    reader = tf.train.load_checkpoint(path)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if not k.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}


def scalars(run_dir, tag):
    """{step: value} of a TensorBoard scalar, read back from the event files."""
    from tensorboard.backend.event_processing import event_accumulator
    acc = event_accumulator.EventAccumulator(os.path.join(run_dir, "logs"), size_guidance={
        event_accumulator.TENSORS: 0})
    acc.Reload()
    return {e.step: float(tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("ada") / "run")
    assert cli.main(["train", *ARGS, "--outdir", run_dir]) == 0
    return run_dir


def test_config_has_the_options(finished):
    cfg = json.load(open(os.path.join(finished, "config.json")))
    assert (cfg["aug"], cfg["aug_p"], cfg["ada_target"], cfg["augpipe"]) == (
        "ada", 0.5, 0.5, "bgcfnc")
    assert (cfg["ada_kimg"], cfg["ada_interval"]) == (0.1, 4)


def test_tensorboard_p_follows_ada_from_the_logged_r_t(finished):
    p, r_t = scalars(finished, "Progress/augment"), scalars(finished, "Loss/signs/real")
    assert sorted(p) == sorted(r_t) == list(range(8, 129, 8))  # every step (log_steps 1)
    expected, last = 0.5, None
    for nimg in range(8, 129, 8):
        if nimg % 32 == 0:  # end of an interval: r_t of its 32 reals, then p moves
            last = r_t[nimg]
            assert -1 <= last <= 1 and (last * 32) == pytest.approx(round(last * 32))
            expected = max(expected + np.sign(last - 0.5) * 32 / 100, 0.0)
        else:
            assert r_t[nimg] == (0.0 if last is None else last)
        assert p[nimg] == pytest.approx(expected, abs=1e-6), nimg


def test_checkpoint_holds_p(finished):
    latest = tf.train.latest_checkpoint(os.path.join(finished, "checkpoints"))
    saved = checkpoint_tensors(latest)
    p = scalars(finished, "Progress/augment")
    assert float(saved["aug_p/.ATTRIBUTES/VARIABLE_VALUE"]) == pytest.approx(p[128])
    assert saved["aug_signs/.ATTRIBUTES/VARIABLE_VALUE"].tolist() == [0.0, 0.0]


def test_resume_continues_with_the_same_p(finished, tmp_path):
    """Stopped at 48 images (mid-interval: p and the sign accumulator are in
    the checkpoint) and resumed: the same p trajectory and weights as one run."""
    run_dir = str(tmp_path / "resumed")
    first = [a if a != "0.128" else "0.048" for a in ARGS]
    assert cli.main(["train", *first, "--outdir", run_dir]) == 0
    stopped = checkpoint_tensors(tf.train.latest_checkpoint(os.path.join(run_dir,
                                                                         "checkpoints")))
    assert stopped["aug_signs/.ATTRIBUTES/VARIABLE_VALUE"][1] == 16  # 2 steps of 8 reals
    assert cli.main(["train", *ARGS, "--outdir", run_dir]) == 0
    one, resumed = scalars(finished, "Progress/augment"), scalars(run_dir, "Progress/augment")
    assert resumed[56] == pytest.approx(float(stopped["aug_p/.ATTRIBUTES/VARIABLE_VALUE"]))
    for nimg in range(8, 129, 8):
        assert resumed[nimg] == pytest.approx(one[nimg], abs=1e-6), nimg
    a = checkpoint_tensors(tf.train.latest_checkpoint(os.path.join(finished, "checkpoints")))
    b = checkpoint_tensors(tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")))
    for k in sorted(set(a) - {"save_counter/.ATTRIBUTES/VARIABLE_VALUE"}):
        np.testing.assert_allclose(a[k], b[k], rtol=1e-6, atol=1e-7, err_msg=k)


def test_two_replicas_accumulate_the_global_batch(tmp_path):
    """Under MirroredStrategy (2 CPU replicas) the signs are summed over the
    replicas: 2 steps leave 16 reals in the accumulator (8 per replica), and p
    follows the rule from the logged r_t."""
    run_dir = str(tmp_path / "mirrored")
    args = [a if a != "0.128" else "0.048" for a in ARGS] + ["--cpu-replicas", "2"]
    # Own process: the CPU is split into 2 devices before TensorFlow starts.
    out = subprocess.run([sys.executable, "-m", "keras_stylegan.cli", "train", *args,
                          "--outdir", run_dir], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    cfg = json.load(open(os.path.join(run_dir, "config.json")))
    assert cfg["num_replicas"] == 2
    saved = checkpoint_tensors(tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")))
    assert saved["aug_signs/.ATTRIBUTES/VARIABLE_VALUE"][1] == 16
    p, r_t = scalars(run_dir, "Progress/augment"), scalars(run_dir, "Loss/signs/real")
    expected = max(0.5 + np.sign(r_t[32] - 0.5) * 32 / 100, 0.0)
    assert p[24] == 0.5 and p[32] == pytest.approx(expected, abs=1e-6) == p[48]


@pytest.mark.parametrize("extra,message", [
    (["--aug", "fixed"], "--aug fixed needs --p"),
    (["--target", "0.7"], "--target is ADA's target"),
    (["--p", "0.2"], "--p needs --aug fixed"),
    (["--augpipe", "bgc"], "--augpipe needs --aug"),
    (["--aug", "ada", "--augpipe", "xyz"], "Unknown augmentation pipeline 'xyz'"),
    (["--aug", "fixed", "--p", "1.5"], "between 0 and 1"),
    (["--aug", "ada", "--target", "1"], "between 0 and 1"),
])
def test_option_errors(tmp_path, capsys, extra, message):
    code = cli.main(["train", "--data", "builtin:16", "--config", "stylegan2-tiny",
                     "--outdir", str(tmp_path / "x"), "--dry-run", *extra])
    assert code != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_dry_run_shows_the_augmentation(tmp_path, capsys):
    assert cli.main(["train", "--data", "builtin:16", "--config", "stylegan2-tiny",
                     "--outdir", str(tmp_path / "d"), "--dry-run", "--aug", "fixed",
                     "--p", "0.2", "--augpipe", "bgcf"]) == 0
    printed = json.loads(capsys.readouterr().out.split("\n\nSchedule")[0])
    assert (printed["aug"], printed["aug_p"], printed["augpipe"]) == ("fixed", 0.2, "bgcf")

"""A short StyleGAN2 run on the built-in dataset with lazy R1 and path-length
regularization, through the `train` command: run directory, TensorBoard
scalars, snapshot generation, and exact resume across the lazy phases."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_stylegan import cli
from keras_stylegan.loading import load_generator
from keras_stylegan.training import configs, loop
from keras_stylegan.training.data import open_dataset

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow

# 16 steps of 8 images at 16 px: R1 at steps 0 and 16 (not reached: only 0),
# path length at steps 0, 4, 8, 12.
ARGS = ["--data", "builtin:64", "--config", "stylegan2-tiny", "--resolution", "16",
        "--kimg", "0.128", "--set", "snap_kimg=0.064", "--set", "D_reg_interval=8"]


def checkpoint_tensors(path):
    reader = tf.train.load_checkpoint(path)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if not k.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("sg2") / "run")
    assert cli.main(["train", *ARGS, "--outdir", run_dir]) == 0
    return run_dir


def test_run_directory_and_phase_counts(finished):
    cfg = json.load(open(os.path.join(finished, "config.json")))
    assert (cfg["family"], cfg["progressive"], cfg["resolution"]) == ("stylegan2", False, 16)
    assert (cfg["D_reg_interval"], cfg["G_reg_interval"], cfg["pl_weight"]) == (8, 4, 2.0)
    latest = tf.train.latest_checkpoint(os.path.join(finished, "checkpoints"))
    saved = checkpoint_tensors(latest)
    value = lambda name: saved[f"{name}/.ATTRIBUTES/VARIABLE_VALUE"]  # noqa: E731
    assert int(value("cur_nimg")) == 128 and int(value("num_steps")) == 16
    # 16 main updates each; path length at steps 0, 4, 8, 12; R1 at 0 and 8.
    assert int(value("G_opt/_iterations")) == 16 + 4
    assert int(value("D_opt/_iterations")) == 16 + 2
    assert float(value("pl_mean")) > 0 and np.all(value("last_reg") > 0)
    # NVIDIA's lazy-regularization correction of Adam's learning rate.
    assert float(value("G_opt/_learning_rate")) == pytest.approx(0.002 * 4 / 5)
    assert float(value("D_opt/_learning_rate")) == pytest.approx(0.002 * 8 / 9)
    log = open(os.path.join(finished, "log.txt")).read()
    assert "Level 16x16 (stable)" in log and "kimg 0.13" in log


def test_tensorboard_has_the_regularizers(finished):
    from tensorboard.backend.event_processing import event_accumulator
    acc = event_accumulator.EventAccumulator(os.path.join(finished, "logs"), size_guidance={
        event_accumulator.TENSORS: 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    assert {"Loss/R1_penalty", "Loss/path_length_penalty", "Loss/path_length_mean",
            "Gs/fakes"} <= tags
    means = [float(tf.make_ndarray(e.tensor_proto)) for e in
             acc.Tensors("Loss/path_length_mean")]
    assert len(means) >= 8 and means[-1] > 0


def test_snapshot_generates(finished):
    G = load_generator(finished)
    assert G.family == "stylegan2" and G.resolution == 16
    images = G(np.random.RandomState(0).randn(4, G.z_dim).astype(np.float32),
               truncation_psi=0.7, noise_mode="const")
    assert images.shape == (4, 16, 16, 3) and np.all(np.isfinite(images))


def test_resume_across_lazy_phases_matches_one_run(finished, tmp_path):
    """Stopped at step 6 (between regularization steps) and resumed: the step
    counter picks the same phases, so the weights are those of one run."""
    run_dir = str(tmp_path / "resumed")
    first = [a if a != "0.128" else "0.048" for a in ARGS]
    assert cli.main(["train", *first, "--outdir", run_dir]) == 0
    assert cli.main(["train", *ARGS, "--outdir", run_dir]) == 0
    a = checkpoint_tensors(tf.train.latest_checkpoint(os.path.join(finished, "checkpoints")))
    b = checkpoint_tensors(tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")))
    assert sorted(a) == sorted(b)
    for k in sorted(set(a) - {"save_counter/.ATTRIBUTES/VARIABLE_VALUE"}):
        np.testing.assert_allclose(a[k], b[k], rtol=1e-6, atol=1e-7, err_msg=k)


def test_dry_run_and_config_errors(tmp_path, capsys):
    assert cli.main(["train", "--data", "builtin:16", "--config", "stylegan2-tiny",
                     "--outdir", str(tmp_path / "d"), "--dry-run"]) == 0
    printed = json.loads(capsys.readouterr().out.split("\n\nSchedule")[0])
    assert printed["family"] == "stylegan2" and printed["pl_batch_shrink"] == 2
    ds = open_dataset("builtin:16", resolution=16)
    with pytest.raises(ValueError, match="pl_batch_shrink"):
        loop.prepare(configs.get("stylegan2-tiny", pl_batch_shrink=3), str(tmp_path / "e"),
                     dataset=ds).build()

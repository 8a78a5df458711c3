"""A whole tiny run in-process: run directory, snapshots, checkpoints, resume
checks and the `train` command line."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras_stylegan.training import configs, loop
from keras_stylegan.training.data import open_dataset
from PIL import Image

from keras_stylegan import cli
from keras_stylegan.generate import image_grid
from keras_stylegan.networks.generator import Generator
from keras_stylegan.ops.basic import to_uint8

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow


def tiny_config(**overrides):
    base = dict(lod_training_kimg=0.032, lod_transition_kimg=0.032, total_kimg=0.096,
                snap_kimg=0.048, checkpoint_kimg=0.032, keep_checkpoints=2, tick_kimg=0.032,
                log_steps=1, grid_scale=2)
    base.update(overrides)
    return configs.get("tiny", **base)


@pytest.fixture(scope="module")
def dataset():
    return open_dataset("builtin:64", resolution=16)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, dataset):
    run_dir = str(tmp_path_factory.mktemp("run") / "run")
    lines = []
    result = loop.train(tiny_config(), run_dir, dataset=dataset, print_fn=lines.append)
    return run_dir, result, lines


def checkpoint_tensors(path):
    reader = tf.train.load_checkpoint(path)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if not k.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}


def test_run_directory(finished):
    run_dir, result, lines = finished
    assert result["end_nimg"] == 96 and result["start_nimg"] == 0
    cfg = json.load(open(os.path.join(run_dir, "config.json")))
    assert (cfg["resolution"], cfg["num_replicas"], cfg["label_size"]) == (16, 1, 0)
    assert cfg["strategy"].startswith("single device")
    log = open(os.path.join(run_dir, "log.txt")).read()
    ticks = [line for line in lines if line.startswith("tick")]
    assert len(ticks) == 3 and all(t in log for t in ticks)
    for field in ("kimg 0.10", "lod 0.00", "s/kimg", "ETA"):
        assert field in ticks[-1]
    assert "Level 16x16 (fade-in)" in log
    names = sorted(os.listdir(run_dir))
    assert {"reals.png", "fakes000000.png", "network-snapshot-000000.keras", "logs",
            "checkpoints"} <= set(names)
    assert not [n for n in names if n.startswith(".tmp")]
    ckpts = sorted(n for n in os.listdir(os.path.join(run_dir, "checkpoints"))
                   if n.endswith(".index"))
    assert ckpts == ["ckpt-64.index", "ckpt-96.index"]  # keep_checkpoints=2
    assert result["checkpoint"].endswith("ckpt-96")


def test_snapshot_loads_and_reproduces_the_grid(finished):
    run_dir, result, _ = finished
    G = keras.saving.load_model(os.path.join(run_dir, "network-snapshot-000000.keras"))
    assert isinstance(G, Generator) and G.name == "Gs"
    saved = checkpoint_tensors(result["checkpoint"])
    for v in G.weights:
        key = "Gs/" + v.path.replace("/", "..") + "/.ATTRIBUTES/VARIABLE_VALUE"
        np.testing.assert_array_equal(v.numpy(), saved[key], err_msg=v.path)
    z = np.random.RandomState(0).randn(32, G.z_dim).astype(np.float32)
    generate = tf.function(lambda z: G(z, labels=None, noise_mode="const"))  # as the callback
    grid = image_grid(to_uint8(generate(z)), cols=8)
    png = np.asarray(Image.open(os.path.join(run_dir, "fakes000000.png")))
    assert png.shape == (128, 256, 3)  # grid_scale 2: every pixel a 2x2 block
    assert np.abs(np.kron(grid, np.ones((2, 2, 1), np.uint8)).astype(int) - png).max() <= 1


def test_checkpoint_holds_every_variable_and_restores(finished, dataset):
    run_dir, result, _ = finished
    saved = checkpoint_tensors(result["checkpoint"])
    run = loop.prepare(tiny_config(), run_dir, dataset=dataset, print_fn=lambda *a: None)
    run.build()
    gan = run.gan
    opt_vars = list(gan.G_opt.variables) + list(gan.D_opt.variables)
    every = list(gan.G.weights) + list(gan.D.weights) + list(gan.Gs.weights) + opt_vars
    before = {id(v): v.numpy().copy() for v in every}
    assert run.restore(resume=True) == result["checkpoint"]
    assert int(gan.cur_nimg.numpy()) == 96 and float(gan.lod.numpy()) == 0.0
    by_value = {}
    for key, value in saved.items():
        by_value.setdefault(value.tobytes(), []).append(key)
    changed = 0
    for v in every:
        value = v.numpy()
        assert value.tobytes() in by_value, f"{v.path} is not in the checkpoint"
        changed += not np.array_equal(value, before[id(v)])
    assert changed > len(every) // 2
    for m, prefix in ((gan.G, "G"), (gan.D, "D"), (gan.Gs, "Gs")):
        for v in m.weights:
            key = f"{prefix}/" + v.path.replace("/", "..") + "/.ATTRIBUTES/VARIABLE_VALUE"
            np.testing.assert_array_equal(v.numpy(), saved[key])
    assert int(gan.G_opt.iterations.numpy()) == 4  # reset at each of the 3 segments
    keras.config.set_dtype_policy("float32")


def test_resume_checks_the_config(finished, dataset):
    run_dir, _, _ = finished
    with pytest.raises(loop.ResumeError, match=r"r1_gamma: 10.0 -> 5.0"):
        loop.train(tiny_config(r1_gamma=5.0), run_dir, dataset=dataset,
                   print_fn=lambda *a: None)
    # A finished run re-run with the same options does no more steps.
    result = loop.train(tiny_config(), run_dir, dataset=dataset, print_fn=lambda *a: None)
    assert result["start_nimg"] == result["end_nimg"] == 96


def test_steps_per_execution_gives_the_same_run(finished, tmp_path, dataset):
    run_dir, result, _ = finished
    other = loop.train(tiny_config(steps_per_execution=2), str(tmp_path / "spe2"),
                       dataset=dataset, print_fn=lambda *a: None)
    assert other["end_nimg"] == 96
    a, b = checkpoint_tensors(result["checkpoint"]), checkpoint_tensors(other["checkpoint"])
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-6, atol=1e-6, err_msg=k)


def test_resume_flag_requires_a_checkpoint(tmp_path, dataset):
    with pytest.raises(loop.ResumeError, match="no checkpoint"):
        loop.train(tiny_config(), str(tmp_path / "empty"), resume=True, dataset=dataset)


def test_dry_run_prints_the_resolved_config(tmp_path, capsys):
    out = tmp_path / "dry"
    code = cli.main(["train", "--data", "builtin:64", "--resolution", "16", "--config", "tiny",
                     "--outdir", str(out), "--kimg", "0.2", "--gamma", "5", "--mirror",
                     "--batch", "16", "--set", "style_mixing_prob=0.5", "--dry-run"])
    assert code == 0
    text = capsys.readouterr().out
    cfg = json.loads(text[:text.index("\nSchedule")])
    assert (cfg["total_kimg"], cfg["r1_gamma"], cfg["mirror_augment"]) == (0.2, 5.0, True)
    assert (cfg["minibatch_base"], cfg["minibatch_dict"]) == (16, {})
    assert cfg["style_mixing_prob"] == 0.5 and cfg["resolution"] == 16
    assert "16 px fade-in" in text and "minibatch 16" in text
    assert not out.exists()
    # --labels FACTORS: conditional on those built-in factors (label size 5 for shape).
    assert cli.main(["train", "--data", "builtin:64", "--resolution", "16", "--config", "tiny",
                     "--outdir", str(out), "--labels", "shape", "--dry-run"]) == 0
    text = capsys.readouterr().out
    cfg = json.loads(text[:text.index("\nSchedule")])
    assert (cfg["use_labels"], cfg["label_size"]) == ("shape", 5)
    assert cli.main(["train", "--data", "builtin:64", "--config", "tiny", "--outdir", str(out),
                     "--labels", "hue", "--dry-run"]) == 2
    assert "Unknown built-in label factor(s) ['hue']" in capsys.readouterr().err
    # builtin_fixed: factors held fixed (cpu-demo centres its objects); bad ones are errors.
    assert cli.main(["train", "--data", "builtin:64", "--config", "tiny", "--outdir", str(out),
                     "--set", 'builtin_fixed={"x": 0.5, "y": 0.5}', "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert json.loads(text[:text.index("\nSchedule")])["builtin_fixed"] == {"x": 0.5, "y": 0.5}
    assert cli.main(["train", "--data", "builtin:64", "--config", "tiny", "--outdir", str(out),
                     "--set", 'builtin_fixed={"x": 0.9}', "--dry-run"]) == 2
    assert "x=0.9 must be a number in [0.34, 0.66]" in capsys.readouterr().err


def test_cli_errors(tmp_path, capsys):
    assert cli.main(["train", "--outdir", str(tmp_path), "--set", "nope=1", "--dry-run"]) == 2
    assert "Unknown config key 'nope'" in capsys.readouterr().err
    assert cli.main(["train", "--outdir", str(tmp_path), "--data", str(tmp_path / "missing"),
                     "--dry-run"]) == 2
    assert "does not exist" in capsys.readouterr().err

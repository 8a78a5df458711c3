"""Under KERAS_BACKEND=jax, `train` and `export` (TensorFlow only) fail with one
clear error; `generate` and `info` work and agree with the TensorFlow backend."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from keras_stylegan import cli, presets

# Runs cli.main for each command line in one JAX process; prints JSON results.
SCRIPT = """
import contextlib, io, json, sys
import keras
from keras_stylegan import cli
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    results.append(dict(rc=rc, out=out.getvalue(), err=err.getvalue()))
print(json.dumps(dict(backend=keras.backend.backend(), results=results)))
"""


@pytest.mark.slow  # ~25 s: a JAX subprocess
def test_train_and_export_need_tensorflow_generate_and_info_run_on_jax(tmp_path, capsys):
    net = str(tmp_path / "G.keras")
    presets.generator("stylegan-tiny-32").save(net)
    gen_args = ["--network", net, "--seeds", "3", "--noise-mode", "const"]
    assert cli.main(["info", net]) == 0
    assert cli.main(["generate"] + gen_args + ["--outdir", str(tmp_path / "tf")]) == 0
    tf_info = capsys.readouterr().out.splitlines()[:1]

    outdir = tmp_path / "run"
    commands = [
        ["train", "--data", "builtin:16", "--config", "tiny", "--outdir", str(outdir),
         "--kimg", "0.01"],
        ["export", "--network", net, "--out", str(tmp_path / "models")],
        ["export", "--network", net, "--format", "tflite", "--out", str(tmp_path / "g.tflite")],
        ["info", net],
        ["generate"] + gen_args + ["--outdir", str(tmp_path / "jax")],
    ]
    env = dict(os.environ, KERAS_BACKEND="jax")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(commands)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["backend"] == "jax"
    train, export, tflite, info, generate = report["results"]
    for name, result in (("train", train), ("export", export), ("export", tflite)):
        # Before: raw TensorFlow/JAX errors (a Checkpoint "trackable object" error, ...).
        assert result["rc"] == 2, result
        assert result["err"].strip().splitlines() == [
            f"keras-stylegan {name}: error: {name} needs the TensorFlow backend, but Keras "
            "is using 'jax' (KERAS_BACKEND or ~/.keras/keras.json): run it with "
            "KERAS_BACKEND=tensorflow (generate and info work on any backend)"]
    assert not outdir.exists() and not (tmp_path / "models").exists()
    assert info["rc"] == 0 and info["out"].splitlines()[:1] == tf_info
    assert generate["rc"] == 0, generate["err"][-2000:]
    a = np.asarray(Image.open(tmp_path / "tf" / "seed0003.png")).astype(int)
    b = np.asarray(Image.open(tmp_path / "jax" / "seed0003.png")).astype(int)
    assert np.abs(a - b).mean() < 0.5 and np.abs(a - b).max() <= 8  # float32 on two backends

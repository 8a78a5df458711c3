"""The README's promise for `make demo`: the `cpu-demo` run (about 8.5 minutes on
2 CPU cores) draws recognisable shapes. Judged by a classifier trained on real
built-in images of another seed (`bench/demo_shapes.py`), not by the GAN code."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
KERAS_STYLEGAN = os.path.join(os.path.dirname(sys.executable), "keras-stylegan")


@pytest.mark.slow
def test_cpu_demo_draws_the_shape_asked_for(tmp_path):
    import demo_shapes  # bench/demo_shapes.py

    from keras_stylegan.loading import load_generator

    run = str(tmp_path / "demo")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([KERAS_STYLEGAN, "train", "--data", "builtin", "--config", "cpu-demo",
                           "--outdir", run], env=env, timeout=1800, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    G = load_generator(run)
    classifier, real_accuracy = demo_shapes.train_classifier(G.resolution)
    assert real_accuracy > 0.97  # the judge itself knows the shapes
    counts = demo_shapes.confusion(G, classifier, per_class=200)
    accuracy = counts.diagonal() / counts.sum(axis=1)
    # Chance is 0.2. The demo measured 0.85 (seed 0) and 0.89 (seed 1); with the
    # positions varying too it gets 0.63 with pluses at 0.20, the previous demo 0.33.
    assert accuracy.mean() >= 0.6 and accuracy.min() >= 0.4, counts

"""`make demo`'s training, as the demo runs it, learns the data: a short run of
the `cpu-demo` config through the console script (the demo's command with
`--kimg`), judged by a network trained on real built-in images of another
seed (the built-in judge of `keras-stylegan metrics`, through
`bench/demo_shapes.py`), not by the GAN code.

The full demo (250 kimg) takes most of an hour on this project's 2-core CI
machines, too long for CI; its promise (a classifier sees the asked-for shape
in 85% of the images) is measured by `bench/demo_shapes.py` and recorded in
docs/BENCHMARKS.md. This test trains the first `KIMG` of the same run and
checks what it must already show: the Fréchet distance between Gs's images
and real images, in the judge's feature space, falls to well below that of
the untrained Gs (a broken training step, loss sign, optimizer, EMA or data
pipeline leaves it where it was).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
KERAS_STYLEGAN = os.path.join(os.path.dirname(sys.executable), "keras-stylegan")
KIMG = 10
# Measured on the 2-core CI machine kind (2026-12-05, heavily loaded), with the
# built-in judge: 3796 for the untrained Gs, 205 after 10 kimg (a ratio of 0.05).
# (The earlier shape-only judge gave 2816 -> 302.)
MAX_RATIO = 0.3


@pytest.mark.slow
def test_cpu_demo_training_learns_the_data(tmp_path):
    import demo_shapes  # bench/demo_shapes.py

    from keras_stylegan.loading import load_generator
    from keras_stylegan.training import loop

    run = str(tmp_path / "demo")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([KERAS_STYLEGAN, "train", "--data", "builtin", "--config", "cpu-demo",
                           "--outdir", run, "--kimg", str(KIMG)], env=env, timeout=1800,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(os.path.join(run, "config.json"), encoding="utf-8") as f:
        untrained = loop.prepare(json.load(f), run, print_fn=lambda *a: None).build().gan.Gs
    trained = load_generator(run)

    judge = demo_shapes.Judge(trained.resolution, cache_dir=str(tmp_path / "cache"))
    assert judge.real_accuracy > 0.95  # the judge itself knows the shapes
    reals = judge.real_features(lod=trained.synthesis.lod.numpy())
    before = judge.frechet_distance(untrained, reals)
    after = judge.frechet_distance(trained, reals)
    assert after < MAX_RATIO * before, (before, after)
    assert np.isfinite(after)

"""A real `tensorboard` server over a finished tiny run: scalars and image grids
read back through its HTTP API."""

import io
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest
from PIL import Image

from helpers.tiny import free_port
from keras_stylegan.training import configs, loop
from keras_stylegan.training.data import open_dataset
from keras_stylegan.training.schedule import Schedule

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow

TENSORBOARD = os.path.join(os.path.dirname(sys.executable), "tensorboard")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("tb") / "run")
    cfg = configs.get("tiny", lod_training_kimg=0.032, lod_transition_kimg=0.032,
                      total_kimg=0.064, snap_kimg=0.032, log_steps=1, tick_kimg=1)
    loop.train(cfg, path, dataset=open_dataset("builtin:64", resolution=16),
               print_fn=lambda *a: None)
    return path


@pytest.fixture(scope="module")
def server(run_dir):
    if not os.path.exists(TENSORBOARD):
        pytest.fail(f"{TENSORBOARD} not found: install tensorboard in the virtual environment")
    port = free_port()
    proc = subprocess.Popen(
        [TENSORBOARD, "--logdir", os.path.join(run_dir, "logs"), "--host", "127.0.0.1",
         "--port", str(port), "--reload_interval", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                tags = get_json(base, "/data/plugin/scalars/tags")
                if "Loss/G" in tags.get(".", {}) and get_json(
                        base, "/data/plugin/images/tags").get(".", {}).get("Gs/fakes"):
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                pytest.fail("tensorboard exited: " + proc.stderr.read().decode()[-2000:])
            if time.time() > deadline:
                pytest.fail("tensorboard did not serve the run within 90 s")
            time.sleep(0.5)
        yield base
    finally:
        proc.kill()
        proc.wait(timeout=30)


def get(base, path, **params):
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=20) as r:
        return r.read()


def get_json(base, path, **params):
    return json.loads(get(base, path, **params))


def test_scalars(server):
    tags = set(get_json(server, "/data/plugin/scalars/tags")["."])
    assert {"Loss/G", "Loss/D", "Loss/R1_penalty", "Progress/lod", "Progress/kimg",
            "Timing/sec_per_kimg", "Timing/images_per_sec", "LearningRate/G",
            "LearningRate/D"} <= tags
    # [wall_time, step, value]; the step is the image counter after the train step.
    kimg = get_json(server, "/data/plugin/scalars/scalars", run=".", tag="Progress/kimg")
    assert [s for _, s, _ in kimg] == list(range(8, 72, 8))
    np.testing.assert_allclose([v for _, _, v in kimg], np.arange(8, 72, 8) / 1000, rtol=1e-6)
    schedule = Schedule(16, lod_training_kimg=0.032, lod_transition_kimg=0.032)
    lod = get_json(server, "/data/plugin/scalars/scalars", run=".", tag="Progress/lod")
    np.testing.assert_allclose([v for _, _, v in lod], [schedule.lod(s - 8) for _, s, _ in lod],
                               atol=1e-6)
    g_loss = [v for _, _, v in get_json(server, "/data/plugin/scalars/scalars", run=".",
                                        tag="Loss/G")]
    assert len(g_loss) == 8 and np.all(np.isfinite(g_loss)) and np.all(np.array(g_loss) > 0)
    lr = get_json(server, "/data/plugin/scalars/scalars", run=".", tag="LearningRate/G")
    np.testing.assert_allclose([v for _, _, v in lr], 0.001)


def test_image_grids(server, run_dir):
    images = get_json(server, "/data/plugin/images/images", run=".", tag="Gs/fakes")
    assert [im["step"] for im in images] == [32, 64]
    png = get(server, "/data/plugin/images/individualImage" + "?" + images[-1]["query"])
    served = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    on_disk = np.asarray(Image.open(os.path.join(run_dir, "fakes000000.png")))
    np.testing.assert_array_equal(served, on_disk)  # the final grid, both ways

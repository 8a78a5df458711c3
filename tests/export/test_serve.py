"""`keras-stylegan serve` as a real HTTP server (a subprocess on 127.0.0.1).

Every endpoint is exercised with the standard library's HTTP client; images
are checked against the Keras generator (fed the NumPy twin of the seed
noise) and NVIDIA's fixture outputs. Bad requests must get a 4xx JSON error
and leave the server serving; a bounded burst of concurrent requests must get
no 5xx and lose no response. The server process is always killed.
"""

import concurrent.futures
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, nchw_to_nhwc
from keras_stylegan.export.noise import seed_noise_np
from keras_stylegan.export.tflite import convert
from keras_stylegan import to_uint8
from keras_stylegan.generate import image_grid, latents_from_seeds
from test_export import exported
from helpers.http_client import request as http_request

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow

MAX_BATCH = 8
MAX_BYTES = 200_000
START_TIMEOUT = 120


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `keras-stylegan serve` subprocess and a small HTTP client for it."""

    def __init__(self, base_path, *extra, log_path):
        self.port = free_port()
        self.log = open(log_path, "w")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "keras_stylegan.cli", "serve", "--model-base-path",
             str(base_path), "--host", "127.0.0.1", "--port", str(self.port), *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        self.log_path = log_path

    def wait_ready(self, path):
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if self.get(path, timeout=5)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        with open(self.log_path) as f:
            raise AssertionError(f"server did not start:\n{f.read()[-3000:]}")

    def request(self, method, path, body=None, headers=None, timeout=60):
        return http_request(self.port, method, path, body, headers, timeout)

    def get(self, path, timeout=60):
        return self.request("GET", path, timeout=timeout)

    def get_json(self, path):
        status, ctype, data = self.get(path)
        assert ctype == "application/json", (status, data[:200])
        return status, json.loads(data)

    def post_json(self, path, obj=None, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        status, ctype, data = self.request("POST", path, body,
                                           {"Content-Type": "application/json"})
        assert ctype == "application/json", (status, data[:200])
        return status, json.loads(data)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.log.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A model base folder: sg1 v1 (SavedModel), v2 (TFLite, seed noise), v9 (broken);
    sg1c v1 (conditional SavedModel); and the running server."""
    sg1 = exported("sg1_r32", tmp_path_factory)
    cond = exported("sg1_r32_cond", tmp_path_factory)
    base = tmp_path_factory.mktemp("serving")
    shutil.copytree(sg1["path"], base / "sg1" / "1")
    (base / "sg1" / "2").mkdir()
    (base / "sg1" / "2" / "model.tflite").write_bytes(convert(sg1["G"], batch=2, noise="input"))
    (base / "sg1" / "9").mkdir()
    (base / "sg1" / "9" / "saved_model.pb").write_bytes(b"not a SavedModel")
    (base / "sg1" / ".tmp-3-abc").mkdir()  # an unfinished export: ignored
    shutil.copytree(cond["path"], base / "sg1c" / "1")
    server = Server(base, "--max-batch", str(MAX_BATCH), "--max-request-bytes",
                    str(MAX_BYTES), "--max-inflight", "2", "--max-queue", "64",
                    log_path=tmp_path_factory.mktemp("log") / "server.log")
    try:
        yield dict(server=server.wait_ready("/v1/models/sg1"), sg1=sg1, cond=cond, base=base)
    finally:
        server.stop()


def expected_images(G, seeds, psi, labels=None, noise="seed"):
    """uint8 images of the Keras generator for `seeds` (z and noise from the seeds)."""
    z = latents_from_seeds(seeds, G.z_dim)
    kw = {"labels": labels} if labels is not None else {}
    if noise == "seed":
        kw["noise"] = seed_noise_np(np.asarray(seeds), G.synthesis.noise_shapes)
    else:
        kw["noise_mode"] = "const"
    return to_uint8(G(z, truncation_psi=psi, **kw))


def png(data):
    return np.asarray(Image.open(io.BytesIO(data)))


# Status and metadata ----------------------------------------------------------------------------

def test_model_status(setup):
    s = setup["server"]
    status, body = s.get_json("/v1/models/sg1")
    assert status == 200
    rows = {r["version"]: r for r in body["model_version_status"]}
    assert sorted(rows) == ["1", "2", "9"]
    for v in ("1", "2"):
        assert rows[v]["state"] == "AVAILABLE" and rows[v]["status"]["error_code"] == "OK"
    assert rows["9"]["state"] == "END" and rows["9"]["status"]["error_message"]
    status, body = s.get_json("/v1/models/sg1/versions/1")
    assert status == 200 and [r["version"] for r in body["model_version_status"]] == ["1"]
    for path in ("/v1/models/nope", "/v1/models/sg1/versions/5", "/v1/models/nope/metadata",
                 "/v1/models/sg1/versions/9/metadata"):
        status, body = s.get_json(path)
        assert status == 404 and isinstance(body["error"], str), path


def test_start_up_prints_the_bounds(setup):
    with open(setup["server"].log_path) as f:
        log = f.read()
    assert (f"bounds: {MAX_BATCH} samples or images per request, bodies up to {MAX_BYTES} "
            "bytes, head within 10 s, body within 30 s, 128 connections") in log


@pytest.mark.parametrize("flag,value", [("--header-timeout", "0"), ("--body-timeout", "nan"),
                                        ("--max-request-bytes", "0")])
def test_bad_bounds_are_usage_errors(tmp_path, capsys, flag, value):
    from keras_stylegan.cli import main
    assert main(["serve", "--model-base-path", str(tmp_path), flag, value]) == 2
    assert flag in capsys.readouterr().err


def test_metadata(setup):
    s = setup["server"]
    status, body = s.get_json("/v1/models/sg1/versions/1/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": "sg1", "signature_name": "", "version": "1"}
    sigs = body["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "generate", "generate_const", "mapping", "synthesis",
            "synthesis_const", "mix", "mix_const"} <= set(sigs)
    z = sigs["generate"]["inputs"]["z"]
    assert z["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in z["tensor_shape"]["dim"]] == ["-1", "64"]
    assert sigs["generate"]["inputs"]["seed"]["dtype"] == "DT_INT64"
    assert sigs["generate"]["outputs"]["images"]["dtype"] == "DT_UINT8"
    assert sigs["generate"]["method_name"] == "tensorflow/serving/predict"
    status, latest = s.get_json("/v1/models/sg1/metadata")  # latest loaded: the TFLite v2
    assert latest["model_spec"]["version"] == "2"
    lite = latest["metadata"]["signature_def"]["signature_def"]
    assert list(lite) == ["serving_default"]
    assert set(lite["serving_default"]["inputs"]) == {"z", "truncation_psi", "seed"}


# Predict ----------------------------------------------------------------------------------------

def test_predict_row_format_generate(setup):
    s, G = setup["server"], setup["sg1"]["G"]
    seeds = [3, 8]
    z = latents_from_seeds(seeds, G.z_dim)
    instances = [{"z": z[i].tolist(), "truncation_psi": 0.7, "seed": seeds[i]} for i in range(2)]
    status, body = s.post_json("/v1/models/sg1/versions/1:predict", {"instances": instances})
    assert status == 200, body
    preds = body["predictions"]
    assert len(preds) == 2 and set(preds[0]) == {"images", "images_float"}
    noise = seed_noise_np(np.array(seeds), G.synthesis.noise_shapes)
    expected = np.asarray(G(z, truncation_psi=0.7, noise=noise))
    got = np.array([p["images_float"] for p in preds], np.float32)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    u8 = np.array([p["images"] for p in preds])
    assert np.abs(u8 - to_uint8(expected).astype(int)).max() <= 1


def test_predict_columnar_reproduces_nvidia(setup):
    s, ref = setup["server"], setup["sg1"]["ref"]
    z = ref["latents"][:3]
    status, body = s.post_json("/v1/models/sg1/versions/1:predict", {
        "signature_name": "generate_const",
        "inputs": {"z": z.tolist(), "truncation_psi": [0.7, 0.7, 0.7]}})
    assert status == 200, body
    out = body["outputs"]
    np.testing.assert_allclose(np.array(out["images_float"], np.float32),
                               nchw_to_nhwc(ref["gs_psi0.7"][:3]), atol=1e-4, rtol=0)
    assert np.abs(np.array(out["images"]) - ref["gs_psi0.7_uint8"][:3].astype(int)).max() <= 1


def test_predict_single_output_signature_and_conditional(setup):
    """One output: predictions / outputs carry the bare value (TF Serving's rule)."""
    s, cond = setup["server"], setup["cond"]
    ref = cond["ref"]
    rows = [{"z": ref["latents"][i].tolist(), "labels": ref["labels"][i].tolist(),
             "truncation_psi": 1.0} for i in range(2)]
    status, body = s.post_json("/v1/models/sg1c:predict",
                               {"signature_name": "mapping", "instances": rows})
    assert status == 200, body
    np.testing.assert_allclose(np.array(body["predictions"], np.float32), ref["mapping"][:2],
                               atol=1e-4, rtol=0)
    status, body = s.post_json("/v1/models/sg1c:predict", {
        "signature_name": "synthesis_const", "inputs": ref["mapping"][:2].tolist()})
    assert status == 200, body
    np.testing.assert_allclose(np.array(body["outputs"]["images_float"], np.float32),
                               nchw_to_nhwc(ref["synthesis_from_mapping"][:2]), atol=1e-4)


def test_predict_on_the_tflite_version(setup):
    s, G = setup["server"], setup["sg1"]["G"]
    seeds = [1, 2, 3]  # 3 samples on a batch-2 model: split and padded by the server
    z = latents_from_seeds(seeds, G.z_dim)
    status, body = s.post_json("/v1/models/sg1:predict", {
        "inputs": {"z": z.tolist(), "truncation_psi": [0.6] * 3, "seed": seeds}})
    assert status == 200, body
    noise = seed_noise_np(np.array(seeds), G.synthesis.noise_shapes)
    expected = np.asarray(G(z, truncation_psi=0.6, noise=noise))
    np.testing.assert_allclose(np.array(body["outputs"]["images_float"], np.float32), expected,
                               atol=5e-5, rtol=0)


# PNG endpoint -----------------------------------------------------------------------------------

def test_image_endpoint(setup):
    s, G, cond = setup["server"], setup["sg1"]["G"], setup["cond"]
    status, ctype, data = s.get("/v1/models/sg1/versions/1/image?seeds=5&psi=0.7")
    assert (status, ctype) == (200, "image/png")
    img = png(data).astype(int)
    assert img.shape == (32, 32, 3)
    assert np.abs(img - expected_images(G, [5], 0.7)[0]).max() <= 1
    # A grid of several seeds, from the latest version (the TFLite model).
    status, ctype, data = s.get("/v1/models/sg1/image?seeds=0-2,7&psi=0.5&cols=2")
    assert (status, ctype) == (200, "image/png")
    grid = image_grid(expected_images(G, [0, 1, 2, 7], 0.5), cols=2).astype(int)
    assert np.abs(png(data).astype(int) - grid).max() <= 1
    # Stored noise (NVIDIA's randomize_noise=False) and a conditional model.
    labels = np.eye(4, dtype=np.float32)[[2, 2]]
    status, _, data = s.get("/v1/models/sg1c/image?seeds=3-4&class=2&noise=const&cols=2")
    assert status == 200
    expected = image_grid(expected_images(cond["G"], [3, 4], 1.0, labels, noise="const"), 2)
    assert np.abs(png(data).astype(int) - expected.astype(int)).max() <= 1
    status, _, data = s.get("/v1/models/sg1c/image?seeds=3&labels=0,0,1,0&noise=const")
    assert status == 200
    assert np.abs(png(data).astype(int) - expected[:32, :32].astype(int)).max() <= 1
    # A class range, as `generate --class 1-2`: every seed for each class, a row per class.
    status, _, data = s.get("/v1/models/sg1c/image?seeds=3-4&class=1-2&noise=const")
    assert status == 200
    labels = np.eye(4, dtype=np.float32)[[1, 1, 2, 2]]
    expected = image_grid(expected_images(cond["G"], [3, 4, 3, 4], 1.0, labels, "const"), 2)
    assert np.abs(png(data).astype(int) - expected.astype(int)).max() <= 1


@pytest.mark.parametrize("query,status", [
    ("/v1/models/sg1c/image?seeds=1", 400),              # conditional: class needed
    ("/v1/models/sg1c/image?seeds=1&class=9", 400),
    ("/v1/models/sg1c/image?seeds=1&labels=1,2", 400),
    ("/v1/models/sg1/image?seeds=0-99", 400),             # over --max-batch
    ("/v1/models/sg1/image?seeds=0-4000000000", 400),     # refused before expanding
    ("/v1/models/sg1/image?seeds=0-0000000000000050000000", 400),  # zero-padded too
    ("/v1/models/sg1c/image?seeds=0-3&class=0-3", 400),   # 16 images > --max-batch
    ("/v1/models/sg1/versions/%C2%B2/image?seeds=1", 400),  # '²': isdigit() but not int()
    ("/v1/models/sg1/image?seeds=1&cols=%D9%A1", 400),     # '١': not read as 1
    ("/v1/models/sg1/image?seeds=abc", 400),
    ("/v1/models/sg1/image?seeds=1&psi=nan", 400),
    ("/v1/models/sg1/image?seeds=1&class=1", 400),        # not conditional
    ("/v1/models/sg1/image?seeds=1&noise=const", 400),    # the TFLite v2 has seed noise only
    ("/v1/models/sg1/image?seeds=1&size=9", 400),
    ("/v1/models/nope/image?seeds=1", 404),
])
def test_image_endpoint_errors(setup, query, status):
    got, body = setup["server"].get_json(query)
    assert got == status and body["error"]


def test_mix_endpoint_model_list_and_explorer_page(setup):
    """`serve` mixes styles with an exported SavedModel's mapping and synthesis signatures
    (checked against the Keras generator) and shows the style explorer at /."""
    s, G = setup["server"], setup["sg1"]["G"]
    status, ctype, data = s.get("/v1/models/sg1/versions/1/mix?rows=1-2&cols=3&styles=middle"
                                "&psi=0.7&noise=const")
    assert (status, ctype) == (200, "image/png")
    fig = png(data).astype(int)
    assert fig.shape == (3 * 32, 2 * 32, 3)
    ws = np.asarray(G.truncate(G.mapping(latents_from_seeds([1, 2, 3], G.z_dim)), 0.7,
                               G.truncation_cutoff))
    mixed = ws[:2].copy()
    mixed[:, 4:8] = ws[2, 4:8]  # middle: the 16 and 32 px layers of column seed 3
    cells = to_uint8(G.synthesis(mixed, noise_mode="const")).astype(int)
    sources = to_uint8(G.synthesis(ws, noise_mode="const")).astype(int)
    assert np.abs(fig[:32, 32:] - sources[2]).max() <= 1
    for i in range(2):
        assert np.abs(fig[32 * (i + 1):32 * (i + 2), :32] - sources[i]).max() <= 1
        assert np.abs(fig[32 * (i + 1):32 * (i + 2), 32:] - cells[i]).max() <= 1
    # Conditional: every image of class 2; mixing every layer gives the column's image.
    status, _, data = s.get("/v1/models/sg1c/mix?rows=1&cols=2&styles=0-7&class=2&noise=const"
                            "&layout=grid")
    _, _, column = s.get("/v1/models/sg1c/image?seeds=2&class=2&noise=const")
    assert status == 200 and np.abs(png(data).astype(int) - png(column).astype(int)).max() <= 1
    got, body = s.get_json("/v1/models/sg1c/mix?rows=1&cols=2")
    assert got == 400 and "pass class=K" in body["error"]
    # The latest version is the TFLite model: no mapping signature, one clear error.
    got, body = s.get_json("/v1/models/sg1/mix?rows=1&cols=2")
    assert got == 400 and "mapping and synthesis" in body["error"]
    status, body = s.get_json("/v1/models")
    models = {m["name"]: m for m in body["models"]}
    assert status == 200 and sorted(models) == ["sg1", "sg1c"]
    assert (models["sg1"]["version"], models["sg1"]["kind"], models["sg1"]["num_ws"]) == (
        2, "tflite", None)
    assert models["sg1c"]["num_ws"] == G.num_ws and models["sg1c"]["label_size"] == 4
    assert "9" in body["failed"]["sg1"] and body["limits"]["max_batch"] == MAX_BATCH
    status, ctype, data = s.get("/")
    assert status == 200 and ctype.startswith("text/html") and b"explorer.js" in data


# Errors -----------------------------------------------------------------------------------------

GOOD_ROW = {"z": [0.0] * 64, "truncation_psi": 1.0, "seed": 1}


@pytest.mark.parametrize("path,body,status,message", [
    ("/v1/models/sg1/versions/1:predict", b"{not json", 400, "JSON"),
    ("/v1/models/sg1/versions/1:predict", b"[1, 2]", 400, "object"),
    ("/v1/models/sg1/versions/1:predict", b"[" * 100000, 400, "JSON"),
    ("/v1/models/sg1/versions/1:predict",
     b'{"instances": [{"z": ' + b"[" * 100 + b"]" * 100 + b"}]}", 400, "z"),
    ("/v1/models/sg1/versions/1:predict", {"signature_name": "generate"}, 400, "instances"),
    ("/v1/models/sg1/versions/1:predict", {"instances": [GOOD_ROW], "inputs": {}}, 400, "both"),
    ("/v1/models/sg1/versions/1:predict", {"instances": []}, 400, "non-empty"),
    ("/v1/models/sg1/versions/1:predict",
     {"instances": [{**GOOD_ROW, "z": [0.0] * 63}]}, 400, "shape"),
    ("/v1/models/sg1/versions/1:predict",
     {"instances": [{**GOOD_ROW, "z": "zzz"}]}, 400, "numbers"),
    ("/v1/models/sg1/versions/1:predict",
     {"instances": [GOOD_ROW, {**GOOD_ROW, "z": [0.0] * 10}]}, 400, "rectangular"),
    ("/v1/models/sg1/versions/1:predict", {"instances": [{**GOOD_ROW, "seed": 1.5}]}, 400,
     "integers"),
    ("/v1/models/sg1/versions/1:predict", {"instances": [{"z": [0.0] * 64}]}, 400, "missing"),
    ("/v1/models/sg1/versions/1:predict", {"instances": [{**GOOD_ROW, "x": 1}]}, 400, "unknown"),
    ("/v1/models/sg1/versions/1:predict",
     {"inputs": {"z": [[0.0] * 64] * 2, "truncation_psi": [1.0], "seed": [1, 2]}}, 400,
     "same batch"),
    ("/v1/models/sg1/versions/1:predict",
     {"instances": [GOOD_ROW] * (MAX_BATCH + 1)}, 400, "limit"),
    ("/v1/models/sg1/versions/1:predict",
     {"signature_name": "nope", "instances": [GOOD_ROW]}, 400, "nope"),
    ("/v1/models/nope:predict", {"instances": [GOOD_ROW]}, 404, "nope"),
    ("/v1/models/sg1/versions/4:predict", {"instances": [GOOD_ROW]}, 404, "sg1, 4"),
    ("/v1/models/sg1/versions/x:predict", {"instances": [GOOD_ROW]}, 400, "version"),
    ("/v1/models/sg1:classify", {"examples": []}, 400, "Unsupported"),
])
def test_bad_requests_get_4xx(setup, path, body, status, message):
    s = setup["server"]
    raw = body if isinstance(body, bytes) else None
    got, reply = s.post_json(path, body if raw is None else None, raw=raw)
    assert got == status, reply
    assert message in reply["error"], reply


def test_oversized_body_wrong_method_unknown_path(setup):
    s = setup["server"]
    big = json.dumps({"instances": [GOOD_ROW] * 2, "pad": "x" * MAX_BYTES}).encode()
    status, body = s.post_json("/v1/models/sg1/versions/1:predict", raw=big)
    assert status == 413 and "limit" in body["error"]
    status, _, data = s.get("/v1/models/sg1:predict")
    assert status == 405 and json.loads(data)["error"]
    status, _, data = s.get("/v2/whatever")
    assert status == 404 and json.loads(data)["error"]
    status, _, data = s.request("POST", "/v1/models/sg1")
    assert status == 405 and json.loads(data)["error"]
    # ... and the server still serves.
    assert s.get("/v1/models/sg1")[0] == 200
    assert setup["server"].proc.poll() is None


# Load -------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_concurrent_burst(setup):
    """40 requests from 10 threads: no 5xx, no lost response, all correct, bounded time."""
    s, G = setup["server"], setup["sg1"]["G"]
    z = latents_from_seeds([0, 1], G.z_dim)
    rows = {"instances": [{"z": z[i].tolist(), "truncation_psi": 1.0, "seed": i}
                          for i in range(2)]}
    expected = expected_images(G, [0, 1], 1.0).astype(int)

    def one(i):
        if i % 2:
            status, ctype, data = s.get(f"/v1/models/sg1/versions/1/image?seeds={i % 2}",
                                        timeout=90)
            ok = status == 200 and np.abs(png(data).astype(int) - expected[1]).max() <= 1
        else:
            status, ctype, data = s.request("POST", "/v1/models/sg1/versions/1:predict",
                                            json.dumps(rows).encode(), timeout=90)
            got = np.array([p["images"] for p in json.loads(data)["predictions"]]) \
                if status == 200 else None
            ok = status == 200 and np.abs(got - expected).max() <= 1
        return status, ok

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(one, range(40)))
    elapsed = time.time() - t0
    assert len(results) == 40
    assert [st for st, _ in results if st >= 500] == []
    assert all(ok for _, ok in results), results
    assert elapsed < 120
    assert s.get("/v1/models/sg1")[0] == 200


@pytest.mark.slow
def test_serve_a_single_tflite_file(tmp_path, tmp_path_factory):
    sg2 = exported("sg2_r32_f", tmp_path_factory)
    model = tmp_path / "tiny-sg2.tflite"
    model.write_bytes(convert(sg2["G"], batch=1))
    server = Server(model, log_path=tmp_path / "server.log")
    try:
        server.wait_ready("/v1/models/tiny-sg2")
        status, body = server.get_json("/v1/models/tiny-sg2")
        assert status == 200 and body["model_version_status"][0]["version"] == "1"
        status, ctype, data = server.get("/v1/models/tiny-sg2/image?seeds=0-1&psi=0.7")
        assert (status, ctype) == (200, "image/png")
        G = sg2["G"]
        expected = image_grid(expected_images(G, [0, 1], 0.7, noise="const"))
        assert np.abs(png(data).astype(int) - expected.astype(int)).max() <= 1
    finally:
        server.stop()


class BlockingServable:
    """A stand-in model whose calls wait for `release` (no TensorFlow)."""

    name, version, kind = "slow", 1, "fake"
    z_dim, label_size, noise_modes = None, 0, ()

    def __init__(self):
        import threading

        from keras_stylegan.export.rest import SignatureSpec, TensorInfo
        self.release = threading.Event()
        f32 = np.dtype("float32")
        self.signatures = {"serving_default": SignatureSpec(
            "serving_default", {"x": TensorInfo(f32, (None,))}, {"y": TensorInfo(f32, (None,))})}

    def predict(self, signature, inputs):
        assert self.release.wait(timeout=60)
        return {"y": inputs["x"] * 2}


def test_queue_bound_answers_503_and_recovers():
    """--max-inflight 1 --max-queue 1: with one call running and one waiting, more
    requests get a 503 JSON error at once; the two are then served, and so is the next."""
    import threading

    from keras_stylegan.export.server import Limits, ModelRepository, make_server
    servable = BlockingServable()
    repo = ModelRepository()
    repo.models = {"slow": {1: servable}}
    port = free_port()
    server = make_server(repo, port=port, limits=Limits(max_batch=4, max_inflight=1,
                                                         max_queue=1))
    load = server.config.app.state.load
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def post():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("POST", "/v1/models/slow:predict", json.dumps({"instances": [1.0, 2.0]}))
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def wait_for(cond):
        deadline = time.time() + 30
        while not cond() and time.time() < deadline:
            time.sleep(0.02)
        assert cond()

    pool = concurrent.futures.ThreadPoolExecutor(2)
    try:
        wait_for(lambda: server.started)
        first = pool.submit(post)
        wait_for(lambda: load["pending"] == 1)
        second = pool.submit(post)
        wait_for(lambda: load["pending"] == 2)
        for _ in range(4):
            status, body = post()
            assert status == 503 and "busy" in body["error"], (status, body)
        # A body is decoded inside a model slot: while all are taken, not even parsed.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", "/v1/models/slow:predict", b"{not json")
        resp = conn.getresponse()
        assert resp.status == 503 and "busy" in json.loads(resp.read())["error"]
        conn.close()
        servable.release.set()
        assert first.result(timeout=60) == (200, {"predictions": [2.0, 4.0]})
        assert second.result(timeout=60) == (200, {"predictions": [2.0, 4.0]})
        assert post() == (200, {"predictions": [2.0, 4.0]})
        assert load["pending"] == 0
    finally:
        servable.release.set()
        pool.shutdown(wait=True)
        server.should_exit = True
        thread.join(timeout=15)
    assert not thread.is_alive()

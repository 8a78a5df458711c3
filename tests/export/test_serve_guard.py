"""The server's guarantee against hostile and careless clients (issue #12), on 127.0.0.1.

The real server (`make_server`: uvicorn, the guarded protocol, the app) runs
in a thread over stand-in models written in NumPy, so every test takes
seconds: raw sockets play slow clients (half-sent heads, stalled bodies),
oversized declarations, clients that leave, and requests whose numbers are
not ASCII digits or whose ranges would expand to millions of seeds. Every
refusal must be a 4xx/503 with a JSON body, the server must keep answering
others meanwhile, and no client mistake may be logged as an error.
Timeouts are short here (2 s); each wait is bounded by a socket timeout.
"""

import concurrent.futures
import io
import json
import logging
import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

from helpers.http_client import request as http_request
from keras_stylegan.export.rest import SignatureSpec, TensorInfo
from keras_stylegan.export.server import Limits, ModelRepository, make_server

MAX_BATCH = 8
MAX_CONNECTIONS = 8
TIMEOUT = 2.0  # header and body timeouts of the server under test
WAIT = 15  # seconds any single socket read may wait before the test fails
SIZE = 4  # image resolution of the stand-in models


class FakeServable:
    """A NumPy stand-in: image pixels encode the seed (R), class (G) and psi (B)."""

    kind, noise_modes = "fake", ("seed", "const")

    def __init__(self, name, label_size):
        self.name, self.version, self.z_dim, self.label_size = name, 1, 3, label_size
        self.calls = []
        f32 = np.dtype("float32")
        inputs = {"x": TensorInfo(f32, (None, 6)), "k": TensorInfo(f32, (None, 2, 3))}
        self.signatures = {"serving_default": SignatureSpec(
            "serving_default", inputs, {"y": TensorInfo(f32, (None,))})}

    def predict(self, signature, inputs):
        self.calls.append(len(inputs["x"]))
        return {"y": inputs["x"].sum(1) + inputs["k"].sum((1, 2))}

    def images(self, z, psi, labels, seeds, noise):
        self.calls.append(len(seeds))
        out = np.zeros([len(seeds), SIZE, SIZE, 3], np.uint8)
        out[..., 0] = (seeds % 256)[:, None, None]
        out[..., 1] = 0 if labels is None else labels.argmax(1)[:, None, None]
        out[..., 2] = np.round(psi * 100)[:, None, None]
        return out


class LogRecords(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def problems(self):
        """Records with a traceback or at ERROR level (what client mistakes must not cause)."""
        return [f"{r.name}: {r.getMessage()}" for r in self.records
                if r.exc_info or r.levelno >= logging.ERROR]


def start(repo, limits):
    """The real server for `repo` in a thread -> (uvicorn server, port, thread)."""
    srv = make_server(repo, port=0, limits=limits)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.02)
    assert srv.started
    return srv, srv.servers[0].sockets[0].getsockname()[1], thread


def stop(srv, thread):
    srv.should_exit = True
    thread.join(timeout=15)
    assert not thread.is_alive()


@pytest.fixture(scope="module")
def server():
    repo = ModelRepository()
    repo.models = {"cond": {1: FakeServable("cond", 3)}, "plain": {1: FakeServable("plain", 0)}}
    limits = Limits(max_batch=MAX_BATCH, max_inflight=1, max_queue=4,
                    max_connections=MAX_CONNECTIONS, header_timeout=TIMEOUT,
                    body_timeout=TIMEOUT)
    logs = LogRecords()
    logging.getLogger().addHandler(logs)
    srv, port, thread = start(repo, limits)
    try:
        yield dict(port=port, repo=repo, logs=logs, budget=srv.config.app.state.budget)
    finally:
        stop(srv, thread)
        logging.getLogger().removeHandler(logs)


@pytest.fixture
def clean_log(server):
    """Fails the test if it made the server log an error or a traceback."""
    del server["logs"].records[:]
    yield
    assert server["logs"].problems() == []


def request(port, method, path, body=None, headers=None):
    return http_request(port, method, path, body, headers, timeout=WAIT)


def get_json(port, path):
    status, ctype, data = request(port, "GET", path)
    assert ctype == "application/json", (status, data[:200])
    return status, json.loads(data)


def raw_socket(port, data=b""):
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    if data:
        sock.sendall(data)
    return sock


def read_reply(sock):
    """Everything the server sends until it closes -> (status or None, JSON body or None)."""
    chunks = []
    try:
        while True:
            chunk = sock.recv(65536)  # socket.timeout (a test failure) if it never closes
            if not chunk:
                break
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    data = b"".join(chunks)
    if not data:
        return None, None
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), data[:300]
    return int(head.split()[1]), json.loads(body)


def png(data):
    return np.asarray(Image.open(io.BytesIO(data)))


# Slow clients -----------------------------------------------------------------------------------

PARTIAL_HEAD = b"GET /v1/models/plain HTTP/1.1\r\nHost: x\r\nX-Slow: "
PARTIAL_BODY = (b"POST /v1/models/plain:predict HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"instances\"")


def test_slow_clients_do_not_lock_out_others(server, clean_log):
    """3x --max-connections half-sent requests: every legitimate request is still served
    while they are connected, and each slow one is dropped (408 or 503, JSON) in bounded
    time rather than holding a slot forever."""
    port = server["port"]
    slow = [raw_socket(port, PARTIAL_HEAD if i % 3 else PARTIAL_BODY)
            for i in range(3 * MAX_CONNECTIONS)]
    time.sleep(0.3)  # let the server read them (one dropped before that gets no reply)
    idle = [raw_socket(port) for _ in range(MAX_CONNECTIONS)]  # connected, sending nothing
    try:
        for _ in range(5):
            assert get_json(port, "/v1/models/plain")[0] == 200
        with concurrent.futures.ThreadPoolExecutor(MAX_CONNECTIONS // 2) as pool:
            statuses = list(pool.map(lambda _: get_json(port, "/v1/models/plain")[0],
                                     range(2 * MAX_CONNECTIONS)))
        assert statuses == [200] * (2 * MAX_CONNECTIONS)
        status, ctype, data = request(port, "GET", "/v1/models/plain/image?seeds=7")
        assert status == 200 and png(data)[0, 0, 0] == 7
    finally:
        replies = [read_reply(s) for s in slow] + [read_reply(s) for s in idle]
    for status, body in replies[:len(slow)]:  # None: dropped before its bytes were read
        assert status in (408, 503, None), (status, body)
        if status:
            assert ("--header-timeout" if status == 408 and "head" in body["error"] else
                    "--body-timeout" if status == 408 else "--max-connections") in body["error"]
    assert {s for s, _ in replies[:len(slow)]} & {408, 503}
    assert all(r == (None, None) for r in replies[len(slow):])  # idle: closed, nothing sent
    assert get_json(port, "/v1/models/plain")[0] == 200


def test_head_and_body_timeouts(server, clean_log):
    port = server["port"]
    t0 = time.monotonic()
    status, body = read_reply(raw_socket(port, PARTIAL_HEAD))
    assert status == 408 and "request head" in body["error"] and "--header-timeout" in body["error"]
    status, body = read_reply(raw_socket(port, PARTIAL_BODY))
    assert status == 408 and "request body" in body["error"] and "--body-timeout" in body["error"]
    # A byte now and then does not keep a request alive: the head has one deadline.
    sock = raw_socket(port, PARTIAL_HEAD)
    for _ in range(int(2 * TIMEOUT / 0.25)):
        try:
            sock.sendall(b"a")
        except OSError:
            break
        time.sleep(0.25)
    status, body = read_reply(sock)
    assert status in (408, None), (status, body)  # None: reset before the reply was read
    assert time.monotonic() - t0 < WAIT * 3
    assert get_json(port, "/v1/models/plain")[0] == 200


def test_declared_oversized_body_refused_before_reading(server, clean_log):
    """Content-Length: 10**12 and nothing sent: 413 at once (not a 408 after waiting)."""
    port = server["port"]
    limit = server["budget"].max_bytes
    for path in ("/v1/models/plain:predict", "/v1/models/nope:predict", "/elsewhere"):
        sock = raw_socket(port, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: "
                          f"{10 ** 12}\r\n\r\n".encode())
        status, body = read_reply(sock)
        assert status == 413 and str(limit) in body["error"], (path, status, body)
    # One byte over the limit, declared: refused; chunked (no length): refused when reached.
    status, _, data = request(port, "POST", "/v1/models/plain:predict", b" " * (limit + 1))
    assert status == 413 and "--max-request-bytes" in json.loads(data)["error"]
    chunks = iter([b" " * 65536] * (limit // 65536 + 2))
    status, _, data = request(port, "POST", "/v1/models/plain:predict", chunks)  # chunked
    assert status == 413 and "--max-request-bytes" in json.loads(data)["error"]


def test_client_leaving_is_not_an_internal_error(server, clean_log):
    port = server["port"]
    for data in (PARTIAL_BODY, PARTIAL_HEAD, b"POST /v1/models/plain:predict HTTP/1.1\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"ins"):
        sock = raw_socket(port, data)
        time.sleep(0.1)
        sock.close()
    time.sleep(0.3)
    assert get_json(port, "/v1/models/plain")[0] == 200  # the clean_log fixture checks the log


class BlockingServable(FakeServable):
    """Its model calls wait for `release`."""

    def __init__(self):
        super().__init__("slow", 0)
        self.release, self.running = threading.Event(), threading.Semaphore(0)

    def predict(self, signature, inputs):
        self.running.release()
        assert self.release.wait(timeout=WAIT)
        return super().predict(signature, inputs)


def test_all_connections_busy_gets_json_503():
    """--max-connections 2, both being answered: a third client gets a JSON 503 (nobody
    is waiting on a client, so nobody can be dropped); the two are then answered."""
    servable = BlockingServable()
    repo = ModelRepository()
    repo.models = {"slow": {1: servable}}
    srv, port, thread = start(repo, Limits(max_batch=4, max_inflight=2, max_connections=2))
    body = json.dumps({"instances": [{"x": [1.0] * 6, "k": [[0.5] * 3] * 2}]})
    pool = concurrent.futures.ThreadPoolExecutor(2)
    try:
        running = [pool.submit(request, port, "POST", "/v1/models/slow:predict", body)
                   for _ in range(2)]
        for _ in running:
            assert servable.running.acquire(timeout=WAIT)
        status, ctype, data = request(port, "GET", "/v1/models/slow")
        assert (status, ctype) == (503, "application/json")
        assert "--max-connections" in json.loads(data)["error"]
        servable.release.set()
        for future in running:
            status, _, data = future.result(timeout=WAIT)
            assert status == 200 and json.loads(data) == {"predictions": [9.0]}
        assert request(port, "GET", "/v1/models/slow")[0] == 200
    finally:
        servable.release.set()
        pool.shutdown(wait=True)
        stop(srv, thread)


class BigImageServable(FakeServable):
    """Images of incompressible noise: a PNG larger than the socket buffers."""

    def images(self, z, psi, labels, seeds, noise):
        rng = np.random.default_rng(int(seeds[0]))
        return rng.integers(0, 256, (len(seeds), 2000, 2000, 3), dtype=np.uint8)


def test_client_that_stops_reading_is_dropped():
    """A client asks for a 12 MB PNG and never reads it: the connection is aborted after
    --body-timeout instead of holding its slot (and the response) forever."""
    repo = ModelRepository()
    repo.models = {"big": {1: BigImageServable("big", 0)}}
    srv, port, thread = start(repo, Limits(body_timeout=TIMEOUT, header_timeout=TIMEOUT))
    connections = srv.server_state.connections
    sock = raw_socket(port, b"GET /v1/models/big/image?seeds=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        deadline = time.time() + WAIT
        while not connections and time.time() < deadline:  # accepted
            time.sleep(0.01)
        assert connections
        while connections and time.time() < deadline + WAIT:  # dropped
            time.sleep(0.05)
        assert not connections
        status, _, data = request(port, "GET", "/v1/models/big")
        assert status == 200
    finally:
        sock.close()
        stop(srv, thread)


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET /v1/models/plain HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"GET /v1/models/plain HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000,  # head > 64 KiB
    b"POST /v1/models/plain:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1"
    + b"0" * 5000 + b"\r\n\r\n",
    b"GET /v1/models/\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/models/plain/image?seeds=%FF HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/models/plain HTTP/1.1\r\n\r\n",  # no Host
])
def test_malformed_http_gets_json_400(server, clean_log, raw):
    status, body = read_reply(raw_socket(server["port"], raw))
    assert status in (400, 413) and body["error"], (status, body)
    assert get_json(server["port"], "/v1/models/plain")[0] == 200


# Bounded work per request -----------------------------------------------------------------------

@pytest.mark.parametrize("query,message", [
    ("seeds=0-0000000000000050000000", "exceed"),   # zero-padded: was expanded (5e7 seeds)
    ("seeds=0-4000000000", "exceed"),
    ("seeds=00000000000000000000000000000000000000000000000000000001-9", "exceed"),
    ("seeds=0-3,0-3,0-3", "exceed"),
    ("seeds=0-4294967296", "2**32"),
    ("seeds=" + "1," * 600 + "1", "too long"),
    ("seeds=0-3&class=0-2", "exceed"),               # 4 seeds x 3 classes = 12 > 8
    ("seeds=0-1&class=0-99999999999999", "class must be in"),
    ("seeds=5-2", "below the start"),
])
def test_seed_and_class_ranges_are_counted_before_expanding(server, clean_log, query, message):
    model = "cond" if "class" in query else "plain"
    calls = server["repo"].models[model][1].calls
    before = len(calls)
    status, body = get_json(server["port"], f"/v1/models/{model}/image?{query}")
    assert status == 400 and message in body["error"], body
    assert len(calls) == before  # the model never ran


@pytest.mark.parametrize("text", ["0", "7", "0-3,7", "00012", "3-3, 5-6 ,9", "0-4294967295"])
def test_ranges_agree_with_generate_seeds(text):
    """The server's counted parser reads what `generate --seeds` reads (another code path)."""
    from keras_stylegan.export.server import expand_ranges, parse_ranges, range_count
    from keras_stylegan.generate import parse_seeds
    ranges = parse_ranges(text, "seed")
    if range_count(ranges) < 100:
        assert expand_ranges(ranges) == parse_seeds(text)
    else:
        assert range_count(ranges) == 2 ** 32 and ranges == [(0, 2 ** 32 - 1)]


@pytest.mark.parametrize("path", [
    "/v1/models/plain/versions/\u00b2",                   # str.isdigit() true, int() fails: was 500
    "/v1/models/plain/versions/\u0661",                   # Arabic-Indic one: was served as v1
    "/v1/models/plain/versions/\u0661/metadata",
    "/v1/models/plain/versions/" + "9" * 5000,       # int() refuses > 4300 digits
    "/v1/models/plain/image?seeds=1&cols=\u00b2",
    "/v1/models/plain/image?seeds=1&cols=\u0661",
    "/v1/models/cond/image?seeds=1&class=\u00b2",
    "/v1/models/cond/image?seeds=1&class=\u0661",
    "/v1/models/cond/image?seeds=1&class=0-\u00b2",
    "/v1/models/plain/image?seeds=\u0661",
    "/v1/models/plain/image?seeds=0-\u0663",
    "/v1/models/plain/image?seeds=1&psi=\u0660.5",       # float() takes these
    "/v1/models/plain/image?seeds=1&psi=1_0",
    "/v1/models/plain/image?seeds=1&psi=nan",
    "/v1/models/cond/image?seeds=1&labels=\u0661,0,0",
])
def test_numbers_must_be_ascii_digits(server, clean_log, path):
    from urllib.parse import quote
    status, body = get_json(server["port"], quote(path, safe="/?=&,"))
    assert status == 400 and ("0-9" in body["error"] or "finite" in body["error"]), body


def test_ascii_numbers_are_parsed(server, clean_log):
    """The same parameters in ASCII work, with leading zeros as in `generate --seeds`."""
    port = server["port"]
    assert get_json(port, "/v1/models/plain/versions/0001")[0] == 200
    status, _, data = request(port, "GET", "/v1/models/plain/image?seeds=0003,04-5&cols=02"
                              "&psi=0.5")
    assert status == 200
    img = png(data)
    assert img.shape == (2 * SIZE, 2 * SIZE, 3)
    assert img[::SIZE, ::SIZE, 0].tolist() == [[3, 4], [5, 0]]
    assert img[0, 0, 2] == 50


def test_class_ranges_draw_every_seed_for_each_class(server, clean_log):
    """class=0-2 as `generate --class 0-2`: one grid row per class, one column per seed."""
    port = server["port"]
    status, _, data = request(port, "GET", "/v1/models/cond/image?seeds=5-6&class=0-2")
    assert status == 200
    img = png(data)
    assert img.shape == (3 * SIZE, 2 * SIZE, 3)
    assert img[::SIZE, ::SIZE, 0].tolist() == [[5, 6]] * 3
    assert img[::SIZE, ::SIZE, 1].tolist() == [[0, 0], [1, 1], [2, 2]]
    status, _, data = request(port, "GET", "/v1/models/cond/image?seeds=5&class=2,0&cols=2")
    assert status == 200 and png(data)[::SIZE, ::SIZE, 1].tolist() == [[2, 0]]
    status, body = get_json(port, "/v1/models/cond/image?seeds=5&class=1&labels=0,1,0")
    assert status == 400 and "not both" in body["error"]
    status, body = get_json(port, "/v1/models/plain/image?seeds=5&class=0-1")
    assert status == 400 and "not conditional" in body["error"]


# Body memory ------------------------------------------------------------------------------------

def largest_request(rng, indent=None):
    """The largest legitimate :predict body: MAX_BATCH rows of float32 values."""
    rows = [{"x": rng.standard_normal(6).astype(np.float32).tolist(),
             "k": (rng.standard_normal((2, 3)) * 1e-3).astype(np.float32).tolist()}
            for _ in range(MAX_BATCH)]
    return rows, json.dumps({"signature_name": "serving_default", "instances": rows},
                            indent=indent).encode()


def test_body_limit_is_sized_from_the_largest_legitimate_request(server, clean_log):
    port, budget = server["port"], server["budget"]
    rng = np.random.default_rng(0)
    per_sample = (6 + 2 * 3) * 40 + len("x") + 16 + len("k") + 16
    assert budget.max_bytes == MAX_BATCH * per_sample + 65536  # not 32 MiB
    rows, body = largest_request(rng, indent=2)
    assert len(body) < budget.max_bytes
    status, _, data = request(port, "POST", "/v1/models/plain:predict", body)
    assert status == 200, data
    expected = [np.float32(sum(r["x"])) + np.float32(np.sum(r["k"])) for r in rows]
    np.testing.assert_allclose(json.loads(data)["predictions"], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("unit", [
    b"[],",          # 3 bytes -> a 56-byte list each (+ its slot)
    b'{"x":0},',     # a dict each
    b'"ab",',        # a string each
])
def test_json_bombs_within_the_byte_limit_are_not_decoded(server, clean_log, unit):
    limit = server["budget"].max_bytes
    bomb = b'{"instances": [' + unit * ((limit - 100) // len(unit)) + b"1]}"
    assert len(bomb) < limit
    calls = server["repo"].models["plain"][1].calls
    before = len(calls)
    status, _, data = request(server["port"], "POST", "/v1/models/plain:predict", bomb)
    assert status == 400 and "JSON" in json.loads(data)["error"], data
    assert len(calls) == before

"""Serving benchmark: requests/s and latency of `keras-stylegan serve` under local load.

Exports a preset (random weights) as a SavedModel and as a TFLite model
(float32, noise inputs, fixed batch), starts the server on 127.0.0.1 as a
subprocess, and sends a bounded number of requests from a few client threads
per scenario: `:predict` JSON (row format, `generate`, batch 1 and 8) and the
PNG endpoint (1 image, and a grid of 8). Reports requests/s, images/s,
p50/p99 latency, response size and errors (any non-200 counts). With
`--slow-clients N`, N slowloris connections (request heads sent a byte at a
time, never finished; reopened when the server drops them) stay open during
every scenario: the guarantee is that the numbers barely move and errors stay
0. The server is always stopped.

Usage:
  python bench/bench_serve.py                                  # stylegan2-tiny-32
  python bench/bench_serve.py --preset stylegan-tiny-32 --requests 100 --concurrency 8
  python bench/bench_serve.py --json out.json
  python bench/bench_serve.py --slow-clients 300 --requests 100   # under a slowloris attack

Results and the machine they were taken on go in docs/BENCHMARKS.md.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tables  # noqa: E402  (bench/tables.py)
from tables import Column  # noqa: E402

COLUMNS = [
    Column("scenario", "scenario"), Column("requests", "requests", "", True),
    Column("errors", "errors", "", True), Column("req/s", "requests_per_s", ".1f", True),
    Column("images/s", "images_per_s", ".1f", True), Column("p50 ms", "p50_ms", ".1f", True),
    Column("p99 ms", "p99_ms", ".1f", True), Column("response KB", "response_kb", ".1f", True)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, timeout=120):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body,
                     headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def prepare(preset, base, tflite_batch):
    """Exports `preset` to base/sg (SavedModel) and base/lite (TFLite); returns z_dim, labels."""
    from keras_stylegan.export.savedmodel import export_savedmodel
    from keras_stylegan.export.tflite import export_tflite
    from keras_stylegan import presets
    G = presets.generator(preset)
    export_savedmodel(G, base, name="sg")
    export_tflite(G, base, name="lite", batch=tflite_batch, noise="input")
    return G.z_dim, G.label_size


def start_server(base, port, max_inflight):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "keras_stylegan.cli", "serve", "--model-base-path", base,
         "--host", "127.0.0.1", "--port", str(port), "--max-inflight", str(max_inflight)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            if request(port, "GET", "/v1/models/sg", timeout=5)[0] == 200:
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start in 180 s")


def stop_server(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class SlowClients:
    """`n` connections that send a request head a byte every 0.5 s and never finish it."""

    HEAD = b"GET /v1/models/sg HTTP/1.1\r\nHost: bench\r\nX-Slow: "

    def __init__(self, port, n):
        self.port, self.n, self.dropped = port, n, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self):
        if self.n:
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        if self.n:
            self.thread.join(timeout=30)

    def run(self):
        socks = []
        while not self.done.is_set():
            while len(socks) < self.n:  # (re)open up to n
                try:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                    sock.sendall(self.HEAD)
                except OSError:
                    break
                socks.append(sock)
            alive = []
            for sock in socks:  # a byte each; the server drops them after --header-timeout
                try:
                    sock.send(b"a")
                    alive.append(sock)
                except OSError:
                    sock.close()
                    self.dropped += 1
            socks = alive
            self.done.wait(0.5)
        for sock in socks:
            sock.close()


def scenarios(z_dim, label_size):
    import numpy as np
    from keras_stylegan.generate import latents_from_seeds

    def predict_body(n):
        z = latents_from_seeds(range(n), z_dim)
        rows = []
        for i in range(n):
            row = {"z": z[i].tolist(), "truncation_psi": 0.7, "seed": i}
            if label_size:
                row["labels"] = np.eye(label_size)[i % label_size].tolist()
            rows.append(row)
        return json.dumps({"instances": rows}).encode()

    cls = "&class=0" if label_size else ""
    out = []
    for model in ("sg", "lite"):
        fmt = "SavedModel" if model == "sg" else "TFLite"
        out += [
            (f"{fmt} :predict JSON, batch 1", "POST", f"/v1/models/{model}:predict",
             predict_body(1), 1),
            (f"{fmt} :predict JSON, batch 8", "POST", f"/v1/models/{model}:predict",
             predict_body(8), 8),
            (f"{fmt} PNG, 1 image", "GET", f"/v1/models/{model}/image?seeds=3&psi=0.7{cls}",
             None, 1),
            (f"{fmt} PNG grid, 8 images", "GET",
             f"/v1/models/{model}/image?seeds=0-7&psi=0.7{cls}", None, 8),
        ]
    return out


def run_scenario(port, method, path, body, requests, concurrency):
    import numpy as np

    def one(_):
        t0 = time.perf_counter()
        try:
            status, data = request(port, method, path, body)
        except OSError:
            status, data = -1, b""
        return status, time.perf_counter() - t0, len(data)

    for _ in range(min(4, requests)):  # warm up
        one(0)
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - t0
    lat = np.array([r[1] for r in results]) * 1e3
    return dict(requests=requests, errors=sum(r[0] != 200 for r in results),
                requests_per_s=requests / wall, p50_ms=float(np.percentile(lat, 50)),
                p99_ms=float(np.percentile(lat, 99)),
                response_kb=float(np.mean([r[2] for r in results]) / 1024))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--preset", default="stylegan2-tiny-32")
    p.add_argument("--requests", type=int, default=200, help="per scenario (default 200)")
    p.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    p.add_argument("--max-inflight", type=int, default=2, help="server --max-inflight")
    p.add_argument("--tflite-batch", type=int, default=8)
    p.add_argument("--slow-clients", type=int, default=0, metavar="N",
                   help="slowloris connections kept open during the scenarios (default 0)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    base = tempfile.mkdtemp(prefix="bench-serve-")
    proc = None
    rows = []
    try:
        z_dim, label_size = prepare(args.preset, base, args.tflite_batch)
        port = free_port()
        proc = start_server(base, port, args.max_inflight)
        with SlowClients(port, args.slow_clients) as slow:
            for name, method, path, body, images in scenarios(z_dim, label_size):
                r = run_scenario(port, method, path, body, args.requests, args.concurrency)
                r.update(scenario=name, images_per_s=r["requests_per_s"] * images)
                rows.append(r)
                print(f"{name}: {r['requests_per_s']:.1f} req/s", file=sys.stderr)
    finally:
        if proc is not None:
            stop_server(proc)
        shutil.rmtree(base, ignore_errors=True)
    machine = (f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
               f"{platform.python_version()}; preset {args.preset}, {args.concurrency} client "
               f"threads, server --max-inflight {args.max_inflight}")
    if args.slow_clients:
        machine += (f"; {args.slow_clients} slow clients connected throughout "
                    f"({slow.dropped} dropped by the server and reopened)")
    print(f"Machine: {machine}\n")
    print(tables.markdown(COLUMNS, rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=machine, rows=rows), f, indent=1)


if __name__ == "__main__":
    main()

"""Local worker processes of a MultiWorkerMirroredStrategy cluster on 127.0.0.1."""

import json
import os
import subprocess
import time

import pytest

from helpers.tiny import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_workers(commands, log_dir, timeout):
    """Runs `commands[i]` as worker i of one local cluster (TF_CONFIG), logs in
    `log_dir/worker{i}.log`; waits at most `timeout` seconds in all (fails the
    test past it, killing what still runs). Returns (processes, log paths)."""
    cluster = {"worker": [f"127.0.0.1:{free_port()}" for _ in commands]}
    procs, logs = [], []
    try:
        for index, argv in enumerate(commands):
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
                       PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
                       TF_CONFIG=json.dumps({"cluster": cluster,
                                             "task": {"type": "worker", "index": index}}))
            logs.append(os.path.join(log_dir, f"worker{index}.log"))
            with open(logs[-1], "w") as log:
                procs.append(subprocess.Popen(argv, env=env, stdout=log, stderr=log))
        deadline = time.time() + timeout
        for p in procs:
            p.wait(timeout=max(deadline - time.time(), 1))
    except subprocess.TimeoutExpired:
        with open(logs[0]) as f:
            pytest.fail(f"the workers did not stop within {timeout} s:\n" + f.read()[-3000:])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return procs, logs

"""Runs the legacy importer on untrusted bytes in a child process with a memory cap.

A crash (segfault), a blow-up or a hang of the importer must fail a test, not
kill pytest; so the importer runs in a child whose address space is capped
with `resource.setrlimit`, and the parent reads one JSON line per input:

    {"case": ..., "outcome": "ok" | "error", "type": ..., "project": bool,
     "message": ...}

`project` says whether the exception is one of keras-stylegan's own
(`LegacyFormatError` and subclasses). A case the child started but did not
report (it crashed, or was killed after `case_timeout` seconds without an
answer) is reported by `run` as outcome "died" with the child's return code,
and a new child goes on with the next case.

The child's entry point:

    python -m helpers.guarded_load MODE MEMORY_MB SPEC.json

MODE is `read` (`read_network_pkl`), `load` (`load_network_pkl`) or `info`
(`keras-stylegan info FILE`). SPEC lists cases: `{"files": [...]}`, or
`{"fuzz": FIXTURE_PKL, "seed": S, "count": N, "convert": K}` for mutations
made by `mutations` (and the first K of them that read into a network whose
structure differs from the fixture's are also converted to Keras).
"""

import contextlib
import io
import json
import os
import pickletools
import queue
import random
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)

# Opcodes a mutation inserts: those that make, call, copy or store objects.
_INSERTS = [b"R", b"b", b"\x81", b"\x92", b"0", b"2", b"(", b".", b"t", b"a", b"e",
            b"s", b"u", b"}", b"]", b")", b"N", b"\x94", b"h\x00", b"q\x00",
            b"r\xff\xff\xff\x07", b"j\x00\x00\x00\x00", b"\x85", b"\x86", b"\x87"]


def mutations(data, seed, count):
    """`count` (description, bytes) mutations of `data`: flips, truncations, insertions.

    Most edits land on opcodes (found with `pickletools.genops`), where they
    change the structure rather than weight values.
    """
    rng = random.Random(seed)
    try:
        parsed = [(op.name, pos) for op, _, pos in pickletools.genops(data)]
    except Exception:  # noqa: BLE001 -- an unparsable input: edit anywhere
        parsed = [("", pos) for pos in range(len(data))]
    ops = [pos for _, pos in parsed]
    # Integers (kwargs values, shapes, lengths): BININT1, BININT2, BININT arguments.
    ints = [(pos, n) for name, pos in parsed
            for op, n in (("BININT1", 1), ("BININT2", 2), ("BININT", 4)) if name == op] or \
        [(pos, 1) for pos in ops]
    for i in range(count):
        kind = ("flip", "flip", "int", "truncate", "insert", "insert", "int")[i % 7]
        if kind == "int":
            pos, n = rng.choice(ints)
            value = bytes(rng.randrange(256) for _ in range(n))
            out = data[:pos + 1] + value + data[pos + 1 + n:]
            yield f"seed {seed} #{i}: integer at {pos} -> {value.hex()}", out
            continue
        pos = rng.choice(ops) + rng.choice((0, 0, 1, 2, 3, 4)) if rng.random() < 0.85 \
            else rng.randrange(len(data))
        pos = min(pos, len(data) - 1)
        if kind == "flip":
            value = rng.choice((rng.randrange(256), data[pos] ^ (1 << rng.randrange(8))))
            out = data[:pos] + bytes([value]) + data[pos + 1:]
            desc = f"byte {pos}: {data[pos]:#04x} -> {value:#04x}"
        elif kind == "truncate":
            out, desc = data[:pos], f"truncated to {pos} bytes"
        else:
            op = rng.choice(_INSERTS)
            out, desc = data[:pos] + op + data[pos:], f"inserted {op!r} at {pos}"
        yield f"seed {seed} #{i}: {desc}", out


def _structure(pkl):
    nets = [getattr(pkl, k) for k in ("G", "D", "Gs")]
    return repr([(n.build_func_name, n.static_kwargs, sorted(
        (k, v.shape) for k, v in n.all_variables().items())) for n in nets])


def _start(case, index):
    print(json.dumps({"start": case, "index": index}), flush=True)


def _report(case, index, fn):
    from keras_stylegan.legacy import LegacyFormatError
    line = {"case": case, "index": index}
    try:
        result = fn()
        line.update(outcome="ok")
    except BaseException as e:  # noqa: BLE001 -- the point is to see every kind
        result = None
        line.update(outcome="error", type=f"{type(e).__module__}.{type(e).__name__}",
                    project=isinstance(e, LegacyFormatError), message=str(e)[:2000])
    print(json.dumps(line), flush=True)
    return result


def _info(path):
    from keras_stylegan import cli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["info", path])
    if code != 0:
        from keras_stylegan.legacy import LegacyFormatError
        raise LegacyFormatError(f"info exited {code}: {err.getvalue()}")
    return out.getvalue()


def _child(mode, memory_mb, spec_path):
    import resource
    limit = int(memory_mb) * 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from keras_stylegan import legacy
    spec = json.load(open(spec_path))
    if "files" in spec:
        run = {"read": legacy.read_network_pkl, "load": legacy.load_network_pkl,
               "info": _info}[mode]
        for i, path in enumerate(spec["files"]):
            if i >= spec.get("skip", 0):
                _start(path, i)
                _report(path, i, lambda: run(path))
        return
    data = open(spec["fuzz"], "rb").read()
    reference, converts = _structure(legacy.read_network_pkl(data)), spec.get("convert", 0)
    for i, (case, blob) in enumerate(mutations(data, spec["seed"], spec["count"])):
        if i < spec.get("skip", 0):
            continue
        _start(case, i)
        pkl = _report(case, i, lambda: legacy.read_network_pkl(blob))
        if pkl is not None and converts > 0 and _structure(pkl) != reference:
            converts -= 1
            _start(case + " (convert)", i)
            _report(case + " (convert)", i, lambda: legacy.load_network_pkl(blob))


def _lines(proc, case_timeout):
    """Yields the child's JSON lines; None when it printed nothing for `case_timeout` s."""
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(t) for t in proc.stdout] + [lines.put("")],
                     daemon=True).start()
    while True:
        try:
            text = lines.get(timeout=case_timeout)
        except queue.Empty:
            yield None
            return
        if not text:
            return
        if text.startswith("{"):  # anything else is output of the code under test
            yield json.loads(text)


def run(mode, spec, tmp_path, memory_mb=1024, case_timeout=120):
    """Runs the child on `spec` (see module doc); returns one report line per case.

    A case that kills the child (or gets no answer within `case_timeout`
    seconds, when the child is killed) is reported as "died", and a new child
    goes on with the next case.
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [TESTS] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    reports, skip = [], 0
    while True:
        spec_path = os.path.join(str(tmp_path), "guarded-spec.json")
        with open(spec_path, "w") as f:
            json.dump(dict(spec, skip=skip), f)
        proc = subprocess.Popen([sys.executable, "-m", "helpers.guarded_load", mode,
                                 str(memory_mb), spec_path], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=env)
        started = None
        for line in _lines(proc, case_timeout):
            if line is None:
                proc.kill()
                break
            if "start" in line:
                started = line
            else:
                reports.append(line)
                skip, started = line["index"] + 1, None
        code = proc.wait()
        if started is None:
            if code != 0:
                reports.append({"case": None, "outcome": "died", "returncode": code})
            return reports
        reports.append({"case": started["start"], "index": started["index"],
                         "outcome": "died", "returncode": "timeout" if code == -9 else code})
        skip = started["index"] + 1


if __name__ == "__main__":
    _child(*sys.argv[1:])

"""Runs the legacy importer on untrusted bytes in a child process with a memory cap.

A crash (segfault), a blow-up or a hang of the importer must fail a test, not
kill pytest; so the importer runs in a child whose address space is capped
with `resource.setrlimit`, and the parent reads one JSON line per input:

    {"case": ..., "outcome": "ok" | "error", "type": ..., "project": bool,
     "message": ...}

`project` says whether the exception is one of keras-stylegan's own
(`LegacyFormatError` and subclasses). A case the child started but did not
report (it crashed or was killed by the timeout) is reported by `run` as
outcome "died" with the child's return code.

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
import random
import subprocess
import sys

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


def _report(case, fn):
    from keras_stylegan.legacy import LegacyFormatError
    line = {"case": case}
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
        for path in spec["files"]:
            print(json.dumps({"start": path}), flush=True)
            _report(path, lambda: run(path))
        return
    data = open(spec["fuzz"], "rb").read()
    reference, converts = _structure(legacy.read_network_pkl(data)), spec.get("convert", 0)
    for case, blob in mutations(data, spec["seed"], spec["count"]):
        print(json.dumps({"start": case}), flush=True)
        pkl = _report(case, lambda: legacy.read_network_pkl(blob))
        if pkl is not None and converts > 0 and _structure(pkl) != reference:
            converts -= 1
            print(json.dumps({"start": case + " (convert)"}), flush=True)
            _report(case + " (convert)", lambda: legacy.load_network_pkl(blob))


def run(mode, spec, tmp_path, memory_mb=1024, timeout=300):
    """Runs the child on `spec` (see module doc); returns its report lines."""
    spec_path = os.path.join(str(tmp_path), "guarded-spec.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [TESTS] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        proc = subprocess.run([sys.executable, "-m", "helpers.guarded_load", mode,
                               str(memory_mb), spec_path], capture_output=True, text=True,
                              env=env, timeout=timeout)
        stdout, code = proc.stdout, proc.returncode
        stderr = proc.stderr
    except subprocess.TimeoutExpired as e:
        stdout, code = (e.stdout or b"").decode(errors="replace"), "timeout"
        stderr = (e.stderr or b"").decode(errors="replace")
    lines, started = [], None
    for text in stdout.splitlines():
        line = json.loads(text)
        if "start" in line:
            started = line["start"]
        else:
            lines.append(line)
            started = None
    if started is not None or code != 0:
        lines.append({"case": started, "outcome": "died", "returncode": code,
                      "stderr": stderr[-2000:]})
    return lines


if __name__ == "__main__":
    _child(*sys.argv[1:])

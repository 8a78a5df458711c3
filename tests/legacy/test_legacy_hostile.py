"""Hostile pickles (issue #12): no crash, hang, blow-up or foreign exception.

Each case builds its crafted file from a genuine fixture (or from raw pickle
opcodes), and runs the importer on it in a child process capped in memory
(`helpers.guarded_load`), so that a segfault, an exhausted memory or a hang
fails the case instead of killing pytest (the cases of one mode share a
child until one kills it). Every case must end in one of the project's
exceptions, whose type and message are checked. Each case failed on the
code before the fix (segfault, hang, memory blow-up or a foreign exception).
"""

import copyreg
import io
import pickle
import re
import sys

import numpy as np
import pytest

from conftest import load_fixture
from helpers import guarded_load
from keras_stylegan import legacy
from keras_stylegan.legacy import LegacyFormatError
from keras_stylegan.legacy.unpickler import NetworkState, SafeUnpickler

UNSAFE, FORMAT = "keras_stylegan.legacy.unpickler.UnsafePickleError", \
    "keras_stylegan.legacy.unpickler.LegacyFormatError"


class Stub:
    """Pickles as NVIDIA's `dnnlib.tflib.network.Network` (NEWOBJ, then BUILD)."""


Stub.__module__, Stub.__qualname__ = "dnnlib.tflib.network", "Network"


class Call:
    """Pickles as `func(*args)` (REDUCE), then BUILD with `state` if given."""

    def __init__(self, func, *args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (
            self.func, self.args, self.state)


# numpy.ndarray.__new__(ndarray, (1,), 'O', b'AAAAAAAA'): GLOBAL, args, NEWOBJ.
NEWOBJ_OBJECT_ARRAY = (b"cnumpy\nndarray\n" + b"K\x01\x85" + b"X\x01\x00\x00\x00O"
                       + b"C\x08AAAAAAAA" + b"\x87" + b"\x81")


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj):
        if isinstance(obj, Stub):
            return copyreg.__newobj__, (Stub,), obj.state
        return NotImplemented


def _stub(state):
    obj = Stub()
    obj.state = dict(state, components={k: _stub(v) if isinstance(v, dict) else v
                                        for k, v in state.get("components", {}).items()})
    return obj


def _dump(nets, protocol=4):
    modules = {m: sys.modules.get(m) for m in ("dnnlib", "dnnlib.tflib", "dnnlib.tflib.network")}
    sys.modules["dnnlib.tflib.network"] = type(sys)("dnnlib.tflib.network")
    sys.modules["dnnlib.tflib.network"].Network = Stub
    sys.modules["dnnlib"] = sys.modules["dnnlib.tflib"] = type(sys)("dnnlib")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        buf = io.BytesIO()
        _Pickler(buf, protocol=protocol).dump(tuple(nets))
        return buf.getvalue()
    finally:
        sys.setrecursionlimit(limit)
        for name, module in modules.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def _states():
    """The sg1_r32 fixture's (G, D, Gs) state dicts, components as dicts."""
    def unwrap(net):
        components = net.state["components"]
        return dict(net.state, components={k: unwrap(v) for k, v in components.items()})

    with open(load_fixture("sg1_r32")[0], "rb") as f:
        return [unwrap(n) for n in SafeUnpickler(f, encoding="latin1").load()]


def _edit(edit, protocol=4):
    states = _states()
    edit(states)
    return _dump([_stub(s) for s in states], protocol)


def _splice(edit, marker, opcodes):
    """A protocol-3 pickle (no frames) whose string `marker` is replaced by `opcodes`."""
    data = _edit(edit, protocol=3)
    raw = marker.encode()
    token = b"X" + len(raw).to_bytes(4, "little") + raw
    assert data.count(token) == 1
    return data.replace(token, opcodes)


def _set(where, key, value):
    """An edit setting `key` of the state at `where` ('G', 'G.synthesis', ...) to `value`."""
    def edit(states):
        parts = where.split(".")
        state = states[("G", "D", "Gs").index(parts[0])]
        for part in parts[1:]:
            state = state["components"][part]
        if key in ("version", "variables"):
            state[key] = value
        else:
            state["static_kwargs"][key] = value
    return edit


def _replace_variable(where, name, value):
    def edit(states):
        state = states[("G", "D", "Gs").index(where)]
        state["variables"] = [(n, value if n == name else v) for n, v in state["variables"]]
    return edit


def _object_array(*args):
    return Call(np.ndarray, *args)


def _shared_components(depth):
    """A component DAG of `depth` levels, each network listing the next one twice."""
    def edit(states):
        mapping = states[0]["components"]["mapping"]
        node = _stub(dict(mapping, components={}))
        for _ in range(depth):
            node = _stub(dict(mapping, components={"a": node, "b": node}))
        states[0]["components"]["synthesis"]["components"] = {"x": node}
    return edit


def _shared_mapping(states):
    mapping = _stub(states[0]["components"]["mapping"])
    states[0]["components"]["mapping"] = states[2]["components"]["mapping"] = mapping


def _deep_components(depth):
    """A chain of `depth` nested components (each network has one, distinct)."""
    def edit(states):
        node = _stub(dict(states[0]["components"]["mapping"], components={}))
        for _ in range(depth):
            node = _stub(dict(states[0]["components"]["mapping"], components={"x": node}))
        states[0]["components"]["synthesis"]["components"] = {"x": node}
    return edit


def _distinct_equal_lists(depth, width=5):
    """Lists A_n, B_n: equal, distinct, each level referencing the previous 2 * width times.

    Comparing them compares A_{n-1} with B_{n-1} 2 * width times: (2 * width)**n steps.
    """
    a, b = [1], [1]
    for _ in range(depth):
        a, b = [a, b] * width, [b, a] * width
    return a, b


def _laughs(levels, width=10):
    value = "lol"
    for _ in range(levels):
        value = [value] * width
    return value


def _equal_lists_in_two_networks(states):
    a, b = _distinct_equal_lists(12)
    states[0]["static_kwargs"]["blur_filter"] = a
    states[0]["components"]["synthesis"]["static_kwargs"]["blur_filter"] = b


def _dtype_with_state(state):
    return Call(np.dtype, "f8", False, True, state=state)


def _array_of(dtype):
    # NumPy's own array reduce: _reconstruct(ndarray, (0,), b'b'), then BUILD.
    return Call(np.ndarray.__reduce__(np.zeros(0))[0], np.ndarray, (0,), b"b",
                state=(1, (1,), dtype, False, b"A" * 8))


def _nested_lists(depth):
    return b"]" * depth + b"a" * (depth - 1)


def _long_binput():
    return b"\x80\x04Nr\x00\x00\x00\x08."  # NONE, LONG_BINPUT 2**27, STOP


# name -> (mode, make file bytes, expected exception type, message regex)
CASES = {
    # memory corruption: arrays whose object pointers come from the file
    "ndarray-reduce-object": ("read", lambda: _edit(_set(
        "G", "version", _object_array((1,), "O", b"AAAAAAAA"))), UNSAFE, "numpy.ndarray"),
    "ndarray-newobj-object": ("read", lambda: _splice(
        _set("G", "version", "@@NEW@@"), "@@NEW@@", NEWOBJ_OBJECT_ARRAY), UNSAFE,
        "numpy.ndarray"),
    "ndarray-structured-object-field": ("read", lambda: _edit(_set(
        "G", "version", _object_array((1,), [("a", "O")], b"AAAAAAAA"))), UNSAFE,
        "numpy.ndarray"),
    "dtype-state-claims-objects": ("read", lambda: _edit(_set(
        "G", "version", _array_of(_dtype_with_state((3, "<", None, None, None, -1, -1, 63))))),
        UNSAFE, "not that of a plain numeric dtype"),
    "ndarray-in-kwargs-info": ("info", lambda: _edit(_set(
        "G", "fmap_base", _object_array((1,), "O"))), FORMAT, "numpy.ndarray"),
    "ndarray-in-kwargs-generate": ("load", lambda: _edit(_set(
        "Gs.synthesis", "fmap_base", _object_array((1,), "O", b"AAAAAAAA"))), UNSAFE,
        "numpy.ndarray"),
    # hangs and blow-ups from small files
    "shared-component-dag": ("read", lambda: _edit(_shared_components(40)), FORMAT,
                             "at most 2 levels deep"),
    "shared-component": ("read", lambda: _edit(_shared_mapping), FORMAT,
                         "Gs.components.mapping is shared with another network"),
    "equal-distinct-list-dag": ("load", lambda: _edit(_equal_lists_in_two_networks),
                                FORMAT, "more than 10,000 values"),
    "billion-laughs-kwargs-info": ("info", lambda: _edit(_set("G", "lol", _laughs(9))),
                                   FORMAT, "more than 10,000 values"),
    "billion-laughs-kwargs-load": ("load", lambda: _edit(_set("D", "lol", _laughs(9))),
                                   FORMAT, "more than 10,000 values"),
    "shared-long-string-info": ("info", lambda: _edit(_set("G", "lol", ["x" * 10_000] * 1000)),
                                FORMAT, "more than 100,000 characters"),
    "mapping-layers-1e6": ("load", lambda: _edit(_set("G.mapping", "mapping_layers", 10 ** 6)),
                           FORMAT, r"mapping_layers=1000000 .*\[0, 64\]"),
    "kwargs-larger-than-stored": ("load", lambda: _edit(lambda s: (
        _set("D", "fmap_base", 2 ** 20)(s), _set("D", "fmap_max", 2 ** 13)(s))), FORMAT,
        r"at least [\d,]+ parameters, but the file stores"),
    "long-binput-2**27": ("read", _long_binput, FORMAT, r"tuple \(G, D, Gs\).*NoneType"),
    "object-array-2.5e8": ("read", lambda: pickle.dumps(
        _object_array((250_000_000,), "O"), protocol=4), UNSAFE, "numpy.ndarray"),
    # foreign exception types
    "dtype-garbage-state": ("read", lambda: _edit(_set(
        "G", "version", _array_of(_dtype_with_state(b"abc")))), UNSAFE, "dtype"),
    "deep-kwargs": ("info", lambda: _splice(_set("G", "deep", "@@DEEP@@"), "@@DEEP@@",
                                            _nested_lists(100_000)), FORMAT, "nested more than"),
    "deep-components": ("read", lambda: _edit(_deep_components(2000)), FORMAT,
                        "at most 2 levels deep"),
    "variables-not-a-list": ("read", lambda: _edit(_set("D", "variables", 5)), FORMAT,
                             "malformed variables list"),
    "variables-not-a-list-info": ("info", lambda: _edit(_set("D", "variables", 5)), FORMAT,
                                  "malformed variables list"),
    "resolution-48": ("load", lambda: _edit(lambda s: [
        _set(w, "resolution", 48)(s) for w in ("G", "G.synthesis", "G.mapping")]), FORMAT,
        "cannot build.*resolution"),
    "variable-that-cannot-be-reshaped": ("load", lambda: _edit(_replace_variable(
        "D", "4x4/Dense0/weight", np.zeros([5], np.float32))), FORMAT,
        r"4x4/Dense0/weight has shape \[5\]"),
    "resolution-none": ("load", lambda: _edit(_set("D", "resolution", None)), FORMAT,
                        "kwargs of D describe a network keras-stylegan cannot build"),
    "mapping-fmaps-none": ("load", lambda: _edit(lambda s: [
        _set(w, "mapping_fmaps", None)(s) for w in ("G", "G.synthesis", "G.mapping")]), FORMAT,
        "kwargs of G describe a network keras-stylegan cannot build"),
    "resolution-text": ("load", lambda: _edit(_set("D", "resolution", "abc")), FORMAT,
                        r"resolution='abc'.*integer"),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """{case: report line}, each mode's cases run by one capped child."""
    folder = tmp_path_factory.mktemp("hostile")
    files = {}
    for name, (mode, make, _, _) in CASES.items():
        files[name] = folder / f"{name}.pkl"
        files[name].write_bytes(make())
    lines = {}
    for mode in ("read", "info", "load"):
        spec = {"files": [str(files[n]) for n, case in CASES.items() if case[0] == mode]}
        memory = 1024 if mode == "read" else 4096
        for line in guarded_load.run(mode, spec, folder, memory_mb=memory, case_timeout=120):
            lines[line["case"]] = line
    return {name: lines.get(str(path)) for name, path in files.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_file_gets_one_project_error(outcomes, name):
    _, _, expected, pattern = CASES[name]
    line = outcomes[name]
    assert line is not None, f"{name}: not reached (an earlier case killed the child)"
    assert line["outcome"] == "error", line
    assert line["type"] == expected and line["project"], line
    assert re.search(pattern, line["message"]), line


def test_crafted_files_are_small():
    # The point: tiny files, not big ones, caused the blow-ups.
    assert len(_long_binput()) == 9
    assert len(pickle.dumps(_object_array((250_000_000,), "O"), protocol=4)) < 100


# --- compatibility: protocol 2 ----------------------------------------------------------

def test_protocol2_pickle_of_a_genuine_network_loads_identically():
    pkl, _, ref = load_fixture("sg1_r32")
    data = _dump([_stub(s) for s in _states()], protocol=2)
    assert b"_codecs\nencode" in data  # protocol 2 really stores bytes this way
    a = legacy.load_network_pkl(pkl, networks=("Gs",))["Gs"]
    b = legacy.load_network_pkl(data, networks=("Gs",))["Gs"]
    z = ref["latents"]
    np.testing.assert_array_equal(a(z, noise_mode="const"), b(z, noise_mode="const"))


def test_arrays_shared_through_the_memo_are_real_arrays():
    # A second reference to an array (a memo GET) gets the array, not a placeholder.
    states = _states()
    shared = states[1]["variables"][0][1]
    states[1]["variables"][1] = (states[1]["variables"][1][0], shared)
    data = _dump([_stub(s) for s in states])
    D = legacy.read_network_pkl(data).D
    names = [name for name, _ in states[1]["variables"][:2]]
    np.testing.assert_array_equal(D.variables[names[1]], shared)
    assert isinstance(D.variables[names[1]], np.ndarray)


def test_networkstate_is_inert():
    assert not hasattr(NetworkState, "__setstate__")  # BUILD goes through our code only


# --- the documented limits are enforced (made small here) ---------------------------------

@pytest.mark.parametrize("limit,value,pattern", [
    ("MAX_FILE_BYTES", 1_000_000, "over the limit of 1,000,000 bytes"),
    ("MAX_OPCODES", 1_000, "more than 1,000 opcodes"),
    ("MAX_MEMO", 100, "memo exceeds 100 entries"),
    ("MAX_VARIABLES", 10, "malformed variables list"),
    ("MAX_NETWORKS", 4, "more than 4 networks"),
])
def test_limit_is_enforced(monkeypatch, tmp_path, limit, value, pattern):
    from keras_stylegan.legacy import limits
    path = load_fixture("sg1_r32")[0]
    legacy.read_network_pkl(path)  # within the real limits
    monkeypatch.setattr(limits, limit, value)
    with pytest.raises(LegacyFormatError, match=pattern):
        legacy.read_network_pkl(path)


def test_bytearray_longer_than_the_file_is_refused_before_allocation():
    data = b"\x80\x05\x96" + (2 ** 40).to_bytes(8, "little") + b"."
    with pytest.raises(LegacyFormatError, match="bytearray larger than the file"):
        legacy.read_network_pkl(data)


def test_array_shape_must_match_its_bytes():
    def array(shape, raw):
        f4 = Call(np.dtype, "f4", False, True, state=(3, "<", None, None, None, -1, -1, 0))
        return pickle.dumps(Call(np.ndarray.__reduce__(np.zeros(0))[0], np.ndarray, (0,), b"b",
                                 state=(1, shape, f4, False, raw)))

    ok = legacy.unpickler.safe_load(array((1,), b"\0\0\x80?"))
    np.testing.assert_array_equal(ok, np.ones([1], np.float32))
    with pytest.raises(LegacyFormatError, match=r"should hold 8 bytes; the pickle has 4"):
        legacy.unpickler.safe_load(array((2,), b"AAAA"))
    with pytest.raises(LegacyFormatError, match=r"exceeds the limit of 2,147,483,648 elements"):
        legacy.unpickler.safe_load(array((2 ** 20, 2 ** 20), b"AAAA"))

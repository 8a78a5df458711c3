"""The legacy importer treats a pickle as untrusted input.

Malicious payloads are refused before anything runs; corrupt, truncated and
wrong files, unknown kwargs and mismatched variables each give one clear error.
Modified pickles are made by re-pickling the fixture's states with a stand-in
`dnnlib.tflib.network.Network` class.
"""

import copyreg
import io
import os
import pickle
import sys
import types

import numpy as np
import pytest

from conftest import load_fixture
from keras_stylegan import legacy
from keras_stylegan.legacy import LegacyFormatError, UnsafePickleError
from keras_stylegan.legacy.unpickler import SafeUnpickler


@pytest.fixture
def dnnlib_stub(monkeypatch):
    """Installs an importable `dnnlib.tflib.network.Network` for pickling states."""
    module = types.ModuleType("dnnlib.tflib.network")

    class Network:
        pass

    Network.__module__, Network.__qualname__ = "dnnlib.tflib.network", "Network"
    module.Network = Network
    for name in ("dnnlib", "dnnlib.tflib"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "dnnlib.tflib.network", module)
    return Network


def _dump(states, stub, protocol=4):
    """Pickles state dicts (nested via 'components') as NVIDIA's Network objects."""
    def wrap(state):
        state = dict(state)
        state["components"] = {k: wrap(v) for k, v in state.get("components", {}).items()}
        obj = stub.__new__(stub)
        obj.state = state
        return obj

    class Pickler(pickle.Pickler):
        # NEWOBJ of the stub class, then BUILD with the state, as in NVIDIA's files.
        def reducer_override(self, obj):
            if isinstance(obj, stub):
                return copyreg.__newobj__, (stub,), obj.state
            return NotImplemented

    buf = io.BytesIO()
    Pickler(buf, protocol=protocol).dump(tuple(wrap(s) for s in states))
    return buf.getvalue()


def _raw_states(pkl_path):
    """The fixture's (G, D, Gs) state dicts, components unwrapped."""
    def unwrap(net):
        state = dict(net.state)
        state["components"] = {k: unwrap(v) for k, v in state["components"].items()}
        return state

    with open(pkl_path, "rb") as f:
        return [unwrap(n) for n in SafeUnpickler(f, encoding="latin1").load()]


@pytest.fixture(scope="module")
def sg1():
    pkl, _, ref = load_fixture("sg1_r32")
    return pkl, ref


def _globals(data):
    """The (module, name) globals a pickle resolves, recorded while loading it."""
    seen = set()

    class Recorder(SafeUnpickler):
        def find_class(self, module, name):
            seen.add(f"{module}.{name}")
            return super().find_class(module, name)

    Recorder(io.BytesIO(data), encoding="latin1").load()
    return seen


# --- malicious payloads ---------------------------------------------------------

class _Payload:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("make", [
    lambda marker: _Payload(os.system, f"touch {marker}"),
    lambda marker: _Payload(eval, f"open({str(marker)!r}, 'w').write('pwned')"),
    lambda marker: _Payload(open, str(marker), "w"),
    lambda marker: _Payload(__import__("subprocess").Popen, ["touch", str(marker)]),
], ids=["os.system", "eval", "open", "subprocess.Popen"])
def test_payload_is_refused_and_nothing_runs(tmp_path, make):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(make(marker), protocol=4))
    with pytest.raises(UnsafePickleError, match="Refusing to load global"):
        legacy.load_network_pkl(path)
    assert not marker.exists()


def test_payload_hidden_inside_a_network_state_is_refused(tmp_path, sg1, dnnlib_stub):
    marker = tmp_path / "marker"
    states = _raw_states(sg1[0])
    states[0]["static_kwargs"]["fmap_base"] = _Payload(os.system, f"touch {marker}")
    path = tmp_path / "evil.pkl"
    path.write_bytes(_dump(states, dnnlib_stub))
    with pytest.raises(UnsafePickleError, match="posix.system|os.system|nt.system"):
        legacy.load_network_pkl(path)
    assert not marker.exists()


def test_object_arrays_are_refused(tmp_path, sg1, dnnlib_stub):
    states = _raw_states(sg1[0])
    states[1]["variables"][0] = ("lod", np.array([None], dtype=object))
    with pytest.raises(UnsafePickleError, match="dtype"):
        legacy.load_network_pkl(_dump(states, dnnlib_stub))


def test_build_module_src_is_never_executed(tmp_path, sg1, dnnlib_stub):
    marker = tmp_path / "marker"
    states = _raw_states(sg1[0])
    src = f"open({str(marker)!r}, 'w').write('ran')\n"
    for s in states:
        s["build_module_src"] = src
    nets = legacy.load_network_pkl(_dump(states, dnnlib_stub))
    assert nets["Gs"].resolution == 32
    assert not marker.exists()


# --- formats: protocol 5 / NumPy 2 names -----------------------------------------

def test_protocol5_numpy2_pickle_loads_identically(sg1, dnnlib_stub):
    pkl, ref = sg1
    data = _dump(_raw_states(pkl), dnnlib_stub, protocol=5)
    names = _globals(data)
    assert "numpy._core.numeric._frombuffer" in names, names  # really NumPy 2.x names
    a = legacy.load_network_pkl(pkl, networks=("Gs",))["Gs"]
    b = legacy.load_network_pkl(data, networks=("Gs",))["Gs"]
    z = ref["latents"]
    np.testing.assert_array_equal(a(z, noise_mode="const"), b(z, noise_mode="const"))


def test_fixture_pickle_uses_only_the_allowed_globals(sg1):
    names = _globals(open(sg1[0], "rb").read())
    assert names == {"dnnlib.tflib.network.Network", "numpy.core.multiarray._reconstruct",
                     "numpy.ndarray", "numpy.dtype", "numpy.core.multiarray.scalar"}, names


# --- corrupt, truncated, wrong files -------------------------------------------------

@pytest.mark.parametrize("cut", [0.5, 0.99])
def test_truncated_file(tmp_path, sg1, cut):
    data = open(sg1[0], "rb").read()
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[:int(len(data) * cut)])
    with pytest.raises(LegacyFormatError, match="truncated or corrupt"):
        legacy.load_network_pkl(path)


def test_corrupt_bytes(tmp_path, sg1):
    data = bytearray(open(sg1[0], "rb").read())
    data[2:64] = b"\xff" * 62
    with pytest.raises(LegacyFormatError, match="truncated or corrupt"):
        legacy.load_network_pkl(bytes(data))


@pytest.mark.parametrize("content,match", [
    (b"", "empty"),
    (b"PK\x03\x04rest-of-a-zip", "ZIP"),
    (b"\x89PNG\r\n\x1a\n....", "image"),
    (b"hello, I am text", "not a pickle"),
    (b"\x1f\x8b\x08\x00", "gzip"),
])
def test_wrong_file_types(tmp_path, content, match):
    path = tmp_path / "x.pkl"
    path.write_bytes(content)
    with pytest.raises(LegacyFormatError, match=match):
        legacy.load_network_pkl(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such network pickle"):
        legacy.load_network_pkl(tmp_path / "nope.pkl")


def test_not_a_network_tuple():
    with pytest.raises(LegacyFormatError, match=r"tuple \(G, D, Gs\)"):
        legacy.load_network_pkl(pickle.dumps({"a": 1}, protocol=4))


# --- architecture and kwargs --------------------------------------------------------

def _modified(sg1, stub, edit):
    states = _raw_states(sg1[0])
    edit(states)
    return _dump(states, stub)


def test_unknown_architecture(sg1, dnnlib_stub):
    def edit(states):
        states[0]["build_func_name"] = states[2]["build_func_name"] = "G_fancy"
    with pytest.raises(LegacyFormatError, match="unknown generator architecture 'G_fancy'"):
        legacy.load_network_pkl(_modified(sg1, dnnlib_stub, edit))


def test_unknown_kwarg_is_named(sg1, dnnlib_stub):
    def edit(states):
        states[2]["components"]["synthesis"]["static_kwargs"]["use_magic"] = True
    with pytest.raises(LegacyFormatError, match=r"unknown kwargs use_magic=True \(G_synthesis\)"):
        legacy.load_network_pkl(_modified(sg1, dnnlib_stub, edit), networks=("Gs",))


def test_unknown_discriminator_kwarg_is_named(sg1, dnnlib_stub):
    def edit(states):
        states[1]["static_kwargs"]["mbstd_mode"] = "x"
    with pytest.raises(LegacyFormatError, match="mbstd_mode"):
        legacy.load_network_pkl(_modified(sg1, dnnlib_stub, edit), networks=("D",))


def test_unsupported_kwarg_value(sg1, dnnlib_stub):
    def edit(states):
        states[2]["static_kwargs"]["use_wscale"] = False
    with pytest.raises(LegacyFormatError, match="unsupported use_wscale=False"):
        legacy.load_network_pkl(_modified(sg1, dnnlib_stub, edit), networks=("Gs",))


def test_missing_variable_is_named(sg1, dnnlib_stub):
    def edit(states):
        syn = states[2]["components"]["synthesis"]
        syn["variables"] = [v for v in syn["variables"] if v[0] != "8x8/Conv1/bias"]
    with pytest.raises(LegacyFormatError, match="G_synthesis/8x8/Conv1/bias"):
        legacy.load_network_pkl(_modified(sg1, dnnlib_stub, edit), networks=("Gs",))


def test_extra_variable_is_listed(sg1, dnnlib_stub):
    def edit(states):
        states[1]["variables"].append(("Extra/weight", np.zeros([3], np.float32)))
    with pytest.raises(LegacyFormatError, match=r"not used: \['Extra/weight'\]"):
        legacy.load_network_pkl(_modified(sg1, dnnlib_stub, edit), networks=("D",))


def test_wrong_variable_shape(sg1, dnnlib_stub):
    def edit(states):
        states[1]["variables"] = [(n, np.zeros([5], np.float32) if n == "4x4/Conv/bias" else v)
                                  for n, v in states[1]["variables"]]
    with pytest.raises(LegacyFormatError, match=r"4x4/Conv/bias has shape \[5\]"):
        legacy.load_network_pkl(_modified(sg1, dnnlib_stub, edit), networks=("D",))


def test_unsupported_version(sg1, dnnlib_stub):
    def edit(states):
        states[1]["version"] = 9
    with pytest.raises(LegacyFormatError, match="format version 9"):
        legacy.load_network_pkl(_modified(sg1, dnnlib_stub, edit))

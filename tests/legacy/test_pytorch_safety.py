"""NVIDIA's PyTorch pickles are read as untrusted input, without torch.

The embedded `module_src` never runs; every global outside the allow-list is
refused before anything is called (in the outer pickle and inside tensor
storage streams); tensors cannot read outside their storage; truncated,
corrupt and malformed files give one `LegacyFormatError`; StyleGAN3
alias-free networks are refused by name. Crafted files are written with
`helpers.torch_pickles` (no torch needed), most of them by re-writing the
`ada_r32_paper` fixture with one change.
"""

import copy
import pickle

import numpy as np
import pytest

from helpers import torch_pickles as tp
from helpers.pytorch_cases import PYTORCH, pytorch_fixture
from keras_stylegan import legacy
from keras_stylegan.legacy import LegacyFormatError, UnsafePickleError
from keras_stylegan.legacy.torch_unpickler import load_torch_pickle


@pytest.fixture(scope="module")
def fixture_bytes():
    pytorch_fixture("ada_r32_paper")
    return (PYTORCH / "ada_r32_paper" / "network-stripped.pkl").read_bytes()


@pytest.fixture(scope="module")
def snapshot(fixture_bytes):
    """The fixture as writable objects (`tp.Module`s, arrays, dicts)."""
    return tp.from_loaded(load_torch_pickle(fixture_bytes))


def _payload(marker):
    return (f"open({str(marker)!r}, 'w').write('pwned')\n"
            "class Generator:\n"
            f"    open({str(marker)!r}, 'a').write('class body ran')\n")


def _modules(obj):
    """Every `tp.Module` in a writable tree."""
    if isinstance(obj, tp.Module):
        yield obj
        obj = obj.state
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _modules(v)


def test_module_src_is_never_executed(snapshot, fixture_bytes, tmp_path):
    marker = tmp_path / "marker.txt"
    evil = copy.deepcopy(snapshot)
    for module in _modules(evil):
        module.module_src = _payload(marker)
    data = tp.dumps(evil)
    nets = legacy.load_network_pkl(data)
    assert not marker.exists()
    clean = legacy.load_network_pkl(fixture_bytes)
    for key in ("G", "D", "Gs"):
        for a, b in zip(nets[key].get_weights(), clean[key].get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    assert not marker.exists()


def _get(obj, key):
    if isinstance(obj, tp.Module):
        return obj.state[key] if key in obj.state else obj.state["_modules"][key]
    return obj[key]


def _with(snapshot, path, value):
    """The snapshot's bytes with item `path` ('G_ema/mapping/_init_kwargs/x') set to `value`."""
    snap = copy.deepcopy(snapshot)
    keys = path.split("/")
    obj = snap
    for key in keys[:-1]:
        obj = _get(obj, key)
    target = obj.state if isinstance(obj, tp.Module) else obj
    target[keys[-1]] = value
    return tp.dumps(snap)


def _call(module, name, *args):
    return tp.Call(tp.Global(module, name), *args)


PAYLOADS = {
    "os.system": lambda m: _call("os", "system", f"touch {m}"),
    "posix.system": lambda m: _call("posix", "system", f"touch {m}"),
    "builtins.exec": lambda m: _call("builtins", "exec", f"open({str(m)!r}, 'w')"),
    "builtins.eval": lambda m: _call("builtins", "eval", f"open({str(m)!r}, 'w')"),
    "subprocess.Popen": lambda m: _call("subprocess", "Popen", ["touch", str(m)]),
    "torch.load": lambda m: _call("torch", "load", str(m)),
    "torch_utils.persistence.persistent_class": lambda m: _call(
        "torch_utils.persistence", "persistent_class", str(m)),
    "copyreg._reconstructor": lambda m: _call("copyreg", "_reconstructor", str(m)),
}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_unlisted_globals_are_refused_before_anything_runs(snapshot, tmp_path, name):
    marker = tmp_path / "marker"
    match = name.replace(".", r"\.")
    with pytest.raises(UnsafePickleError, match=match):  # alone
        load_torch_pickle(tp.dumps(PAYLOADS[name](marker)))
    with pytest.raises(UnsafePickleError, match=match):  # deep inside a real snapshot
        legacy.load_network_pkl(_with(snapshot, "G_ema/synthesis/b8/_init_kwargs/evil",
                                      PAYLOADS[name](marker)))
    assert not marker.exists()


def test_globals_inside_a_storage_stream_are_refused(tmp_path):
    marker = tmp_path / "marker"
    stream = tp.storage_stream(np.zeros(4, np.float32)).replace(
        b"ctorch\nFloatStorage\n", b"cos\nsystem\n")
    data = tp.dumps({"G": tp.tensor(np.zeros(4, np.float32), stream=stream)})
    with pytest.raises(UnsafePickleError, match=r"os\.system"):
        legacy.load_network_pkl(data)
    assert not marker.exists()


ARR = np.arange(4, dtype=np.float32)
BAD_TENSORS = {
    "more elements than its storage": tp.tensor(ARR, size=(5,), stride=(1,)),
    "reads past its storage": tp.tensor(ARR, size=(2,), stride=(4,)),
    "reads past": tp.tensor(ARR, size=(2,), stride=(1,), offset=3),
    "malformed stride": tp.tensor(ARR, size=(2,), stride=(-1,)),
    "more elements than its storage .4.": tp.tensor(ARR, size=(10 ** 30,), stride=(1,)),
    "mismatched size/stride": tp.tensor(ARR, size=(2, 2), stride=(1,)),
    "truncated or has the wrong size": tp.tensor(ARR, stream=tp.storage_stream(ARR, count=5)),
    "not little-endian": tp.tensor(ARR, stream=tp.storage_stream(
        ARR, sys_info=dict(little_endian=False))),
    "BFloat16Storage is not supported": tp.tensor(ARR, stream=tp.storage_stream(
        ARR, storage_type="BFloat16Storage")),
    "exactly one storage": tp.tensor(ARR, stream=tp.storage_stream(ARR, keys=["1", "2"])),
    "magic number": tp.tensor(ARR, stream=pickle.dumps(1, protocol=2) + tp.storage_stream(
        ARR)[len(pickle.dumps(tp.TORCH_MAGIC, protocol=2)):]),
}


@pytest.mark.parametrize("match", sorted(BAD_TENSORS))
def test_malformed_tensors_are_refused(match):
    with pytest.raises(LegacyFormatError, match=match):
        load_torch_pickle(tp.dumps({"G": BAD_TENSORS[match]}))


def test_a_tensor_round_trips_with_strides_and_offset():
    base = np.arange(24, dtype=np.float32)
    want = base[2:].reshape(2, 11)[:, :6:2]  # a strided view of the storage
    got = load_torch_pickle(tp.dumps(tp.tensor(base, size=(2, 3), stride=(11, 2), offset=2)))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fraction", [0.0001, 0.003, 0.25, 0.5, 0.999])
def test_truncated_files_give_one_clear_error(fixture_bytes, fraction):
    with pytest.raises(LegacyFormatError, match="truncated|corrupt|pickle"):
        legacy.load_network_pkl(fixture_bytes[:int(len(fixture_bytes) * fraction)])


def test_corrupted_bytes_never_crash(fixture_bytes):
    rng = np.random.default_rng(0)
    outcomes = set()
    for _ in range(25):
        data = bytearray(fixture_bytes)
        pos = int(rng.integers(0, 40_000))  # the opcode-dense start (module states)
        data[pos] ^= int(rng.integers(1, 256))
        try:
            legacy.load_network_pkl(bytes(data), networks=())
            outcomes.add("loaded")
        except LegacyFormatError:
            outcomes.add("refused")
    assert "refused" in outcomes


STRUCTURE_ERRORS = {
    "unknown kwargs foo=1": ("G_ema/_init_kwargs/foo", 1),
    "mapping_kwargs": ("G_ema/_init_kwargs/mapping_kwargs", [1, 2]),
    "unsupported architecture='stacked'": ("D/_init_kwargs/architecture", "stacked"),
    "inconsistent": ("G_ema/mapping/w_avg_beta", 0.5),
    "malformed": ("G_ema/synthesis/_modules", [1, 2]),
}


@pytest.mark.parametrize("match", sorted(STRUCTURE_ERRORS))
def test_malformed_networks_give_a_named_error(snapshot, match):
    path, value = STRUCTURE_ERRORS[match]
    with pytest.raises(LegacyFormatError, match=match.replace("[", r"\[")):
        legacy.load_network_pkl(_with(snapshot, path, value))


@pytest.mark.parametrize("radial,name", [(False, "stylegan3-t"), (True, "stylegan3-r")])
def test_stylegan3_alias_free_networks_are_refused_by_name(snapshot, radial, name):
    snap = copy.deepcopy(snapshot)
    for key in ("G", "G_ema"):
        g = snap[key]
        g.state["_init_kwargs"] = dict(g.state["_init_kwargs"], magnitude_ema_beta=0.999,
                                       **({"use_radial_filters": True} if radial else {}))
        g.state["_modules"]["synthesis"].state["_modules"]["input"] = tp.Module(
            "SynthesisInput", {"_modules": {}, "_parameters": {}, "_buffers": {}})
    with pytest.raises(LegacyFormatError, match=f"alias-free.*{name}"):
        legacy.load_network_pkl(tp.dumps(snap))


def test_non_snapshot_pickles_are_refused():
    with pytest.raises(LegacyFormatError, match="snapshot dict"):
        legacy.load_network_pkl(tp.dumps([_call("torch._utils", "_rebuild_parameter",
                                                np.zeros(1, np.float32), False, None)]))
    with pytest.raises(LegacyFormatError, match="ZIP archive"):
        load_torch_pickle(b"PK\x03\x04" + b"\0" * 100)


def test_memo_references_cannot_amplify_a_small_file():
    """One 1 MB storage referenced by 1000 tensors (a 1 GB copy) is refused, fast."""
    storage = tp.Call(tp.Global("torch.storage", "_load_from_bytes"),
                      tp.storage_stream(np.zeros(1 << 18, np.float32)))
    tensors = [tp.Call(tp.Global("torch._utils", "_rebuild_tensor_v2"), storage, 0,
                       (1 << 18,), (1,), False, {}) for _ in range(1000)]
    data = tp.dumps({"G": tensors})
    assert len(data) < 2 << 20
    with pytest.raises(LegacyFormatError, match="far more data than it holds"):
        load_torch_pickle(data)


def test_a_broadcast_tensor_cannot_outgrow_its_storage():
    with pytest.raises(LegacyFormatError, match="more elements than its storage"):
        load_torch_pickle(tp.dumps(tp.tensor(ARR, size=(10 ** 9,), stride=(0,))))

"""Writes `torch.save`-format files without torch, for the reader's edge cases.

The genuine files written by torch itself are the committed fixtures in
tests/data/metrics/ (zip format and legacy format); this writer produces the
same layout with other dtypes, strides and corruptions a test needs. It pickles
stand-ins whose module and name are torch's, via temporary entries in
sys.modules (removed on exit), so the bytes name exactly `torch._utils.
_rebuild_tensor_v2` and `torch.<Type>Storage` as torch's own files do.
"""

import collections
import contextlib
import io
import pickle
import struct
import sys
import types
import zipfile
from unittest import mock

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_OF = {"float32": "FloatStorage", "float16": "HalfStorage", "float64": "DoubleStorage",
              "int64": "LongStorage", "uint8": "ByteStorage", "bfloat16": "BFloat16Storage"}


@contextlib.contextmanager
def _fake_torch():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in list(STORAGE_OF.values()) + ["ComplexFloatStorage"]:
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    with mock.patch.dict(sys.modules, {"torch": torch, "torch._utils": utils}):
        yield torch, utils


class Tensor:
    """A tensor to write: `data` (1-D storage contents), its view and storage dtype."""

    def __init__(self, data, shape=None, stride=None, offset=0, storage=None, key=None):
        self.data = np.ascontiguousarray(data).reshape(-1)
        self.shape = tuple(shape if shape is not None else np.shape(data))
        if stride is None:
            stride = tuple(int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape)))
        self.stride, self.offset = tuple(stride), offset
        self.storage = storage or STORAGE_OF[str(self.data.dtype)]
        self.key = key


def _pickle(obj, persistent_id):
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=2)
    p.persistent_id = persistent_id
    p.dump(obj)
    return buf.getvalue()


def _state_bytes(tensors, legacy):
    """(pickle bytes, {key: (storage name, raw bytes, numel)})."""
    storages = {}
    with _fake_torch() as (torch, utils):
        class Ref:
            def __init__(self, t):
                self.t = t

            def __reduce__(self):
                t = self.t
                return (utils._rebuild_tensor_v2,
                        (_Stor(t), t.offset, t.shape, t.stride, False,
                         collections.OrderedDict()))

        class _Stor:
            def __init__(self, t):
                self.t = t

        def persistent_id(obj):
            if not isinstance(obj, _Stor):
                return None
            t = obj.t
            key = t.key or str(len(storages))
            raw = t.data.tobytes() if t.storage != "BFloat16Storage" else t.data.tobytes()
            storages[key] = (t.storage, raw, t.data.size)
            pid = ("storage", getattr(torch, t.storage), key, "cpu", t.data.size)
            return pid + (None,) if legacy else pid

        state = collections.OrderedDict((k, Ref(t)) for k, t in tensors.items())
        return _pickle(state, persistent_id), storages


def write_zip(path, tensors, prefix="archive", drop_member=None):
    """A zip-format checkpoint of {name: Tensor}."""
    data, storages = _state_bytes(tensors, legacy=False)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{prefix}/data.pkl", data)
        zf.writestr(f"{prefix}/byteorder", "little")
        for key, (_, raw, _) in storages.items():
            if key != drop_member:
                zf.writestr(f"{prefix}/data/{key}", raw)
        zf.writestr(f"{prefix}/version", "3\n")


def write_legacy(path, tensors):
    """A legacy-format (PyTorch < 1.6) checkpoint of {name: Tensor}."""
    data, storages = _state_bytes(tensors, legacy=True)
    out = io.BytesIO()
    for obj in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
        out.write(pickle.dumps(obj, protocol=2))
    out.write(data)
    keys = sorted(storages)
    out.write(pickle.dumps(keys, protocol=2))
    for key in keys:
        _, raw, numel = storages[key]
        out.write(struct.pack("<q", numel) + raw)
    with open(path, "wb") as f:
        f.write(out.getvalue())

"""Writes PyTorch-snapshot-style pickles without torch, for the importer's tests.

`dumps(obj)` pickles a tree of dicts, lists, NumPy arrays and `Module`s the
way NVIDIA's code does: each `Module` as
`torch_utils.persistence._reconstruct_persistent_obj(meta)`, each array as
`torch._utils._rebuild_tensor_v2(torch.storage._load_from_bytes(stream), ...)`
with the legacy `torch.save` stream of its storage. `Global(module, name)`
writes any global by name (nothing needs to be importable), so tests can
also plant globals a real snapshot never has.
"""

import collections
import io
import pickle
import sys

import numpy as np

TORCH_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
                 np.dtype(np.int64): "LongStorage", np.dtype(np.uint8): "ByteStorage"}


class Global:
    """A global written by name (GLOBAL opcode)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle's save_reduce wants a callable; never called
        raise AssertionError("a Global is only written, never called")


class Call:
    """Pickles as `func(*args)` (REDUCE)."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


class Module:
    """A persistent NVIDIA module: class name, state dict, module source."""

    def __init__(self, class_name, state, module_src="# placeholder\n"):
        self.class_name, self.state, self.module_src = class_name, state, module_src


class Storage:
    """A storage persistent id inside a `torch.save` stream."""

    def __init__(self, storage_type, key, numel):
        self.pid = ("storage", Global("torch", storage_type), key, "cpu", numel, None)


class _Writer(pickle._Pickler):
    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            return
        if isinstance(obj, Module):
            meta = dict(type="class", version=6, module_src=obj.module_src,
                        class_name=obj.class_name, state=obj.state)
            obj = Call(Global("torch_utils.persistence", "_reconstruct_persistent_obj"), meta)
        elif isinstance(obj, np.ndarray):
            obj = tensor(obj)
        super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, Storage) else None


def dumps(obj, protocol=4):
    buf = io.BytesIO()
    _Writer(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def storage_stream(array, storage_type=None, sys_info=None, count=None, keys=None):
    """The legacy `torch.save` bytes of one storage holding `array` (flattened)."""
    flat = np.ascontiguousarray(array).reshape(-1)
    storage_type = storage_type or STORAGE_NAMES[flat.dtype]
    sys_info = sys_info or dict(protocol_version=1001, little_endian=sys.byteorder == "little",
                                type_sizes=dict(short=2, int=4, long=4))
    parts = [pickle.dumps(TORCH_MAGIC, protocol=2), pickle.dumps(1001, protocol=2),
             pickle.dumps(sys_info, protocol=2),
             dumps(Storage(storage_type, "140000", flat.size), protocol=2),
             pickle.dumps(["140000"] if keys is None else keys, protocol=2),
             np.int64(flat.size if count is None else count).tobytes(), flat.tobytes()]
    return b"".join(parts)


def tensor(array, size=None, stride=None, offset=0, stream=None):
    """`_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`."""
    array = np.asarray(array)
    size = tuple(array.shape) if size is None else size
    if stride is None:
        stride = tuple(s // array.itemsize for s in np.array(array, order="C").strides)
    storage = Call(Global("torch.storage", "_load_from_bytes"),
                   storage_stream(array) if stream is None else stream)
    return Call(Global("torch._utils", "_rebuild_tensor_v2"), storage, offset, size, stride,
                False, collections.OrderedDict())


def from_loaded(obj, module_src=None):
    """Turns what the importer's unpickler returned back into writable objects.

    `PersistentObject`s become `Module`s (with `module_src` if given), so a
    fixture can be re-written with a different module source.
    """
    from keras_stylegan.legacy.torch_unpickler import PersistentObject
    if isinstance(obj, PersistentObject):
        return Module(obj.class_name, from_loaded(obj.state, module_src),
                      module_src or "# placeholder\n")
    if isinstance(obj, dict):
        return {k: from_loaded(v, module_src) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(from_loaded(v, module_src) for v in obj)
    return obj

"""A torch-free, allow-listed reader for NVIDIA's PyTorch network pickles.

`stylegan2-ada-pytorch` and `stylegan3` write their snapshots with plain
`pickle.dump`, and every network class travels with its whole Python module
source (`torch_utils.persistence`), which NVIDIA's loader executes. This
reader executes nothing from the file:

* `torch_utils.persistence._reconstruct_persistent_obj(meta)` becomes an inert
  `PersistentObject` holding `class_name`, the module's `state` dict and its
  constructor arguments; `module_src` is hashed and dropped, never run;
* tensors are rebuilt by our own code: `torch.storage._load_from_bytes`
  parses the legacy `torch.save` stream of one storage (magic number,
  protocol 1001, little-endian sys info, one persistent id naming a numeric
  `torch.*Storage`, the key list, the raw bytes) into a NumPy array, and
  `torch._utils._rebuild_tensor_v2` takes a bounds-checked strided view of it
  (copied); `_rebuild_parameter` unwraps it;
* `collections.OrderedDict`, `dnnlib.util.EasyDict` (a dict subclass of our
  own), `builtins.set` (protocol <= 3) and the NumPy scalar/dtype globals of
  the TF1 reader are the only other globals. Anything else is refused
  *before* it is called, with an error naming it.

Example:

>>> obj = load_torch_pickle(open("network-snapshot.pkl", "rb").read())  # doctest: +SKIP
>>> obj["G_ema"].class_name                                             # doctest: +SKIP
'Generator'
"""

import collections
import hashlib
import io
import pickle

import numpy as np

from keras_stylegan.legacy import unpickler as tf1
from keras_stylegan.legacy.unpickler import LegacyFormatError, UnsafePickleError
from keras_stylegan.torch_storage import (
    STORAGE_DTYPES,
    TORCH_LEGACY_PROTOCOL,
    TORCH_MAGIC,
    shape_tuple,
    storage_array,
    storage_itemsize,
    strided_copy,
)

PERSISTENCE_VERSION = 6  # torch_utils.persistence._version in both NVIDIA repos
# Numeric storages of network weights (NVIDIA's networks hold no bfloat16).
NETWORK_STORAGES = sorted(set(STORAGE_DTYPES) - {"BFloat16Storage"})


class EasyDict(dict):
    """Stand-in for `dnnlib.util.EasyDict`: a plain dict (items are the kwargs)."""


class PersistentObject:
    """What `_reconstruct_persistent_obj(meta)` yields here: inert data.

    Attributes:
        class_name: NVIDIA's class name ('Generator', 'SynthesisLayer', ...).
        state: the module's `__dict__` (`_parameters`, `_buffers`, `_modules`,
            `_init_args`, `_init_kwargs`, plain attributes).
        module_src_sha256, module_src_chars: identify the embedded source,
            which is never executed (nor kept).
    """

    def __init__(self, class_name, state, module_src_sha256, module_src_chars):
        self.class_name = class_name
        self.state = state
        self.module_src_sha256 = module_src_sha256
        self.module_src_chars = module_src_chars

    @property
    def init_args(self):
        return self.state.get("_init_args", ())

    @property
    def init_kwargs(self):
        return self.state.get("_init_kwargs", {})

    def __repr__(self):
        return f"<PersistentObject {self.class_name}>"


def _reconstruct_persistent_obj(meta):
    if not isinstance(meta, dict):
        raise LegacyFormatError("a persistent object's meta is not a dict.")
    if meta.get("type") != "class":
        raise LegacyFormatError(
            f"persistent object of type {meta.get('type')!r}; NVIDIA network pickles "
            "store only persistent classes.")
    if meta.get("version") != PERSISTENCE_VERSION:
        raise LegacyFormatError(
            f"torch_utils.persistence version {meta.get('version')!r}; keras-stylegan "
            f"reads version {PERSISTENCE_VERSION} (stylegan2-ada-pytorch, stylegan3).")
    src, name, state = meta.get("module_src"), meta.get("class_name"), meta.get("state")
    if not (isinstance(src, str) and isinstance(name, str) and isinstance(state, dict)):
        raise LegacyFormatError("a persistent object lacks module_src, class_name or state.")
    unknown = sorted(set(meta) - {"type", "version", "module_src", "class_name", "state"})
    if unknown:
        raise LegacyFormatError(f"persistent object {name!r} has unknown meta keys {unknown}.")
    digest = hashlib.sha256(src.encode("utf-8", "surrogatepass")).hexdigest()
    return PersistentObject(name, state, digest, len(src))


class _Storage:
    """One storage of a legacy `torch.save` stream: dtype, numel, then its data."""

    def __init__(self, type_name, key, numel):
        self.type_name, self.key, self.numel = type_name, key, numel
        self.data = None


class _StorageType:
    def __init__(self, name):
        self.name = name


class _StreamUnpickler(pickle.Unpickler):
    """The small pickles inside a storage stream: no globals but `torch.*Storage`."""

    def __init__(self, file, storages=None):
        super().__init__(file, encoding="latin1")
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch" and name in NETWORK_STORAGES:
            return _StorageType(name)
        if module == "torch" and name.endswith("Storage"):
            raise LegacyFormatError(
                f"tensor storage torch.{name} is not supported; network weights are "
                f"numeric ({', '.join(NETWORK_STORAGES)}).")
        raise UnsafePickleError(
            f"Refusing to load global '{module}.{name}' inside a tensor storage; only "
            "torch.*Storage types may appear there. Nothing in the file was run.")

    def persistent_load(self, pid):
        if self.storages is None:
            raise LegacyFormatError("unexpected persistent id in a tensor storage header.")
        ok = (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
              and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)
              and isinstance(pid[4], int) and pid[4] >= 0 and pid[5] is None)
        if not ok:
            raise LegacyFormatError(f"malformed tensor storage id {pid!r:.200}.")
        storage = _Storage(pid[1].name, pid[2], pid[4])
        self.storages[pid[2]] = storage
        return storage


def _load_from_bytes(data):
    """Parses the legacy `torch.save` stream of one storage into a `_Storage`."""
    if not isinstance(data, (bytes, bytearray)):
        raise LegacyFormatError("torch.storage._load_from_bytes called without bytes.")
    f = io.BytesIO(data)
    if _StreamUnpickler(f).load() != TORCH_MAGIC:
        raise LegacyFormatError("a tensor storage lacks torch's magic number.")
    if _StreamUnpickler(f).load() != TORCH_LEGACY_PROTOCOL:
        raise LegacyFormatError("a tensor storage has an unknown torch.save protocol.")
    sys_info = _StreamUnpickler(f).load()
    if not (isinstance(sys_info, dict) and sys_info.get("little_endian") is True):
        raise LegacyFormatError("a tensor storage is not little-endian; re-save the "
                                "network on a little-endian machine.")
    storages = {}
    storage = _StreamUnpickler(f, storages).load()
    keys = _StreamUnpickler(f).load()
    if not (isinstance(storage, _Storage) and keys == [storage.key] and len(storages) == 1):
        raise LegacyFormatError("a tensor storage stream does not hold exactly one storage.")
    count = int.from_bytes(f.read(8), "little", signed=True)
    nbytes = count * storage_itemsize(storage.type_name)
    raw = f.read(nbytes) if count == storage.numel else b""
    if count != storage.numel or len(raw) != nbytes or f.read(1):
        raise LegacyFormatError("a tensor storage is truncated or has the wrong size.")
    storage.data = storage_array(storage.type_name, raw)
    return storage


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    """A copy of `storage[offset + sum(i_k * stride_k)]` of shape `size`, bounds-checked."""
    if not isinstance(storage, _Storage) or storage.data is None:
        raise LegacyFormatError("a tensor is not backed by a stored numeric storage.")
    if backward_hooks or metadata:
        raise LegacyFormatError("a tensor carries hooks or metadata; network weights "
                                "carry none.")
    try:
        return strided_copy(storage.data, storage_offset, shape_tuple(size, "size"),
                            shape_tuple(stride, "stride"))
    except ValueError as e:
        raise LegacyFormatError(f"a tensor has {e}; network weights are plain tensors "
                                "within their storage.") from None


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    if not isinstance(data, np.ndarray) or backward_hooks:
        raise LegacyFormatError("a parameter is not a plain stored tensor.")
    return data


def _ordered_dict(*args):
    if args and not (len(args) == 1 and isinstance(args[0], (list, tuple))):
        raise LegacyFormatError("collections.OrderedDict called with unexpected arguments.")
    return collections.OrderedDict(*args)


def _set(items=()):
    if not isinstance(items, (list, tuple)):
        raise LegacyFormatError("builtins.set called with unexpected arguments.")
    return set(items)


_ALLOWED = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("collections", "OrderedDict"): _ordered_dict,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("builtins", "set"): _set,
}


class _Dtype(tf1.PendingDtype):
    """`numpy.dtype(code)` of a NumPy scalar attribute (weight_gain, act_gain).

    The C unpickler completes it through `__setstate__`, which accepts only a
    plain numeric dtype's state (never NumPy's own C `__setstate__`)."""

    def __setstate__(self, state):
        self.build(state)


def _dtype(code, align=False, copy=False):
    return _Dtype(tf1._dtype(code, align, copy).code)  # the numeric-code check


def _scalar(dtype, data=None):
    """A NumPy scalar from its stored bytes (`numpy.core.multiarray.scalar`)."""
    if type(dtype) is not _Dtype:
        raise UnsafePickleError(f"The pickle passes {type(dtype).__name__} where a NumPy "
                                "dtype belongs; nothing in the file was run.")
    dt = dtype.dtype()
    if type(data) is not bytes or len(data) != dt.itemsize:
        raise LegacyFormatError("Corrupt NumPy scalar in the pickle.")
    return np.frombuffer(data, dtype=dt)[0]


# NumPy scalars (weight_gain, act_gain are float64 scalars), under the NumPy 1.x
# and 2.x module names. numpy.ndarray is never reachable.
_ALLOWED.update({("numpy", "dtype"): _dtype,
                 ("numpy.core.multiarray", "scalar"): _scalar,
                 ("numpy._core.multiarray", "scalar"): _scalar})


def _cost(value):
    """Bytes (roughly) a call will build from `value`, for the work budget."""
    if isinstance(value, _Storage):
        return value.numel * storage_itemsize(value.type_name)
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (bytes, bytearray, str, list, tuple, dict, set)):
        return 16 + len(value) * (1 if isinstance(value, (bytes, bytearray, str)) else 16)
    return 16


class _Budget:
    """Caps the data the allowed calls build: memo references (BINGET) let a small
    pickle pass one big object to many calls, each of which would copy it."""

    def __init__(self, limit):
        self.left = limit

    def spend(self, n):
        self.left -= n
        if self.left < 0:
            raise LegacyFormatError(
                "the pickle asks to build far more data than it holds (the same data "
                "referenced over and over); NVIDIA's snapshots never do. Refusing.")


class TorchPickleUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` resolving only what NVIDIA's PyTorch snapshots need.

    Every allowed call is charged to a work budget (`budget` bytes, by
    default 16x the file plus 16 MiB; a genuine snapshot uses about 5x), so
    memo references cannot turn a small file into a huge allocation.
    """

    def __init__(self, file, budget, **kwargs):
        super().__init__(file, **kwargs)
        self._budget = _Budget(budget)
        self._src_digests = {}

    def _charged(self, func):
        if isinstance(func, type):  # EasyDict (NEWOBJ) / ndarray (an argument): no copy
            return func

        def call(*args, **kwargs):
            cost = sum(_cost(a) for a in args) + sum(_cost(v) for v in kwargs.values())
            if func is _reconstruct_persistent_obj and isinstance(args[0], dict):
                src = args[0].get("module_src")
                # Hash each module source object once (they are memo references).
                cost = 16 if id(src) in self._src_digests else cost + _cost(src)
                self._src_digests[id(src)] = src
            self._budget.spend(cost)
            out = func(*args, **kwargs)
            if isinstance(out, np.ndarray):  # a copy, at most its (charged) storage's size
                self._budget.spend(out.nbytes)
            return out
        return call

    def find_class(self, module, name):
        try:
            return self._charged(_ALLOWED[(module, name)])
        except KeyError:
            raise UnsafePickleError(
                f"Refusing to load global '{module}.{name}': NVIDIA's PyTorch network "
                "pickles reference only torch_utils.persistence objects, torch tensor "
                "storages, OrderedDict/EasyDict and NumPy scalars. The file is not a "
                "network snapshot, or it was tampered with; nothing in it was run.") from None

    def persistent_load(self, pid):
        raise LegacyFormatError(
            "the pickle uses persistent ids at the top level (a torch.save checkpoint?); "
            "NVIDIA's network snapshots are written with plain pickle.dump.")


def looks_like_torch_pickle(data, window=1 << 16):
    """True if the pickle's first bytes reference NVIDIA's PyTorch persistence or torch."""
    head = bytes(data[:window])
    return head[:1] == b"\x80" and (b"torch_utils.persistence" in head
                                    or b"_reconstruct_persistent_obj" in head
                                    or b"torch._utils" in head)


def load_torch_pickle(data, source="<bytes>"):
    """Unpickles a PyTorch snapshot's bytes safely; errors name `source`.

    Raises:
        UnsafePickleError: a global outside the allow-list (nothing was called).
        LegacyFormatError: truncated, corrupt or malformed data.
    """
    if not data:
        raise LegacyFormatError(f"{source}: the file is empty.")
    if bytes(data[:4]) == b"PK\x03\x04":
        raise LegacyFormatError(
            f"{source}: a ZIP archive (a torch.save checkpoint or .keras file). NVIDIA's "
            "network snapshots (network-snapshot-*.pkl) are plain pickles.")
    if data[0] != 0x80 or len(data) < 2 or data[1] > pickle.HIGHEST_PROTOCOL:
        raise LegacyFormatError(f"{source}: not a pickle (no pickle protocol header).")
    try:
        budget = 16 * len(data) + (16 << 20)
        return TorchPickleUnpickler(io.BytesIO(data), budget, encoding="latin1").load()
    except LegacyFormatError as e:
        raise type(e)(f"{source}: {e}") from None
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, MemoryError, OverflowError, RecursionError,
            UnicodeDecodeError) as e:
        raise LegacyFormatError(
            f"{source}: the pickle is truncated or corrupt ({type(e).__name__}: "
            f"{str(e)[:200]}). Download the file again.") from None

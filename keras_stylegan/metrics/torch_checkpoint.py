"""A safe, torch-free reader for PyTorch checkpoints holding a state dict.

`torch.save` writes a pickle, and a pickle can call any Python function; a
malicious `.pth` could run commands under `torch.load`. This reader resolves
only what a state dict of plain tensors needs (`collections.OrderedDict`,
`torch._utils._rebuild_tensor_v2` / `_rebuild_parameter` and the numeric
`torch.*Storage` types) and refuses every other global *before* anything is
called. Tensor data is read from the file as raw bytes into NumPy arrays,
with every size, offset and stride checked against the bytes actually there.

Both formats `torch.save` has used are read:

* the zip format (PyTorch >= 1.6): `ARCHIVE/data.pkl` plus one member
  `ARCHIVE/data/KEY` per storage;
* the legacy format (PyTorch < 1.6, e.g. torchvision's `vgg16-397923af.pth`):
  a magic-number pickle, the object pickle, the storage-key list, then each
  storage as an 8-byte element count followed by its bytes.

>>> sd = read_state_dict("vgg16-397923af.pth")          # doctest: +SKIP
>>> sd["features.0.weight"].shape                          # doctest: +SKIP
(64, 3, 3, 3)
"""

import collections
import io
import os
import pickle
import struct
import zipfile

from keras_stylegan.torch_storage import (
    STORAGE_DTYPES,
    TORCH_MAGIC,
    shape_tuple,
    storage_array,
    storage_itemsize,
    strided_copy,
)

MAX_FILE_BYTES = 4 << 30  # no public feature-network file comes close
MAX_TENSORS = 10_000
MAX_TENSOR_ELEMENTS = 1 << 28  # VGG16's largest weight has 103M


class CheckpointError(ValueError):
    """The file is not a usable PyTorch state-dict checkpoint (message says why)."""


class UnsafeCheckpointError(CheckpointError):
    """The checkpoint's pickle references a global a state dict never needs."""


class _StorageType:
    """Inert stand-in for `torch.FloatStorage` and friends: only its dtype name."""

    def __init__(self, name):
        self.name = name

    def __call__(self, *args, **kwargs):
        raise UnsafeCheckpointError(f"the pickle tries to call torch.{self.name}; refusing.")


class _Storage:
    """A storage of `numel` elements of `dtype`, filled with bytes after unpickling."""

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.array = None  # 1-D array, set once the bytes are read


class _TensorRef:
    """What `_rebuild_tensor_v2` returns: a view description, materialised later."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    if not isinstance(storage, _Storage):
        raise CheckpointError("a tensor is built from something that is not a storage.")
    if not isinstance(storage_offset, int) or storage_offset < 0:
        raise CheckpointError(f"corrupt tensor offset {storage_offset!r}.")
    try:
        size, stride = shape_tuple(size, "size"), shape_tuple(stride, "stride")
    except ValueError as e:
        raise CheckpointError(f"corrupt tensor: {e}.") from None
    if backward_hooks:
        raise UnsafeCheckpointError("a tensor carries backward hooks; refusing.")
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *rest):
    if not isinstance(data, _TensorRef) or backward_hooks:
        raise CheckpointError("corrupt torch.nn.Parameter in the checkpoint.")
    return data


def _ordered_dict(items=()):
    # Python 2-era pickles (protocol 2) pass the items as a list of pairs.
    if not isinstance(items, (list, tuple)) or not all(
            isinstance(p, (list, tuple)) and len(p) == 2 for p in items):
        raise UnsafeCheckpointError("OrderedDict called with unexpected arguments; refusing.")
    return collections.OrderedDict(items)


_ALLOWED = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}
_ALLOWED.update({("torch", name): _StorageType(name) for name in STORAGE_DTYPES})


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only the allow-listed globals; storages via persistent ids."""

    def __init__(self, file, storages):
        super().__init__(file, encoding="latin1")
        self.storages = storages  # key -> _Storage, shared by all tensors

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(
                f"refusing to load global '{module}.{name}': a state-dict checkpoint "
                "needs only OrderedDict, tensors and numeric storages. The file is not "
                "a plain weights file, or it was tampered with; nothing in it was "
                "run.") from None

    def persistent_load(self, pid):
        # zip: ('storage', type, key, location, numel); legacy adds view_metadata.
        if not isinstance(pid, tuple) or len(pid) not in (5, 6) or pid[0] != "storage":
            raise CheckpointError(f"unexpected persistent id {str(pid)[:80]!r}.")
        stype, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(stype, _StorageType):
            raise CheckpointError("a storage has an unknown type.")
        if not isinstance(key, str) or not isinstance(numel, int) or not 0 <= numel < 2**40:
            raise CheckpointError("a storage has a corrupt key or size.")
        if len(pid) == 6 and pid[5] is not None:
            raise CheckpointError("storage views (PyTorch < 0.4 files) are not supported.")
        known = self.storages.get(key)
        if known is None:
            known = self.storages[key] = _Storage(key, stype.name, numel)
        elif known.dtype != stype.name:
            raise CheckpointError(f"storage {key} is used with two dtypes.")
        return known


def _fill(storage, raw):
    """Sets `storage.array` from `raw` bytes (bfloat16 widened to float32)."""
    expected = storage.numel * storage_itemsize(storage.dtype)
    if len(raw) != expected:
        raise CheckpointError(
            f"storage {storage.key} holds {len(raw)} bytes, expected {expected}; the file "
            "is truncated or corrupt.")
    storage.array = storage_array(storage.dtype, raw)


def _unpickle(data, storages):
    try:
        return _SafeUnpickler(io.BytesIO(data), storages).load()
    except CheckpointError:
        raise
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, MemoryError, OverflowError, RecursionError) as e:
        raise CheckpointError(f"the pickle is truncated or corrupt ({type(e).__name__}: "
                              f"{e}).") from None


def _read_zip(path):
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise CheckpointError(f"not a readable zip archive ({e}).") from None
    with zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise CheckpointError("a zip archive without a single ARCHIVE/data.pkl: not a "
                                  "torch.save file.")
        prefix = pkl[0][:-len("data.pkl")]
        total = sum(zf.getinfo(n).file_size for n in names)
        if total > MAX_FILE_BYTES:
            raise CheckpointError(f"the archive unpacks to {total} bytes: too large for a "
                                  "weights file.")
        storages = {}
        obj = _unpickle(_read_member(zf, pkl[0]), storages)
        for key, storage in storages.items():
            member = f"{prefix}data/{key}"
            if member not in names:
                raise CheckpointError(f"storage {key} ({member}) is missing from the archive.")
            _fill(storage, _read_member(zf, member))
        order = zf.read(prefix + "byteorder") if prefix + "byteorder" in names else b"little"
        if order.strip() != b"little":
            raise CheckpointError("big-endian checkpoints are not supported.")
    return obj


def _read_member(zf, name):
    info = zf.getinfo(name)
    if info.file_size > MAX_FILE_BYTES:
        raise CheckpointError(f"archive member {name} is implausibly large.")
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise CheckpointError(f"archive member {name} is corrupt ({e}).") from None


def _read_legacy(data):
    f = io.BytesIO(data)
    for what in ("magic number", "protocol version", "system info"):
        try:
            value = _SafeUnpickler(f, {}).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError,
                KeyError, AttributeError) as e:
            raise CheckpointError(f"corrupt {what} ({type(e).__name__}).") from None
        if what == "magic number" and value != TORCH_MAGIC:
            raise CheckpointError("a pickle, but not a torch.save file (wrong magic number).")
        if what == "system info" and isinstance(value, dict) and not value.get(
                "little_endian", True):
            raise CheckpointError("big-endian checkpoints are not supported.")
    storages = {}
    unpickler = _SafeUnpickler(f, storages)
    try:
        obj = unpickler.load()
        keys = _SafeUnpickler(f, {}).load()
    except CheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, MemoryError, OverflowError, RecursionError) as e:
        raise CheckpointError(f"the pickle is truncated or corrupt ({type(e).__name__}: "
                              f"{e}).") from None
    if not isinstance(keys, list) or set(keys) != set(storages):
        raise CheckpointError("the storage key list does not match the tensors.")
    pos = f.tell()
    for key in keys:
        storage = storages[key]
        if pos + 8 > len(data):
            raise CheckpointError("the file is truncated (storage data missing).")
        (numel,) = struct.unpack("<q", data[pos:pos + 8])
        if numel != storage.numel:
            raise CheckpointError(f"storage {key} has {numel} elements, expected "
                                  f"{storage.numel}.")
        size = numel * storage_itemsize(storage.dtype)
        _fill(storage, data[pos + 8:pos + 8 + size])
        pos += 8 + size
    return obj


def _materialise(ref, name):
    try:
        return strided_copy(ref.storage.array, ref.offset, ref.size, ref.stride,
                            max_elements=MAX_TENSOR_ELEMENTS)
    except ValueError as e:
        raise CheckpointError(f"tensor {name!r}: {e}.") from None


def read_state_dict(path):
    """Reads a `torch.save`d state dict as `{name: np.ndarray}`, without torch.

    Args:
        path: a `.pth`/`.pt` file written by `torch.save(state_dict)`, in the zip
            format or the legacy one.

    Returns:
        A dict from parameter name to a NumPy array (float32 for float32, bfloat16
        widened to float32; other numeric dtypes as stored).

    Raises:
        CheckpointError: the file is missing, not a torch checkpoint, corrupt, or
            references anything beyond tensors (nothing from it is run).

    >>> read_state_dict("weights/v0.1/vgg.pth")["lin0.model.1.weight"].shape  # doctest: +SKIP
    (1, 64, 1, 1)
    """
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise CheckpointError(f"{path}: {size} bytes is too large for a weights file.")
        with open(path, "rb") as f:
            head = f.read(4)
            data = None if head.startswith(b"PK\x03\x04") else head + f.read()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read the file ({e.strerror or e}).") from None
    try:
        if data is None:
            obj = _read_zip(path)
        elif data[:1] == b"\x80":
            obj = _read_legacy(data)
        else:
            raise CheckpointError("not a PyTorch checkpoint (neither a zip archive nor a "
                                  "pickle).")
        return _to_arrays(obj)
    except CheckpointError as e:
        raise type(e)(f"{path}: {e}") from None


def _to_arrays(obj):
    if isinstance(obj, dict) and set(obj) == {"state_dict"}:
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise CheckpointError(f"it holds a {type(obj).__name__}, not a state dict.")
    if len(obj) > MAX_TENSORS:
        raise CheckpointError(f"{len(obj)} entries is too many for a state dict.")
    out = {}
    for name, ref in obj.items():
        if not isinstance(name, str) or not isinstance(ref, _TensorRef):
            raise CheckpointError(f"entry {str(name)[:60]!r} is not a tensor.")
        out[name] = _materialise(ref, name)
    return out

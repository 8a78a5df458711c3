"""A safe reader for NVIDIA's legacy TF1 network pickles.

A pickle can name any Python callable and have it called; a malicious
"network.pkl" could run commands. This unpickler resolves only NVIDIA's
`dnnlib.tflib.network.Network` (mapped to an inert state holder) and NumPy's
array/scalar reconstruction globals, checking the dtypes they are asked for.
Every other global is refused *before* anything is called, with an error
naming it. The stored `build_module_src` is kept as text and never executed.
"""

import io
import pickle

import numpy as np


class LegacyFormatError(ValueError):
    """The file is not a usable NVIDIA legacy network pickle (message says why)."""


class UnsafePickleError(LegacyFormatError):
    """The pickle references a global that a network pickle never needs."""


class NetworkState:
    """What a `dnnlib.tflib.network.Network` unpickles to: its state dict, inert."""

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        state = getattr(self, "state", None)
        name = state.get("name") if isinstance(state, dict) else None
        return f"<NetworkState {name!r}>"


# Accepted dtypes: plain numeric kinds only (never 'O' object arrays).
_NUMERIC_KINDS = set("biufc")


def _check_dtype(dtype):
    dt = np.dtype(dtype)
    if dt.kind not in _NUMERIC_KINDS or dt.hasobject or dt.fields is not None:
        raise UnsafePickleError(
            f"The pickle asks for NumPy dtype {dt!r}; a network pickle holds only "
            "numeric arrays. Refusing to load it.")
    return dt


def _dtype(obj, align=False, copy=False):
    if not isinstance(obj, str):
        raise UnsafePickleError(f"numpy.dtype called with {type(obj).__name__}; refusing.")
    return np.dtype(_check_dtype(obj), align=bool(align), copy=bool(copy))


def _reconstruct(cls, shape, dtype):
    if cls is not np.ndarray:
        raise UnsafePickleError("numpy _reconstruct called for a class other than ndarray.")
    return np.ndarray.__new__(np.ndarray, shape, _check_dtype(dtype))


def _scalar(dtype, data=None):
    dt = _check_dtype(dtype)
    if not isinstance(data, (bytes, bytearray)) or len(data) != dt.itemsize:
        raise LegacyFormatError("Corrupt NumPy scalar in the pickle.")
    return np.frombuffer(bytes(data), dtype=dt)[0]


def _frombuffer(buf, dtype, shape, order):
    dt = _check_dtype(dtype)
    arr = np.frombuffer(bytes(memoryview(buf)), dtype=dt)
    return arr.reshape(shape, order=order).copy()


_ALLOWED = {
    ("dnnlib.tflib.network", "Network"): NetworkState,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
    # NumPy 1.x names (the 2019 files) and NumPy 2.x names (files re-saved today).
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
}


class SafeUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` that resolves only the globals a network pickle needs."""

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"Refusing to load global '{module}.{name}': NVIDIA network pickles "
                "reference only dnnlib.tflib.network.Network and NumPy array "
                "globals. The file is not a legacy network pickle, or it was "
                "tampered with; nothing in it was run.") from None

    def persistent_load(self, pid):
        raise UnsafePickleError(
            "The pickle uses persistent IDs (e.g. a PyTorch checkpoint); it is not a "
            "legacy TF network pickle.")


def _describe_magic(head):
    if head.startswith(b"PK\x03\x04"):
        return ("a ZIP archive (a PyTorch .pt/.pkl, a .keras file or a dataset?). "
                "Legacy TF pickles are plain pickles")
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8"):
        return "an image, not a network pickle"
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file (Keras .h5 weights?), not a network pickle"
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed; decompress it first"
    return "not a pickle (it does not start with a pickle protocol header)"


def safe_load(data, source="<bytes>"):
    """Unpickles `data` (bytes) with `SafeUnpickler`; clear errors on bad input."""
    if not data:
        raise LegacyFormatError(f"{source}: the file is empty.")
    if data[0] != 0x80 or len(data) < 2 or data[1] > pickle.HIGHEST_PROTOCOL:
        raise LegacyFormatError(f"{source}: {_describe_magic(data[:8])}.")
    try:
        return SafeUnpickler(io.BytesIO(data), encoding="latin1").load()
    except LegacyFormatError as e:
        raise type(e)(f"{source}: {e}") from None
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError,
            KeyError, AttributeError, MemoryError, OverflowError) as e:
        raise LegacyFormatError(
            f"{source}: the pickle is truncated or corrupt ({type(e).__name__}: {e}). "
            "Download the file again.") from None

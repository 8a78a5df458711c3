"""A safe reader for NVIDIA's legacy TF1 network pickles.

A pickle is a program for a small stack machine that can name any Python
callable and have it called; a malicious "network.pkl" could run commands,
corrupt memory (a NumPy object array whose pointers come from the file) or
exhaust memory. This module runs that machine itself (Python's pure-Python
unpickler with the dangerous opcodes replaced) and allows only what NVIDIA's
files need:

* globals: `dnnlib.tflib.network.Network` (an inert state holder), NumPy's
  array, dtype and scalar reconstruction names (1.x and 2.x), and
  `_codecs.encode` (protocol 2 stores bytes with it);
* calls (REDUCE / NEWOBJ): only those functions, each checking its arguments;
  `numpy.ndarray` itself is never called, and arrays are made by
  `np.frombuffer` from bytes of the file, with numeric dtypes only;
* BUILD: only on those objects, through our own code (never `setattr`);
* dict keys and set items: plain atoms (no exponential hashing).

Every other global, opcode or call is refused before anything is called, and
the opcode count, memo size and array sizes are bounded (`limits`). The
stored `build_module_src` is kept as text and never executed.
"""

import io
import math
import pickle
import reprlib
import struct

import numpy as np

from keras_stylegan.legacy import limits


class LegacyFormatError(ValueError):
    """The file is not a usable NVIDIA legacy network pickle (message says why)."""


def fail(source, msg):
    """Raises `LegacyFormatError` for the file `source` ('<bytes>' for bytes)."""
    raise LegacyFormatError(f"{source}: {msg}")


class UnsafePickleError(LegacyFormatError):
    """The pickle references a global or operation that a network pickle never needs."""


class NetworkState:
    """What a `dnnlib.tflib.network.Network` unpickles to: its state dict, inert."""

    def __repr__(self):
        state = getattr(self, "state", None)
        name = state.get("name") if isinstance(state, dict) else None
        return f"<NetworkState {name!r}>"


class _NdarrayName:
    """Stands for the global `numpy.ndarray`: passed to `_reconstruct`, never called."""


# Numeric dtypes a network pickle may hold, by NumPy's pickled type string.
_DTYPE_CODES = frozenset(["b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8",
                          "f2", "f4", "f8", "c8", "c16"])


def _unsafe(msg):
    return UnsafePickleError(f"{msg} A network pickle holds only numeric arrays; "
                             "nothing in the file was run.")


class PendingDtype:
    """A `numpy.dtype(code)` call, completed by BUILD with its byte order."""

    def __init__(self, code):
        self.code, self.order = code, "="

    def build(self, state):
        # NumPy's dtype state: (version, byte order, subarray, names, fields,
        # elsize, alignment, flags[, metadata]); numeric dtypes have no fields.
        if not (type(state) is tuple and len(state) in (8, 9)
                and all(type(x) in (int, str, type(None)) for x in state)
                and state[0] in (3, 4) and state[1] in ("<", ">", "|", "=")
                and state[2:5] == (None, None, None) and state[5:8] == (-1, -1, 0)
                and (len(state) == 8 or state[8] is None)):
            raise _unsafe(f"The pickle gives NumPy dtype {self.code!r} the state "
                          f"{quote(state)}, which is not that of a plain numeric dtype.")
        self.order = state[1]

    def dtype(self):
        return np.dtype(("" if self.order == "|" else self.order) + self.code)


def _dtype(code, align=False, copy=False):
    if isinstance(code, bytes):
        code = code.decode("latin1")
    if not isinstance(code, str) or code not in _DTYPE_CODES:
        raise _unsafe(f"The pickle asks for NumPy dtype {quote(code)}.")
    return PendingDtype(code)


def _real_dtype(dtype):
    if type(dtype) is not PendingDtype:
        raise _unsafe(f"The pickle passes {type(dtype).__name__} where a dtype belongs.")
    return dtype.dtype()


def _shape(shape):
    if not (isinstance(shape, (tuple, list)) and len(shape) <= limits.MAX_ARRAY_NDIM
            and all(type(d) is int and 0 <= d <= limits.MAX_ARRAY_ELEMENTS for d in shape)):
        raise LegacyFormatError(f"Invalid array shape {quote(shape)} in the pickle.")
    if math.prod(shape) > limits.MAX_ARRAY_ELEMENTS:
        raise LegacyFormatError(
            f"An array of shape {list(shape)} exceeds the limit of "
            f"{limits.MAX_ARRAY_ELEMENTS:,} elements.")
    return tuple(shape)


def _raw_bytes(raw):
    if isinstance(raw, str):  # a Python 2 str, read with encoding='latin1'
        raw = raw.encode("latin1")
    if not isinstance(raw, (bytes, bytearray)):
        raise _unsafe(f"Array data stored as {type(raw).__name__}, not bytes.")
    return raw


def _array(raw, dtype, shape, order):
    """An array over `raw` (bytes of the file), checked before anything is allocated."""
    raw, shape = _raw_bytes(raw), _shape(shape)
    if math.prod(shape) * dtype.itemsize != len(raw):
        raise LegacyFormatError(
            f"Array of shape {list(shape)} and dtype {dtype} should hold "
            f"{math.prod(shape) * dtype.itemsize} bytes; the pickle has {len(raw)}.")
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order=order)


class PendingArray:
    """A NumPy 1.x `_reconstruct(ndarray, ...)` call; BUILD replaces it by the array."""

    def __init__(self):
        self.memo_keys = []

    def build(self, state):
        # ndarray state: ([version,] shape, dtype, is_fortran, raw bytes).
        if type(state) is tuple and len(state) == 5 and type(state[0]) is int and state[0] == 1:
            state = state[1:]
        if not (type(state) is tuple and len(state) == 4 and type(state[2]) is bool):
            raise LegacyFormatError(f"Corrupt NumPy array state {quote(state)} in the pickle.")
        shape, dtype, fortran, raw = state
        return _array(raw, _real_dtype(dtype), shape, "F" if fortran else "C")


def _reconstruct(cls, shape, dtype):
    if cls is not _NdarrayName:
        raise _unsafe("numpy _reconstruct called for a class other than ndarray.")
    return PendingArray()


def _scalar(dtype, data=None):
    dt = _real_dtype(dtype)
    data = _raw_bytes(data)
    if len(data) != dt.itemsize:
        raise LegacyFormatError("Corrupt NumPy scalar in the pickle.")
    return np.frombuffer(data, dtype=dt)[0]


def _frombuffer(buf, dtype, shape, order):
    if order not in ("C", "F"):
        raise LegacyFormatError(f"Invalid array order {quote(order)} in the pickle.")
    return _array(buf, _real_dtype(dtype), shape, order)


def _codecs_encode(text, encoding="utf-8"):
    # Protocol 2 stores `bytes` as _codecs.encode(latin-1 text, 'latin1').
    if not (isinstance(text, str) and encoding in ("latin1", "latin-1")):
        raise _unsafe(f"_codecs.encode called with {type(text).__name__}, {quote(encoding)}.")
    try:
        return text.encode("latin1")
    except UnicodeEncodeError:
        raise LegacyFormatError("Corrupt protocol-2 bytes in the pickle.") from None


def _empty_bytes(*args):
    # Protocol 2 stores b'' as a call of `bytes` with no arguments.
    if args:
        raise _unsafe("builtins.bytes called with arguments.")
    return b""


_ALLOWED = {
    ("dnnlib.tflib.network", "Network"): NetworkState,
    ("numpy", "ndarray"): _NdarrayName,
    ("numpy", "dtype"): _dtype,
    # NumPy 1.x names (the 2019 files) and NumPy 2.x names (files re-saved today).
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _codecs_encode,
    ("builtins", "bytes"): _empty_bytes,
    ("__builtin__", "bytes"): _empty_bytes,  # the name Python 3 writes in protocol 2
}
# The pickle's names of what find_class returns, for messages.
_PICKLE_NAMES = {id(v): f"{m}.{n}" for (m, n), v in reversed(list(_ALLOWED.items()))}
# What REDUCE may call (NEWOBJ may only create NetworkState).
_CALLABLE = (_dtype, _reconstruct, _scalar, _frombuffer, _codecs_encode, _empty_bytes)
# Dict keys and set items: atoms, whose hashing and comparison are cheap.
_ATOMS = (str, bytes, int, float, bool, type(None))


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, limits.MAX_QUOTE_CHARS, 60


def quote(value):
    """`repr(value)` in bounded time and length (for messages); never raises."""
    if id(value) in _PICKLE_NAMES:
        return _PICKLE_NAMES[id(value)]
    try:
        text = _REPR.repr(value)
    except Exception:  # noqa: BLE001 -- repr of hostile data: any failure is just text
        text = f"<{type(value).__name__}>"
    limit = limits.MAX_QUOTE_CHARS
    return text if len(text) <= limit else text[:limit] + "..."


def _check_key(key):
    if type(key) not in _ATOMS:
        raise _unsafe(f"The pickle uses a {type(key).__name__} as a dict key or set item.")


def _refuse(what):
    def load(self):
        raise _unsafe(f"The pickle uses {what}, which NVIDIA's network pickles never do.")
    return load


class SafeUnpickler(pickle._Unpickler):  # noqa: SLF001 -- the pure-Python machine
    """Pickle machine that resolves and calls only what a network pickle needs."""

    dispatch = dict(pickle._Unpickler.dispatch)  # noqa: SLF001

    def __init__(self, file, **kwargs):
        super().__init__(file, **kwargs)
        self._size = len(file.getbuffer()) if isinstance(file, io.BytesIO) else None

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise UnsafePickleError(
                f"Refusing to load global '{quote(module)[1:-1]}.{quote(name)[1:-1]}': "
                "NVIDIA network pickles reference only dnnlib.tflib.network.Network and "
                "NumPy array globals. The file is not a legacy network pickle, or it was "
                "tampered with; nothing in it was run.") from None

    def persistent_load(self, pid):
        raise UnsafePickleError(
            "The pickle uses persistent IDs (e.g. a PyTorch checkpoint); it is not a "
            "legacy TF network pickle.")

    def load(self):
        """Runs the machine with the opcode limit (mirrors `pickle._Unpickler.load`)."""
        self._unframer = pickle._Unframer(self._file_read, self._file_readline)  # noqa: SLF001
        self.read, self.readinto = self._unframer.read, self._unframer.readinto
        self.readline = self._unframer.readline
        self.metastack, self.stack = [], []
        self.append = self.stack.append
        self.proto = 0
        read, dispatch = self.read, self.dispatch
        try:
            for _ in range(limits.MAX_OPCODES):
                key = read(1)
                if not key:
                    raise EOFError
                dispatch[key[0]](self)
        except pickle._Stop as stop:  # noqa: SLF001
            return stop.value
        raise LegacyFormatError(
            f"The pickle runs more than {limits.MAX_OPCODES:,} opcodes; network pickles "
            "need far fewer.")

    # --- calls and object state ---------------------------------------------------
    def load_reduce(self):
        args, func = self.stack.pop(), self.stack[-1]
        if not any(func is f for f in _CALLABLE) or type(args) is not tuple:
            raise _unsafe(f"The pickle calls {quote(func)}"
                          + (" (NumPy arrays are never created by calling numpy.ndarray)."
                             if func is _NdarrayName else "."))
        self.stack[-1] = func(*args)
    dispatch[pickle.REDUCE[0]] = load_reduce

    def _new(self, cls, args, kwargs=None):
        if cls is not NetworkState or args != () or kwargs:
            raise _unsafe(f"The pickle creates an object of {quote(cls)}"
                          + (" (numpy.ndarray is never called)." if cls is _NdarrayName
                             else "."))
        self.append(NetworkState())

    def load_newobj(self):
        args = self.stack.pop()
        self._new(self.stack.pop(), args)
    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self):
        kwargs, args = self.stack.pop(), self.stack.pop()
        self._new(self.stack.pop(), args, kwargs)
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def load_build(self):
        state, inst = self.stack.pop(), self.stack[-1]
        if type(inst) is PendingArray:
            array = inst.build(state)
            for key in inst.memo_keys:  # later references get the array itself
                if self.memo.get(key) is inst:
                    self.memo[key] = array
            self.stack[-1] = array
        elif type(inst) is PendingDtype:
            inst.build(state)
        elif type(inst) is NetworkState and type(state) is dict and not hasattr(inst, "state"):
            inst.state = state
        else:
            raise _unsafe(f"The pickle sets the state of {quote(inst)}.")
    dispatch[pickle.BUILD[0]] = load_build

    # --- containers: atom keys only ---------------------------------------------------
    def load_setitem(self):
        _check_key(self.stack[-2])
        super().load_setitem()
    dispatch[pickle.SETITEM[0]] = load_setitem

    def load_setitems(self):
        items = self.pop_mark()
        if len(items) % 2 or type(self.stack[-1]) is not dict:
            raise LegacyFormatError("Corrupt SETITEMS in the pickle.")
        for key in items[::2]:
            _check_key(key)
        self.stack[-1].update(zip(items[::2], items[1::2]))
    dispatch[pickle.SETITEMS[0]] = load_setitems

    def load_dict(self):
        items = self.pop_mark()
        for key in items[::2]:
            _check_key(key)
        self.append(dict(zip(items[::2], items[1::2])))
    dispatch[pickle.DICT[0]] = load_dict

    def load_additems(self):
        items = self.pop_mark()
        for item in items:
            _check_key(item)
        if type(self.stack[-1]) is not set:
            raise LegacyFormatError("Corrupt ADDITEMS in the pickle.")
        self.stack[-1].update(items)
    dispatch[pickle.ADDITEMS[0]] = load_additems

    def load_frozenset(self):
        items = self.pop_mark()
        for item in items:
            _check_key(item)
        self.append(frozenset(items))
    dispatch[pickle.FROZENSET[0]] = load_frozenset

    def load_append(self):
        value = self.stack.pop()
        if type(self.stack[-1]) is not list:
            raise LegacyFormatError("Corrupt APPEND in the pickle.")
        self.stack[-1].append(value)
    dispatch[pickle.APPEND[0]] = load_append

    def load_appends(self):
        items = self.pop_mark()
        if type(self.stack[-1]) is not list:
            raise LegacyFormatError("Corrupt APPENDS in the pickle.")
        self.stack[-1].extend(items)
    dispatch[pickle.APPENDS[0]] = load_appends

    # --- memo: bounded; a completed array replaces its placeholder -------------------
    def _put(self, key):
        if len(self.memo) >= limits.MAX_MEMO:
            raise LegacyFormatError(f"The pickle's memo exceeds {limits.MAX_MEMO:,} entries.")
        value = self.memo[key] = self.stack[-1]
        if type(value) is PendingArray:
            value.memo_keys.append(key)

    def load_put(self):
        key = int(self.readline()[:-1])
        if key < 0:
            raise LegacyFormatError("Negative PUT index in the pickle.")
        self._put(key)
    dispatch[pickle.PUT[0]] = load_put

    def load_binput(self):
        self._put(self.read(1)[0])
    dispatch[pickle.BINPUT[0]] = load_binput

    def load_long_binput(self):
        self._put(struct.unpack("<I", self.read(4))[0])
    dispatch[pickle.LONG_BINPUT[0]] = load_long_binput

    def load_memoize(self):
        self._put(len(self.memo))
    dispatch[pickle.MEMOIZE[0]] = load_memoize

    def load_bytearray8(self):
        size, = struct.unpack("<Q", self.read(8))
        if self._size is None or size > self._size:
            raise LegacyFormatError("The pickle declares a bytearray larger than the file.")
        self.append(bytearray(self.read(size)))
    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8

    # Protocol 0/1 object creation, extension codes and out-of-band buffers:
    # NVIDIA's files use none of them.
    for _op, _what in ((pickle.INST, "INST"), (pickle.OBJ, "OBJ"), (pickle.EXT1, "EXT1"),
                       (pickle.EXT2, "EXT2"), (pickle.EXT4, "EXT4"),
                       (pickle.NEXT_BUFFER, "out-of-band buffers"),
                       (pickle.READONLY_BUFFER, "out-of-band buffers")):
        dispatch[_op[0]] = _refuse(f"the {_what} opcode")
    del _op, _what


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


# What the pickle machine raises on malformed input.
_CORRUPT = (EOFError, pickle.UnpicklingError, struct.error, ValueError, TypeError,
            IndexError, KeyError, AttributeError, OverflowError, MemoryError)


def safe_load(data, source="<bytes>"):
    """Unpickles `data` (bytes) with `SafeUnpickler`; clear errors on bad input."""
    if not data:
        raise LegacyFormatError(f"{source}: the file is empty.")
    if len(data) > limits.MAX_FILE_BYTES:
        raise LegacyFormatError(f"{source}: {len(data):,} bytes is over the limit of "
                                f"{limits.MAX_FILE_BYTES:,} bytes for a network pickle.")
    if data[0] != 0x80 or len(data) < 2 or not 2 <= data[1] <= pickle.HIGHEST_PROTOCOL:
        raise LegacyFormatError(f"{source}: {_describe_magic(data[:8])}.")
    try:
        return SafeUnpickler(io.BytesIO(data), encoding="latin1").load()
    except LegacyFormatError as e:
        raise type(e)(f"{source}: {e}") from None
    except _CORRUPT as e:
        raise LegacyFormatError(
            f"{source}: the pickle is truncated or corrupt ({type(e).__name__}: "
            f"{quote(str(e))[1:-1]}). Download the file again.") from None

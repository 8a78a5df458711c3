"""Tensors as `torch.save` stores them, read without torch.

The two torch readers of the project, NVIDIA's network pickles
(`legacy.torch_unpickler`) and feature-network checkpoints
(`metrics.torch_checkpoint`), share these facts: the magic number, the storage
types and their NumPy dtypes, the checks on a tensor's size and stride, and
the bounds-checked strided copy that turns a storage and (offset, size,
stride) into an array. Problems raise `ValueError`; each reader wraps it in
its own error type.

Example:

>>> flat = storage_array("FloatStorage", np.arange(6, dtype="<f4").tobytes())
>>> strided_copy(flat, 1, shape_tuple((2, 2), "size"), shape_tuple((3, 1), "stride"))
array([[1., 2.],
       [4., 5.]], dtype=float32)
"""

import numpy as np

TORCH_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
TORCH_LEGACY_PROTOCOL = 1001          # torch.serialization.PROTOCOL_VERSION
MAX_DIMS = 16

# torch.<Name>Storage -> NumPy dtype of its bytes (little-endian, as torch writes
# them); bfloat16 is read as uint16 and widened to float32 (`storage_array`).
STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
    "BFloat16Storage": "<u2", "LongStorage": "<i8", "IntStorage": "<i4",
    "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


def storage_itemsize(name):
    """Bytes per element of the storage type `name` ('FloatStorage')."""
    return np.dtype(STORAGE_DTYPES[name]).itemsize


def storage_array(name, raw):
    """The 1-D array of the bytes `raw` of a storage of type `name`, in native
    byte order (bfloat16 widened to float32). `raw` must hold whole elements."""
    dtype = np.dtype(STORAGE_DTYPES[name])
    if len(raw) % dtype.itemsize:
        raise ValueError(f"{len(raw)} bytes is not a whole number of {name} elements")
    arr = np.frombuffer(raw, dtype=dtype)
    if name == "BFloat16Storage":
        return (arr.astype(np.uint32) << 16).view(np.float32)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def shape_tuple(value, what, max_dims=MAX_DIMS):
    """`value` (a tensor's size or stride) as a tuple of non-negative ints."""
    if not (isinstance(value, (tuple, list)) and len(value) <= max_dims and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for v in value)):
        raise ValueError(f"malformed {what} {value!r:.200}")
    return tuple(value)


def strided_copy(flat, offset, size, stride, max_elements=None):
    """A private contiguous copy of `flat[offset + sum(i_k * stride_k)]`, shape
    `size`; `ValueError` unless every element read lies inside `flat` and the
    copy has at most `max_elements` elements (default: those of `flat`, i.e. no
    element repeated, as in network weights)."""
    if len(size) != len(stride):
        raise ValueError(f"mismatched size/stride {list(size)} / {list(stride)}")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ValueError(f"a bad offset {offset!r:.80}")
    numel = int(np.prod(size, dtype=object)) if size else 1
    if numel > (flat.size if max_elements is None else max_elements):
        raise ValueError(f"a tensor of size {list(size)} has more elements than its "
                         f"storage ({flat.size})" if max_elements is None else
                         f"a tensor of size {list(size)} is too large")
    if numel:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= flat.size:
            raise ValueError(f"a tensor of size {list(size)} reads past its storage of "
                             f"{flat.size} elements")
    view = np.lib.stride_tricks.as_strided(
        flat[offset:] if numel else flat[:0], shape=size,
        strides=[s * flat.itemsize for s in stride], writeable=False)
    return np.array(view)

"""Files of dlatents (ws) in NVIDIA's `projected_w.npz` format.

StyleGAN2-ADA's projector writes `np.savez(path, w=ws)` with `ws` of shape
`[N, num_ws, w_dim]` (N = 1 for one projected image). The projector writes
these files and `generate --ws` / `figures` read them, so a projected image
can be regenerated and style-mixed. Our projector also stores the noise maps it
optimized, as arrays `noise0`, `noise1`, ... (`[1, H, W, 1]`, the synthesis
network's noise inputs in order); NVIDIA's readers ignore them, ours use them
so that `generate --ws` redraws `proj.png` exactly.

A file from a user is untrusted: it is read without pickle, and every array's
header (dtype, shape, size) is checked before its data is read, so a huge or
odd array is refused without being loaded.

Example:

>>> import numpy as np
>>> ws = np.zeros([1, 8, 32], np.float32)
>>> save_ws("proj/projected_w.npz", ws)                     # doctest: +SKIP
>>> load_ws("proj/projected_w.npz", num_ws=8, w_dim=32).shape  # doctest: +SKIP
(1, 8, 32)
"""

import os
import zipfile

import numpy as np

from keras_stylegan import files
from keras_stylegan.errors import NetworkFileError

WS_KEY = "w"
NOISE_KEY = "noise{}"
MAX_ARRAY_BYTES = 1 << 28  # 256 MiB per array: far above any real ws or noise map


def save_ws(path, ws, noise=None):
    """Writes `ws` (`[num_ws, w_dim]` or `[N, num_ws, w_dim]`) atomically as `.npz`;
    `noise`, a list of `[1, H, W, 1]` maps, is stored as `noise0`, `noise1`, ..."""
    ws = np.asarray(ws, np.float32)
    if ws.ndim == 2:
        ws = ws[None]
    if ws.ndim != 3:
        raise ValueError(f"ws must be [N, num_ws, w_dim], got shape {list(ws.shape)}.")
    arrays = {WS_KEY: ws}
    for i, n in enumerate(noise or ()):
        arrays[NOISE_KEY.format(i)] = np.asarray(n, np.float32)
    with files.atomic_file(path, "the ws file") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def _bad(path, problem):
    return NetworkFileError(
        f"{path}: {problem}. Expected an .npz file with one array 'w' of shape "
        f"[N, num_ws, w_dim], as written by `keras-stylegan project` or NVIDIA's projector.")


def _read_arrays(path, wanted):
    """{key: array} of the keys in `wanted` that the file holds (a float array
    each, header checked before the data is read), and the file's keys."""
    try:
        if os.path.isdir(path):
            raise IsADirectoryError(path)
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        if not zipfile.is_zipfile(path):
            raise _bad(path, "not an .npz file (an .npz is a zip archive of .npy arrays; "
                             "this file is something else)")
        out = {}
        with zipfile.ZipFile(path) as zf:
            keys = [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
            for key in wanted:
                if key in keys:
                    out[key] = _read_member(path, zf, key + ".npy")
        return out, keys
    except NetworkFileError:
        raise
    except FileNotFoundError:
        raise NetworkFileError(f"{path}: no such file; pass the projector's "
                               "projected_w.npz.") from None
    except IsADirectoryError:
        raise NetworkFileError(f"{path} is a folder; pass the projector's "
                               "projected_w.npz.") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError) as e:
        raise _bad(path, f"not a readable .npz file ({e})") from None


def _read_member(path, zf, name):
    """One `.npy` member: refused before reading its data when it is not a plain
    float array or is larger than MAX_ARRAY_BYTES."""
    info = zf.getinfo(name)
    if info.file_size > MAX_ARRAY_BYTES + 4096:
        raise _bad(path, f"array {name[:-4]!r} is {info.file_size} bytes, over the "
                         f"{MAX_ARRAY_BYTES} bytes a ws file may hold")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(f)
        if dtype.kind != "f" or dtype.hasobject:
            raise _bad(path, f"array {name[:-4]!r} holds {dtype}, not floating-point numbers")
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if size > MAX_ARRAY_BYTES:
            raise _bad(path, f"array {name[:-4]!r} has shape {list(shape)} ({size} bytes), "
                             f"over the {MAX_ARRAY_BYTES} bytes a ws file may hold")
    with zf.open(info) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def load_ws(path, num_ws=None, w_dim=None):
    """Reads a ws file as float32 `[N, num_ws, w_dim]`; checks it against the
    network's `num_ws` and `w_dim` when given. Raises `NetworkFileError`."""
    arrays, keys = _read_arrays(path, [WS_KEY])
    if WS_KEY not in arrays:
        raise _bad(path, f"no array 'w' (found {sorted(keys)})")
    ws = arrays[WS_KEY]
    if ws.ndim == 2:
        ws = ws[None]
    if ws.ndim != 3 or ws.shape[0] < 1:
        raise _bad(path, f"'w' has shape {list(ws.shape)}")
    for name, want, got in (("num_ws", num_ws, ws.shape[1]), ("w_dim", w_dim, ws.shape[2])):
        if want is not None and got != want:
            raise _bad(path, f"'w' has {name} = {got} but the network has {want}; "
                             "use the network the file was projected with")
    ws = ws.astype(np.float32)
    if not np.all(np.isfinite(ws)):
        raise _bad(path, "'w' holds NaN or infinite values")
    return ws


def load_noise(path, noise_shapes):
    """The stored noise maps (`[1, H, W, 1]` float32 each) for a synthesis network
    with `noise_shapes` [(H, W)], or None when the file holds none (NVIDIA's
    files). Raises `NetworkFileError` when they do not fit the network."""
    keys = [NOISE_KEY.format(i) for i in range(len(noise_shapes))]
    arrays, found = _read_arrays(path, keys)
    stored = [k for k in found if k.startswith("noise")]
    if not stored:
        return None
    if len(stored) != len(keys) or set(stored) != set(keys):
        raise _bad(path, f"it holds {len(stored)} noise maps but the network has "
                         f"{len(keys)}; use the network the file was projected with")
    out = []
    for key, (h, w) in zip(keys, noise_shapes):
        n = arrays[key]
        if tuple(n.shape) != (1, h, w, 1):
            raise _bad(path, f"{key!r} has shape {list(n.shape)} but the network's is "
                             f"[1, {h}, {w}, 1]; use the network the file was projected with")
        if not np.all(np.isfinite(n)):
            raise _bad(path, f"{key!r} holds NaN or infinite values")
        out.append(n.astype(np.float32))
    return out

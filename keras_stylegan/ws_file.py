"""Files of dlatents (ws) in NVIDIA's `projected_w.npz` format.

StyleGAN2-ADA's projector writes `np.savez(path, w=ws)` with `ws` of shape
`[N, num_ws, w_dim]` (N = 1 for one projected image). The projector writes
these files and `generate --ws` / `figures` read them, so a projected image
can be regenerated and style-mixed. A file from a user is untrusted: it is read
without pickle and checked for its key, shape and values.

Example:

>>> import numpy as np
>>> ws = np.zeros([1, 8, 32], np.float32)
>>> save_ws("proj/projected_w.npz", ws)                     # doctest: +SKIP
>>> load_ws("proj/projected_w.npz", num_ws=8, w_dim=32).shape  # doctest: +SKIP
(1, 8, 32)
"""

import zipfile

import numpy as np

from keras_stylegan import files
from keras_stylegan.errors import NetworkFileError

WS_KEY = "w"


def save_ws(path, ws):
    """Writes `ws` (`[num_ws, w_dim]` or `[N, num_ws, w_dim]`) atomically as `.npz`."""
    ws = np.asarray(ws, np.float32)
    if ws.ndim == 2:
        ws = ws[None]
    if ws.ndim != 3:
        raise ValueError(f"ws must be [N, num_ws, w_dim], got shape {list(ws.shape)}.")
    with files.atomic_file(path, "the ws file") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{WS_KEY: ws})


def _bad(path, problem):
    return NetworkFileError(
        f"{path}: {problem}. Expected an .npz file with one array 'w' of shape "
        f"[N, num_ws, w_dim], as written by `keras-stylegan project` or NVIDIA's projector.")


def load_ws(path, num_ws=None, w_dim=None):
    """Reads a ws file as float32 `[N, num_ws, w_dim]`; checks it against the
    network's `num_ws` and `w_dim` when given. Raises `NetworkFileError`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if WS_KEY not in data.files:
                raise _bad(path, f"no array 'w' (found {sorted(data.files)})")
            ws = data[WS_KEY]
    except NetworkFileError:
        raise
    except FileNotFoundError:
        raise NetworkFileError(f"{path}: no such file; pass the projector's projected_w.npz.")
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise _bad(path, f"not a readable .npz file ({e})") from None
    if ws.dtype.kind != "f":
        raise _bad(path, f"'w' holds {ws.dtype}, not floating-point numbers")
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

"""Reading a user's image as a network's input (the projector's target).

As NVIDIA's `projector.py`: the image is converted to RGB (grayscale for a
one-channel network), cropped to its centred square and resized to the
network's resolution with Lanczos filtering. The file is untrusted: only PNG
and JPEG are decoded, and its size and pixel count are checked from the header
before any pixel is decoded.

>>> img = load_target("face.jpg", resolution=1024)  # doctest: +SKIP
>>> img.shape, img.dtype  # doctest: +SKIP
((1024, 1024, 3), dtype('uint8'))
"""

import os
import warnings

import numpy as np

from keras_stylegan.errors import ImageFileError

MAX_FILE_BYTES = 1 << 28   # 256 MiB
MAX_PIXELS = 1 << 26       # width * height (8192 x 8192)
FORMATS = ("PNG", "JPEG", "MPO")  # MPO: a JPEG from a camera


def _bad(path, problem):
    return ImageFileError(f"{path}: {problem}. Pass a PNG or JPEG image (it is centre-cropped "
                          "to a square and resized to the network's resolution).")


def load_target(path, resolution, num_channels=3):
    """uint8 `[resolution, resolution, num_channels]` image from the file `path`.

    Raises:
        FileNotFoundError: no such file.
        ImageFileError: not a readable PNG/JPEG, or too large.
    """
    import PIL.Image
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such image file: {path}")
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise _bad(path, f"the file is {size} bytes; the limit is {MAX_FILE_BYTES}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PIL.Image.DecompressionBombWarning)
            with PIL.Image.open(path) as im:
                if im.format not in FORMATS:
                    raise _bad(path, f"it holds {im.format} data")
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise _bad(path, f"{w}x{h} is over the {MAX_PIXELS} pixels allowed")
                im = im.convert("L" if num_channels == 1 else "RGB")
    except ImageFileError:
        raise
    except PIL.Image.DecompressionBombError as e:
        raise _bad(path, f"too large ({e})") from None
    except Exception as e:  # noqa: BLE001 - any decoder failure means "unreadable"
        raise _bad(path, f"not a readable image ({type(e).__name__}: {e})") from None
    s = min(w, h)
    im = im.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2))
    im = im.resize((resolution, resolution), PIL.Image.LANCZOS)
    arr = np.asarray(im, np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr

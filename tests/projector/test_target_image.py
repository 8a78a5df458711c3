"""Reading the projector's target (keras_stylegan/target_image.py): NVIDIA's
centre crop and Lanczos resize (against slicing + PIL), grayscale for
one-channel networks, and untrusted files refused with one `ImageFileError`,
an oversized image from its header before any pixel is decoded."""

import numpy as np
import PIL.Image
import pytest

from keras_stylegan.errors import ImageFileError
from keras_stylegan.target_image import MAX_PIXELS, load_target


def test_centre_crop_and_resize(tmp_path):
    rs = np.random.RandomState(0)
    rgb = rs.randint(0, 256, (30, 70, 3)).astype(np.uint8)  # landscape: crops columns 20-50
    PIL.Image.fromarray(rgb).save(tmp_path / "t.jpg", quality=95)
    PIL.Image.fromarray(rgb).save(tmp_path / "t.png")
    want = np.asarray(PIL.Image.fromarray(rgb[:, 20:50]).resize((16, 16), PIL.Image.LANCZOS))
    np.testing.assert_array_equal(load_target(tmp_path / "t.png", 16), want)
    jpg = np.asarray(PIL.Image.open(tmp_path / "t.jpg"))  # JPEG is lossy: its own pixels
    np.testing.assert_array_equal(load_target(tmp_path / "t.jpg", 16), np.asarray(
        PIL.Image.fromarray(jpg[:, 20:50]).resize((16, 16), PIL.Image.LANCZOS)))
    gray = load_target(tmp_path / "t.png", 16, num_channels=1)
    want_gray = np.asarray(PIL.Image.fromarray(rgb[:, 20:50]).convert("L").resize(
        (16, 16), PIL.Image.LANCZOS))
    np.testing.assert_array_equal(gray[..., 0], want_gray)
    assert gray.shape == (16, 16, 1)


def test_oversized_image_is_refused_from_its_header(tmp_path):
    side = int(MAX_PIXELS ** 0.5) + 1
    PIL.Image.new("1", (side, side)).save(tmp_path / "big.png")  # small file, huge image
    with pytest.raises(ImageFileError, match=f"{side}x{side} is over"):
        load_target(tmp_path / "big.png", 16)


def test_other_formats_and_garbage_are_refused(tmp_path):
    PIL.Image.new("RGB", (8, 8)).save(tmp_path / "a.bmp")
    with pytest.raises(ImageFileError, match="BMP data"):
        load_target(tmp_path / "a.bmp", 16)
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(ImageFileError, match="not a readable image"):
        load_target(tmp_path / "b.png", 16)
    with pytest.raises(FileNotFoundError):
        load_target(tmp_path / "none.png", 16)

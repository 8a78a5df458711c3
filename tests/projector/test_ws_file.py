"""projected_w.npz files (keras_stylegan/ws_file.py): the round trip, NVIDIA's
format (read by plain NumPy, and NumPy-written files read by us), and every kind
of bad file refused with one `NetworkFileError` naming the problem, huge
arrays refused from their header before any data is read."""

import io
import zipfile

import numpy as np
import pytest

from keras_stylegan.errors import NetworkFileError
from keras_stylegan.ws_file import MAX_ARRAY_BYTES, load_noise, load_ws, save_ws

SHAPES = [(4, 4), (8, 8)]


def test_round_trip_with_noise_maps_and_nvidias_reader(tmp_path):
    rs = np.random.RandomState(0)
    ws = rs.randn(1, 6, 16).astype(np.float32)
    noise = [rs.randn(1, h, w, 1).astype(np.float32) for h, w in SHAPES]
    path = tmp_path / "out" / "projected_w.npz"
    save_ws(path, ws, noise=noise)
    np.testing.assert_array_equal(load_ws(path, num_ws=6, w_dim=16), ws)
    for got, want in zip(load_noise(path, SHAPES), noise):
        np.testing.assert_array_equal(got, want)
    with np.load(path) as data:  # what NVIDIA's gen_images.py does
        np.testing.assert_array_equal(data["w"], ws)
    nvidia = tmp_path / "nvidia.npz"
    np.savez(nvidia, w=ws[0].astype(np.float64))  # [num_ws, w_dim] is read as N = 1
    np.testing.assert_array_equal(load_ws(nvidia), ws)
    assert load_noise(nvidia, SHAPES) is None  # NVIDIA's files hold no noise maps


def _npz_with_header(path, header_text):
    """An .npz whose 'w.npy' has the given header dict and no data."""
    header = header_text.encode("latin1")
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    member = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("w.npy", member)


def _npy_bytes():
    buf = io.BytesIO()
    np.save(buf, np.zeros([1, 6, 16], np.float32))
    return buf.getvalue()


def _object_npz(path):
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("w.npy", buf.getvalue())


@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_text("hello, not a zip"), "not an .npz file"),
    (lambda p: p.write_bytes(_npy_bytes()), "not an .npz file"),
    (lambda p: np.savez(p, x=np.zeros([1, 6, 16], np.float32)), "no array 'w'"),
    (lambda p: np.savez(p, w=np.zeros([1, 6, 16], np.int32)), "int32, not floating"),
    (_object_npz, "object, not floating"),
    (lambda p: np.savez(p, w=np.full([1, 6, 16], np.nan, np.float32)), "NaN"),
    (lambda p: np.savez(p, w=np.zeros([1, 5, 16], np.float32)), "num_ws = 5"),
    (lambda p: np.savez(p, w=np.zeros([1, 6, 16, 2], np.float32)), "shape"),
    (lambda p: _npz_with_header(p, "{'descr': '<f4', 'fortran_order': False, "
                                   "'shape': (100000, 18, 512), }"), "over the"),
    (lambda p: p.write_bytes(b"PK\x03\x04garbage"), "not"),
])
def test_bad_ws_files_are_refused_clearly(tmp_path, make, message):
    path = tmp_path / "projected_w.npz"
    make(path)
    with pytest.raises(NetworkFileError, match=message) as info:
        load_ws(path, num_ws=6, w_dim=16)
    assert "pickle" not in str(info.value) and str(path) in str(info.value)


def test_huge_header_is_refused_before_reading(tmp_path):
    """The header claims 3.7 GB but the file holds none of it: refused from the
    header (reading would fail otherwise with a different error)."""
    path = tmp_path / "w.npz"
    _npz_with_header(path, "{'descr': '<f4', 'fortran_order': False, "
                           "'shape': (100000, 18, 512), }")
    with pytest.raises(NetworkFileError, match=f"over the {MAX_ARRAY_BYTES} bytes"):
        load_ws(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(NetworkFileError, match="no such file"):
        load_ws(tmp_path / "nope.npz")
    with pytest.raises(NetworkFileError, match="is a folder"):
        load_ws(tmp_path)


def test_noise_maps_that_do_not_fit_the_network(tmp_path):
    path = tmp_path / "w.npz"
    save_ws(path, np.zeros([6, 16]), noise=[np.zeros([1, 4, 4, 1])])
    with pytest.raises(NetworkFileError, match="1 noise maps but the network has 2"):
        load_noise(path, SHAPES)
    save_ws(path, np.zeros([6, 16]), noise=[np.zeros([1, 4, 4, 1]), np.zeros([1, 4, 4, 1])])
    with pytest.raises(NetworkFileError, match=r"'noise1' has shape \[1, 4, 4, 1\]"):
        load_noise(path, SHAPES)
    save_ws(path, np.zeros([6, 16]), noise=[np.zeros([1, 4, 4, 1]),
                                            np.full([1, 8, 8, 1], np.inf)])
    with pytest.raises(NetworkFileError, match="infinite"):
        load_noise(path, SHAPES)

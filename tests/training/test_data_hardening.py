"""Hostile and broken dataset files: skipped and named, or one clear error naming the file.

Every crafted file is built here from a genuine one (PIL writes it, the test
breaks it); the expected images come from PIL, independently of the readers.
"""

import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zipfile
import zlib

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from keras_stylegan import cli
from keras_stylegan.training.data import open_dataset
from keras_stylegan.training.data.sources import DatasetError
from keras_stylegan.training.data.tfrecords import TFRecordsWriter

RES = 16
GOOD = 3
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind, data, length=None):
    length = len(data) if length is None else length
    return (struct.pack(">I", length) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _ihdr(width, height):
    return PNG_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))


def _png_bytes(image):
    buffer = io.BytesIO()
    PIL.Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


def _jpeg_bytes(image):
    buffer = io.BytesIO()
    PIL.Image.fromarray(image).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _garbled_idat(png):
    """`png` with bytes inside its IDAT data overwritten (the chunk CRC still matches)."""
    start = png.index(b"IDAT")
    length = struct.unpack(">I", png[start - 4:start])[0]
    data = bytearray(png[start + 4:start + 4 + length])
    data[2:len(data) - 2] = b"\x55" * (len(data) - 4)
    return png[:start - 4] + _chunk(b"IDAT", bytes(data)) + png[start + 8 + length:]


def _short_idat(width, height):
    """A PNG header declaring width x height pixels followed by a tiny IDAT."""
    return (_ihdr(width, height) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _chunk(b"IEND", b""))


# name -> (bytes, reason expected in the warning)
def _broken_files(good_png):
    rng = np.random.default_rng(7)
    jpeg = _jpeg_bytes(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))  # cut in its scan
    return {
        "garbled.png": (_garbled_idat(good_png), "does not decode"),
        "half.png": (good_png[:len(good_png) // 2], "does not decode"),
        "half.jpg": (jpeg[:len(jpeg) // 2], "does not decode"),
        # 8000 x 8000 is under the pixel limit: TensorFlow must find the data short.
        "short_idat.png": (_short_idat(8000, 8000), "does not decode"),
        # 9000 x 9000 is over it (and under PIL's own bomb limit): skipped unread.
        "huge_header.png": (_short_idat(9000, 9000), "too large (9000x9000: the limit is "
                                                     "8192x8192 pixels"),
        # A thin strip: few pixels, but padded to a 65536 x 65536 square (12 GiB).
        "strip.png": (_short_idat(65536, 1), "too large (65536x1: the limit"),
    }


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """A folder of GOOD valid PNGs and every kind of broken file; a ZIP of it plus an
    entry whose IDAT declares 1 GiB (really 1 GiB long, stored deflated)."""
    root = tmp_path_factory.mktemp("broken")
    folder = root / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    good = rng.integers(0, 256, (GOOD, RES, RES, 3), dtype=np.uint8)
    for i, image in enumerate(good):
        (folder / f"ok{i}.png").write_bytes(_png_bytes(image))
    bad = _broken_files((folder / "ok0.png").read_bytes())
    for name, (data, _) in bad.items():
        (folder / name).write_bytes(data)
    archive = root / "images.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name in sorted(os.listdir(folder)):
            z.write(folder / name, name)
        info = zipfile.ZipInfo("big.png")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as entry:
            entry.write(_ihdr(RES, RES) + struct.pack(">I", 1 << 30) + b"IDAT")
            zeros = bytes(1 << 24)
            for _ in range(64):
                entry.write(zeros)
    return folder, archive, good, bad


def _one_epoch(ds):
    batches = ds.as_tf_dataset(4, shuffle=False, repeat=False)
    return np.concatenate([x.numpy() for x, _ in batches])


def _as_float(images):
    return images.astype(np.float32) / np.float32(127.5) - np.float32(1)


def _check_skipped(record, ds, bad, where):
    message = str(record[0].message)
    assert f"Skipped {len(bad)} of {GOOD + len(bad)} image files in {where}" in message
    for name, (_, reason) in bad.items():
        assert f"{name}: {reason}" in message, (name, message)
    assert sorted(name for name, _ in ds.skipped) == sorted(bad)
    assert ds.num_images == GOOD


def test_undecodable_and_oversized_images_are_skipped_and_named(broken):
    folder, _, good, bad = broken
    with pytest.warns(UserWarning) as record:
        ds = open_dataset(folder)
    _check_skipped(record, ds, bad, str(folder))
    # The training stream reads every kept image: no decode error, the PIL pixels.
    np.testing.assert_array_equal(_one_epoch(ds), _as_float(good))


def test_zip_entry_declaring_a_gibibyte_is_skipped_unread(broken, monkeypatch):
    _, archive, good, bad = broken
    bad = dict(bad, **{"big.png": (b"", f"too large ({(1 << 30) + 41} bytes")})
    read = {"big.png": 0}
    original = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        data = original(self, n)
        if self.name in read:
            read[self.name] += len(data)
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    with pytest.warns(UserWarning) as record:
        ds = open_dataset(archive)
    _check_skipped(record, ds, bad, str(archive))
    np.testing.assert_array_equal(_one_epoch(ds), _as_float(good))
    assert read["big.png"] < 1 << 20


def test_dataset_command_skips_and_names_broken_images(broken, tmp_path, capsys):
    folder, _, good, bad = broken
    dest = tmp_path / "clean.zip"
    with pytest.warns(UserWarning) as record:
        assert cli.main(["dataset", "--source", str(folder), "--dest", str(dest)]) == 0
    for name in bad:
        assert name in str(record[0].message)
    ds = open_dataset(dest)
    np.testing.assert_array_equal(np.concatenate([x for _, x in ds.iter_uint8()]), good)
    assert "Traceback" not in capsys.readouterr().err


def test_max_images_stops_checking_once_enough_decode(broken):
    folder, _, good, _ = broken
    with pytest.warns(UserWarning) as record:
        ds = open_dataset(folder, max_images=2)
    # Sorted order: garbled, half.jpg, half.png, huge_header, ok0, ok1 (2 kept: stop).
    assert ds.num_images == 2
    assert "short_idat.png" not in str(record[0].message)
    np.testing.assert_array_equal(_one_epoch(ds), _as_float(good[:2]))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this OS")
def test_a_pipe_or_device_named_like_an_image_is_skipped_not_opened(tmp_path):
    """Opening a FIFO blocks until someone writes to it; /dev/zero never ends."""
    (tmp_path / "ok.png").write_bytes(_png_bytes(np.zeros((8, 8, 3), np.uint8)))
    os.mkfifo(tmp_path / "pipe.png")
    os.symlink("/dev/zero", tmp_path / "zero.png")
    with pytest.warns(UserWarning) as record:
        ds = open_dataset(tmp_path)
    message = str(record[0].message)
    assert "pipe.png: unreadable (ValueError: not a regular file)" in message
    assert "zero.png: unreadable (ValueError: not a regular file)" in message
    assert ds.num_images == 1


# --------------------------------------------------------------------------- labels
@pytest.fixture()
def plain(tmp_path):
    """Two valid 8x8 PNGs in a folder."""
    folder = tmp_path / "plain"
    folder.mkdir()
    for i in range(2):
        (folder / f"{i}.png").write_bytes(_png_bytes(np.full((8, 8, 3), 40 * i, np.uint8)))
    return folder


def _labels(folder, obj_or_text):
    text = obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text)
    (folder / "dataset.json").write_text(text)
    return open_dataset(folder, use_labels=True)


def test_huge_class_label_is_a_clear_error(plain):
    # Used to allocate a 200001 x 200001 one-hot matrix (149 GiB).
    with pytest.raises(DatasetError, match=r"dataset\.json: class labels must be integers "
                                           r"in \[0, 65536\)\. Received: 200000"):
        _labels(plain, {"labels": [["0.png", 200000], ["1.png", 0]]})
    with pytest.raises(DatasetError, match="labels of 70000 numbers; the limit is 65536"):
        _labels(plain, {"labels": [["0.png", [0.5] * 70000], ["1.png", [0.5] * 70000]]})
    with pytest.raises(DatasetError, match="must be finite"):
        _labels(plain, '{"labels": [["0.png", NaN], ["1.png", 1.0]]}')


def test_deep_or_malformed_dataset_json_names_the_file(plain):
    deep = '{"labels": [["0.png", ' + "[" * 100000 + "]" * 100000 + "]]}"
    with pytest.raises(DatasetError, match=r"dataset\.json is nested too deeply"):
        _labels(plain, deep)
    nested = {"labels": [["0.png", [[[1.0]]]], ["1.png", [[[2.0]]]]]}
    with pytest.raises(DatasetError, match=r"dataset\.json: each label must be an int class "
                                           "or a flat list"):
        _labels(plain, nested)
    with pytest.raises(DatasetError, match=r"plain.dataset\.json is not valid JSON"):
        _labels(plain, '{"labels": [["0.png", 1], ')
    with pytest.raises(DatasetError, match=r'dataset\.json: "labels" must be a list of'):
        _labels(plain, {"labels": [["0.png", 1, 2]]})
    ok = _labels(plain, {"labels": [["0.png", 2], ["1.png", 0]]})
    np.testing.assert_array_equal(ok.labels, np.eye(3)[[2, 0]])


def test_cli_reports_a_bad_label_file_in_one_line(plain, tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    code = cli.main(["dataset", "--source", str(plain), "--dest", str(tmp_path / "o.zip"),
                     "--labels", str(tmp_path / "bad.json")])
    err = capsys.readouterr().err
    assert code == 2 and "bad.json is not valid JSON" in err and "Traceback" not in err


# --------------------------------------------------------------------------- TFRecords
def _write_set(out, count=4, resolution=8, labels=None):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (count, resolution, resolution, 3), dtype=np.uint8)
    with TFRecordsWriter(str(out), resolution, 3) as writer:
        for image in images:
            writer.add_image(image)
        if labels is not None:
            writer.add_labels(labels)
    return images


def test_labels_file_that_is_not_numbers_names_the_file(tmp_path):
    _write_set(tmp_path / "s")
    labels = tmp_path / "s" / "s-rxx.labels"
    with open(labels, "wb") as f:
        np.save(f, np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match=r"s-rxx\.labels is not a labels file \(dtype "
                                           r"object, expected numbers\)"):
        open_dataset(tmp_path / "s", use_labels=True)
    # A header declaring 10**12 labels over 32 bytes of data: refused before reading.
    header = {"descr": "<f4", "fortran_order": False, "shape": (10 ** 12,)}
    with open(labels, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(bytes(32))
    with pytest.raises(DatasetError, match="declares 4000000000000 bytes of data, the file "
                                           "holds 32"):
        open_dataset(tmp_path / "s", use_labels=True)
    labels.write_bytes(b"garbage")
    with pytest.raises(DatasetError, match=r"s-rxx\.labels is not a labels file \(not a NumPy"):
        open_dataset(tmp_path / "s", use_labels=True)


def test_corrupt_records_name_the_file(tmp_path):
    _write_set(tmp_path / "s")
    top = tmp_path / "s" / "s-r03.tfrecords"
    data = top.read_bytes()
    # A record whose payload is not a tf.train.Example (framing intact).
    junk = b"\xff" * 30
    header = struct.pack("<Q", len(junk))
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "j-r03.tfrecords").write_bytes(header + b"\0" * 4 + junk + b"\0" * 4)
    with pytest.raises(DatasetError, match=r"j-r03\.tfrecords is corrupt: record 0 is "
                                           "not an NVIDIA tf.train.Example"):
        open_dataset(tmp_path / "j")
    # Random bytes: the record framing runs past the end of the file.
    top.write_bytes(data[:5] + b"\x7f" * 40 + data[45:])
    with pytest.raises(DatasetError, match=r"s-r03\.tfrecords is not an uncompressed TFRecord "
                                           "file"):
        open_dataset(tmp_path / "s")


def test_a_corrupt_record_mid_file_is_one_error_naming_the_file(tmp_path, capsys):
    """Framing and size intact, the Example inside garbled: found when it is read."""
    _write_set(tmp_path / "s", count=4)
    top = tmp_path / "s" / "s-r03.tfrecords"
    data = bytearray(top.read_bytes())
    record = len(data) // 4
    data[2 * record + 12:2 * record + 16] = b"\xff" * 4  # the start of record 2's payload
    top.write_bytes(bytes(data))
    ds = open_dataset(tmp_path / "s")
    with pytest.raises(DatasetError, match=r"s-r03\.tfrecords is corrupt: record 2 is not an "
                                           r"NVIDIA tf\.train\.Example .*Re-create the set\.$"):
        for _ in ds.iter_uint8(batch_size=4):
            pass
    code = cli.main(["dataset", "--source", str(tmp_path / "s"), "--dest",
                     str(tmp_path / "out.zip")])
    err = capsys.readouterr().err
    assert code == 2 and "s-r03.tfrecords is corrupt: record 2" in err
    assert "Traceback" not in err and not os.path.exists(tmp_path / "out.zip")


def test_top_level_cut_at_a_record_boundary_is_detected(tmp_path):
    images = _write_set(tmp_path / "s", count=4)
    top = tmp_path / "s" / "s-r03.tfrecords"
    records = list(tf.data.TFRecordDataset(str(top)).as_numpy_iterator())
    with tf.io.TFRecordWriter(str(top)) as writer:  # the first 3 of 4 records
        for record in records[:3]:
            writer.write(record)
    with pytest.raises(DatasetError, match=r"s-r0[23]\.tfrecords holds [34] records but "
                                           r".*s-r0[23]\.tfrecords holds [34]"):
        open_dataset(tmp_path / "s")
    # Intact levels still read (resolution 4 reads only r02).
    assert open_dataset(tmp_path / "s", resolution=4).num_images == len(images)


def test_records_of_different_sizes_are_corrupt(tmp_path):
    _write_set(tmp_path / "s", count=3)
    top = tmp_path / "s" / "s-r03.tfrecords"
    records = list(tf.data.TFRecordDataset(str(top)).as_numpy_iterator())
    with tf.io.TFRecordWriter(str(top)) as writer:
        for record in records[:2] + [records[2] + b"\0"]:
            writer.write(record)
    with pytest.raises(DatasetError, match=r"s-r03\.tfrecords is corrupt: record 2 is"):
        open_dataset(tmp_path / "s")


# --------------------------------------------------------------------------- NVIDIA labels
def test_labelled_tfrecords_read_back_like_nvidias_reader(tmp_path):
    """`dataset --format tfrecords` stores labels as NVIDIA's dataset_tool does and its
    `training/dataset.py` TFRecordDataset reads them: the first `*.labels` file of the
    folder, `np.load`, `assert ndim == 2`, float32, one row per record."""
    classes = np.array([2, 0, 1, 2, 1])
    folder = tmp_path / "src"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for i in range(len(classes)):
        (folder / f"{i}.png").write_bytes(
            _png_bytes(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)))
    (folder / "dataset.json").write_text(json.dumps(
        {"labels": [[f"{i}.png", int(c)] for i, c in enumerate(classes)]}))
    dest = tmp_path / "set"
    assert cli.main(["dataset", "--source", str(folder), "--dest", str(dest)]) == 0

    # NVIDIA's reader (stylegan training/dataset.py), restated in NumPy / tf.
    import glob
    tfr_files = sorted(glob.glob(os.path.join(dest, "*.tfrecords")))
    shapes = []
    for file in tfr_files:
        record = next(iter(tf.data.TFRecordDataset(file))).numpy()
        example = tf.train.Example.FromString(record)
        shapes.append(list(example.features.feature["shape"].int64_list.value))
    assert shapes == [[3, 4, 4], [3, 8, 8]]
    label_file = sorted(glob.glob(os.path.join(dest, "*.labels")))[0]
    np_labels = np.load(label_file)
    assert np_labels.ndim == 2
    assert np_labels.dtype.name == "float32"
    count = sum(1 for _ in tf.data.TFRecordDataset(tfr_files[-1]))
    assert np_labels.shape == (count, 3)
    np.testing.assert_array_equal(np_labels, np.eye(3, dtype=np.float32)[classes])
    tf_labels = tf.data.Dataset.from_tensor_slices(np_labels)
    assert tf_labels.element_spec == tf.TensorSpec([3], tf.float32)
    # Our reader: the same labels, known to be classes (a ZIP gets ints back).
    ds = open_dataset(dest, use_labels=True)
    np.testing.assert_array_equal(ds.labels, np_labels)
    assert ds.source.labels_are_classes
    assert cli.main(["dataset", "--source", str(dest), "--dest", str(tmp_path / "b.zip")]) == 0
    with zipfile.ZipFile(tmp_path / "b.zip") as z:
        assert [c for _, c in json.loads(z.read("dataset.json"))["labels"]] == list(classes)


def test_older_int64_class_labels_still_read(tmp_path):
    _write_set(tmp_path / "s", count=4)
    with open(tmp_path / "s" / "s-rxx.labels", "wb") as f:  # as keras-stylegan 0.1 wrote
        np.save(f, np.array([3, 0, 1, 3], np.int64))
    ds = open_dataset(tmp_path / "s", use_labels=True)
    np.testing.assert_array_equal(ds.labels, np.eye(4)[[3, 0, 1, 3]])
    assert ds.labels.dtype == np.float32


# --------------------------------------------------------------------------- leftovers
def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leftovers_of_a_killed_writer_are_ignored_and_cleaned(tmp_path, monkeypatch):
    """What kill -9 leaves mid-write (partial temporaries beside a complete set, in the
    older naming too) neither breaks the reader nor survives the next write."""
    images = _write_set(tmp_path / "s", count=4)
    dead = _dead_pid()
    with monkeypatch.context() as m:
        m.setattr(os, "getpid", lambda: dead)
        killed = TFRecordsWriter(str(tmp_path / "s"), 8, 3)
        killed.add_image(images[0])
    for writer in killed._writers:
        writer.flush()  # the process dies here: no close(), no abort()
    old = tmp_path / "s" / ".tmp-k2j4l1-s-r03.tfrecords"  # older versions' name
    old.write_bytes((tmp_path / "s" / "s-r03.tfrecords").read_bytes()[:50])
    live = tmp_path / "s" / f".tmp-pid{os.getpid()}-x-s-r03.tfrecords"  # a running writer
    live.write_bytes(b"")
    temps = sorted(f for f in os.listdir(tmp_path / "s") if f.startswith(".tmp-"))
    assert len(temps) == 4  # two levels of the killed writer, the old one, the live one
    ds = open_dataset(tmp_path / "s")  # used to be "holds several TFRecords sets"
    assert ds.num_images == 4
    np.testing.assert_array_equal(np.concatenate([x for _, x in ds.iter_uint8()]), images)
    _write_set(tmp_path / "s", count=2)
    left = sorted(f for f in os.listdir(tmp_path / "s") if f.startswith(".tmp-"))
    assert left == [live.name]
    assert open_dataset(tmp_path / "s").num_images == 2


def test_kill_9_during_tfrecords_conversion_leaves_a_readable_folder(tmp_path):
    dest = tmp_path / "shapes"
    assert cli.main(["dataset", "--source", "builtin:8", "--dest", str(dest),
                     "--resolution", "8"]) == 0
    script = os.path.join(os.path.dirname(sys.executable), "keras-stylegan")
    argv = [script] if os.path.exists(script) else [sys.executable, "-m", "keras_stylegan.cli"]
    proc = subprocess.Popen(argv + ["dataset", "--source", "builtin:100000", "--dest",
                                    str(dest), "--resolution", "32", "--force"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    try:
        deadline = time.time() + 240
        while not any(f.startswith(".tmp-") and os.path.getsize(dest / f) > 0
                      for f in os.listdir(dest)):
            assert proc.poll() is None, "the conversion ended before it could be killed"
            assert time.time() < deadline, "no temporary file appeared"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert any(f.startswith(".tmp-") for f in os.listdir(dest))
    ds = open_dataset(dest)
    assert (ds.num_images, ds.resolution) == (8, 8)
    assert cli.main(["dataset", "--source", "builtin:8", "--dest", str(dest),
                     "--resolution", "8", "--force"]) == 0
    assert not [f for f in os.listdir(dest) if f.startswith(".tmp-")]
    assert open_dataset(dest).num_images == 8


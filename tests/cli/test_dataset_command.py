"""`keras-stylegan dataset`: folder/builtin -> ZIP and NVIDIA TFRecords."""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from keras_stylegan import cli
from keras_stylegan.training import builtin
from keras_stylegan.cli import dataset as command
from keras_stylegan.training.data import open_dataset
from helpers.paths import REPO

N = 7


def _stream(ds, resolution=None):
    batches = list(ds.as_tf_dataset(N, resolution=resolution, shuffle=False, repeat=False))
    return np.concatenate([x.numpy() for x, _ in batches])


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """N RGB 16x16 PNGs in subfolders plus one 32x32 and a corrupt file."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    names = []
    for i in range(N):
        name = f"{'cats' if i % 2 else 'dogs'}/{i:02d}.png"
        size = 32 if i == 3 else 16
        (root / name).parent.mkdir(exist_ok=True)
        PIL.Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
            root / name)
        names.append(name)
    (root / "broken.png").write_bytes(b"oops")
    labels = {"labels": [[name, i % 3] for i, name in enumerate(names)]}
    (root / "classes.json").write_text(json.dumps(labels))
    return root


# The dataset order is sorted paths: cats/01, cats/03, cats/05, dogs/00, dogs/02, ...
CLASSES = np.array([int(name[-6:-4]) % 3 for name in sorted(
    f"{'cats' if i % 2 else 'dogs'}/{i:02d}.png" for i in range(N))])


def _main(*argv):
    return cli.main(["dataset", *map(str, argv)])


def test_folder_to_zip_matches_the_folder(photos, tmp_path, capsys):
    dest = tmp_path / "out" / "photos.zip"
    with pytest.warns(UserWarning, match="broken.png"):
        assert _main("--source", photos, "--dest", dest) == 0
    err = capsys.readouterr().err
    assert f"Converting {N} images" in err and f"{N}/{N} images (100%)" in err
    with zipfile.ZipFile(dest) as archive:
        names = archive.namelist()
        meta = json.loads(archive.read("dataset.json"))
    assert names[:2] == ["00000/img00000000.png", "00000/img00000001.png"]
    assert meta == {"labels": None}
    assert not [f for f in os.listdir(dest.parent) if f.startswith(".tmp-")]
    with pytest.warns(UserWarning):
        source = open_dataset(photos)
    np.testing.assert_array_equal(_stream(open_dataset(dest)), _stream(source))


def test_folder_to_tfrecords_with_labels(photos, tmp_path):
    dest = tmp_path / "pets"
    with pytest.warns(UserWarning):
        assert _main("--source", photos, "--dest", dest, "--format", "tfrecords",
                     "--labels", photos / "classes.json") == 0
    assert sorted(os.listdir(dest)) == [
        "pets-r02.tfrecords", "pets-r03.tfrecords", "pets-r04.tfrecords", "pets-rxx.labels"]
    stored = np.load(dest / "pets-rxx.labels")  # NVIDIA's: float32 [N, L], one-hot
    assert stored.dtype == np.float32 and stored.shape == (N, 3)
    np.testing.assert_array_equal(stored, np.eye(3)[CLASSES])
    with pytest.warns(UserWarning):
        source = open_dataset(photos)
    records = open_dataset(dest, use_labels=True)
    np.testing.assert_array_equal(_stream(records), _stream(source))
    np.testing.assert_array_equal(records.labels, np.eye(3)[CLASSES])
    # Each stored level is NVIDIA's float 2x2 pooling of the level above, rounded.
    full = np.rint((_stream(source) + 1) * 127.5)
    levels = [full]
    for _ in range(2):
        x = levels[-1]
        levels.append((x[:, 0::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 0::2]
                       + x[:, 1::2, 1::2]) * 0.25)
    for res, level in ((8, levels[1]), (4, levels[2])):
        got = np.rint((_stream(records, resolution=res) + 1) * 127.5)
        np.testing.assert_array_equal(got, np.rint(level))


def test_zip_labels_from_a_labels_file(photos, tmp_path):
    dest = tmp_path / "pets.zip"
    with pytest.warns(UserWarning):
        assert _main("--source", photos, "--dest", dest, "--labels",
                     photos / "classes.json") == 0
    with zipfile.ZipFile(dest) as archive:
        meta = json.loads(archive.read("dataset.json"))
    assert meta["labels"][:2] == [["00000/img00000000.png", 1], ["00000/img00000001.png", 0]]
    ds = open_dataset(dest, use_labels=True)
    np.testing.assert_array_equal(ds.labels, np.eye(3)[CLASSES])


def test_builtin_export_round_trips(tmp_path):
    assert _main("--source", "builtin:20", "--dest", tmp_path / "shapes.zip",
                 "--resolution", "16") == 0
    assert _main("--source", "builtin:20", "--dest", tmp_path / "shapes",
                 "--resolution", "16") == 0
    expected = builtin.BuiltinShapes(20).images(np.arange(20), 16)
    for dest in (tmp_path / "shapes.zip", tmp_path / "shapes"):
        ds = open_dataset(dest, use_labels=True)
        assert (ds.num_images, ds.resolution, ds.label_size) == (20, 16, builtin.LABEL_SIZE)
        pixels = np.concatenate([x for _, x in ds.iter_uint8(8)])
        np.testing.assert_array_equal(pixels, expected)
        np.testing.assert_allclose(ds.labels, builtin.BuiltinShapes(20).labels(), atol=1e-7)


def test_resolution_and_max_images(photos, tmp_path):
    dest = tmp_path / "small.zip"
    with pytest.warns(UserWarning):
        assert _main("--source", photos, "--dest", dest, "--resolution", "8",
                     "--max-images", "3") == 0
    ds = open_dataset(dest)
    assert (ds.num_images, ds.resolution) == (3, 8)
    expected = []
    for name in ("cats/01.png", "cats/03.png", "cats/05.png"):  # 16, 32 and 16 pixels wide
        pixels = np.asarray(PIL.Image.open(photos / name), np.float64)
        f = pixels.shape[0] // 8
        expected.append(np.rint(pixels.reshape(8, f, 8, f, 3).mean(axis=(1, 3))))
    np.testing.assert_array_equal(np.concatenate([x for _, x in ds.iter_uint8()]), expected)


def test_existing_destination_needs_force(tmp_path, capsys):
    dest = tmp_path / "shapes"
    assert _main("--source", "builtin:10", "--dest", dest, "--resolution", "16") == 0
    assert _main("--source", "builtin:10", "--dest", dest, "--resolution", "8") == 2
    assert "already holds a dataset" in capsys.readouterr().err
    assert _main("--source", "builtin:10", "--dest", dest, "--resolution", "8",
                 "--force") == 0
    # The stale 16x16 level of the old set is gone; the new set is 8x8.
    assert sorted(os.listdir(dest)) == [
        "shapes-r02.tfrecords", "shapes-r03.tfrecords", "shapes-rxx.labels"]
    assert open_dataset(dest).resolution == 8


def test_user_errors_exit_2_with_a_message(photos, tmp_path, capsys):
    cases = [
        (["--source", "builtin:5", "--dest", tmp_path / "x", "--format", "zip"],
         "--format zip needs --dest ending in .zip"),
        (["--source", tmp_path / "missing", "--dest", tmp_path / "y.zip"], "does not exist"),
        (["--source", "builtin:5", "--dest", tmp_path / "z.zip", "--labels",
          photos / "classes.json"], "--labels applies to a folder or .zip source only"),
        (["--source", photos, "--dest", tmp_path / "w.zip", "--labels", tmp_path / "no.json"],
         "does not exist"),
    ]
    for argv, message in cases:
        assert _main(*argv) == 2, argv
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["dataset", "--source", "builtin", "--dest", "x", "--resolution", "12"])
    assert "must be a power of two" in capsys.readouterr().err


def test_failed_conversion_leaves_no_files(tmp_path):
    ds = open_dataset("builtin:10", resolution=8)

    def broken(batch_size=64):
        yield np.arange(2), np.zeros((2, 8, 8, 3), np.uint8)
        raise RuntimeError("disk on fire")

    ds.iter_uint8 = broken
    with pytest.raises(RuntimeError, match="disk on fire"):
        command.write_zip(ds, str(tmp_path / "a.zip"))
    with pytest.raises(RuntimeError, match="disk on fire"):
        command.write_tfrecords(ds, str(tmp_path / "b"))
    assert os.listdir(tmp_path) == ["b"] and os.listdir(tmp_path / "b") == []


def test_console_script_help():
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    script = os.path.join(os.path.dirname(sys.executable), "keras-stylegan")
    argv = [script] if os.path.exists(script) else [sys.executable, "-m", "keras_stylegan.cli"]
    result = subprocess.run(argv + ["dataset", "--help"], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--format {zip,tfrecords}" in result.stdout
    assert "NAME-rNN.tfrecords" in result.stdout


def test_tfrecords_writer_output_parses_as_nvidia_examples(tmp_path):
    assert _main("--source", "builtin:3", "--dest", tmp_path / "s", "--resolution", "8") == 0
    expected = builtin.BuiltinShapes(3).images(np.arange(3), 8)
    for record, image in zip(tf.data.TFRecordDataset(str(tmp_path / "s" / "s-r03.tfrecords")),
                             expected):
        example = tf.train.Example.FromString(record.numpy())
        assert list(example.features.feature["shape"].int64_list.value) == [3, 8, 8]
        data = example.features.feature["data"].bytes_list.value[0]
        np.testing.assert_array_equal(np.frombuffer(data, np.uint8).reshape(3, 8, 8),
                                      image.transpose(2, 0, 1))

"""Full disks and killed writers: one clear error, the previous state intact, and no
leftovers that a later run keeps (checkpoints, snapshots, SavedModel and TFLite exports).

A full disk is simulated where the bytes are written: TensorFlow's checkpoint
writer and the exporters raise what they raise on ENOSPC
(`ResourceExhaustedError` from TensorFlow, `OSError(ENOSPC)` from Python).
"""

import errno
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from keras_stylegan import cli
from keras_stylegan.files import WriteError

TINY = ["train", "--config", "tiny", "--data", "builtin:64", "--resolution", "16",
        "--kimg", "0.064", "--checkpoint-kimg", "0.032", "--snap", "1",
        "--set", "lod_training_kimg=0.032", "--set", "lod_transition_kimg=0.032"]


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _disk_full():
    return tf.errors.ResourceExhaustedError(
        None, None, "ckpt-64_temp/part-00000-of-00001.data-00000-of-00001.tempstate; "
                    "No space left on device")


@pytest.mark.slow  # two tiny training runs (~40 s alone, more on a busy machine)
def test_full_disk_at_a_checkpoint_is_one_error_and_the_run_resumes(tmp_path, monkeypatch,
                                                                    capsys):
    outdir = tmp_path / "run"
    ckpt_dir = outdir / "checkpoints"
    write = tf.train.Checkpoint._write
    calls = []

    def fill_the_disk(self, prefix, *args, **kwargs):
        calls.append(prefix)
        if len(calls) == 1:
            return write(self, prefix, *args, **kwargs)
        os.makedirs(prefix + "_temp")  # TensorFlow's half-written shard
        with open(os.path.join(prefix + "_temp", "part-00000-of-00001.index"), "wb") as f:
            f.write(b"\0" * 10)
        raise _disk_full()

    with monkeypatch.context() as m:
        m.setattr(tf.train.Checkpoint, "_write", fill_the_disk)
        code = cli.main(TINY + ["--outdir", str(outdir)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"error: Could not write the checkpoint {ckpt_dir}/ckpt-64: the disk is full" in err
    assert "run the same command again to resume" in err
    assert "Traceback" not in err and "ResourceExhaustedError" not in err
    # The first checkpoint is intact and still the newest; the failed one left nothing.
    assert tf.train.latest_checkpoint(str(ckpt_dir)) == str(ckpt_dir / "ckpt-32")
    assert not [n for n in os.listdir(ckpt_dir) if n.startswith("ckpt-64")]

    # What kill -9 leaves mid-write: a snapshot temporary, a shard folder, an index temp.
    leftovers = [outdir / ".tmp-q8w7e6r5.keras", ckpt_dir / "ckpt-96_temp",
                 ckpt_dir / "checkpoint.tmp0123456789abcdef0123456789abcdef",
                 outdir / f".tmp-pid{_dead_pid()}-abc-network-snapshot-000000.keras",
                 outdir / "tmpa1b2c3d4.png.tmp"]
    for path in leftovers:
        if path.name.endswith("_temp"):
            path.mkdir()
            (path / "part-00000-of-00001.index").write_bytes(b"\0")
        else:
            path.write_bytes(b"partial")
    assert cli.main(TINY + ["--outdir", str(outdir)]) == 0
    log = (outdir / "log.txt").read_text()
    assert f"Resuming from {ckpt_dir}/ckpt-32 at 0.03 kimg" in log
    assert tf.train.latest_checkpoint(str(ckpt_dir)) == str(ckpt_dir / "ckpt-64")
    assert [str(p) for p in leftovers if os.path.exists(p)] == []


def test_full_disk_at_a_snapshot_leaves_no_partial_file(tmp_path):
    from keras_stylegan.training.callbacks import save_keras_atomic

    class Model:
        def save(self, path):
            with open(path, "wb") as f:
                f.write(b"half a model")
            raise OSError(errno.ENOSPC, "No space left on device")

    (tmp_path / "network-snapshot-000001.keras").write_bytes(b"older snapshot")
    with pytest.raises(WriteError, match="Could not write the network snapshot .*"
                                         "network-snapshot-000001.keras: the disk is full"):
        save_keras_atomic(Model(), str(tmp_path / "network-snapshot-000001.keras"))
    assert os.listdir(tmp_path) == ["network-snapshot-000001.keras"]
    assert (tmp_path / "network-snapshot-000001.keras").read_bytes() == b"older snapshot"


def test_full_disk_during_a_savedmodel_export_keeps_the_versions(tmp_path, monkeypatch):
    from keras_stylegan.export import savedmodel

    def half_written(G, path, *args, **kwargs):
        with open(os.path.join(path, "saved_model.pb"), "wb") as f:
            f.write(b"\0" * 100)
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    (tmp_path / "gen" / "1").mkdir(parents=True)
    (tmp_path / "gen" / "1" / "saved_model.pb").write_bytes(b"version 1")
    monkeypatch.setattr(savedmodel, "write_savedmodel", half_written)
    with pytest.raises(WriteError, match=r"Could not write the SavedModel .*gen/2: the disk "
                                         "is full"):
        savedmodel.export_savedmodel(object(), str(tmp_path), name="gen")
    assert os.listdir(tmp_path / "gen") == ["1"]
    assert (tmp_path / "gen" / "1" / "saved_model.pb").read_bytes() == b"version 1"


def test_export_leftovers_are_removed_by_the_next_export(tmp_path):
    from keras_stylegan.export.savedmodel import atomic_directory
    from keras_stylegan.export.tflite import _write_file_atomic

    model_dir = tmp_path / "gen"
    model_dir.mkdir()
    dead, mine = _dead_pid(), os.getpid()
    stale = [model_dir / ".tmp-3-k2j4h5",                    # older versions' folder name
             model_dir / f".tmp-pid{dead}-a1b2c3-4"]         # a killed export
    live = model_dir / f".tmp-pid{mine}-d4e5f6-5"            # an export still running
    for path in stale + [live]:
        path.mkdir()
        (path / "saved_model.pb").write_bytes(b"partial")
    with atomic_directory(str(model_dir / "6")) as tmp:
        with open(os.path.join(tmp, "model.tflite"), "wb") as f:
            f.write(b"complete")
    assert sorted(os.listdir(model_dir)) == sorted(["6", live.name])

    out = tmp_path / "x.tflite"
    stale = [tmp_path / f".x.tflite.tmp-{dead}", tmp_path / f".tmp-pid{dead}-zz-x.tflite"]
    live = tmp_path / f".x.tflite.tmp-{mine}"
    for path in stale + [live]:
        path.write_bytes(b"partial")
    _write_file_atomic(b"model bytes", str(out))
    assert out.read_bytes() == b"model bytes"
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith(".")) == [live.name]


def test_full_disk_writing_a_tflite_file_keeps_the_old_one(tmp_path, monkeypatch):
    from keras_stylegan.export.tflite import _write_file_atomic

    out = tmp_path / "x.tflite"
    out.write_bytes(b"old model")
    real_open = open

    def full_open(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        if "w" in mode and os.path.basename(path).startswith(".tmp-"):
            f.close()
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return f

    monkeypatch.setattr("builtins.open", full_open)
    with pytest.raises(WriteError, match=r"Could not write the TFLite model .*x\.tflite: "
                                         "the disk is full"):
        _write_file_atomic(b"new model", str(out))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["x.tflite"] and out.read_bytes() == b"old model"


def test_full_disk_while_converting_a_dataset_keeps_the_old_set(tmp_path, monkeypatch, capsys):
    from keras_stylegan.training.data import open_dataset
    from keras_stylegan.training.data.tfrecords import TFRecordsWriter

    dest = tmp_path / "shapes"
    assert cli.main(["dataset", "--source", "builtin:6", "--dest", str(dest),
                     "--resolution", "8"]) == 0
    before = {n: (dest / n).read_bytes() for n in os.listdir(dest)}
    add_image = TFRecordsWriter.add_image

    def fill_the_disk(self, image):
        if self.num_images == 3:
            raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")
        add_image(self, image)

    monkeypatch.setattr(TFRecordsWriter, "add_image", fill_the_disk)
    code = cli.main(["dataset", "--source", "builtin:10", "--dest", str(dest),
                     "--resolution", "8", "--force"])
    err = capsys.readouterr().err
    assert code == 2 and f"Could not write the dataset {dest}: the disk is full" in err
    assert "Traceback" not in err
    assert {n: (dest / n).read_bytes() for n in os.listdir(dest)} == before
    assert open_dataset(dest).num_images == 6

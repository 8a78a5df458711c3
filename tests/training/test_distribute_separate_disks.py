"""Multi-worker resume needs a shared run directory: two local workers whose
--outdir are separate folders (separate disks), only the chief's holding a
checkpoint, both stop with one clear error instead of dying in a collective
("Shape mismatch") or training from different states."""

import os
import pathlib
import sys

from helpers.workers import run_workers


def _fake_checkpoint(folder, number):
    """What tf.train.latest_checkpoint looks for: the state file and an index."""
    os.makedirs(folder)
    with open(os.path.join(folder, "checkpoint"), "w") as f:
        f.write(f'model_checkpoint_path: "ckpt-{number}"\n'
                f'all_model_checkpoint_paths: "ckpt-{number}"\n')
    open(os.path.join(folder, f"ckpt-{number}.index"), "wb").close()


def test_workers_that_see_different_checkpoints_refuse_to_resume(tmp_path):
    outdirs = [tmp_path / "chief-disk" / "run", tmp_path / "worker-disk" / "run"]
    _fake_checkpoint(outdirs[0] / "checkpoints", 32)
    commands = [[sys.executable, "-m", "keras_stylegan.cli", "train", "--data", "builtin:64",
                 "--config", "tiny", "--kimg", "0.064", "--outdir", str(outdir)]
                for outdir in outdirs]
    procs, logs = run_workers(commands, tmp_path, timeout=240)
    for index, p in enumerate(procs):
        text = pathlib.Path(logs[index]).read_text()
        assert p.returncode == 2, text[-3000:]
        errors = [line for line in text.splitlines() if "keras-stylegan train:" in line]
        assert len(errors) == 1 and "Traceback" not in text, text[-3000:]
        assert "The workers see different checkpoints" in errors[0]
        assert "ckpt-32, no checkpoint" in errors[0]
        assert "needs one run directory shared by every worker" in errors[0]
    # The chief's checkpoint is untouched; the worker's empty folder is not left behind.
    assert sorted(os.listdir(outdirs[0] / "checkpoints")) == ["checkpoint", "ckpt-32.index"]
    assert not outdirs[1].exists()

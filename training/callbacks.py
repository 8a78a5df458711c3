"""Keras callbacks of a training run: console progress, TensorBoard, grids,
network snapshots and checkpoints.

All of them read the step logs of `training.gan.StyleGAN.train_step` (values
shaped (1,)); intervals are in kimg of the image counter, so they fire at
the same points after a resume. Only the chief writes files, except
checkpoints: under MultiWorkerMirroredStrategy every worker must save, so
the others write to a scratch directory that is deleted.
"""

import json
import math
import os
import re
import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from keras_stylegan import files
from keras_stylegan.generate import image_grid, save_png
from keras_stylegan.loading import snapshot_name
from keras_stylegan.ops.basic import to_uint8

RESUME_HINT = ("The run's files are intact: free space (or fix the folder) and run the same "
               "command again to resume from the last checkpoint.")


def log_value(logs, key, default=None):
    """A float from a step log entry (tensor or array of shape (1,))."""
    if not logs or key not in logs:
        return default
    return float(np.asarray(logs[key]).reshape(-1)[0])


class KimgTrigger:
    """Fires when the image counter reaches the next multiple of `every_kimg`."""

    def __init__(self, every_kimg, start_kimg=0.0):
        self.every = float(every_kimg)
        self.next = self._after(start_kimg) if self.every > 0 else math.inf

    def _after(self, kimg):
        return (math.floor(kimg / self.every + 1e-9) + 1) * self.every

    def __call__(self, kimg):
        if kimg + 1e-9 >= self.next:
            self.next = self._after(kimg)
            return True
        return False


def format_time(seconds):
    """'1h 02m 03s' / '2m 03s' / '4s'."""
    s = int(round(max(seconds, 0)))
    h, m, s = s // 3600, s // 60 % 60, s % 60
    if h:
        return f"{h}h {m:02d}m {s:02d}s"
    return f"{m}m {s:02d}s" if m else f"{s}s"


class ProgressLogger(keras.callbacks.Callback):
    """Prints kimg, lod, resolution, s/kimg, ETA and losses every `tick_kimg`.

    Lines also go to `log_path` (the run's `log.txt`) when given. Tick N is the
    N-th multiple of `tick_kimg` reached, so numbers go on after a resume. Every
    `model.fit` call (one per level) first traces and compiles its step: the
    time up to the end of its first batch is left out of s/kimg and the ETA
    (the `time` column still counts it).
    """

    def __init__(self, total_kimg, tick_kimg, start_kimg=0.0, log_path=None, print_fn=print):
        super().__init__()
        self.total_kimg = float(total_kimg)
        self.every = float(tick_kimg)
        self.trigger = KimgTrigger(tick_kimg, start_kimg)
        self.log_path = log_path
        self.print_fn = print_fn
        self.start_time = self.tick_time = self.last_time = time.time()
        self.tick_kimg = self.last_kimg = float(start_kimg)
        self.sec_per_kimg = None
        self.compiling = True

    def write(self, line):
        self.print_fn(line, flush=True) if self.print_fn is print else self.print_fn(line)
        if self.log_path:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def on_train_begin(self, logs=None):
        self.compiling = True  # a new fit: its first batch includes the compile

    def on_train_batch_end(self, batch, logs=None):
        kimg = log_value(logs, "kimg")
        if kimg is None:
            return
        now = time.time()
        if self.compiling:  # leave the compile (and its batch) out of the rate
            self.compiling = False
            self.tick_time += now - self.last_time
            self.tick_kimg += kimg - self.last_kimg
        self.last_time, self.last_kimg = now, kimg
        if not self.trigger(kimg):
            return
        if kimg - self.tick_kimg > 1e-9 or self.sec_per_kimg is None:
            self.sec_per_kimg = (now - self.tick_time) / max(kimg - self.tick_kimg, 1e-9)
        eta = max(self.total_kimg - kimg, 0.0) * self.sec_per_kimg
        tick = int(math.floor(kimg / self.every + 1e-9))
        res = getattr(self.model, "resolution", None)
        self.write(
            f"tick {tick:<4d} kimg {kimg:<8.2f} lod {log_value(logs, 'lod'):<5.2f} "
            f"res {res:<4} time {format_time(now - self.start_time):<9} "
            f"s/kimg {self.sec_per_kimg:<7.2f} ETA {format_time(eta):<9} "
            f"G {log_value(logs, 'G_loss'):.3f} D {log_value(logs, 'D_loss'):.3f}"
            + (f" augment {log_value(logs, 'aug_p'):.3f}" if logs and "aug_p" in logs else ""))
        self.tick_time, self.tick_kimg = now, kimg


# TensorBoard tag of each step-log key.
SCALAR_TAGS = {
    "G_loss": "Loss/G", "D_loss": "Loss/D", "R1": "Loss/R1_penalty", "GP": "Loss/gradient_penalty",
    "PL": "Loss/path_length_penalty", "pl_mean": "Loss/path_length_mean",
    "real_score": "Scores/real", "fake_score": "Scores/fake",
    "lod": "Progress/lod", "kimg": "Progress/kimg",
    "G_lrate": "LearningRate/G", "D_lrate": "LearningRate/D",
    "G_loss_scale": "LossScale/G", "D_loss_scale": "LossScale/D",
    "aug_p": "Progress/augment", "signs_real": "Loss/signs/real",
}


class TensorBoardScalars(keras.callbacks.Callback):
    """Writes the step logs, `Timing/sec_per_kimg` and `Timing/images_per_sec`
    every `log_steps` steps; the TensorBoard step is the image counter."""

    def __init__(self, writer, log_steps=10):
        super().__init__()
        self.writer = writer
        self.log_steps = max(int(log_steps), 1)
        self.count = 0
        self.last = None

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1
        if self.count % self.log_steps:
            return
        kimg = log_value(logs, "kimg")
        if kimg is None:
            return
        now, nimg = time.time(), int(round(kimg * 1000))
        with self.writer.as_default(step=nimg):
            for key, tag in SCALAR_TAGS.items():
                value = log_value(logs, key)
                if value is not None:
                    tf.summary.scalar(tag, value)
            if self.last is not None and nimg > self.last[1]:
                dt, dn = now - self.last[0], nimg - self.last[1]
                tf.summary.scalar("Timing/sec_per_kimg", dt / (dn / 1000.0))
                tf.summary.scalar("Timing/images_per_sec", dn / max(dt, 1e-9))
        self.last = (now, nimg)

    def on_train_end(self, logs=None):
        self.writer.flush()
        self.last = None  # the next fit starts with a retrace: do not time across it


class Snapshots(keras.callbacks.Callback):
    """Checkpoints every `checkpoint_kimg`; image grid + `.keras` snapshot of Gs
    every `snap_kimg` (and all three at the end of the run, via `finish`).

    Args:
        run_dir: the run directory (grids `fakesKIMG.png`, snapshots
            `network-snapshot-KIMG.keras`).
        manager: a `tf.train.CheckpointManager` (this worker's directory).
        grid_z, grid_labels: fixed latents [n, z_dim] (and labels) of the grid.
        grid_size: (columns, rows).
        grid_scale: pixel enlargement of the grid images (nearest neighbour).
        writer: TensorBoard writer for `Gs/fakes`, or None.
        is_chief: only the chief writes grids and snapshots.
        resumed: the run was restored from a checkpoint at `start_kimg`.
        on_snapshot: called as `on_snapshot(Gs, nimg, path)` after each snapshot
            is written (`train --metrics`), or None.
    """

    def __init__(self, run_dir, manager, grid_z, grid_labels, grid_size, snap_kimg,
                 checkpoint_kimg, start_kimg=0.0, writer=None, is_chief=True, resumed=False,
                 grid_scale=1, on_snapshot=None):
        super().__init__()
        self.on_snapshot = on_snapshot
        self.run_dir, self.manager = run_dir, manager
        self.grid_z, self.grid_labels = grid_z, grid_labels
        self.grid_cols, self.grid_scale = int(grid_size[0]), int(grid_scale)
        self.snap = KimgTrigger(snap_kimg, start_kimg)
        self.ckpt = KimgTrigger(checkpoint_kimg, start_kimg)
        self.writer, self.is_chief = writer, is_chief
        self._generate = None
        self.last_snapshot_nimg = None
        # A resumed run already has the checkpoint it started from.
        self.last_checkpoint_nimg = int(round(start_kimg * 1000)) if resumed else None

    def on_train_batch_end(self, batch, logs=None):
        kimg = log_value(logs, "kimg")
        if kimg is None:
            return
        if self.ckpt(kimg):
            self.save_checkpoint()
        if self.snap(kimg):
            self.save_snapshot()

    def finish(self):
        """Checkpoint, grid and snapshot at the end of the run (skipping any just written)."""
        self.save_checkpoint()
        self.save_snapshot()

    def _nimg(self):
        return int(self.model.cur_nimg.numpy())

    def save_checkpoint(self):
        nimg = self._nimg()
        if nimg != self.last_checkpoint_nimg:
            save_checkpoint(self.manager, nimg)
            self.last_checkpoint_nimg = nimg

    def grid(self):
        """The uint8 grid image of Gs on the fixed latents (current lod)."""
        if self._generate is None:
            Gs = self.model.Gs

            @tf.function
            def generate(z, labels):
                return Gs(z, labels=labels, noise_mode="const")
            self._generate = generate
        images = self._generate(self.grid_z, self.grid_labels)
        return image_grid(to_uint8(images), cols=self.grid_cols, scale=self.grid_scale)

    def save_snapshot(self):
        nimg = self._nimg()
        if not self.is_chief or nimg == self.last_snapshot_nimg:
            return
        self.last_snapshot_nimg = nimg
        grid = self.grid()
        path = os.path.join(self.run_dir, f"fakes{nimg // 1000:06d}.png")
        with files.write_errors("the image grid", path, RESUME_HINT):
            save_png(grid, path)
        if self.writer is not None:
            with self.writer.as_default(step=nimg):
                tf.summary.image("Gs/fakes", grid[None], max_outputs=1)
            self.writer.flush()
        path = os.path.join(self.run_dir, snapshot_name(nimg))
        save_keras_atomic(self.model.Gs, path)
        if self.on_snapshot is not None:
            self.on_snapshot(self.model.Gs, nimg, path)


def save_checkpoint(manager, number):
    """`manager.save(checkpoint_number=number)`; a failed write is one `WriteError`.

    The files of the failed checkpoint are removed; the earlier checkpoints
    (and the `checkpoint` index naming the newest) are untouched.
    """
    prefix = os.path.join(manager.directory, f"ckpt-{number}")
    try:
        with files.write_errors("the checkpoint", prefix, RESUME_HINT):
            manager.save(checkpoint_number=number)
    except files.WriteError:
        if prefix not in manager.checkpoints:
            for leftover in [prefix + "_temp"] + tf.io.gfile.glob(prefix + ".*"):
                files.remove_path(leftover)
        raise


def save_keras_atomic(model, path):
    """`model.save(path)` through a temporary file in the same folder + rename."""
    with files.atomic_file(path, "the network snapshot", RESUME_HINT) as tmp:
        model.save(tmp)


# Leftovers of a killed checkpoint write: TensorFlow's `ckpt-N_temp/` shard
# folder and the temporary of its `checkpoint` index file.
_CHECKPOINT_TEMP = re.compile(r"^(ckpt-\d+_temp|checkpoint\.tmp[0-9a-f]+)$")
_PNG_TEMP = re.compile(r"^tmp\w+\.png\.tmp$")


def remove_leftovers(run_dir, checkpoint_dir):
    """Removes what a killed run left: stale `.tmp-*` files of the run directory
    (snapshots, config, grids), grids half-written by earlier versions
    (`tmp*.png.tmp`) and the
    `ckpt-N_temp/` folders of its checkpoints.

    Only the chief calls it, before it writes anything (one run per directory).
    Returns the removed paths.
    """
    removed = files.remove_stale(run_dir)
    if os.path.isdir(run_dir):  # `keras_stylegan.generate.save_png`'s temporaries
        for name in sorted(os.listdir(run_dir)):
            if _PNG_TEMP.match(name):
                files.remove_path(os.path.join(run_dir, name))
                removed.append(os.path.join(run_dir, name))
    if os.path.isdir(checkpoint_dir):
        for name in sorted(os.listdir(checkpoint_dir)):
            if _CHECKPOINT_TEMP.match(name):
                files.remove_path(os.path.join(checkpoint_dir, name))
                removed.append(os.path.join(checkpoint_dir, name))
    return removed


def write_json_atomic(obj, path):
    with files.atomic_file(path, "the file", RESUME_HINT) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")


def scratch_dir(prefix):
    """A temporary directory for a non-chief worker's checkpoints (delete with `rmtree`)."""
    return tempfile.mkdtemp(prefix=prefix)


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)

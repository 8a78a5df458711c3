"""Progressive-growing schedule (NVIDIA's `TrainingSchedule`, StyleGAN1).

Training starts at `lod_initial_resolution` px; every level trains for
`lod_training_kimg` and then fades the next level in over
`lod_transition_kimg`:

    lod(kimg) = max(log2(R) - log2(init) - phase - max(phase_kimg - T, 0) / F, 0)

with `phase = floor(kimg / (T + F))`. The training resolution is
`R / 2**floor(lod)`: it doubles when a fade-in *starts*, so one resolution
covers "fade-in + training" of its level. Minibatch size and learning rates
are per resolution (NVIDIA's dicts).

The run is cut into `Segment`s, ranges of images where `(floor(lod),
ceil(lod))` is constant: a stable level or a fade-in. Each segment is one
`model.fit` call at one resolution and minibatch size; the optimizer state may
be reset at a segment start (`reset_opt_for_new_lod`, as NVIDIA resets it
whenever floor(lod) or ceil(lod) changes). Inside a segment `lod` is computed
in the graph from the image counter (`lod_tensor`), so it moves smoothly at
every step.
"""

import dataclasses
import math

import numpy as np

from keras_stylegan.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Segment:
    """One `fit` call: images [start_nimg, end_nimg) at one resolution.

    `start_nimg` is where the previous segment's last step ended (segments
    end at the first whole minibatch past their nominal end), `steps` the
    number of train steps, so `end_nimg = start_nimg + steps * minibatch`.
    """

    index: int
    resolution: int
    fading: bool
    start_nimg: int
    steps: int
    minibatch: int
    G_lrate: float
    D_lrate: float

    @property
    def end_nimg(self):
        return self.start_nimg + self.steps * self.minibatch


class Schedule:
    """The progressive-growing schedule of a run.

    Args:
        resolution: final (dataset) resolution.
        progressive: False trains at full resolution from the start (lod 0).
        lod_initial_resolution: first training resolution (8 in StyleGAN).
        lod_training_kimg, lod_transition_kimg: kimg per level, stable and fade-in.
        minibatch_base, minibatch_dict: global minibatch per resolution.
        G_lrate_base, G_lrate_dict, D_lrate_base, D_lrate_dict: learning rates
            per resolution.
        num_replicas: the minibatch is rounded down to a multiple of it.

    Example:

    >>> s = Schedule(32, lod_training_kimg=1, lod_transition_kimg=1, minibatch_base=4)
    >>> s.lod(0), s.lod(1500), s.lod(10_000)
    (2.0, 1.5, 0.0)
    >>> s.resolution_at(1500)
    16
    """

    def __init__(self, resolution, progressive=True, lod_initial_resolution=8,
                 lod_training_kimg=600.0, lod_transition_kimg=600.0, minibatch_base=16,
                 minibatch_dict=None, G_lrate_base=0.001, G_lrate_dict=None,
                 D_lrate_base=0.001, D_lrate_dict=None, num_replicas=1):
        self.resolution = int(resolution)
        self.resolution_log2 = int(round(math.log2(self.resolution)))
        if 2 ** self.resolution_log2 != self.resolution:
            raise ConfigError(f"resolution must be a power of two; received {resolution}.")
        self.progressive = bool(progressive)
        init = int(lod_initial_resolution)
        if init < 4 or init & (init - 1) or init > self.resolution:
            raise ConfigError(
                f"lod_initial_resolution must be a power of two in [4, {self.resolution}]; "
                f"received {lod_initial_resolution}.")
        self.lod_initial_resolution = init
        self.training_kimg = float(lod_training_kimg)
        self.transition_kimg = float(lod_transition_kimg)
        if self.training_kimg < 0 or self.transition_kimg < 0:
            raise ConfigError("lod_training_kimg and lod_transition_kimg must be >= 0.")
        if self.progressive and self.training_kimg + self.transition_kimg <= 0:
            raise ConfigError("Progressive growing needs lod_training_kimg + "
                              "lod_transition_kimg > 0; use progressive=False instead.")
        self.minibatch_base = int(minibatch_base)
        self.minibatch_dict = {int(k): int(v) for k, v in (minibatch_dict or {}).items()}
        self.G_lrate_base, self.D_lrate_base = float(G_lrate_base), float(D_lrate_base)
        self.G_lrate_dict = {int(k): float(v) for k, v in (G_lrate_dict or {}).items()}
        self.D_lrate_dict = {int(k): float(v) for k, v in (D_lrate_dict or {}).items()}
        self.num_replicas = int(num_replicas)
        self.initial_lod = (self.resolution_log2 - int(math.log2(init))) if self.progressive else 0

    # Per-image quantities (NumPy, float64 like NVIDIA's) ---------------------
    def lod(self, nimg):
        """Level of detail after `nimg` training images (float)."""
        if not self.progressive:
            return 0.0
        kimg = float(nimg) / 1000.0
        dur = self.training_kimg + self.transition_kimg
        phase = math.floor(kimg / dur)
        phase_kimg = kimg - phase * dur
        lod = float(self.initial_lod - phase)
        if self.transition_kimg > 0:
            lod -= max(phase_kimg - self.training_kimg, 0.0) / self.transition_kimg
        return max(lod, 0.0)

    def resolution_for_lod(self, lod):
        return 2 ** (self.resolution_log2 - int(math.floor(lod)))

    def resolution_at(self, nimg):
        return self.resolution_for_lod(self.lod(nimg))

    def minibatch(self, resolution):
        mb = self.minibatch_dict.get(resolution, self.minibatch_base)
        mb -= mb % self.num_replicas
        if mb <= 0:
            raise ConfigError(
                f"The minibatch at {resolution} px is smaller than the number of replicas "
                f"({self.num_replicas}); raise minibatch_base / minibatch_dict.")
        return mb

    def lrates(self, resolution):
        return (self.G_lrate_dict.get(resolution, self.G_lrate_base),
                self.D_lrate_dict.get(resolution, self.D_lrate_base))

    def lod_tensor(self, nimg):
        """`lod(nimg)` in the graph (float32) from an integer image counter."""
        import tensorflow as tf
        if not self.progressive:
            return tf.zeros([], tf.float32)
        kimg = tf.cast(nimg, tf.float64) / 1000.0
        dur = self.training_kimg + self.transition_kimg
        phase = tf.floor(kimg / dur)
        phase_kimg = kimg - phase * dur
        lod = self.initial_lod - phase
        if self.transition_kimg > 0:
            lod -= tf.maximum(phase_kimg - self.training_kimg, 0.0) / self.transition_kimg
        return tf.cast(tf.maximum(lod, 0.0), tf.float32)

    # Segments ----------------------------------------------------------------
    def _boundaries(self):
        """Nominal (start_kimg, end_kimg, floor_lod, fading) of every segment; the last is open."""
        if not self.progressive:
            return [(0.0, math.inf, 0, False)]
        out, dur = [], self.training_kimg + self.transition_kimg
        for phase in range(self.initial_lod):
            start = phase * dur
            lod = self.initial_lod - phase
            if self.training_kimg > 0:
                out.append((start, start + self.training_kimg, lod, False))
            if self.transition_kimg > 0:
                out.append((start + self.training_kimg, start + dur, lod - 1, True))
        out.append((self.initial_lod * dur, math.inf, 0, False))
        return out

    def segments(self, total_nimg):
        """The run's `Segment`s up to `total_nimg` images (deterministic)."""
        segs, nimg = [], 0
        for start_kimg, end_kimg, floor_lod, fading in self._boundaries():
            end = min(total_nimg, end_kimg * 1000.0)
            if nimg >= end:
                continue
            res = 2 ** (self.resolution_log2 - floor_lod)
            mb = self.minibatch(res)
            steps = int(math.ceil((end - nimg) / mb))
            G_lr, D_lr = self.lrates(res)
            segs.append(Segment(len(segs), res, fading, nimg, steps, mb, G_lr, D_lr))
            nimg += steps * mb
            if nimg >= total_nimg:
                break
        return segs

    def locate(self, segments, nimg):
        """(segment, batches already done in it) for a run resumed at `nimg` images.

        Returns (None, 0) when `nimg` is past the last segment.
        """
        for seg in segments:
            if seg.start_nimg <= nimg < seg.end_nimg:
                done, rem = divmod(nimg - seg.start_nimg, seg.minibatch)
                if rem:
                    raise ConfigError(
                        f"The checkpoint at {nimg} images does not fall on a minibatch of "
                        f"this schedule (segment at {seg.resolution} px starts at "
                        f"{seg.start_nimg}, minibatch {seg.minibatch}): the schedule "
                        "changed since it was written. Resume with the original config.")
                return seg, int(done)
        return None, 0


def min_lod_for_resolution(full_resolution, resolution):
    """The smallest lod at which the networks may run at `resolution`."""
    return float(np.log2(full_resolution // resolution))

"""The console progress lines of a training run (training.callbacks.ProgressLogger):
tick numbers go on after a resume, and s/kimg and the ETA leave out the compile
time of each level's first batch. Time comes from a fake clock."""

import re
import types

import pytest

from keras_stylegan.training import callbacks as cb

COMPILE_S = 50.0     # the first batch of each fit: trace + compile
SEC_PER_KIMG = 10.0  # the steady rate
BATCH_KIMG = 0.1


class Clock:
    def __init__(self):
        self.now = 1000.0

    def time(self):
        return self.now


def _run(monkeypatch, levels, start_kimg=0.0, tick_kimg=0.5, total_kimg=3.0):
    """Simulates fits (one per level, `levels` batches each) from `start_kimg`;
    returns the parsed tick lines."""
    clock = Clock()
    monkeypatch.setattr(cb.time, "time", clock.time)
    lines = []
    logger = cb.ProgressLogger(total_kimg, tick_kimg, start_kimg, print_fn=lines.append)
    logger.set_model(types.SimpleNamespace(resolution=16))
    kimg = start_kimg
    for batches in levels:
        logger.on_train_begin()
        for b in range(batches):
            clock.now += COMPILE_S if b == 0 else SEC_PER_KIMG * BATCH_KIMG
            kimg = round(kimg + BATCH_KIMG, 6)
            logger.on_train_batch_end(b, {"kimg": [kimg], "lod": [0.0], "G_loss": [1.0],
                                          "D_loss": [2.0]})
    pattern = r"tick (\d+) +kimg ([\d.]+) .* s/kimg ([\d.]+) +ETA (.*?) +G"
    return [(int(t), float(k), float(s), eta)
            for t, k, s, eta in (re.search(pattern, line).groups() for line in lines)]


def test_rate_and_eta_leave_out_each_levels_compile(monkeypatch):
    """Before: the tick after the run's start and after each level change showed
    s/kimg (and an ETA) inflated by the compile: 100+ instead of 10."""
    ticks = _run(monkeypatch, levels=[10, 10, 10])
    assert [t[1] for t in ticks] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    for _, kimg, rate, eta in ticks:
        assert rate == pytest.approx(SEC_PER_KIMG)
        assert eta == cb.format_time((3.0 - kimg) * SEC_PER_KIMG)


def test_tick_numbers_go_on_after_a_resume(monkeypatch):
    """Before: a run resumed at 1.5 kimg printed tick 1, 2, ... again. Reference:
    the uninterrupted run's numbers at the same kimg."""
    whole = {kimg: tick for tick, kimg, _, _ in _run(monkeypatch, levels=[10, 10, 10])}
    resumed = _run(monkeypatch, levels=[5, 10], start_kimg=1.5)
    assert [t[1] for t in resumed] == [2.0, 2.5, 3.0]
    assert [t[0] for t in resumed] == [whole[k] for k in (2.0, 2.5, 3.0)] == [4, 5, 6]
    assert all(t[2] == pytest.approx(SEC_PER_KIMG) for t in resumed)


def test_a_tick_right_after_a_compile_keeps_the_last_rate(monkeypatch):
    """A tick whose interval is only a level's compile batch has no steady time
    to measure: it repeats the previous rate (not the compile, not a division by 0)."""
    ticks = _run(monkeypatch, levels=[3, 3], tick_kimg=0.1, total_kimg=0.6)
    assert [t[1] for t in ticks] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    assert [t[0] for t in ticks] == [1, 2, 3, 4, 5, 6]
    # 0.1: the run's first batch (nothing measured yet); 0.4: the second level's compile.
    assert all(rate == pytest.approx(SEC_PER_KIMG) for _, _, rate, _ in ticks[1:])

"""Progressive-growing schedule and training configs against NVIDIA's formulas."""

import math

import numpy as np
import pytest

from keras_stylegan.training import configs
from keras_stylegan.training.schedule import Schedule, min_lod_for_resolution


def nvidia_schedule(cur_nimg, resolution_log2, lod_initial_resolution=8, lod_training_kimg=600,
                    lod_transition_kimg=600, minibatch_base=16, minibatch_dict=None,
                    num_gpus=1, G_lrate_dict=None, G_lrate_base=0.001):
    """NVIDIA's StyleGAN1 `TrainingSchedule.__init__` (training/training_loop.py), transcribed."""
    kimg = cur_nimg / 1000.0
    phase_dur = lod_training_kimg + lod_transition_kimg
    phase_idx = int(np.floor(kimg / phase_dur)) if phase_dur > 0 else 0
    phase_kimg = kimg - phase_idx * phase_dur
    lod = resolution_log2
    lod -= np.floor(np.log2(lod_initial_resolution))
    lod -= phase_idx
    if lod_transition_kimg > 0:
        lod -= max(phase_kimg - lod_training_kimg, 0.0) / lod_transition_kimg
    lod = max(lod, 0.0)
    resolution = 2 ** (resolution_log2 - int(np.floor(lod)))
    minibatch = (minibatch_dict or {}).get(resolution, minibatch_base)
    minibatch -= minibatch % num_gpus
    lrate = (G_lrate_dict or {}).get(resolution, G_lrate_base)
    return lod, resolution, minibatch, lrate


@pytest.mark.parametrize("res,init,train,trans", [
    (1024, 8, 600, 600), (256, 8, 600, 600), (32, 4, 10, 5), (64, 8, 7, 0), (64, 8, 0, 9)])
def test_lod_and_resolution_match_nvidia(res, init, train, trans):
    table = configs.PAPER_MINIBATCH[1][1]
    s = Schedule(res, lod_initial_resolution=init, lod_training_kimg=train,
                 lod_transition_kimg=trans, minibatch_base=4, minibatch_dict=table,
                 G_lrate_dict=configs.PAPER_LRATE)
    L = int(math.log2(res))
    total = (L - int(math.log2(init)) + 1) * (train + trans) * 1000
    for nimg in np.unique(np.linspace(0, total, 401).astype(np.int64)):
        lod, r, mb, lr = nvidia_schedule(int(nimg), L, init, train, trans, 4, table,
                                         G_lrate_dict=configs.PAPER_LRATE)
        assert s.lod(nimg) == pytest.approx(lod, abs=1e-12)
        assert s.resolution_at(nimg) == r
        assert s.minibatch(r) == mb and s.lrates(r)[0] == lr
        assert float(s.lod_tensor(int(nimg)).numpy()) == pytest.approx(lod, abs=1e-6)


def test_segments_cover_the_run_and_match_the_lod():
    s = Schedule(64, lod_initial_resolution=8, lod_training_kimg=0.5, lod_transition_kimg=0.3,
                 minibatch_base=24, minibatch_dict={8: 64, 16: 40}, num_replicas=2)
    segs = s.segments(5000)
    assert segs[0].start_nimg == 0 and segs[-1].end_nimg >= 5000
    assert segs[-1].end_nimg - segs[-1].minibatch < 5000
    for a, b in zip(segs, segs[1:]):
        assert b.start_nimg == a.end_nimg and b.index == a.index + 1
    for seg in segs:
        assert seg.minibatch % 2 == 0
        lods = [s.lod(seg.start_nimg + i * seg.minibatch) for i in range(seg.steps)]
        # Every step of a segment can run at its resolution, and (floor, ceil) of
        # the lod is constant apart from the step that starts exactly on a level.
        assert min(lods) >= min_lod_for_resolution(64, seg.resolution)
        assert all(s.resolution_for_lod(lod) in (seg.resolution, seg.resolution // 2)
                   for lod in lods)
        assert seg.fading == any(lod != int(lod) for lod in lods)
    assert [(g.resolution, g.fading) for g in segs] == [
        (8, False), (16, True), (16, False), (32, True), (32, False), (64, True), (64, False)]
    assert [g.minibatch for g in segs] == [64, 40, 40, 24, 24, 24, 24]


def test_locate_for_resume():
    s = Schedule(32, lod_training_kimg=0.1, lod_transition_kimg=0.1, minibatch_base=8,
                 minibatch_dict={8: 16})
    segs = s.segments(600)
    seg, done = s.locate(segs, segs[1].start_nimg + 3 * segs[1].minibatch)
    assert seg is segs[1] and done == 3
    assert s.locate(segs, segs[-1].end_nimg) == (None, 0)
    with pytest.raises(ValueError, match="schedule changed"):
        s.locate(segs, segs[1].start_nimg + 3)


def test_no_growing_is_one_segment_at_full_resolution():
    s = Schedule(32, progressive=False, minibatch_base=8)
    segs = s.segments(100)
    assert [(g.resolution, g.steps, g.fading) for g in segs] == [(32, 13, False)]
    assert s.lod(10 ** 7) == 0.0 and float(s.lod_tensor(10 ** 7).numpy()) == 0.0


def test_schedule_errors():
    with pytest.raises(ValueError, match="lod_initial_resolution"):
        Schedule(32, lod_initial_resolution=6)
    with pytest.raises(ValueError, match="smaller than the number of replicas"):
        Schedule(32, minibatch_base=2, num_replicas=4).minibatch(32)


@pytest.mark.parametrize("replicas,gpus", [(1, 1), (2, 2), (3, 2), (8, 8), (16, 8)])
def test_paper_minibatch_tables(replicas, gpus):
    cfg = configs.resolve(configs.get("paper-1024"), 1024, 3, 0, replicas)
    base, table = configs.PAPER_MINIBATCH[gpus]
    scale = replicas // gpus
    assert cfg["minibatch_base"] == base * scale
    assert {int(k): v for k, v in cfg["minibatch_dict"].items()} == {
        r: m * scale for r, m in table.items()}
    s = Schedule(**configs.schedule_kwargs(cfg))
    assert s.lrates(1024) == (0.003, 0.003) and s.lrates(64) == (0.001, 0.001)


def test_config_get_and_resolve():
    cfg = configs.get("cpu-demo", total_kimg=5)
    assert cfg["total_kimg"] == 5 and cfg["config"] == "cpu-demo"
    cfg["G_kwargs"]["latent_size"] = 1  # a deep copy: the preset is untouched
    assert configs.CONFIGS["cpu-demo"]["G_kwargs"]["latent_size"] == 64
    with pytest.raises(ValueError, match="Unknown config key 'r1'"):
        configs.get("paper", r1=3)
    with pytest.raises(ValueError, match="Unknown training config"):
        configs.get("nope")
    resolved = configs.resolve(configs.get("tiny"), 32, 3, 0, 1)
    assert resolved["checkpoint_kimg"] == resolved["snap_kimg"]
    with pytest.raises(ValueError, match="family must be one of"):
        configs.resolve(configs.get("tiny", family="stylegan3"), 32, 3, 0, 1)
    with pytest.raises(ValueError, match="without progressive growing"):
        configs.resolve(configs.get("tiny", family="stylegan2"), 32, 3, 0, 1)
    with pytest.raises(ValueError, match="num_fp16_res"):
        configs.resolve(configs.get("stylegan2-tiny", mixed_precision=True), 32, 3, 0, 1)
    with pytest.raises(ValueError, match="lazy regularization"):
        configs.resolve(configs.get("stylegan2-tiny", steps_per_execution=2), 32, 3, 0, 1)
    sg2 = configs.resolve(configs.get("stylegan2"), 1024, 3, 0, 1)
    assert (sg2["progressive"], sg2["minibatch_base"], sg2["G_lrate_base"]) == (False, 32, 0.002)
    assert (sg2["D_reg_interval"], sg2["G_reg_interval"], sg2["pl_weight"]) == (16, 4, 2.0)

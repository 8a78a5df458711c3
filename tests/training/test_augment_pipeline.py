"""The ADA pipeline's statistics (p = 0 untouched, each op's firing rate at
p) and the adaptive update of p, against NumPy re-computations."""

import numpy as np
import pytest
import tensorflow as tf
from keras_stylegan.errors import ConfigError
from keras_stylegan.training.augment import adaptive, geometric
from keras_stylegan.training.augment.draws import stateless_draws
from keras_stylegan.training.augment.pipeline import PRESETS, AugmentPipe

ADA_PRESETS = ("blit", "geom", "color", "filter", "noise", "cutout", "bgc", "bgcf", "bgcfn",
               "bgcfnc")


def test_presets_are_adas():
    assert set(ADA_PRESETS) <= set(PRESETS)
    assert set(PRESETS["bgc"]) == {"xflip", "rotate90", "xint", "scale", "rotate", "aniso",
                                   "xfrac", "brightness", "contrast", "lumaflip", "hue",
                                   "saturation"}
    assert set(PRESETS["bgcfnc"]) - set(PRESETS["bgc"]) == {"imgfilter", "noise", "cutout"}
    assert all(v == 1 for spec in PRESETS.values() for v in spec.values())


@pytest.mark.parametrize("name", ["bgcfnc", "blit", "color", "filter"])
def test_p_zero_leaves_images_bit_identical(name):
    images = np.random.RandomState(0).uniform(-1, 1, (6, 12, 12, 3)).astype(np.float32)
    out = AugmentPipe.preset(name)(images, 0.0, stateless_draws(1, 6)).numpy()
    np.testing.assert_array_equal(out, images)


def test_p_one_changes_every_image_and_keeps_the_range_sane():
    images = np.random.RandomState(0).uniform(-1, 1, (8, 12, 12, 3)).astype(np.float32)
    out = AugmentPipe.preset("bgc")(images, 1.0, stateless_draws(2, 8)).numpy()
    assert out.shape == images.shape and np.all(np.isfinite(out))
    assert all(not np.allclose(o, i, atol=1e-3) for o, i in zip(out, images))


# Expected fraction of images whose parameter differs from the identity, at p
# (per-op multiplier 1): the gate fires with probability p, then the drawn
# value itself may be the identity (x-flip i = 0, rotate90 i = 0, luma flip
# i = 0, an integer translation that rounds to 0 on both axes).
def expected_rates(p, width):
    xint_zero = (0.5 / width / 0.125) ** 2  # |t * W| < 0.5 on both axes, t ~ U(-1/8, 1/8)
    p_rot = 1 - np.sqrt(max(1 - p, 0))
    return dict(xflip=p / 2, rotate90=p * 3 / 4, xint=p * (1 - xint_zero), scale=p,
                rotate_pre=p_rot, aniso=p, rotate_post=p_rot, xfrac=p, brightness=p,
                contrast=p, lumaflip=p / 2, hue=p, saturation=p, imgfilter_band=p, noise=p,
                cutout=p, rotate_any=p)


@pytest.mark.parametrize("p", [1.0, 0.3])
def test_each_op_fires_at_its_rate(p):
    n, width = 20000, 16
    pipe = AugmentPipe.preset("bgcfnc")
    prm = {k: v.numpy() for k, v in pipe.sample(stateless_draws(7, n), p, (n, 2, 2, 3)).items()}
    fired = {name: np.mean(np.any((prm[name] != geometric.IDENTITY.get(name, 0.0))
                                  .reshape(n, -1), axis=1))
             for name in ("xflip", "rotate90", "scale", "rotate_pre", "aniso", "rotate_post",
                          "xfrac")}
    t = prm["xint"] * np.float32([width, width])
    fired["xint"] = np.mean(np.any(np.round(t) != 0, axis=1))
    for name, off in (("brightness", 0), ("contrast", 1), ("lumaflip", 0), ("hue", 0),
                      ("saturation", 1), ("noise", 0), ("cutout", 0)):
        fired[name] = np.mean(prm[name] != off)
    fired["imgfilter_band"] = np.mean(prm["imgfilter_t"] != 1)  # over the 4 bands
    fired["rotate_any"] = np.mean((prm["rotate_pre"] != 0) | (prm["rotate_post"] != 0))
    expected = expected_rates(p, width)
    for name, rate in fired.items():
        count = n * (4 if name == "imgfilter_band" else 1)
        std = np.sqrt(expected[name] * (1 - expected[name]) / count)
        assert abs(rate - expected[name]) <= 4.5 * std + 1e-12, (name, rate, expected[name])


def test_images_change_exactly_where_params_fire():
    """Image level: with x-flip alone at p = 1, the flipped images are the
    ones with i = 1 (about half), the others are untouched."""
    n = 400
    images = np.random.RandomState(3).uniform(-1, 1, (n, 8, 8, 1)).astype(np.float32)
    pipe = AugmentPipe(xflip=1)
    draw = stateless_draws(5, n)
    flips = pipe.sample(draw, 1.0, (n, 8, 8, 1))["xflip"].numpy()
    out = pipe(images, 1.0, draw).numpy()
    changed = np.any(out != images, axis=(1, 2, 3))
    np.testing.assert_array_equal(changed, flips == 1)
    assert abs(flips.mean() - 0.5) <= 4.5 * np.sqrt(0.25 / n)
    # Mostly a mirror image (the sym6 filter's phase blurs it slightly).
    mirrored = images[flips == 1][:, :, ::-1]
    assert np.mean(np.abs(out[flips == 1] - mirrored)) < 0.25 * np.mean(np.abs(mirrored))


def test_replicas_see_the_same_augmentation_as_one_device():
    """Draws are a function of the global sample index: augmenting the two
    halves of a batch with their slices gives the whole batch's result."""
    pipe = AugmentPipe.preset("bgcfnc")
    whole = stateless_draws(9, 4)

    def half(offset):
        return lambda k, tail=(), uniform=False: whole(k, tail, uniform)[offset:offset + 2]
    full = pipe.sample(whole, 0.7, (4, 8, 8, 3))
    parts = [pipe.sample(half(o), 0.7, (2, 8, 8, 3)) for o in (0, 2)]
    for k in full:
        np.testing.assert_array_equal(full[k].numpy(),
                                      np.concatenate([parts[0][k], parts[1][k]]))


# Adaptive p -------------------------------------------------------------------------
def np_ada(signs_per_step, batch, interval, target, ada_kimg, p0=0.0):
    """NVIDIA's rule, step by step: p after each step and r_t at each update."""
    p, acc, trace = p0, [], []
    for step, signs in enumerate(signs_per_step, start=1):
        acc.extend(signs)
        if step % interval == 0:
            r_t = np.mean(acc)
            p = max(p + np.sign(r_t - target) * batch * interval / (ada_kimg * 1000), 0.0)
            acc = []
        trace.append(p)
    return np.array(trace)


def test_adaptive_update_follows_the_formula():
    rs = np.random.RandomState(0)
    batch, interval, steps = 8, 4, 40
    # r_t drifts from -1 to 1: p first stays at 0, then grows.
    signs = [np.sign(rs.uniform(-1, 1, batch) + (2 * s / steps - 1) * 1.5 + 1e-9)
             for s in range(steps)]
    want = np_ada(signs, batch, interval, 0.6, ada_kimg=0.2, p0=0.1)
    p, acc = tf.constant(0.1), tf.zeros(2)
    got = []
    for step, s in enumerate(signs, start=1):
        step_signs = tf.constant([s.sum(), len(s)], tf.float32)
        p, acc, _, _ = adaptive.accumulate(p, acc, step_signs, tf.constant(step, tf.int64),
                                           interval, 0.6, 0.2, adapt=True)
        got.append(float(p))
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert want[3] == 0.0 and want[-1] > 0.1  # it went down to 0, then up


def test_fixed_mode_keeps_p():
    p, acc, r_t, due = adaptive.accumulate(tf.constant(0.25), tf.constant([3.0, 12.0]),
                                           tf.constant([8.0, 8.0]), tf.constant(8, tf.int64),
                                           4, 0.6, 500, adapt=False)
    assert float(p) == 0.25 and float(due) == 1.0
    assert float(r_t) == pytest.approx(11 / 20) and np.all(acc.numpy() == 0)


@pytest.mark.parametrize("key,value,words", [
    ("aug", "always", "--aug"), ("augpipe", "bgx", "--augpipe"), ("aug_p", 1.5, "--p"),
    ("ada_target", 0.0, "--target"), ("ada_kimg", 0, "ada_kimg"),
    ("ada_interval", 0, "ada_interval")])
def test_config_errors_name_the_option(key, value, words):
    cfg = dict(aug="ada", aug_p=0.0, augpipe="bgc", ada_target=0.6, ada_kimg=500,
               ada_interval=4)
    cfg[key] = value
    with pytest.raises(ConfigError, match=words):
        adaptive.check_config(cfg)


def test_geometric_ops_refuse_xla():
    cfg = dict(aug="ada", aug_p=0.0, augpipe="bgc", ada_target=0.6, ada_kimg=500,
               ada_interval=4, jit_compile=True)
    with pytest.raises(ConfigError, match="jit_compile"):
        adaptive.check_config(cfg)
    adaptive.check_config(dict(cfg, augpipe="color"))
    adaptive.check_config(dict(cfg, aug="noaug"))


def test_colour_ops_refuse_other_channel_counts():
    AugmentPipe.preset("bgc").check_channels(1)
    AugmentPipe.preset("blit").check_channels(4)
    with pytest.raises(ConfigError, match="channels"):
        AugmentPipe.preset("bgc").check_channels(4)
    with pytest.raises(ConfigError, match="Unknown augmentation"):
        AugmentPipe(xflipp=1)

"""StyleGAN2 training: lazy R1 and path-length regularization in the GAN's
train_step against reference computations through the networks' public API,
the phase schedule, and NVIDIA's lazy-regularization Adam correction."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import tiny
from keras_stylegan.training.gan import StyleGAN, lazy_ratio
from keras_stylegan.training.schedule import Schedule

# About 1.5 minutes on 2 CPU cores: `make test` (CI) runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow

BATCH = 8
RES = 16
SEED = 5


def make_gan(fp16=None, **kwargs):
    extra = {} if fp16 is None else dict(num_fp16_res=fp16, conv_clamp=256)
    G, D, Gs = tiny.networks(RES, family="stylegan2", **extra)
    kwargs = dict(dict(D_reg_interval=16, G_reg_interval=4, pl_weight=2.0), **kwargs)
    gan = StyleGAN(G, D, Gs, Schedule(RES, progressive=False, minibatch_base=BATCH),
                   seed=SEED, **kwargs)
    G_ratio, D_ratio = gan.lazy_ratios
    gan.compile(*(keras.optimizers.Adam(0.002, beta_1=0.0, beta_2=0.99 ** r, epsilon=1e-8)
                  for r in (G_ratio, D_ratio)))
    return gan


def fit(gan, steps, images):
    labels = np.zeros((len(images), 0), np.float32)
    gan.set_resolution(RES)
    record = tiny.log_recorder()
    gan.fit(tiny.stream(images, labels, BATCH, RES), epochs=1, steps_per_epoch=steps,
            verbose=0, shuffle=False, callbacks=[record])
    return record.logs


def ws_of(G, key, purposes, n):
    """Mapped and style-mixed ws of the documented randomness contract (lod 0)."""
    z_p, z2_p, mix_p = purposes
    ws = G.mapping(tiny.draw(key, z_p, [n, G.z_dim]))
    ws2 = G.mapping(tiny.draw(key, z2_p, [n, G.z_dim]))
    return G.mix_styles(ws, ws2, tiny.crossover(key, mix_p, G.num_ws, 0.0, 0.9))


def noise_of(G, key, base, n):
    return [tiny.draw(key, base + i, [n, h, w, 1])
            for i, (h, w) in enumerate(G.synthesis.noise_shapes)]


def momentum(opt, model):
    """Adam's first moments of `model`'s trainables (= the last gradient when beta1 = 0)."""
    by_path = {v.path: v for v in opt.variables}
    names = [f"{opt.name}/{v.path.replace('/', '_')}_momentum" for v in model.trainable_variables]
    return [by_path[n].numpy() for n in names]


def assert_grads_close(actual, expected, what):
    checked = 0
    for a, e in zip(actual, expected):
        if e is None:
            continue  # not in this loss (e.g. the last toRGB bias): the update skips it
        e = e.numpy()
        scale = np.abs(e).max() + 1e-12
        np.testing.assert_allclose(a, e, atol=2e-4 * scale, rtol=2e-3, err_msg=what)
        checked += a.size
    assert checked > 1000


def test_first_step_phases_match_reference():
    """Step 0 runs G main, G reg, D main and D reg. With learning rate 0 every
    phase sees the initial weights, so each logged loss and each phase's
    gradient (Adam's first moment holds the last update's gradient when
    beta1 = 0) can be recomputed independently."""
    gan = make_gan()
    gan.set_learning_rates(0.0, 0.0)
    G0, D0, _ = tiny.networks(RES, family="stylegan2")
    images = tiny.synthetic_images(BATCH, RES)
    log = fit(gan, 1, images)[0]
    key = tiny.step_key(SEED, 0)

    # G main (purposes 4, 5, 6, noise 2000): non-saturating logistic loss.
    fakes_g = G0.synthesis(ws_of(G0, key, (4, 5, 6), BATCH), noise=noise_of(G0, key, 2000, BATCH))
    g_loss = np.mean(np.logaddexp(0.0, -D0(fakes_g)[:, 0].numpy()))
    np.testing.assert_allclose(log["G_loss"], g_loss, rtol=2e-5)

    # G reg: path length on BATCH // 2 samples (purposes 8, 9, 10, noise 3000,
    # projection 11), weight pl_weight * G_reg_interval = 8, through pl_mean.
    m = BATCH // 2
    with tf.GradientTape() as outer:
        ws = ws_of(G0, key, (8, 9, 10), m)
        with tf.GradientTape() as inner:
            inner.watch(ws)
            img = G0.synthesis(ws, noise=noise_of(G0, key, 3000, m))
            y = tiny.draw(key, 11, [m, RES, RES, 3]) / RES
            total = tf.reduce_sum(img * y)
        grads = inner.gradient(total, ws)
        lengths = tf.sqrt(tf.reduce_mean(tf.reduce_sum(grads ** 2, axis=2), axis=1))
        pl_mean = 0.0 + (tf.reduce_mean(lengths) - 0.0) * 0.01
        penalty = tf.reduce_mean((lengths - pl_mean) ** 2)
        reg = penalty * 2.0 * 4
    np.testing.assert_allclose(log["PL"], penalty.numpy(), rtol=1e-4)
    np.testing.assert_allclose(log["pl_mean"], pl_mean.numpy(), rtol=1e-5)
    assert_grads_close(momentum(gan.G_opt, gan.G), outer.gradient(reg, G0.trainable_variables),
                       "path-length gradient")

    # D main (purposes 1, 2, 3, noise 1000): logistic loss without R1.
    fakes_d = G0.synthesis(ws_of(G0, key, (1, 2, 3), BATCH), noise=noise_of(G0, key, 1000, BATCH))
    reals = tf.constant(images)
    d_loss = np.mean(np.logaddexp(0.0, D0(fakes_d)[:, 0].numpy())
                     + np.logaddexp(0.0, -D0(reals)[:, 0].numpy()))
    np.testing.assert_allclose(log["D_loss"], d_loss, rtol=2e-5)

    # D reg: lazy R1, weight gamma / 2 * D_reg_interval = 80.
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(reals)
            total = tf.reduce_sum(D0(reals))
        r1 = tf.reduce_mean(tf.reduce_sum(inner.gradient(total, reals) ** 2, axis=[1, 2, 3]))
        reg = r1 * 10.0 * 0.5 * 16
    np.testing.assert_allclose(log["R1"], r1.numpy(), rtol=1e-4)
    assert_grads_close(momentum(gan.D_opt, gan.D), outer.gradient(reg, D0.trainable_variables),
                       "R1 gradient")
    # Two updates of each optimizer in this step, weights untouched at lr 0.
    assert int(gan.G_opt.iterations.numpy()) == int(gan.D_opt.iterations.numpy()) == 2
    for v, v0 in zip(gan.G.trainable_variables, G0.trainable_variables):
        np.testing.assert_array_equal(v.numpy(), v0.numpy())


def test_lazy_phase_schedule_and_logged_state():
    gan = make_gan()
    assert [tuple(gan.phases_at(i)) for i in (0, 1, 4, 15, 16, 20)] == [
        (True, True), (False, False), (False, True), (False, False), (True, True),
        (False, True)]
    logs = fit(gan, 18, tiny.synthetic_images(64, RES))
    # G: 18 main updates + path length at steps 0, 4, 8, 12, 16; D: 18 + R1 at 0, 16.
    assert int(gan.G_opt.iterations.numpy()) == 18 + 5
    assert int(gan.D_opt.iterations.numpy()) == 18 + 2
    assert int(gan.num_steps.numpy()) == 18 and int(gan.cur_nimg.numpy()) == 18 * BATCH
    # Between regularization steps the logs repeat the last computed values.
    assert logs[1]["R1"] == logs[15]["R1"] != logs[16]["R1"]
    assert logs[4]["PL"] == logs[7]["PL"] != logs[8]["PL"]
    assert logs[3]["pl_mean"] == logs[1]["pl_mean"] and logs[4]["pl_mean"] != logs[3]["pl_mean"]
    assert all(np.isfinite(list(r.values())).all() for r in logs)


def test_lazy_adam_correction():
    """NVIDIA: lr * c and betas ** c with c = interval / (interval + 1)."""
    assert lazy_ratio(16) == pytest.approx(16 / 17) and lazy_ratio(1) == 1.0
    gan = make_gan()
    gan.set_learning_rates(0.002, 0.002)
    assert gan.G_opt.learning_rate.numpy() == pytest.approx(0.002 * 4 / 5)
    assert gan.D_opt.learning_rate.numpy() == pytest.approx(0.002 * 16 / 17)
    assert gan.lazy_ratios == (pytest.approx(0.8), pytest.approx(16 / 17))
    non_lazy = make_gan(D_reg_interval=1, G_reg_interval=1)
    assert non_lazy.lazy_ratios == (1.0, 1.0)


def test_non_lazy_path_length_is_part_of_the_g_loss():
    """G_reg_interval 1: the penalty is added to G's loss in the same update."""
    gan = make_gan(D_reg_interval=1, G_reg_interval=1)
    gan.set_learning_rates(0.0, 0.0)
    log = fit(gan, 1, tiny.synthetic_images(BATCH, RES))[0]
    assert int(gan.G_opt.iterations.numpy()) == int(gan.D_opt.iterations.numpy()) == 1
    assert log["PL"] > 0 and log["R1"] > 0


def test_stylegan2_rejects_growing_and_lazy_steps_per_execution():
    G, D, Gs = tiny.networks(RES, family="stylegan2")
    with pytest.raises(ValueError, match="without progressive growing"):
        StyleGAN(G, D, Gs, Schedule(RES, minibatch_base=BATCH))
    gan = StyleGAN(G, D, Gs, Schedule(RES, progressive=False, minibatch_base=BATCH),
                   D_reg_interval=16)
    with pytest.raises(ValueError, match="steps_per_execution"):
        gan.compile(tiny.adam(), tiny.adam(), steps_per_execution=4)


def test_path_length_batch_must_divide_the_minibatch():
    """StyleGAN used directly (not through training.loop): an odd per-replica batch
    with pl_batch_shrink 2 is an error that names both numbers."""
    gan = make_gan(D_reg_interval=1, G_reg_interval=1)
    gan.set_resolution(RES)
    images = tiny.synthetic_images(BATCH + 1, RES)
    labels = np.zeros((len(images), 0), np.float32)
    with pytest.raises(ValueError, match=rf"minibatch \({BATCH + 1}\).*pl_batch_shrink \(2\)"):
        gan.fit(tiny.stream(images, labels, BATCH + 1, RES), epochs=1, steps_per_epoch=1,
                verbose=0)


def test_float16_resolutions_train_like_float32():
    """NVIDIA's ADA-style mixed precision (the two highest resolutions of G and D
    in float16, clamped): the first step's losses match float32's."""
    images = tiny.synthetic_images(BATCH, RES)
    logs = []
    for fp16 in (None, 2):
        gan = make_gan(fp16=fp16)
        gan.set_learning_rates(0.0, 0.0)
        logs.append(fit(gan, 1, images)[0])
    for key in ("G_loss", "D_loss", "R1", "PL", "pl_mean"):
        np.testing.assert_allclose(logs[1][key], logs[0][key], rtol=2e-2, err_msg=key)

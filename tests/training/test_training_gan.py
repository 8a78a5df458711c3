"""The GAN model's train_step against reference computations through the
networks' public API (one device, tiny networks, synthetic data)."""

import numpy as np
import pytest
import tensorflow as tf

from helpers import tiny
from keras_stylegan.training.gan import StyleGAN
from keras_stylegan.training.schedule import Schedule

BATCH = 8


def make_gan(resolution=16, label_size=0, schedule=None, **kwargs):
    G, D, Gs = tiny.networks(resolution, label_size)
    schedule = schedule or Schedule(resolution, progressive=False, minibatch_base=BATCH)
    gan = StyleGAN(G, D, Gs, schedule, seed=5, **kwargs)
    gan.compile(tiny.adam(), tiny.adam())
    return gan


def fit(gan, resolution, steps, labels=None, images=None):
    images = tiny.synthetic_images(64, gan.G.resolution) if images is None else images
    labels = np.zeros((len(images), 0), np.float32) if labels is None else labels
    gan.set_resolution(resolution)
    rec = tiny.log_recorder()
    gan.fit(tiny.stream(images, labels, BATCH, resolution), epochs=1, steps_per_epoch=steps,
            verbose=0, shuffle=False, callbacks=[rec])
    return rec.logs


def weights(model):
    return [v.numpy().copy() for v in model.weights]


def fakes(G, key, purposes, lod, res, prob, labels=None):
    """Reference fakes: z, mixing and noise drawn per the documented contract."""
    z_p, z2_p, mix_p, noise_p = purposes
    z = tiny.draw(key, z_p, [BATCH, G.z_dim])
    ws = G.mapping(z, labels=labels)
    ws0 = ws.numpy()[:, 0]
    if prob > 0:
        ws2 = G.mapping(tiny.draw(key, z2_p, [BATCH, G.z_dim]), labels=labels)
        ws = G.mix_styles(ws, ws2, tiny.crossover(key, mix_p, G.num_ws, lod, prob))
    used = 2 * int(np.log2(res)) - 2
    noise = [tiny.draw(key, noise_p + i, [BATCH, h, w, 1]) if i < used else None
             for i, (h, w) in enumerate(G.synthesis.noise_shapes)]
    return G.synthesis(ws, noise=noise, lod=tf.constant(lod), resolution=res), ws0


def check_adam_step(before, after, grads, lr=0.001, skip=()):
    """`after` = `before` after Keras Adam's first step (beta1 0, beta2 0.99, eps 1e-8)
    on `grads`; elements whose gradient is within round-off of 0 are not compared
    (Adam's first step is lr * sign(g) there)."""
    checked = 0
    for v0, v1, g in zip(before.trainable_variables, after.trainable_variables, grads):
        if g is None or any(name in v0.path for name in skip):
            continue
        g = np.asarray(g, np.float64)
        expected = v0.numpy() - lr * 0.1 * g / (0.1 * np.abs(g) + 1e-8)
        ok = np.abs(g) > 1e-4 * np.abs(g).max() + 1e-9
        tol = 2e-6 + 2.5e-7 * np.abs(expected)  # + float32 rounding of large weights
        bad = ok & (np.abs(v1.numpy() - expected) > tol)
        assert not bad.any(), (v0.path, v1.numpy()[bad][:5], expected[bad][:5])
        checked += ok.sum()
    assert checked > 1000


def softplus(x):
    return np.logaddexp(0.0, x)


@pytest.mark.parametrize("loss,label_size", [("r1", 0), ("wgan-gp", 0), ("r1", 3)])
def test_first_step_matches_reference(loss, label_size):
    gan = make_gan(label_size=label_size, loss=loss)
    G_pre, D_pre, _ = tiny.networks(16, label_size)  # same seed: the initial weights
    images = tiny.synthetic_images(BATCH, 16)
    labels = np.eye(max(label_size, 1), dtype=np.float32)[np.arange(BATCH) % max(label_size, 1)]
    labels = labels[:, :label_size]
    g_before = weights(gan.G)
    logs = fit(gan, 16, 1, labels=labels, images=images)[0]

    key = tiny.step_key(5, 0)
    lab = labels if label_size else None
    # D step: pre-step G and D; the loss and its gradient through the penalty.
    fake_d, w_d = fakes(G_pre, key, (1, 2, 3, 1000), 0.0, 16, 0.9, lab)
    reals = tf.constant(images)
    D_call = lambda x: D_pre(x, labels=lab, lod=tf.constant(0.0), resolution=16)[:, 0]  # noqa
    with tf.GradientTape() as d_tape:
        fake_scores = D_call(fake_d)
        if loss == "r1":
            with tf.GradientTape() as tape:
                tape.watch(reals)
                real_scores = D_call(reals)
                total = tf.reduce_sum(real_scores)
            penalty = tf.reduce_sum(tf.square(tape.gradient(total, reals)), axis=[1, 2, 3])
            d_loss = (tf.nn.softplus(fake_scores) + tf.nn.softplus(-real_scores)
                      + 5.0 * penalty)
            g_fn = lambda s: softplus(-s)  # noqa: E731
        else:
            alpha = tiny.draw(key, 7, [BATCH, 1, 1, 1], uniform=True)
            mixed = tf.constant(images + (fake_d.numpy() - images) * alpha)
            with tf.GradientTape() as tape:
                tape.watch(mixed)
                total = tf.reduce_sum(D_call(mixed))
            grads = tape.gradient(total, mixed)
            real_scores = D_call(reals)
            penalty = tf.square(tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3])) - 1.0)
            d_loss = fake_scores - real_scores + 10.0 * penalty + 0.001 * real_scores ** 2
            g_fn = lambda s: -s  # noqa: E731
        d_loss = tf.reduce_mean(d_loss)
    np.testing.assert_allclose(logs["D_loss"], d_loss.numpy(), rtol=2e-5)
    np.testing.assert_allclose(logs["R1" if loss == "r1" else "GP"],
                               np.mean(penalty.numpy()), rtol=2e-5)
    check_adam_step(D_pre, gan.D, d_tape.gradient(d_loss, D_pre.trainable_variables))

    # G step: pre-step G, D after its update.
    with tf.GradientTape() as g_tape:
        fake_g, w_g = fakes(G_pre, key, (4, 5, 6, 2000), 0.0, 16, 0.9, lab)
        g_scores = gan.D(fake_g, labels=lab, lod=tf.constant(0.0), resolution=16)[:, 0]
        g_loss = tf.reduce_mean(tf.nn.softplus(-g_scores) if loss == "r1" else -g_scores)
    np.testing.assert_allclose(logs["G_loss"], g_fn(g_scores.numpy()).mean(), rtol=2e-5)
    np.testing.assert_allclose(logs["G_loss"], g_loss.numpy(), rtol=2e-5)
    # At the 4x4 constant the bias and noise strength feed instance norm a
    # spatially constant map: their gradient is round-off (see replicas_check).
    check_adam_step(G_pre, gan.G, g_tape.gradient(g_loss, G_pre.trainable_variables),
                    skip=("b4/conv0/epilogue/bias", "b4/conv0/epilogue/noise/weight"))

    # w_avg: NVIDIA updates it on both G forwards (D step, then G step), beta 0.995.
    w_avg = np.zeros(G_pre.w_dim)
    for w in (w_d, w_g):
        w_avg = w.mean(0) + (w_avg - w.mean(0)) * 0.995
    np.testing.assert_allclose(gan.G.w_avg.numpy(), w_avg, rtol=1e-5, atol=1e-8)

    # Gs = lerp(G_new, Gs_old, beta), Gs_old = G_old; non-trainables copied.
    beta = 0.5 ** (BATCH / 10000.0)
    for v_gs, v_g, old in zip(gan.Gs.weights, gan.G.weights, g_before):
        expected = (v_g.numpy() + (old - v_g.numpy()) * beta) if v_g.trainable else v_g.numpy()
        np.testing.assert_allclose(v_gs.numpy(), expected, rtol=1e-6, atol=1e-7,
                                   err_msg=v_gs.path)
    assert int(gan.cur_nimg.numpy()) == BATCH and logs["kimg"] == pytest.approx(BATCH / 1000)
    assert int(gan.G_opt.iterations.numpy()) == int(gan.D_opt.iterations.numpy()) == 1


def test_replicas_get_different_slices_of_the_global_draw():
    """Replica r of N takes rows [r*n, (r+1)*n) of the global batch's draw."""
    gan = make_gan()
    key = tiny.step_key(5, 40)
    full = tiny.draw(key, 1, [BATCH, 16])
    for rid in range(2):
        rep = dict(n=BATCH // 2, global_n=BATCH, offset=rid * BATCH // 2)
        part = gan._draw(key, 1, (16,), rep).numpy()
        np.testing.assert_array_equal(part, full[rid * 4:(rid + 1) * 4])
    assert not np.allclose(full[:4], full[4:])


def test_process_reals_matches_nvidia_fade():
    gan = make_gan(resolution=32, schedule=Schedule(32, minibatch_base=BATCH))
    gan.set_resolution(16)  # lod in [1, 2): fading 8 -> 16 px
    x = np.random.RandomState(0).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    low = x.reshape(2, 8, 2, 8, 2, 3).mean((2, 4)).repeat(2, 1).repeat(2, 2)
    for lod in (1.0, 1.25, 1.9):
        expected = x + (low - x) * (lod - 1.0)
        out = gan._process_reals(tf.constant(x), tf.constant(lod, tf.float32)).numpy()
        np.testing.assert_allclose(out, expected, atol=1e-6)


def test_growing_reuses_layers_and_keeps_optimizer_state():
    schedule = Schedule(16, lod_initial_resolution=8, lod_training_kimg=0.016,
                        lod_transition_kimg=0.016, minibatch_base=BATCH)
    gan = make_gan(schedule=schedule)
    segs = schedule.segments(48)
    assert [(s.resolution, s.fading, s.steps) for s in segs] == [
        (8, False, 2), (16, True, 2), (16, False, 2)]
    ids = [id(v) for v in gan.weights]
    top = [v for v in gan.G.weights if "/b16/" in v.path and v.trainable]
    top_before = [v.numpy().copy() for v in top]
    logs = fit(gan, 8, segs[0].steps)
    assert [round(r["lod"], 6) for r in logs] == [1.0, 1.0]
    # Training at 8 px runs only the blocks up to 8 px: the 16 px block is untouched.
    for v, before in zip(top, top_before):
        np.testing.assert_array_equal(v.numpy(), before)
    logs = fit(gan, 16, segs[1].steps)
    np.testing.assert_allclose([r["lod"] for r in logs], [schedule.lod(16), schedule.lod(24)])
    assert any(not np.array_equal(v.numpy(), b) for v, b in zip(top, top_before))
    assert [id(v) for v in gan.weights] == ids
    assert int(gan.G_opt.iterations.numpy()) == 4  # kept across the level change
    velocities = [v for v in gan.G_opt.variables if "velocity" in v.path]
    assert any(np.any(v.numpy() != 0) for v in velocities)
    assert gan.D.lod.numpy() == gan.G.synthesis.lod.numpy() == gan.lod.numpy() == schedule.lod(24)

    gan.reset_optimizers()
    for opt in (gan.G_opt, gan.D_opt):
        for v in opt.variables:
            if "learning_rate" in v.path:
                assert v.numpy() == pytest.approx(0.001)
            else:
                assert not np.any(v.numpy()), v.path


def test_ema_rampup_and_no_smoothing():
    gan = make_gan(G_smoothing_kimg=10.0, ema_rampup=0.05)
    # At 100 images the half-life is min(10000, 100 * 0.05) = 5 images.
    beta = gan._ema_beta(tf.constant(100, tf.int64), tf.constant(8.0)).numpy()
    assert beta == pytest.approx(0.5 ** (8 / 5.0), rel=1e-6)
    beta = gan._ema_beta(tf.constant(10 ** 6, tf.int64), tf.constant(8.0)).numpy()
    assert beta == pytest.approx(0.5 ** (8 / 10000.0), rel=1e-6)
    gan = make_gan(G_smoothing_kimg=0.0)
    fit(gan, 16, 1)
    for a, b in zip(gan.Gs.weights, gan.G.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_gs_must_match_g():
    G, D, _ = tiny.networks(16)
    from keras_stylegan.networks.generator import Generator
    other = Generator(resolution=16, name="Gs", **dict(tiny.G_KWARGS, dlatent_size=8))
    with pytest.raises(ValueError, match="same config"):
        StyleGAN(G, D, other, Schedule(16, minibatch_base=BATCH))

"""The projector (keras_stylegan/projector.py, projection_distance.py).

- Its pieces against independent references: NVIDIA's schedules (their
  formulas, re-typed from stylegan2-ada-pytorch projector.py), Adam against a
  NumPy transcription of `torch.optim.Adam`, the noise regulariser against
  NumPy (np.roll, reshape-mean pooling), the w statistics against NumPy on the
  mapped samples, the LPIPS features against the metrics' LPIPS distance (a
  second code path) and the fallback distance against NumPy.
- Recovery: an image drawn from a known w (one w for every layer) of a small
  network is projected; the projection must come back within a stated image
  distance and w distance, and the starting point (w_avg) and a different
  random w must fail the same bounds, so the bounds say something.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_stylegan import projector as pj
from keras_stylegan.errors import ConfigError
from keras_stylegan.projection_distance import (LPIPSFeatures, PixelFeatures,
                                                projection_features)
from helpers import paths

DATA = os.path.join(paths.DATA, "metrics")
STEPS = 100

# Bounds of a recovery: the RMS pixel difference to the target (pixels in [-1, 1]) and
# |w - w_true| in units of w_std (the spread of mapped w, NVIDIA's w_std).
BOUNDS = {"stylegan2": (0.01, 0.05), "stylegan1": (0.05, 0.15)}


def small_generator(family, seed=1):
    """A 16 px generator with an 8-dim W, small enough for W to be well conditioned
    (with w_dim 64 many directions of w barely change a 32 px image)."""
    from keras_stylegan.networks.generator import Generator
    keras.utils.set_random_seed(seed)
    return Generator(family=family, resolution=16, latent_size=8, dlatent_size=8,
                     mapping_kwargs=dict(mapping_fmaps=8),
                     synthesis_kwargs=dict(fmap_base=128, fmap_max=32))


def draw(G, w):
    ws = np.repeat(w, G.num_ws, axis=1)
    return keras.ops.convert_to_numpy(G.synthesis(ws, noise_mode="const"))


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


# ----------------------------------------------------------------- the pieces
def nvidia_lr_and_noise(step, num_steps, w_std):
    """stylegan2-ada-pytorch projector.py, lines of its step loop."""
    t = step / num_steps
    w_noise_scale = w_std * 0.05 * max(0.0, 1.0 - t / 0.75) ** 2
    lr_ramp = min(1.0, (1.0 - t) / 0.25)
    lr_ramp = 0.5 - 0.5 * np.cos(lr_ramp * np.pi)
    lr_ramp = lr_ramp * min(1.0, t / 0.05)
    return 0.1 * lr_ramp, w_noise_scale


def test_schedules_are_nvidias():
    cfg = pj.ProjectorConfig(num_steps=1000)
    for step in (0, 1, 25, 49, 50, 300, 749, 750, 751, 800, 999):
        lr, noise = nvidia_lr_and_noise(step, 1000, 3.0)
        assert pj.learning_rate(step, cfg) == pytest.approx(lr, abs=1e-12)
        assert pj.w_noise_scale(step, 3.0, cfg) == pytest.approx(noise, abs=1e-12)
    assert pj.learning_rate(500, cfg) == pytest.approx(0.1)  # the plateau


def test_adam_matches_torch_formula():
    """Five steps against `torch.optim.Adam`'s update, transcribed in NumPy."""
    rs = np.random.RandomState(0)
    cfg = pj.ProjectorConfig()
    params = [rs.randn(1, 1, 5).astype(np.float32), rs.randn(1, 4, 4, 1).astype(np.float32)]
    ref = [p.astype(np.float64) for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    rm, rv = [np.zeros_like(p) for p in ref], [np.zeros_like(p) for p in ref]
    for t in range(1, 6):
        grads = [rs.randn(*p.shape).astype(np.float32) for p in params]
        lr = 0.01 * t
        params, m, v = pj.adam_update(params, grads, m, v, np.float32(t), np.float32(lr), cfg)
        for i, g in enumerate(grads):
            rm[i] = 0.9 * rm[i] + 0.1 * g
            rv[i] = 0.999 * rv[i] + 0.001 * g * g
            denom = np.sqrt(rv[i]) / np.sqrt(1 - 0.999 ** t) + 1e-8
            ref[i] = ref[i] - lr / (1 - 0.9 ** t) * rm[i] / denom
    for p, r in zip(params, ref):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(p), r, rtol=1e-5, atol=1e-6)


def test_noise_regularization_and_normalization_match_numpy():
    rs = np.random.RandomState(1)
    noise = [rs.randn(1, s, s, 1).astype(np.float32) for s in (4, 8, 32)]
    expected = 0.0
    for n in noise:
        n = n[0, :, :, 0].astype(np.float64)
        while True:
            expected += np.mean(n * np.roll(n, 1, axis=1)) ** 2
            expected += np.mean(n * np.roll(n, 1, axis=0)) ** 2
            if n.shape[0] <= 8:
                break
            n = n.reshape(n.shape[0] // 2, 2, n.shape[1] // 2, 2).mean(axis=(1, 3))
    got = float(keras.ops.convert_to_numpy(pj.noise_regularization(noise)))
    assert got == pytest.approx(expected, rel=1e-4)
    # a map correlated with its shift is penalised far more than white noise
    smooth = np.repeat(np.repeat(noise[2][:, ::4, ::4], 4, axis=1), 4, axis=2)
    white = float(keras.ops.convert_to_numpy(pj.noise_regularization(noise[2:])))
    assert float(keras.ops.convert_to_numpy(pj.noise_regularization([smooth]))) > 100 * white
    for n in pj.normalize_noise([3 * x + 2 for x in noise]):
        n = keras.ops.convert_to_numpy(n)
        assert abs(n.mean()) < 1e-5 and np.mean(n * n) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("label_size", [0, 3])
def test_w_statistics_match_numpy(label_size):
    """NVIDIA's w_avg and w_std of mapped z (RandomState(123)); a conditional
    network's for the class given."""
    from keras_stylegan.networks.generator import Generator
    keras.utils.set_random_seed(1)
    G = Generator(family="stylegan2", resolution=8, latent_size=8, dlatent_size=8,
                  label_size=label_size, mapping_kwargs=dict(mapping_fmaps=8),
                  synthesis_kwargs=dict(fmap_base=64, fmap_max=16))
    labels = np.eye(3, dtype=np.float32)[[2] * 300] if label_size else None
    w_avg, w_std = pj.w_statistics(G, 300, labels=labels, batch_size=128)
    z = np.random.RandomState(123).randn(300, G.z_dim).astype(np.float32)
    ws = keras.ops.convert_to_numpy(G.mapping(z, labels=labels))[:, 0].astype(np.float64)
    np.testing.assert_allclose(w_avg[0, 0], ws.mean(0), rtol=1e-5, atol=1e-6)
    assert w_std == pytest.approx(np.sqrt(np.sum((ws - ws.mean(0)) ** 2) / 300), rel=1e-5)


def test_pixel_fallback_is_multiscale_mse():
    rs = np.random.RandomState(2)
    a, b = rs.uniform(-1, 1, (2, 1, 32, 32, 3)).astype(np.float32)
    feats = PixelFeatures()
    got = np.sum((keras.ops.convert_to_numpy(feats(a) - feats(b))) ** 2)
    expected, x, y = 0.0, a, b
    while True:
        expected += np.mean((x - y) ** 2)
        if x.shape[1] <= 8:
            break
        x = x.reshape(1, x.shape[1] // 2, 2, x.shape[2] // 2, 2, 3).mean(axis=(2, 4))
        y = y.reshape(1, y.shape[1] // 2, 2, y.shape[2] // 2, 2, 3).mean(axis=(2, 4))
    assert got == pytest.approx(expected, rel=1e-5)  # 32, 16 and 8 px


@pytest.fixture(scope="module")
def lpips_folder(tmp_path_factory):
    """The committed random-weight LPIPS files under their public names."""
    import shutil
    d = tmp_path_factory.mktemp("weights")
    shutil.copy(os.path.join(DATA, "vgg16_random.pth"), d / "vgg16-397923af.pth")
    shutil.copy(os.path.join(DATA, "lpips_random_lin.pth"), d / "vgg.pth")
    return str(d)


def test_lpips_features_give_the_lpips_distance(lpips_folder):
    """sum((f(a) - f(b))^2) equals the metrics' LPIPS distance (images above 256 px
    are area-downsampled to 256 first, as NVIDIA's projector)."""
    features, note = projection_features("auto", lpips_folder)
    assert isinstance(features, LPIPSFeatures) and note is None
    with pytest.raises(ConfigError, match="--distance pixel"):  # VGG16 needs 16 px
        features(np.zeros([1, 8, 8, 3], np.float32))
    rs = np.random.RandomState(3)
    a, b = rs.uniform(-1, 1, (2, 2, 32, 32, 3)).astype(np.float32)
    got = np.sum(keras.ops.convert_to_numpy(features(a) - features(b)) ** 2, axis=1)
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(features.net(a, b)),
                               rtol=1e-4)
    big = np.repeat(np.repeat(a[:1], 16, axis=1), 16, axis=2)  # 512 px, blocks of 16
    small = a[:1].repeat(8, axis=1).repeat(8, axis=2)          # the same at 256 px
    np.testing.assert_allclose(keras.ops.convert_to_numpy(features(big)),
                               keras.ops.convert_to_numpy(features(small)), atol=1e-5)


def test_missing_lpips_files_give_the_named_fallback_or_an_error(tmp_path, monkeypatch,
                                                                 lpips_folder):
    from keras_stylegan.metrics.weights import ENV_VAR, WeightsFileError
    monkeypatch.delenv(ENV_VAR, raising=False)
    features, note = projection_features("auto", str(tmp_path))
    assert isinstance(features, PixelFeatures) and "FALLBACK" in note and "vgg16" in note
    with pytest.raises(WeightsFileError, match="vgg16-397923af.pth"):
        projection_features("lpips", str(tmp_path))
    # files that are present but broken are an error, not a silent fallback
    (tmp_path / "vgg16-397923af.pth").write_bytes(b"not a checkpoint")
    (tmp_path / "vgg.pth").write_bytes(open(os.path.join(lpips_folder, "vgg.pth"), "rb").read())
    with pytest.raises(WeightsFileError):
        projection_features("auto", str(tmp_path))


# ----------------------------------------------------------------- recovery
@pytest.mark.parametrize("family", ["stylegan2", "stylegan1"])
def test_projection_recovers_a_known_w(family):
    """Projects the image of a known w with the fallback distance (LPIPS needs the
    real VGG16 to be meaningful) and checks the image and w bounds of BOUNDS;
    w_avg (where the projection starts) and another random w fail them."""
    G = small_generator(family)
    img_bound, w_bound = BOUNDS[family]
    mapped = keras.ops.convert_to_numpy(
        G.mapping(np.random.RandomState(5).randn(2, G.z_dim).astype(np.float32)))
    w_true, w_other = mapped[:1, :1], mapped[1:, :1]
    target = draw(G, w_true)
    proj = pj.Projector(G, PixelFeatures(),
                        pj.ProjectorConfig(num_steps=STEPS, w_avg_samples=1000), seed=0)
    result = proj.project(target)

    def within(w, image):
        return (rmse(image, target) < img_bound and
                np.linalg.norm(w - w_true[0, 0]) / proj.w_std < w_bound)

    assert result.ws.shape == (1, G.num_ws, G.w_dim)
    assert np.all(result.ws == result.ws[:, :1])  # one w for every layer
    assert rmse(result.image, target) < img_bound, rmse(result.image, target)
    w_err = np.linalg.norm(result.ws[0, 0] - w_true[0, 0]) / proj.w_std
    assert w_err < w_bound, w_err
    assert within(result.ws[0, 0], result.image)
    assert not within(proj.w_avg[0, 0], draw(G, proj.w_avg))
    assert not within(w_other[0, 0], draw(G, w_other))
    # the image returned is the one its ws and noise maps draw, and its distance
    again = G.synthesis(result.ws, noise_mode="const", noise=result.noise)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again), result.image)
    assert result.distance < result.distances[0] and len(result.distances) == STEPS
    for n in result.noise:  # renormalised after every step
        assert abs(n.mean()) < 1e-4 and np.mean(n * n) == pytest.approx(1.0, rel=1e-4)


def _short_projection(G, target):
    cfg = pj.ProjectorConfig(num_steps=10, w_avg_samples=200)
    return pj.Projector(G, PixelFeatures(), cfg, seed=0).project(target).ws


@pytest.mark.slow  # a JAX subprocess: about 40 s of CPU, minutes on a loaded machine
def test_projector_runs_on_jax_as_on_tensorflow(tmp_path):
    """A short projection on the JAX backend (a subprocess: the backend is fixed at
    import) of a saved network gives the same w as here on TensorFlow."""
    from keras_stylegan.loading import load_generator
    small_generator("stylegan2").save(tmp_path / "G.keras")
    G = load_generator(str(tmp_path / "G.keras"))
    target = draw(G, np.full([1, 1, 8], 0.3, np.float32))
    np.save(tmp_path / "target.npy", target)
    script = (
        "import sys, numpy as np\n"
        f"sys.path[:0] = [{os.path.dirname(os.path.abspath(__file__))!r}, {paths.TESTS!r}]\n"
        "from test_projector import _short_projection\n"
        "from keras_stylegan.loading import load_generator\n"
        "G = load_generator(sys.argv[1] + '/G.keras')\n"
        "np.save(sys.argv[1] + '/jax.npy', "
        "_short_projection(G, np.load(sys.argv[1] + '/target.npy')))\n")
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)],
                          env=dict(os.environ, KERAS_BACKEND="jax"),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ours = _short_projection(G, target)
    assert np.abs(ours - load_generator(str(tmp_path / "G.keras")).w_avg.numpy()).max() > 1e-3
    np.testing.assert_allclose(np.load(tmp_path / "jax.npy"), ours, rtol=1e-3, atol=1e-4)

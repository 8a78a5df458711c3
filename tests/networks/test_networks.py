"""Generator / discriminator API, presets, and serialization round trips."""

import keras
import numpy as np
import pytest

from keras_stylegan import DiscriminatorSG1, Generator, presets

rng = np.random.RandomState(7)


@pytest.fixture(scope="module")
def G():
    g = presets.generator("stylegan-tiny-32")
    g.w_avg.assign(rng.randn(g.w_dim).astype(np.float32))
    for v in g.weights:  # NVIDIA initialises noise strengths to 0; make noise matter
        if v.path.endswith("noise/weight"):
            v.assign(rng.randn(*v.shape).astype(np.float32))
    return g


@pytest.fixture(scope="module")
def z():
    return rng.randn(4, 64).astype(np.float32)


def test_truncation_matches_numpy_with_per_sample_psi(G, z):
    ws = G.mapping(z).numpy()
    psi = np.array([0.0, 0.5, 1.0, 2.0], np.float32)
    out = G.truncate(ws, psi=psi, cutoff=3).numpy()
    avg = G.w_avg.numpy()
    ref = ws.copy()
    ref[:, :3] = avg + (ws[:, :3] - avg) * psi[:, None, None]
    np.testing.assert_allclose(out, ref, atol=1e-5)
    np.testing.assert_allclose(G.truncate(ws, psi=0.5, cutoff=None),
                               avg + (ws - avg) * 0.5, atol=1e-5)
    np.testing.assert_array_equal(G.truncate(ws, psi=0.5, cutoff=0), ws)
    # StyleGAN1's default cutoff is 8: layers 8.. untouched.
    default = G.truncate(ws, psi=0.5).numpy()
    np.testing.assert_array_equal(default[:, 8:], ws[:, 8:])
    assert not np.allclose(default[:, :8], ws[:, :8])


def test_style_mixing_matches_numpy(G, z):
    ws, ws2 = G.mapping(z).numpy(), G.mapping(z[::-1]).numpy()
    cut = np.array([0, 2, 5, 8])
    out = G.mix_styles(ws, ws2, cut).numpy()
    for i, c in enumerate(cut):
        np.testing.assert_array_equal(out[i, :c], ws[i, :c])
        np.testing.assert_array_equal(out[i, c:], ws2[i, c:])


def test_update_w_avg_matches_numpy(z):
    g = presets.generator("stylegan-tiny-32")
    before = rng.randn(g.w_dim).astype(np.float32)
    g.w_avg.assign(before)
    ws = g.mapping(z)
    g.update_w_avg(ws)
    batch = ws.numpy()[:, 0].mean(axis=0)
    np.testing.assert_allclose(g.w_avg.numpy(), batch + (before - batch) * 0.995, atol=1e-6)


def test_explicit_noise_equals_const_mode(G, z):
    ws = G.mapping(z)
    layers = [lay for b in G.synthesis.blocks for lay in (b.conv0, b.conv1)]
    noise = [np.tile(lay.epilogue.noise.const.numpy(), (4, 1, 1, 1)) for lay in layers]
    assert [n.shape[1:3] for n in noise] == G.synthesis.noise_shapes
    np.testing.assert_allclose(G.synthesis(ws, noise=noise), G.synthesis(ws, noise_mode="const"),
                               atol=1e-6)
    assert not np.allclose(G.synthesis(ws, noise_mode="random"),
                           G.synthesis(ws, noise_mode="const"))


def test_generator_call_is_mapping_truncate_synthesis(G, z):
    ref = G.synthesis(G.truncate(G.mapping(z), psi=0.7), noise_mode="const")
    np.testing.assert_allclose(G(z, truncation_psi=0.7, noise_mode="const"), ref, atol=1e-6)


def _roundtrip(model, tmp_path):
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    return keras.saving.load_model(path, compile=False)


@pytest.mark.parametrize("preset", ["stylegan-tiny-32", "stylegan-tiny-cond-32"])
def test_keras_file_round_trip(preset, tmp_path):
    G, D = presets.generator(preset), presets.discriminator(preset)
    for v in G.non_trainable_weights + D.non_trainable_weights:
        if "lod" in v.path:
            v.assign(0.5)
    G.w_avg.assign(rng.randn(G.w_dim).astype(np.float32))
    z = rng.randn(4, 64).astype(np.float32)
    labels = np.eye(4, dtype=np.float32) if G.label_size else None
    G2, D2 = _roundtrip(G, tmp_path), _roundtrip(D, tmp_path)
    assert type(G2) is Generator and type(D2) is DiscriminatorSG1
    assert G2.get_config() == G.get_config()
    img = G(z, labels, truncation_psi=0.7, noise_mode="const")
    np.testing.assert_array_equal(G2(z, labels, truncation_psi=0.7, noise_mode="const"), img)
    np.testing.assert_array_equal(D2(img, labels), D(img, labels))


def test_from_config_rebuilds_the_same_architecture():
    G = presets.generator("stylegan-tiny-32")
    G2 = Generator.from_config(G.get_config())
    assert [tuple(w.shape) for w in G2.weights] == [tuple(w.shape) for w in G.weights]
    G2.set_weights(G.get_weights())
    z = rng.randn(2, 64).astype(np.float32)
    np.testing.assert_array_equal(G2(z, noise_mode="const"), G(z, noise_mode="const"))


def test_conditional_networks_require_labels():
    G = presets.generator("stylegan-tiny-cond-32")
    D = presets.discriminator("stylegan-tiny-cond-32")
    with pytest.raises(ValueError, match=r"conditional \(label_size=4\)"):
        G(np.zeros((2, 64), np.float32))
    with pytest.raises(ValueError, match="pass labels of shape"):
        D(np.zeros((2, 32, 32, 3), np.float32))


def test_bad_arguments_give_clear_errors():
    with pytest.raises(ValueError, match="power of two"):
        Generator(resolution=48)
    with pytest.raises(ValueError, match="family must be one of"):
        Generator(family="stylegan3")
    with pytest.raises(ValueError, match="Unknown preset 'nope'"):
        presets.generator("nope")
    G = presets.generator("stylegan-tiny-32")
    with pytest.raises(ValueError, match="noise_mode must be one of"):
        G.synthesis(np.zeros((1, 8, 64), np.float32), noise_mode="fixed")
    with pytest.raises(ValueError, match="exceeds the network's resolution"):
        G.synthesis(np.zeros((1, 8, 64), np.float32), resolution=64)


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
def test_presets_build(name):
    config = presets.get(name)
    assert config["description"]
    G = presets.generator(name)
    D = presets.discriminator(name)
    assert G.resolution == D.resolution == config["generator"]["resolution"]
    assert G.num_ws == 2 * int(np.log2(G.resolution)) - 2


def test_ffhq_preset_has_nvidia_sizes():
    G = presets.generator("stylegan-ffhq-1024")
    assert (G.z_dim, G.w_dim, G.num_ws, G.truncation_cutoff) == (512, 512, 18, 8)
    shapes = {w.path.split("/", 1)[1]: tuple(w.shape) for w in G.weights}
    # LEGACY_FORMAT.md: nf(s) = min(8192 / 2**s, 512); 1024x1024 Conv1 has nf(9) = 16.
    assert shapes["synthesis/b1024/conv1/conv/kernel"] == (3, 3, 16, 16)
    assert shapes["synthesis/b64/conv0/conv/kernel"] == (3, 3, 512, 256)
    assert G.synthesis.blocks[-1].conv0.conv.fused_scale  # fused at >= 128 px
    assert not G.synthesis.blocks[4].conv0.conv.fused_scale  # 64 px


def test_image_generator_does_not_retrace():
    from keras_stylegan.generate import ImageGenerator
    G = presets.generator("stylegan-tiny-32")
    gen = ImageGenerator(G, truncation_psi=0.7)
    a = gen(rng.randn(2, 64))[0]
    gen.truncation_psi = 0.5  # psi is a tensor input: no retrace
    b = gen(rng.randn(2, 64))[0]
    gen(rng.randn(2, 64))
    assert gen._run.experimental_get_tracing_count() == 1
    assert a.shape == b.shape == (2, 32, 32, 3)

"""StyleGAN2 networks: architectures, serialization, noise, mixed precision, presets."""

import inspect

import keras
import numpy as np
import pytest
from conftest import load_fixture

from keras_stylegan import legacy, presets
from keras_stylegan.networks import DiscriminatorSG2, Generator, SynthesisNetworkSG2, num_features

RNG = np.random.RandomState(7)
SMALL = dict(fmap_base=64, fmap_max=16)


def small_generator(**synthesis_kwargs):
    return Generator(family="stylegan2", resolution=16, latent_size=8, dlatent_size=8,
                     mapping_kwargs=dict(mapping_fmaps=8),
                     synthesis_kwargs=dict(SMALL, **synthesis_kwargs))


def randomize(model, seed=0):
    """Random values in every weight (noise strengths, biases, w_avg included) so
    that every weight matters. The mapping network keeps its initialization
    (std 1/lrmul), which already makes z matter."""
    rng = np.random.RandomState(seed)
    for w in model.weights:
        # (not the noise layers' integer seed-generator states)
        if "float" in str(w.dtype) and "/mapping/" not in w.path:
            w.assign(np.asarray(rng.randn(*w.shape) * 0.5, "float32"))
    return model


def z(n=3, dim=8):
    return RNG.randn(n, dim).astype("float32")


@pytest.fixture(scope="module")
def tiny_pair():
    """The sg2_r32_f fixture networks (G skip, D resnet) with NVIDIA's weights."""
    pkl, _, ref = load_fixture("sg2_r32_f")
    nets = legacy.load_network_pkl(pkl, networks=("D", "Gs"))
    return nets["Gs"], nets["D"], ref


# Architectures -------------------------------------------------------------------

@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_generator_architectures_fused_equals_nonfused(architecture):
    G = randomize(small_generator(architecture=architecture))
    ws = G.mapping(z())
    fused = np.asarray(G.synthesis(ws, noise_mode="const"))
    plain = np.asarray(G.synthesis(ws, noise_mode="const", fused_modconv=False))
    assert fused.shape == (3, 16, 16, 3) and fused.dtype == np.float32
    assert np.abs(fused).max() > 1e-3
    np.testing.assert_allclose(fused, plain, atol=1e-5, rtol=1e-5)
    blocks = G.synthesis.blocks
    assert [b.torgb is not None for b in blocks] == (
        [True, True, True] if architecture == "skip" else [False, False, True])
    assert [b.skip is not None for b in blocks] == [False] + [architecture == "resnet"] * 2


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_discriminator_architectures(architecture):
    D = randomize(DiscriminatorSG2(resolution=16, architecture=architecture, **SMALL))
    images = RNG.randn(4, 16, 16, 3).astype("float32")
    scores = np.asarray(D(images))
    assert scores.shape == (4, 1) and np.all(np.isfinite(scores))
    names = {v.path.split("/", 1)[1] for v in D.weights}
    assert ("b8/fromrgb/kernel" in names) == (architecture == "skip")
    assert ("b4/fromrgb/kernel" in names) == (architecture == "skip")
    assert ("b16/skip/kernel" in names) == (architecture == "resnet")


def test_synthesis_attributes_and_call_errors():
    s = SynthesisNetworkSG2(resolution=32, dlatent_size=8, **SMALL)
    assert (s.num_ws, s.resolution, s.resolution_log2, s.num_channels, s.dlatent_size) == (
        8, 32, 5, 3, 8)
    assert s.noise_shapes == [(4, 4), (8, 8), (8, 8), (16, 16), (16, 16), (32, 32), (32, 32)]
    assert [layer.const.shape[1:3] for layer in s.noise_layers()] == s.noise_shapes
    ws = np.zeros((2, 8, 8), "float32")
    assert s(ws, noise_mode="const", resolution=32).shape == (2, 32, 32, 3)
    with pytest.raises(ValueError, match="no lower-resolution outputs"):
        s(ws, resolution=16)
    with pytest.raises(ValueError, match="list of 7 tensors"):
        s(ws, noise=[None] * 8)
    with pytest.raises(ValueError, match="noise_mode"):
        s(ws, noise_mode="stored")
    with pytest.raises(ValueError, match="architecture"):
        SynthesisNetworkSG2(resolution=8, architecture="residual")
    with pytest.raises(ValueError, match="num_fp16_res"):
        SynthesisNetworkSG2(resolution=8, num_fp16_res=-1)


def test_noise_inputs():
    G = randomize(small_generator())
    ws = G.mapping(z())
    const = np.asarray(G.synthesis(ws, noise_mode="const"))
    none = np.asarray(G.synthesis(ws, noise_mode="none"))
    r1 = np.asarray(G.synthesis(ws, noise_mode="random"))
    r2 = np.asarray(G.synthesis(ws, noise_mode="random"))
    assert np.abs(const - none).max() > 1e-3 and np.abs(r1 - r2).max() > 1e-3
    zeros = [np.zeros((3, h, w, 1), "float32") for h, w in G.synthesis.noise_shapes]
    np.testing.assert_allclose(G.synthesis(ws, noise_mode="random", noise=zeros), none, atol=1e-6)
    stored = [np.repeat(layer.const.numpy(), 3, 0) for layer in G.synthesis.noise_layers()]
    np.testing.assert_allclose(G.synthesis(ws, noise_mode="none", noise=stored), const,
                               atol=1e-6)
    quiet = small_generator(use_noise=False)
    assert quiet.synthesis.noise_layers() == []
    assert not any("noise" in v.path for v in quiet.weights)


def test_truncation_defaults_to_all_layers():
    G = randomize(small_generator())
    assert G.truncation_cutoff is None
    ws = G.mapping(z())
    avg = G.w_avg.numpy()
    np.testing.assert_allclose(G.truncate(ws, 0.5), avg + (np.asarray(ws) - avg) * 0.5,
                               atol=1e-5)


# Serialization -------------------------------------------------------------------------

def _outputs(G, D, zs, labels=None):
    images = G(zs, labels=labels, truncation_psi=0.7, noise_mode="const")
    return np.asarray(images), np.asarray(D(images, labels=labels))


def _conditional_pair():
    G = randomize(Generator(family="stylegan2", resolution=16, latent_size=8, dlatent_size=8,
                            label_size=3, mapping_kwargs=dict(mapping_fmaps=8),
                            synthesis_kwargs=dict(SMALL, architecture="resnet")), seed=1)
    D = randomize(DiscriminatorSG2(resolution=16, label_size=3, architecture="skip",
                                   cmap_dim=8, mapping_layers=1, mbstd_group_size=None,
                                   **SMALL), seed=2)
    return G, D


def test_get_config_round_trip():
    G, D = _conditional_pair()
    G2 = Generator.from_config(G.get_config())
    D2 = DiscriminatorSG2.from_config(D.get_config())
    G2.set_weights(G.get_weights())
    D2.set_weights(D.get_weights())
    zs, labels = z(), np.eye(3, dtype="float32")
    for a, b in zip(_outputs(G, D, zs, labels), _outputs(G2, D2, zs, labels)):
        np.testing.assert_array_equal(a, b)
    other = _outputs(G, D, z(), labels)[0]  # the outputs depend on z
    assert np.abs(other - _outputs(G, D, zs, labels)[0]).max() > 1e-3


def test_keras_save_load_round_trip(tmp_path):
    G, D = _conditional_pair()
    G.save(tmp_path / "g.keras")
    D.save(tmp_path / "d.keras")
    G2 = keras.models.load_model(tmp_path / "g.keras")
    D2 = keras.models.load_model(tmp_path / "d.keras")
    assert isinstance(G2.synthesis, SynthesisNetworkSG2) and isinstance(D2, DiscriminatorSG2)
    zs, labels = z(), np.eye(3, dtype="float32")
    for a, b in zip(_outputs(G, D, zs, labels), _outputs(G2, D2, zs, labels)):
        np.testing.assert_array_equal(a, b)


def test_imported_networks_save_and_load(tiny_pair, tmp_path):
    Gs, D, ref = tiny_pair
    Gs.save(tmp_path / "gs.keras")
    G2 = keras.models.load_model(tmp_path / "gs.keras")
    np.testing.assert_array_equal(G2(ref["latents"], noise_mode="const"),
                                  Gs(ref["latents"], noise_mode="const"))


# The non-fused form is exportable --------------------------------------------------

def _graph_ops(fn, spec):
    import tensorflow as tf
    graph_def = tf.function(fn).get_concrete_function(spec).graph.as_graph_def()
    nodes = list(graph_def.node) + [n for f in graph_def.library.function for n in f.node_def]
    xla = [n.name for n in nodes if n.attr["_XlaMustCompile"].b]
    return {n.op for n in nodes}, xla


def test_nonfused_synthesis_has_no_grouped_conv_or_stateless_random():
    """TFLite builtins cover the non-fused modconv; the grouped conv (which Keras
    runs through an XLA-compiled function on TF) and stateless random ops do not."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("inspects a TensorFlow graph")
    import tensorflow as tf
    G = small_generator()
    spec = tf.TensorSpec([None, G.num_ws, 8], tf.float32)
    ops_plain, xla_plain = _graph_ops(
        lambda ws: G.synthesis(ws, noise_mode="const", fused_modconv=False), spec)
    assert xla_plain == []
    assert not [op for op in ops_plain if op.startswith("StatelessRandom")]
    assert "Conv2DBackpropInput" in ops_plain  # the up-conv is a plain transposed conv
    _, xla_fused = _graph_ops(
        lambda ws: G.synthesis(ws, noise_mode="const", fused_modconv=True), spec)
    assert xla_fused  # the same check sees the grouped conv of the fused form


def test_auto_modconv_picks_the_non_fused_form_on_a_cpu():
    """The default "auto" runs the non-fused form where no GPU is visible (the
    faster one on CPUs) and the grouped conv on a GPU; both give the same numbers."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("inspects a TensorFlow graph")
    import tensorflow as tf
    G = small_generator()
    assert G.synthesis.fused_modconv == "auto"
    spec = tf.TensorSpec([None, G.num_ws, 8], tf.float32)
    _, xla_auto = _graph_ops(lambda ws: G.synthesis(ws, noise_mode="const"), spec)
    assert bool(xla_auto) == bool(tf.config.list_logical_devices("GPU"))
    ws = np.random.RandomState(0).randn(2, G.num_ws, 8).astype("float32")
    auto = G.synthesis(ws, noise_mode="const")
    for form in (True, False):
        np.testing.assert_allclose(
            auto, G.synthesis(ws, noise_mode="const", fused_modconv=form), atol=1e-5)
    with pytest.raises(ValueError, match="fused_modconv must be one of"):
        G.synthesis(ws, fused_modconv="yes")


# Mixed precision -------------------------------------------------------------------------

def test_fp16_blocks_match_float32(tiny_pair):
    Gs, D, ref = tiny_pair
    config = Gs.get_config()
    config["synthesis_kwargs"] = dict(config["synthesis_kwargs"], num_fp16_res=2,
                                      conv_clamp=256)
    G16 = Generator.from_config(config)
    G16.set_weights(Gs.get_weights())
    assert [b.use_fp16 for b in G16.synthesis.blocks] == [False, False, True, True]
    assert G16.synthesis.blocks[-1].conv1.compute_dtype == "float16"
    assert G16.synthesis.blocks[-1].conv1.conv.kernel.dtype == "float32"
    ws = Gs.mapping(ref["latents"][:4])
    expected = np.asarray(Gs.synthesis(ws, noise_mode="const"))
    for fused in (True, False):
        out = np.asarray(G16.synthesis(ws, noise_mode="const", fused_modconv=fused))
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, expected, atol=1e-2)
        assert np.abs(out - expected).max() > 0  # float16 really was used
    d_config = dict(D.get_config(), num_fp16_res=2, conv_clamp=256)
    D16 = DiscriminatorSG2.from_config(d_config)
    D16.set_weights(D.get_weights())
    images = np.transpose(ref["D_images"][:4], (0, 2, 3, 1))
    np.testing.assert_allclose(D16(images), D(images), atol=1e-2)


def test_conv_clamp_bounds_the_image():
    G = randomize(small_generator(conv_clamp=0.05))
    img = np.asarray(G(z(), noise_mode="const"))
    # 'skip': the image is the upsampled sum of three clamped ToRGB outputs
    assert 0.0 < np.abs(img).max() <= 3 * 0.05 + 1e-6
    assert np.abs(np.asarray(randomize(small_generator())(z(), noise_mode="const"))).max() > 0.15


# Discriminator details --------------------------------------------------------------------

def test_discriminator_minibatch_stddev_groups():
    D = randomize(DiscriminatorSG2(resolution=8, **SMALL))
    with pytest.raises(ValueError, match="multiple of 4"):
        D(RNG.randn(6, 8, 8, 3).astype("float32"))
    whole = randomize(DiscriminatorSG2(resolution=8, mbstd_group_size=None, **SMALL))
    assert whole(RNG.randn(6, 8, 8, 3).astype("float32")).shape == (6, 1)
    off = DiscriminatorSG2(resolution=8, mbstd_num_features=0, **SMALL)
    assert off.epilogue.conv.kernel.shape[2] == off.nf(1)
    with pytest.raises(ValueError, match="mbstd_group_size"):
        DiscriminatorSG2(resolution=8, mbstd_group_size=0, **SMALL)


def test_conditional_discriminator_projects_onto_labels(tiny_pair):
    D = randomize(DiscriminatorSG2(resolution=8, label_size=3, **SMALL))
    images = RNG.randn(4, 8, 8, 3).astype("float32")
    with pytest.raises(ValueError, match="conditional"):
        D(images)
    eye = np.eye(3, dtype="float32")
    per_class = np.concatenate(
        [np.asarray(D(images, labels=np.repeat(eye[c:c + 1], 4, 0))) for c in range(3)], 1)
    mix = np.array([[0.5, 2.0, -1.0]] * 4, "float32")
    np.testing.assert_allclose(D(images, labels=mix), per_class @ mix[0][:, None], atol=1e-5)


# Presets ---------------------------------------------------------------------------------

def test_tiny_presets_match_the_fixture(tiny_pair):
    Gs, D, _ = tiny_pair
    G2, D2 = presets.generator("stylegan2-tiny-32"), presets.discriminator("stylegan2-tiny-32")
    assert [w.shape for w in G2.weights] == [w.shape for w in Gs.weights]
    assert [w.shape for w in D2.weights] == [w.shape for w in D.weights]
    G2.set_weights(Gs.get_weights())
    zs = RNG.randn(2, 64).astype("float32")
    np.testing.assert_array_equal(G2(zs, noise_mode="const"), Gs(zs, noise_mode="const"))
    Gc = presets.generator("stylegan2-tiny-cond-32")
    Dc = presets.discriminator("stylegan2-tiny-cond-32")
    labels = np.eye(4, dtype="float32")
    images = Gc(RNG.randn(4, 64).astype("float32"), labels=labels, noise_mode="const")
    assert images.shape == (4, 32, 32, 3) and Dc(images, labels=labels).shape == (4, 1)


@pytest.mark.parametrize("name,resolution", [
    ("stylegan2-ffhq-1024", 1024), ("stylegan2-car-512", 512), ("stylegan2-cat-256", 256),
    ("stylegan2-church-256", 256), ("stylegan2-horse-256", 256)])
def test_released_model_presets(name, resolution):
    """Config-f: fmap_base 16384, so 512 channels up to 64 px, then halving
    (32 at 1024 px), 'skip' G and 'resnet' D; the source is NVIDIA's file."""
    p = presets.get(name)
    assert p["source"] == name.replace(f"-{resolution}", "-config-f.pkl")
    g, d = p["generator"], p["discriminator"]
    assert g["family"] == d["family"] == "stylegan2"
    assert g["resolution"] == d["resolution"] == resolution
    fmap_base = g["synthesis_kwargs"]["fmap_base"]
    assert fmap_base == d["fmap_base"] == 16384
    channels = {2 ** k: num_features(k - 1, fmap_base) for k in range(2, 11)}
    assert channels == {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128,
                        512: 64, 1024: 32}
    assert "architecture" not in g["synthesis_kwargs"] and "architecture" not in d
    default = lambda cls: inspect.signature(cls).parameters["architecture"].default  # noqa
    assert (default(SynthesisNetworkSG2), default(DiscriminatorSG2)) == ("skip", "resnet")

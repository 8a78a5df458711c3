"""Every case of every StyleGAN2 fixture: our networks vs NVIDIA's own outputs.

Also: the StyleGAN2-ADA dialect of the importer and the importer's errors
(the JAX backend: test_jax_backend.py). The fixture cases run through
`helpers.fixture_cases`, shared with the StyleGAN1 fixtures: float outputs
must agree within 1e-4, uint8 outputs within 1 LSB.
"""

import copy

import numpy as np
import pytest

from conftest import load_fixture, nchw_to_nhwc
from helpers.fixture_cases import (
    FixtureNets, assert_matches, case_params, check_case, check_metadata)
from keras_stylegan.legacy import LegacyFormatError, read_network_pkl
from keras_stylegan.legacy import stylegan2 as sg2_converter
from keras_stylegan.networks import DiscriminatorSG2, SynthesisNetworkSG2

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow

SG2_FIXTURES = ("sg2_r32_f", "sg2_r32_e_Gorig_Dorig")


@pytest.fixture(scope="module")
def fixture_nets():
    return FixtureNets()


@pytest.mark.parametrize("fixture,case_name", case_params(SG2_FIXTURES))
def test_sg2_fixture_case(fixture_nets, fixture, case_name):
    check_case(*fixture_nets(fixture), case_name)


@pytest.mark.parametrize("fixture", SG2_FIXTURES)
def test_sg2_fixture_metadata(fixture_nets, fixture):
    nets, manifest, _ = fixture_nets(fixture)
    Gs, D = nets["Gs"], nets["D"]
    assert nets["meta"] == dict(family="stylegan2", variant="stylegan2", truncation_psi=0.5,
                                style_mixing_prob=0.9, randomize_noise=True)
    check_metadata(nets, manifest)
    assert isinstance(Gs.synthesis, SynthesisNetworkSG2) and isinstance(D, DiscriminatorSG2)
    assert len(Gs.synthesis.noise_shapes) == Gs.num_ws - 1
    arch = manifest["G_args"].get("architecture", "skip")
    assert Gs.synthesis.architecture == arch
    assert D.architecture == manifest["D_args"].get("architecture", "resnet")


# StyleGAN2-ADA (TensorFlow) dialect ---------------------------------------------

@pytest.fixture(scope="module")
def sg2_f_pickle():
    """The sg2_r32_f fixture read as plain data (copy before changing it)."""
    pkl, manifest, ref = load_fixture("sg2_r32_f")
    return read_network_pkl(pkl), ref


def as_ada(net, **extra_kwargs):
    """The same network, labelled as StyleGAN2-ADA's TF code names it."""
    net = copy.deepcopy(net)
    net.version = 5
    if net.build_func_name == "D_stylegan2":
        net.build_func_name = "D_main"
    else:
        net.components["synthesis"].build_func_name = "G_synthesis"
    for n in (net, *net.components.values()):  # NVIDIA passes G's kwargs on to both
        n.static_kwargs.update(extra_kwargs)
    return net


def test_ada_dialect_reproduces_the_official_numbers(sg2_f_pickle):
    """ADA's G_synthesis/D_main compute what G_synthesis_stylegan2/D_stylegan2 do
    at equal settings; ADA's D default mbstd group is the whole batch."""
    p, ref = sg2_f_pickle
    G, meta = sg2_converter.generator(as_ada(p.Gs), p.source, name="Gs")
    assert meta["variant"] == "stylegan2-ada" and meta["truncation_psi"] == 0.5
    assert G.synthesis.fused_modconv is False  # ADA's default; same numbers
    out = G(ref["latents"], truncation_psi=0.7, noise_mode="const")
    assert_matches(np.asarray(out), nchw_to_nhwc(ref["gs_psi0.7"]))
    D4 = sg2_converter.discriminator(as_ada(p.D, mbstd_group_size=4), p.source)
    assert_matches(np.asarray(D4(nchw_to_nhwc(ref["D_images"]))), ref["D_random_images"])
    D = sg2_converter.discriminator(as_ada(p.D), p.source)
    assert D.mbstd_group_size is None
    assert_matches(np.asarray(D(nchw_to_nhwc(ref["D_images_b2"]))), ref["D_random_images_b2"])


def test_ada_options_are_imported(sg2_f_pickle):
    p, _ = sg2_f_pickle
    G, _ = sg2_converter.generator(
        as_ada(p.Gs, num_fp16_res=2, conv_clamp=256, mapping_fmaps=None), p.source)
    s = G.synthesis
    assert (s.num_fp16_res, s.conv_clamp, s.use_noise) == (2, 256.0, True)
    assert G.mapping.mapping_fmaps == G.w_dim  # ADA: mapping_fmaps=None -> dlatent_size
    D = sg2_converter.discriminator(
        as_ada(p.D, num_fp16_res=1, conv_clamp=128, freeze_layers=2), p.source)
    assert (D.num_fp16_res, D.conv_clamp) == (1, 128.0)


def test_ada_conditional_discriminator_label_mapping(sg2_f_pickle):
    """D_main with labels: LabelEmbed + Mapping{i} into cmap, scores projected onto it."""
    p, ref = sg2_f_pickle
    net = as_ada(p.D, label_size=3, mapping_fmaps=8, mapping_layers=1)
    rng = np.random.RandomState(5)
    v = net.variables
    v["Output/weight"], v["Output/bias"] = rng.randn(64, 8), rng.randn(8)
    v["LabelEmbed/weight"], v["LabelEmbed/bias"] = rng.randn(3, 8), rng.randn(8)
    v["Mapping0/weight"], v["Mapping0/bias"] = rng.randn(8, 8), rng.randn(8)
    for k in list(v):
        v[k] = np.asarray(v[k], np.float32)
    D = sg2_converter.discriminator(net, p.source)
    assert D.cmap_dim == 8
    images, labels = nchw_to_nhwc(ref["D_images"]), np.eye(3, dtype="float32")[[0, 1, 2] * 3][:8]
    x = None
    for block in D.blocks:
        x = block(x, images)
    raw = np.asarray(D.epilogue(x, images), np.float64)  # [N, 8] before the projection
    y = labels @ v["LabelEmbed/weight"] / np.sqrt(3) + v["LabelEmbed/bias"]
    y = y / np.sqrt(np.mean(y ** 2, axis=1, keepdims=True) + 1e-8)
    y = y @ v["Mapping0/weight"] * 0.1 / np.sqrt(8) + v["Mapping0/bias"] * 0.1
    y = np.maximum(y, 0.2 * y) * np.sqrt(2)
    expected = np.sum(raw * y, axis=1, keepdims=True) / np.sqrt(8)
    np.testing.assert_allclose(np.asarray(D(images, labels=labels)), expected, atol=1e-4)


# Importer errors ------------------------------------------------------------------

def _error(fn, net, source, match):
    with pytest.raises(LegacyFormatError, match=match):
        fn(net, source)


def test_unknown_kwargs_are_rejected_by_name(sg2_f_pickle):
    p, _ = sg2_f_pickle
    G = copy.deepcopy(p.Gs)
    G.components["synthesis"].static_kwargs["use_magic"] = True
    _error(sg2_converter.generator, G, p.source, r"unknown kwargs use_magic=True \(G_synthesis\)")
    D = copy.deepcopy(p.D)
    D.static_kwargs["fmap_const"] = 8  # an ADA-only kwarg is unknown to D_stylegan2
    _error(sg2_converter.discriminator, D, p.source, "unknown kwargs fmap_const=8")


@pytest.mark.parametrize("kwargs,match", [
    (dict(architecture="bogus"), "unsupported architecture='bogus'"),
    (dict(dtype="float16"), "unsupported dtype='float16'"),
    (dict(nonlinearity="tanh"), "unsupported nonlinearity='tanh'"),
])
def test_unsupported_kwarg_values(sg2_f_pickle, kwargs, match):
    p, _ = sg2_f_pickle
    G = copy.deepcopy(p.Gs)
    for net in (G, *G.components.values()):
        net.static_kwargs.update(kwargs)
    _error(sg2_converter.generator, G, p.source, match)


def test_missing_extra_and_misshapen_variables(sg2_f_pickle):
    p, _ = sg2_f_pickle
    G = copy.deepcopy(p.Gs)
    del G.components["synthesis"].variables["8x8/Conv1/mod_bias"]
    _error(sg2_converter.generator, G, p.source,
           "lacks variable 'G_synthesis/8x8/Conv1/mod_bias'")
    D = copy.deepcopy(p.D)
    D.variables["16x16/Extra/weight"] = np.zeros((3,), np.float32)
    _error(sg2_converter.discriminator, D, p.source, r"not used: \['16x16/Extra/weight'\]")
    D = copy.deepcopy(p.D)
    D.variables["Output/bias"] = np.zeros((2,), np.float32)
    _error(sg2_converter.discriminator, D, p.source, "Output/bias has shape")


def test_mislabelled_config_a_to_d_and_unknown_layouts_are_rejected(sg2_f_pickle):
    p, _ = sg2_f_pickle
    G = copy.deepcopy(p.Gs)
    G.components["synthesis"].build_func_name = "G_synthesis_stylegan_revised"
    _error(sg2_converter.generator, G, p.source, "lacks variable 'G_synthesis/ToRGB_lod")
    D = copy.deepcopy(p.D)
    D.build_func_name = "D_stylegan"
    _error(sg2_converter.discriminator, D, p.source, "lacks variable 'FromRGB_lod")
    G = copy.deepcopy(p.Gs)
    G.components["mapping"].build_func_name = "G_mapping_custom"
    _error(sg2_converter.generator, G, p.source, "unexpected StyleGAN2 generator layout")


def test_ada_conditional_generator_label_embedding(sg2_f_pickle):
    """G_mapping of ADA: z and the LabelEmbed'ed labels are normalized separately,
    then concatenated (NumPy reference written from NVIDIA's formula)."""
    p, ref = sg2_f_pickle
    net = as_ada(p.Gs, label_size=3, label_fmaps=16)
    rng = np.random.RandomState(11)
    v = net.components["mapping"].variables
    v["LabelEmbed/weight"] = rng.randn(3, 16).astype(np.float32)
    v["LabelEmbed/bias"] = rng.randn(16).astype(np.float32)
    v["Dense0/weight"] = rng.randn(64 + 16, 64).astype(np.float32)
    G, _ = sg2_converter.generator(net, p.source, name="Gs")
    assert G.mapping.label_embedding == "embed" and G.label_size == 3
    z, labels = ref["latents"], np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2, 0, 1]]

    def norm(x):
        return x / np.sqrt(np.mean(x ** 2, axis=1, keepdims=True) + 1e-8)

    y = labels @ v["LabelEmbed/weight"] / np.sqrt(3) + v["LabelEmbed/bias"]
    x = np.concatenate([norm(z.astype(np.float64)), norm(y)], axis=1)
    for i in range(8):
        w, b = v[f"Dense{i}/weight"], v[f"Dense{i}/bias"]
        x = x @ w * (0.01 / np.sqrt(w.shape[0])) + b * 0.01
        x = np.maximum(x, 0.2 * x) * np.sqrt(2)
    ws = np.asarray(G.mapping(z, labels=labels))
    np.testing.assert_allclose(ws, np.repeat(x[:, None], G.num_ws, axis=1), atol=1e-4)
    del v["LabelEmbed/bias"]
    with pytest.raises(LegacyFormatError, match="lacks variable 'G_mapping/LabelEmbed/bias'"):
        sg2_converter.generator(net, p.source)


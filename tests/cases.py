"""The harness's cases: every serializable layer and network of both families,
small, with fixed inputs (see `tests/harness.py`)."""

import numpy as np

from harness import Case


def _randn(*shape, seed=0):
    return np.random.RandomState(seed).randn(*shape).astype(np.float32)


def _x(c=4, size=8, n=2):
    return lambda: [_randn(n, size, size, c)]


def _xw(c=4, size=8, w_dim=6, n=2):
    return lambda: [_randn(n, size, size, c), _randn(n, w_dim, seed=1)]


def _layer_cases():
    from keras_stylegan.layers import common, sg1, sg2
    const = dict(noise_mode="const")
    return [
        Case("EqualizedDense", lambda: common.EqualizedDense(5, lrmul=0.1), lambda: [_randn(2, 3)]),
        Case("EqualizedDense_lrelu",
             lambda: common.EqualizedDense(5, activation="lrelu", act_gain=1.4, bias_init=1.0),
             lambda: [_randn(2, 3)]),
        Case("NoiseInjection", lambda: common.NoiseInjection(), _x(), const),
        Case("ConstantInput", lambda: common.ConstantInput(3), lambda: [_randn(2, 6)]),
        Case("MinibatchStddev", lambda: common.MinibatchStddev(2), _x()),
        Case("EqualizedConv2D", lambda: sg1.EqualizedConv2D(3, 3), _x()),
        Case("EqualizedConv2D_up", lambda: sg1.EqualizedConv2D(3, 3, up=True), _x()),
        Case("EqualizedConv2D_fused_up",
             lambda: sg1.EqualizedConv2D(3, 3, up=True, fused_scale=True), _x()),
        Case("EqualizedConv2D_fused_down",
             lambda: sg1.EqualizedConv2D(3, 3, down=True, fused_scale=True), _x()),
        Case("ToRGB", lambda: sg1.ToRGB(), _x()),
        Case("FromRGB", lambda: sg1.FromRGB(5), _x(c=3)),
        Case("Blur", lambda: sg1.Blur((1, 3, 3, 1)), _x()),
        Case("PixelNorm", lambda: sg1.PixelNorm(), _x()),
        Case("StyleMod", lambda: sg1.StyleMod(), _xw()),
        Case("LayerEpilogue", lambda: sg1.LayerEpilogue(use_pixel_norm=True), _xw(), const),
        Case("LodFadeIn", lambda: sg1.LodFadeIn(1), lambda: [_randn(2, 4, 4, 3),
                                                             _randn(2, 4, 4, 3, seed=1)],
             dict(lod=np.float32(1.25))),
        Case("ModulatedConv2D", lambda: sg2.ModulatedConv2D(3, up=True), _xw()),
        Case("StyledConv2D", lambda: sg2.StyledConv2D(3, conv_clamp=2.0), _xw(), const),
        Case("ModulatedToRGB", lambda: sg2.ModulatedToRGB(3), _xw()),
        Case("ResampleConv2D", lambda: sg2.ResampleConv2D(3, down=True, activation="lrelu"),
             _x()),
    ]


TINY = dict(fmap_base=64, fmap_max=8)
TINY_G = dict(latent_size=8, dlatent_size=8, mapping_kwargs=dict(mapping_fmaps=8,
                                                                  mapping_layers=2))


def _network_cases():
    from keras_stylegan.networks import (
        DiscriminatorSG1, DiscriminatorSG2, Generator, MappingNetwork, SynthesisNetworkSG1,
        SynthesisNetworkSG2)
    from keras_stylegan.networks.synthesis_sg1 import SynthesisLayer

    const = dict(noise_mode="const")
    images = lambda: [_randn(4, 16, 16, 3)]  # noqa: E731
    z = lambda: [_randn(2, 8)]  # noqa: E731
    cases = [
        Case("SynthesisLayer", lambda: SynthesisLayer(4, up=True, epilogue=dict(
            use_pixel_norm=True)), _xw(size=4), const),
        Case("MappingNetwork", lambda: MappingNetwork(latent_size=8, label_size=3, dlatent_size=6,
                                                      num_ws=4, mapping_fmaps=8, mapping_layers=2),
             lambda: [_randn(2, 8), np.eye(3, dtype=np.float32)[[0, 2]]]),
        Case("MappingNetwork_sg2", lambda: MappingNetwork(
            latent_size=8, label_size=3, dlatent_size=6, num_ws=4, family="stylegan2", label_embedding="embed",
            mapping_fmaps=8, mapping_layers=2),
            lambda: [_randn(2, 8), np.eye(3, dtype=np.float32)[[0, 2]]]),
        Case("SynthesisNetworkSG1",
             lambda: SynthesisNetworkSG1(resolution=16, dlatent_size=8, **TINY),
             lambda: [_randn(2, 6, 8)], dict(noise_mode="const", lod=np.float32(0.5))),
        Case("DiscriminatorSG1", lambda: DiscriminatorSG1(resolution=16, **TINY), images,
             dict(lod=np.float32(0.5)), network=True),
        Case("Generator_sg1", lambda: Generator(resolution=16, synthesis_kwargs=TINY, **TINY_G),
             z, dict(truncation_psi=0.7, noise_mode="const"), network=True),
    ]
    for arch in ("skip", "resnet", "orig"):
        cases += [
            Case(f"SynthesisNetworkSG2_{arch}", lambda arch=arch: SynthesisNetworkSG2(
                resolution=16, dlatent_size=8, architecture=arch, **TINY),
                lambda: [_randn(2, 6, 8)], const),
            Case(f"DiscriminatorSG2_{arch}", lambda arch=arch: DiscriminatorSG2(
                resolution=16, architecture=arch, **TINY), images, network=True),
        ]
    cases += [  # StyleGAN2 configs a-d: progressive growing
        Case("SynthesisNetworkSG2_progressive", lambda: SynthesisNetworkSG2(
            resolution=16, dlatent_size=8, architecture="orig", progressive=True, **TINY),
            lambda: [_randn(2, 6, 8)], dict(noise_mode="const", lod=np.float32(0.5))),
        Case("DiscriminatorSG2_progressive", lambda: DiscriminatorSG2(
            resolution=16, architecture="orig", progressive=True, **TINY), images,
            dict(lod=np.float32(0.5)), network=True),
    ]
    labels = lambda: [_randn(2, 8), np.eye(3, dtype=np.float32)[[0, 2]]]  # noqa: E731
    psi = dict(truncation_psi=0.7, noise_mode="const")
    cases += [
        Case("Generator_sg2_cond", lambda: Generator(
            family="stylegan2", resolution=16, label_size=3, synthesis_kwargs=TINY, **TINY_G),
            labels, psi, network=True),
        Case("Generator_sg2_fp16", lambda: Generator(
            family="stylegan2", resolution=16, label_size=3, synthesis_kwargs=dict(
                TINY, num_fp16_res=1, conv_clamp=256), **TINY_G),
            labels, psi, network=True, fp16=True),
        Case("DiscriminatorSG2_cond", lambda: DiscriminatorSG2(
            resolution=16, label_size=3, **TINY),
            lambda: [_randn(4, 16, 16, 3), np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]],
            network=True),
    ]
    return cases


def all_cases():
    return _layer_cases() + _network_cases()


def by_name(names):
    table = {case.name: case for case in all_cases()}
    return [table[name] for name in names]

"""StyleGAN1 (format version 3): `G_style` / `G_synthesis` / `G_mapping` / `D_basic`."""

from keras_stylegan.legacy.convert import (
    Kwargs, assign_table, build_generator, check_size, construct, discriminator_size,
    flatten_rows_chw_to_hwc, identity, nchw_to_nhwc)
from keras_stylegan.legacy.unpickler import LegacyFormatError
from keras_stylegan.networks.discriminator_sg1 import DiscriminatorSG1
from keras_stylegan.ops import fir

BOOL = (True, False)
STRUCTURES = ("auto", "linear", "recursive", "fixed")  # all give the same numbers
FUSED = ("auto", True, False)
ACTS = ("lrelu", "relu")


def _check_funcs(net, expected, source):
    names = {"G": net.build_func_name}
    names.update({k: c.build_func_name for k, c in net.components.items()})
    if names != expected:
        raise LegacyFormatError(
            f"{source}: unexpected StyleGAN1 network layout {names}; expected {expected}.")


def generator(net, source, name=None):
    """Builds a `Generator` from a `G_style` network and copies its weights.

    Returns `(generator, meta)`; `meta` holds NVIDIA's run-time defaults that
    are not part of the network (truncation_psi, style_mixing_prob, ...).
    """
    _check_funcs(net, {"G": "G_style", "synthesis": "G_synthesis", "mapping": "G_mapping"},
                 source)
    synth, mapping = net.components["synthesis"], net.components["mapping"]
    G, meta = build_generator(net, source, name, _generator_config)
    assign_table(_generator_table(G, synth.name, mapping.name), net.all_variables(), G,
                 net.name, source, superseded=[f"{synth.name}/lod"])
    return G, meta


def _generator_config(kw):
    kw.take("use_wscale", True, choices=(True,))
    kw.take("const_input_layer", True, choices=(True,))
    kw.take("dtype", "float32", choices=("float32",))
    kw.take("structure", "auto", choices=STRUCTURES)
    kw.ignore("is_template_graph", "force_clean_graph", "is_training", "is_validation",
              "truncation_psi_val", "truncation_cutoff_val")
    meta = dict(
        family="stylegan1",
        truncation_psi=kw.take("truncation_psi", 0.7),
        style_mixing_prob=kw.take("style_mixing_prob", 0.9),
        randomize_noise=kw.take("randomize_noise", True, choices=BOOL))
    cutoff = kw.take("truncation_cutoff", 8)
    config = dict(
        family="stylegan1",
        resolution=kw.take("resolution", 1024),
        num_channels=kw.take("num_channels", 3),
        latent_size=kw.take("latent_size", 512),
        dlatent_size=kw.take("dlatent_size", 512),
        label_size=kw.take("label_size", 0),
        # NVIDIA's G_style treats cutoff None as "no truncation"; ours as "all layers".
        truncation_cutoff=0 if cutoff is None else cutoff,
        w_avg_beta=kw.take("dlatent_avg_beta", 0.995),
        mapping_kwargs=dict(
            mapping_layers=kw.take("mapping_layers", 8),
            mapping_fmaps=kw.take("mapping_fmaps", 512),
            mapping_lrmul=kw.take("mapping_lrmul", 0.01),
            nonlinearity=kw.take("mapping_nonlinearity", "lrelu", choices=ACTS),
            normalize_latents=kw.take("normalize_latents", True, choices=BOOL)),
        synthesis_kwargs=dict(
            fmap_base=kw.take("fmap_base", 8192),
            fmap_decay=kw.take("fmap_decay", 1.0),
            fmap_max=kw.take("fmap_max", 512),
            use_styles=kw.take("use_styles", True, choices=BOOL),
            use_noise=kw.take("use_noise", True, choices=BOOL),
            use_pixel_norm=kw.take("use_pixel_norm", False, choices=BOOL),
            use_instance_norm=kw.take("use_instance_norm", True, choices=BOOL),
            nonlinearity=kw.take("nonlinearity", "lrelu", choices=ACTS),
            fused_scale=kw.take("fused_scale", "auto", choices=FUSED),
            blur_filter=fir.fir_taps(kw.take("blur_filter", [1, 2, 1]))))
    return config, meta



def _generator_table(G, synth_name, mapping_name):
    synth, mapping = G.synthesis, G.mapping
    rows = [("lod", synth.lod, identity), ("dlatent_avg", G.w_avg, identity)]
    m = mapping_name
    if mapping.label_size:
        rows.append((f"{m}/LabelConcat/weight", mapping.embed, identity))
    for i, dense in enumerate(mapping.dense_layers):
        rows += [(f"{m}/Dense{i}/weight", dense.kernel, identity),
                 (f"{m}/Dense{i}/bias", dense.bias, identity)]
    r = synth.resolution_log2
    for k, block in zip(range(2, r + 1), synth.blocks):
        scope = f"{synth_name}/{2 ** k}x{2 ** k}"
        names = ("Const", "Conv") if k == 2 else ("Conv0_up", "Conv1")
        for layer, nm, i in zip((block.conv0, block.conv1), names, block.noise_indices):
            rows += _synthesis_layer_rows(layer, f"{scope}/{nm}", f"{synth_name}/noise{i}")
        rows += [(f"{synth_name}/ToRGB_lod{r - k}/weight", block.torgb.kernel, identity),
                 (f"{synth_name}/ToRGB_lod{r - k}/bias", block.torgb.bias, identity)]
    return rows


def _synthesis_layer_rows(layer, prefix, noise_name):
    rows = [(f"{prefix}/const", layer.const.const, nchw_to_nhwc) if layer.const_input
            else (f"{prefix}/weight", layer.conv.kernel, identity)]
    epi = layer.epilogue
    if epi.use_noise:
        rows += [(noise_name, epi.noise.const, nchw_to_nhwc),
                 (f"{prefix}/Noise/weight", epi.noise.weight, identity)]
    rows.append((f"{prefix}/bias", epi.bias, identity))
    if epi.use_styles:
        rows += [(f"{prefix}/StyleMod/weight", epi.style.dense.kernel, identity),
                 (f"{prefix}/StyleMod/bias", epi.style.dense.bias, identity)]
    return rows


def discriminator(net, source, name=None):
    """Builds a StyleGAN1 `DiscriminatorSG1` from a `D_basic` network and copies its weights."""
    if net.build_func_name != "D_basic":
        raise LegacyFormatError(
            f"{source}: unexpected StyleGAN1 discriminator {net.build_func_name!r}; "
            "expected 'D_basic'.")
    kw = Kwargs([net], source)
    kw.take("use_wscale", True, choices=(True,))
    kw.take("dtype", "float32", choices=("float32",))
    kw.take("structure", "auto", choices=STRUCTURES)
    kw.ignore("is_template_graph")
    config = dict(
        resolution=kw.take("resolution", 32),
        num_channels=kw.take("num_channels", 1),
        label_size=kw.take("label_size", 0),
        fmap_base=kw.take("fmap_base", 8192),
        fmap_decay=kw.take("fmap_decay", 1.0),
        fmap_max=kw.take("fmap_max", 512),
        nonlinearity=kw.take("nonlinearity", "lrelu", choices=ACTS),
        mbstd_group_size=kw.take("mbstd_group_size", 4),
        mbstd_num_features=kw.take("mbstd_num_features", 1),
        fused_scale=kw.take("fused_scale", "auto", choices=FUSED),
        blur_filter=fir.fir_taps(kw.take("blur_filter", [1, 2, 1])))
    kw.check_all_used()
    check_size(discriminator_size, config, net, source)
    D = construct(DiscriminatorSG1, source, net.name, name=name or net.name, **config)
    assign_table(_discriminator_table(D), net.all_variables(), D, net.name, source)
    return D


def _discriminator_table(D):
    r = D.resolution_log2
    rows = [("lod", D.lod, identity)]
    for k, layer in zip(range(2, r + 1), D.fromrgb):
        rows += [(f"FromRGB_lod{r - k}/weight", layer.kernel, identity),
                 (f"FromRGB_lod{r - k}/bias", layer.bias, identity)]
    for k, block in zip(range(3, r + 1), D.blocks):
        for nm, conv in (("Conv0", block.conv0), ("Conv1_down", block.conv1)):
            rows += [(f"{2 ** k}x{2 ** k}/{nm}/weight", conv.kernel, identity),
                     (f"{2 ** k}x{2 ** k}/{nm}/bias", conv.bias, identity)]
    epi = D.epilogue
    rows += [("4x4/Conv/weight", epi.conv.kernel, identity),
             ("4x4/Conv/bias", epi.conv.bias, identity),
             ("4x4/Dense0/weight", epi.dense0.kernel, flatten_rows_chw_to_hwc(epi.conv.filters)),
             ("4x4/Dense0/bias", epi.dense0.bias, identity),
             ("4x4/Dense1/weight", epi.out.kernel, identity),
             ("4x4/Dense1/bias", epi.out.bias, identity)]
    return rows

"""StyleGAN2 (format version 4) and StyleGAN2-ADA TensorFlow (version 5) converters.

Two dialects share NVIDIA's variable scheme (LEGACY_FORMAT.md 3.5-3.6):

* StyleGAN2: `G_main` / `G_synthesis_stylegan2` / `G_mapping` / `D_stylegan2`;
* StyleGAN2-ADA (TF): `G_main` / `G_synthesis` / `G_mapping` / `D_main`, with
  extra options (`fmap_const`, `use_noise`, `num_fp16_res`, `conv_clamp`,
  `mapping_fmaps=None`, label embeddings `LabelEmbed` in G and D).

* StyleGAN2 configs a-d: `G_main` / `G_synthesis_stylegan_revised` /
  `G_mapping` / `D_stylegan`: architecture 'orig' with progressive growing
  (`ToRGB_lod{n}` / `FromRGB_lod{n}` at every resolution and a `lod`
  variable), built as our networks with `progressive=True`.
"""

from keras_stylegan.legacy.convert import (
    Kwargs, assign_table, build_generator, check_size, construct, discriminator_size,
    flatten_rows_chw_to_hwc, identity, nchw_to_nhwc)
from keras_stylegan.legacy.unpickler import LegacyFormatError
from keras_stylegan.networks.common import num_features
from keras_stylegan.networks.discriminator_sg2 import DiscriminatorSG2
from keras_stylegan.ops import fir

BOOL = (True, False)
ACTS = ("lrelu", "relu")
ARCHS = ("orig", "skip", "resnet")

SG2, ADA, REV = "stylegan2", "stylegan2-ada", "stylegan2-revised"
GENERATOR_LAYOUTS = {
    SG2: {"G": "G_main", "synthesis": "G_synthesis_stylegan2", "mapping": "G_mapping"},
    ADA: {"G": "G_main", "synthesis": "G_synthesis", "mapping": "G_mapping"},
    REV: {"G": "G_main", "synthesis": "G_synthesis_stylegan_revised", "mapping": "G_mapping"},
}
DISCRIMINATORS = {"D_stylegan2": SG2, "D_main": ADA, "D_stylegan": REV}
# Configs a-d: 'fixed', 'linear' and 'recursive' give the same numbers.
STRUCTURES = ("auto", "fixed", "linear", "recursive")


def _dialect(net, source):
    names = {"G": net.build_func_name}
    names.update({k: c.build_func_name for k, c in net.components.items()})
    for dialect, layout in GENERATOR_LAYOUTS.items():
        if names == layout:
            return dialect
    raise LegacyFormatError(
        f"{source}: unexpected StyleGAN2 generator layout {names}; expected one of "
        f"{list(GENERATOR_LAYOUTS.values())}.")



def generator(net, source, name=None):
    """Builds a `Generator` from a `G_main` network and copies its weights.

    Returns `(generator, meta)`; `meta` holds NVIDIA's run-time defaults that
    are not part of the network (truncation_psi, style_mixing_prob,
    randomize_noise) and the dialect ('stylegan2' or 'stylegan2-ada').
    """
    dialect = _dialect(net, source)
    synth, mapping = net.components["synthesis"], net.components["mapping"]
    G, meta = build_generator(net, source, name,
                              lambda kw: _generator_config(kw, dialect, source))
    table = _generator_table(G, synth.name, mapping.name)
    if dialect == REV:  # G_main assigns its `lod` to the synthesis' before each run
        table.append(("lod", G.synthesis.lod, identity))
        superseded = [f"{synth.name}/lod"]
    else:  # G_main's `lod` feeds only the config a-d synthesis; unused here.
        superseded = ["lod"]
    assign_table(table, net.all_variables(), G, net.name, source, superseded=superseded)
    return G, meta


def _generator_config(kw, dialect, source):
    ada = dialect == ADA
    kw.take("mapping_func", "G_mapping", choices=("G_mapping",))
    kw.take("synthesis_func", GENERATOR_LAYOUTS[dialect]["synthesis"],
            choices=(GENERATOR_LAYOUTS[dialect]["synthesis"],))
    kw.take("dtype", "float32", choices=("float32",))
    kw.ignore("is_template_graph", "force_clean_graph", "is_training", "is_validation",
              "return_dlatents", "truncation_psi_val", "truncation_cutoff_val",
              "components")
    meta = dict(
        family="stylegan2", variant=dialect,
        truncation_psi=kw.take("truncation_psi", 0.5),
        style_mixing_prob=kw.take("style_mixing_prob", 0.9),
        randomize_noise=kw.take("randomize_noise", True, choices=BOOL))
    beta = kw.take("dlatent_avg_beta", 0.995)
    label_size = kw.take("label_size", 0)
    dlatent_size = kw.take("dlatent_size", 512)
    mapping_fmaps = kw.take("mapping_fmaps", None if ada else 512)
    synthesis = dict(
        fmap_base=kw.take("fmap_base", 16384),
        fmap_decay=kw.take("fmap_decay", 1.0),
        fmap_min=kw.take("fmap_min", 1),
        fmap_max=kw.take("fmap_max", 512),
        architecture=kw.take("architecture", "skip", choices=ARCHS),
        nonlinearity=kw.take("nonlinearity", "lrelu", choices=ACTS),
        resample_kernel=fir.fir_taps(kw.take("resample_kernel", [1, 3, 3, 1])),
        fused_modconv=_fused_modconv(kw.take("fused_modconv", not ada, choices=BOOL)))
    mapping_extra = {}
    if dialect == REV:  # G_synthesis_stylegan_revised takes no `architecture`
        kw.ignore("architecture")
        kw.take("structure", "auto", choices=STRUCTURES)
        synthesis.update(architecture="orig", progressive=True)
    if ada:  # ADA embeds labels with a biased dense layer ('LabelEmbed')
        mapping_extra = dict(label_embedding="embed", label_fmaps=kw.take("label_fmaps", None))
        synthesis.update(
            fmap_const=kw.take("fmap_const", None),
            use_noise=kw.take("use_noise", True, choices=BOOL),
            num_fp16_res=kw.take("num_fp16_res", 0),
            conv_clamp=kw.take("conv_clamp", None))
    config = dict(
        family="stylegan2",
        resolution=kw.take("resolution", 1024),
        num_channels=kw.take("num_channels", 3),
        latent_size=kw.take("latent_size", 512),
        dlatent_size=dlatent_size,
        label_size=label_size,
        # G_main: cutoff None truncates every layer, as in ours.
        truncation_cutoff=kw.take("truncation_cutoff", None),
        w_avg_beta=1.0 if beta is None else beta,  # None: w_avg is not tracked
        mapping_kwargs=dict(
            mapping_layers=kw.take("mapping_layers", 8),
            mapping_fmaps=dlatent_size if mapping_fmaps is None else mapping_fmaps,
            mapping_lrmul=kw.take("mapping_lrmul", 0.01),
            nonlinearity=kw.take("mapping_nonlinearity", "lrelu", choices=ACTS),
            normalize_latents=kw.take("normalize_latents", True, choices=BOOL),
            **mapping_extra),
        synthesis_kwargs=synthesis)
    return config, meta


def _modconv_rows(prefix, layer):
    """Rows of a `StyledConv2D` or `ModulatedToRGB` under NVIDIA's `prefix`."""
    conv = layer.conv
    return [(f"{prefix}/weight", conv.kernel, identity),
            (f"{prefix}/mod_weight", conv.affine.kernel, identity),
            (f"{prefix}/mod_bias", conv.affine.bias, identity),
            (f"{prefix}/bias", layer.bias, identity)]


def _styled_rows(prefix, layer, noise_name):
    rows = _modconv_rows(prefix, layer)
    if layer.noise is not None:
        rows += [(noise_name, layer.noise.const, nchw_to_nhwc),
                 (f"{prefix}/noise_strength", layer.noise.weight, identity)]
    return rows


def _generator_table(G, synth_name, mapping_name):
    synth, mapping, s, m = G.synthesis, G.mapping, synth_name, mapping_name
    rows = [("dlatent_avg", G.w_avg, identity)]
    if mapping.label_size and mapping.label_embedding == "embed":
        rows += [(f"{m}/LabelEmbed/weight", mapping.label_embed.kernel, identity),
                 (f"{m}/LabelEmbed/bias", mapping.label_embed.bias, identity)]
    elif mapping.label_size:
        rows.append((f"{m}/LabelConcat/weight", mapping.embed, identity))
    for i, dense in enumerate(mapping.dense_layers):
        rows += [(f"{m}/Dense{i}/weight", dense.kernel, identity),
                 (f"{m}/Dense{i}/bias", dense.bias, identity)]
    for k, block in zip(range(2, synth.resolution_log2 + 1), synth.blocks):
        scope = f"{s}/{2 ** k}x{2 ** k}"
        noise = {name: f"{s}/noise{i}" for name, i in block.noise_index.items()}
        if k == 2:
            rows.append((f"{scope}/Const/const", block.const.const, nchw_to_nhwc))
            rows += _styled_rows(f"{scope}/Conv", block.conv1, noise["conv1"])
        else:
            rows += _styled_rows(f"{scope}/Conv0_up", block.conv0, noise["conv0"])
            rows += _styled_rows(f"{scope}/Conv1", block.conv1, noise["conv1"])
        if block.skip is not None:
            rows.append((f"{scope}/Skip/weight", block.skip.kernel, identity))
        if block.torgb is not None:
            rows += _modconv_rows(f"{scope}/ToRGB", block.torgb)
        if synth.progressive:  # configs a-d
            lod = synth.resolution_log2 - k
            rows += _modconv_rows(f"{s}/ToRGB_lod{lod}", synth.torgbs[k - 2])
    return rows


def discriminator(net, source, name=None):
    """Builds a `DiscriminatorSG2` from a `D_stylegan2` / `D_main` / `D_stylegan`
    network, copying its weights."""
    func = net.build_func_name
    if func not in DISCRIMINATORS:
        raise LegacyFormatError(
            f"{source}: unexpected StyleGAN2 discriminator {func!r}; expected one of "
            f"{sorted(DISCRIMINATORS)}.")
    ada = DISCRIMINATORS[func] == ADA
    kw = Kwargs([net], source)
    kw.take("dtype", "float32", choices=("float32",))
    kw.ignore("is_template_graph", "is_training")
    config = dict(
        resolution=kw.take("resolution", 1024),
        num_channels=kw.take("num_channels", 3),
        label_size=kw.take("label_size", 0),
        fmap_base=kw.take("fmap_base", 16384),
        fmap_decay=kw.take("fmap_decay", 1.0),
        fmap_min=kw.take("fmap_min", 1),
        fmap_max=kw.take("fmap_max", 512),
        architecture=kw.take("architecture", "resnet", choices=ARCHS),
        nonlinearity=kw.take("nonlinearity", "lrelu", choices=ACTS),
        resample_kernel=fir.fir_taps(kw.take("resample_kernel", [1, 3, 3, 1])))
    if DISCRIMINATORS[func] == REV:  # D_stylegan takes no `architecture`
        kw.take("structure", "auto", choices=STRUCTURES)
        config.update(architecture="orig", progressive=True)
    if ada:
        _ada_discriminator_config(kw, config)
    else:
        group = kw.take("mbstd_group_size", 4)
        # D_stylegan2 runs minibatch stddev only when the group size is > 1.
        enabled = group is not None and group > 1
        config.update(mbstd_group_size=group if enabled else None,
                      mbstd_num_features=kw.take("mbstd_num_features", 1) if enabled else 0)
        kw.ignore("mbstd_num_features")
    kw.check_all_used()
    check_size(discriminator_size, config, net, source)
    D = construct(DiscriminatorSG2, source, net.name, name=name or net.name, **config)
    table = _discriminator_table(D)
    if D.progressive:
        table.append(("lod", D.lod, identity))
    assign_table(table, net.all_variables(), D, net.name, source)
    return D


def _ada_discriminator_config(kw, config):
    # Options of the paper's comparison methods change the network; refuse them.
    kw.take("use_pagan", False, choices=(False,))
    kw.take("use_spectral_norm", False, choices=(False,))
    kw.take("adaptive_dropout", 0, choices=(0,))
    kw.take("score_size", 1, choices=(1,))
    kw.take("score_max", 1, choices=(1,))
    # Only used by PA-GAN / adaptive dropout (disabled above) or by training.
    kw.ignore("augment_strength", "pagan_num", "pagan_fade", "freeze_layers")
    mapping_fmaps = kw.take("mapping_fmaps", None)
    config.update(
        mbstd_group_size=kw.take("mbstd_group_size", None),
        mbstd_num_features=kw.take("mbstd_num_features", 1),
        num_fp16_res=kw.take("num_fp16_res", 0),
        conv_clamp=kw.take("conv_clamp", None),
        mapping_layers=kw.take("mapping_layers", 0),
        mapping_lrmul=kw.take("mapping_lrmul", 0.1))
    if config["label_size"]:
        # D_main embeds the labels into mapping_fmaps (default nf(0)) dimensions.
        config["cmap_dim"] = mapping_fmaps if mapping_fmaps is not None else num_features(
            0, config["fmap_base"], config["fmap_decay"], config["fmap_max"],
            config["fmap_min"])
    else:
        config["mapping_layers"] = 0  # no labels: D_main builds no label mapping


def _conv_rows(prefix, conv):
    rows = [(f"{prefix}/weight", conv.kernel, identity)]
    if conv.use_bias:
        rows.append((f"{prefix}/bias", conv.bias, identity))
    return rows


def _discriminator_table(D):
    rows = []
    for k, block in zip(range(D.resolution_log2, 2, -1), D.blocks):
        scope = f"{2 ** k}x{2 ** k}"
        if block.fromrgb is not None:
            rows += _conv_rows(f"{scope}/FromRGB", block.fromrgb)
        rows += _conv_rows(f"{scope}/Conv0", block.conv0)
        rows += _conv_rows(f"{scope}/Conv1_down", block.conv1)
        if block.skip is not None:
            rows += _conv_rows(f"{scope}/Skip", block.skip)
    for n, fromrgb in enumerate(D.fromrgbs):  # configs a-d
        rows += _conv_rows(f"FromRGB_lod{n}", fromrgb)
    epi = D.epilogue
    if epi.fromrgb is not None:
        rows += _conv_rows("4x4/FromRGB", epi.fromrgb)
    rows += _conv_rows("4x4/Conv", epi.conv)
    rows += [("4x4/Dense0/weight", epi.dense0.kernel, flatten_rows_chw_to_hwc(epi.conv.filters)),
             ("4x4/Dense0/bias", epi.dense0.bias, identity),
             ("Output/weight", epi.out.kernel, identity),
             ("Output/bias", epi.out.bias, identity)]
    if D.label_embed is not None:
        rows += [("LabelEmbed/weight", D.label_embed.kernel, identity),
                 ("LabelEmbed/bias", D.label_embed.bias, identity)]
        for i, layer in enumerate(D.label_mapping):
            rows += [(f"Mapping{i}/weight", layer.kernel, identity),
                     (f"Mapping{i}/bias", layer.bias, identity)]
    return rows


def _fused_modconv(nvidia_value):
    """Our setting for NVIDIA's `fused_modconv`: both forms give the same numbers,
    and NVIDIA's True is a speed choice for GPUs, so True becomes "auto" (the
    faster form on each device); False stays False."""
    return "auto" if nvidia_value else False

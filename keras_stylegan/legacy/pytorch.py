"""StyleGAN2-ADA-PyTorch and stylegan3-repo StyleGAN2 snapshots -> our StyleGAN2 networks.

The snapshot `dict(G=..., D=..., G_ema=..., augment_pipe=..., training_set_kwargs=...)`
is read by `torch_unpickler` (nothing in it runs). `G_ema` becomes "Gs".
Every constructor kwarg is consumed by name (with the defaults of the code
base that wrote it: stylegan3's StyleGAN2 has `conv_clamp=256`,
`num_fp16_res=4` and `w_avg_beta=0.998`; ADA has None, 0 and 0.995) or
refused by name, the effective values stored in the modules are checked
against them, and every stored tensor fills exactly one Keras weight
(`convert.assign_table`).

Layouts (PyTorch -> ours): dense [out, in] -> [in, out]; conv [O, I, kh, kw]
-> [kh, kw, I, O], spatially flipped for the up-sampling convs (PyTorch
correlates where the TF1 layout our layers share convolves); style affine
biases are stored around 1 where ours add the 1 at run time; `const`
[C, 4, 4] and `noise_const` [R, R] -> NHWC. The `resample_filter` buffers
are checked against our FIR taps and not copied.

StyleGAN3's alias-free generators (`stylegan3-t`, `stylegan3-r`) are refused
with an error naming them.
"""

import dataclasses
import functools
import os

import numpy as np

from keras_stylegan.legacy.convert import (
    Kwargs, assign_table, flatten_rows_chw_to_hwc, identity)
from keras_stylegan.legacy.torch_unpickler import PersistentObject, load_torch_pickle
from keras_stylegan.legacy.unpickler import LegacyFormatError, fail
from keras_stylegan.networks.discriminator_sg2 import DiscriminatorSG2
from keras_stylegan.networks.generator import Generator

ADA, SG3 = "stylegan2-ada-pytorch", "stylegan3-stylegan2"
# Class defaults that differ between the two code bases.
DEFAULTS = {ADA: dict(conv_clamp=None, num_fp16_res=0, w_avg_beta=0.995),
            SG3: dict(conv_clamp=256, num_fp16_res=4, w_avg_beta=0.998)}
ARCHS = ("orig", "skip", "resnet")
ACTS = ("lrelu", "relu")
BOOL = (True, False)
SNAPSHOT_KEYS = ("G", "D", "G_ema", "augment_pipe", "training_set_kwargs")
# Classes only StyleGAN3's alias-free networks (training/networks_stylegan3.py) have.
STYLEGAN3_CLASSES = ("SynthesisInput",)


@dataclasses.dataclass
class TorchSnapshot:
    """The networks of a PyTorch snapshot, as inert `PersistentObject`s, plus its extras."""

    G: PersistentObject
    D: PersistentObject
    G_ema: PersistentObject
    augment_pipe: object
    training_set_kwargs: object
    codebase: str
    source: str


def _structure_errors_as_format_errors(func):
    """A malformed module tree (a list where a dict belongs, ...) is a LegacyFormatError."""
    @functools.wraps(func)
    def wrapper(path_or_bytes, *args, **kwargs):
        try:
            return func(path_or_bytes, *args, **kwargs)
        except (AttributeError, TypeError, KeyError, IndexError) as e:
            where = path_or_bytes if isinstance(path_or_bytes, (str, os.PathLike)) \
                else "<bytes>"
            raise LegacyFormatError(
                f"{os.fspath(where)}: the snapshot's module structure is malformed "
                f"({type(e).__name__}: {str(e)[:200]}); it is not a network NVIDIA's "
                "PyTorch code wrote.") from None
    return wrapper


def children(obj):
    """{name: PersistentObject} of a module's `_modules` (None entries skipped)."""
    mods = obj.state.get("_modules") or {}
    return {k: v for k, v in mods.items() if v is not None}


def named_tensors(obj, prefix="", kinds=("_parameters", "_buffers")):
    """{torch name: array} of every parameter and buffer (`kinds`) below `obj`."""
    out = {}
    for key in kinds:
        for name, value in (obj.state.get(key) or {}).items():
            if value is not None:
                out[prefix + name] = value
    for name, child in children(obj).items():
        if not isinstance(child, PersistentObject):
            raise LegacyFormatError(f"submodule {prefix + name} is not a stored module.")
        out.update(named_tensors(child, f"{prefix}{name}.", kinds))
    return out


def all_classes(obj):
    names = {obj.class_name}
    for child in children(obj).values():
        names |= all_classes(child)
    return names


def _check_module(obj, where, source, class_name):
    if not isinstance(obj, PersistentObject):
        fail(source, f"{where} is not an NVIDIA network object (got {type(obj).__name__}).")
    classes = all_classes(obj)
    alias_free = sorted(classes & set(STYLEGAN3_CLASSES)) or (
        ["magnitude_ema_beta"] if "magnitude_ema_beta" in obj.init_kwargs else [])
    if alias_free:
        kind = "stylegan3-r" if obj.init_kwargs.get("use_radial_filters") else "stylegan3-t"
        fail(source, f"{where} is a StyleGAN3 alias-free network ({kind}; it has "
                      f"{alias_free}). keras-stylegan imports StyleGAN2 networks only: "
                      "StyleGAN2-ADA-PyTorch and the stylegan3 repo's --cfg=stylegan2.")
    if obj.class_name != class_name:
        fail(source, f"{where} is a {obj.class_name!r}; expected {class_name!r}.")
    if obj.init_args:
        fail(source, f"{where} was built with positional arguments {obj.init_args!r:.200}; "
                      "NVIDIA's training code passes keyword arguments only.")
    for key, value in named_tensors(obj).items():
        if not (isinstance(value, np.ndarray) and value.dtype == np.float32):
            fail(source, f"{where}.{key} is not a float32 tensor.")


def read_torch_pkl(path_or_bytes):
    """Reads a PyTorch snapshot into inert data (nothing in it runs).

    Example:

    >>> snap = read_torch_pkl("network-snapshot-000000.pkl")  # doctest: +SKIP
    >>> snap.codebase, snap.G_ema.init_kwargs["img_resolution"]  # doctest: +SKIP
    ('stylegan2-ada-pytorch', 256)
    """
    data, source = _read_bytes(path_or_bytes)
    obj = load_torch_pickle(data, source)
    if not isinstance(obj, dict):
        fail(source, f"expected the snapshot dict that NVIDIA's PyTorch training loop "
                      f"writes; found {type(obj).__name__}.")
    unknown = sorted(str(k) for k in obj if k not in SNAPSHOT_KEYS)
    missing = [k for k in ("G", "D", "G_ema") if k not in obj]
    if unknown or missing:
        fail(source, f"unexpected snapshot keys: missing {missing}, unknown {unknown}.")
    for key, cls in (("G", "Generator"), ("G_ema", "Generator"), ("D", "Discriminator")):
        _check_module(obj[key], key, source, cls)
    pipe = obj.get("augment_pipe")
    if pipe is not None and not isinstance(pipe, PersistentObject):
        fail(source, "augment_pipe is neither None nor a stored module.")
    tsk = obj.get("training_set_kwargs")
    if tsk is not None and not isinstance(tsk, dict):
        fail(source, "training_set_kwargs is neither None nor a dict.")
    return TorchSnapshot(G=obj["G"], D=obj["D"], G_ema=obj["G_ema"], augment_pipe=pipe,
                         training_set_kwargs=None if tsk is None else dict(tsk),
                         codebase=_codebase(obj["G_ema"]), source=source)


def _read_bytes(path_or_bytes):
    if isinstance(path_or_bytes, (bytes, bytearray)):
        return bytes(path_or_bytes), "<bytes>"
    source = os.fspath(path_or_bytes)
    if not os.path.isfile(source):
        raise FileNotFoundError(f"No such network pickle: {source}")
    with open(source, "rb") as f:
        return f.read(), source


def _codebase(G):
    """ADA or the stylegan3 repo: the latter's blocks store `fused_modconv_default`."""
    b4 = children(children(G).get("synthesis", G)).get("b4")
    if b4 is not None and "fused_modconv_default" in b4.state:
        return SG3
    return ADA


def _kwargs(d, origin, source):
    if not isinstance(d, dict):
        fail(source, f"{origin} is not a dict of kwargs.")
    return Kwargs([_Named(dict(d), origin)], source)


@dataclasses.dataclass
class _Named:
    static_kwargs: dict
    name: str


def _attr(obj, path, name):
    """A stored attribute of the module at dotted `path` below `obj` (or a KeyError)."""
    for part in filter(None, path.split(".")):
        obj = children(obj)[part]
    return obj.state[name]


def _check_attr(obj, path, name, expected, where, source):
    """Effective stored value == what the kwargs say, else the file is inconsistent."""
    try:
        value = _attr(obj, path, name)
    except KeyError:
        return
    if value != expected and not (value is None and expected is None):
        fail(source, f"{where}.{path}.{name} is {value!r} but its kwargs give "
                      f"{expected!r}; the file is inconsistent.")


def _taps(filt, source):
    if not (isinstance(filt, (list, tuple)) and filt
            and all(isinstance(t, (int, float)) for t in filt)):
        fail(source, f"unsupported resample_filter {filt!r}; expected a list of FIR taps.")
    return [float(t) for t in filt]


# Generator ---------------------------------------------------------------
def generator_config(obj, codebase, source, where):
    """Our `Generator` kwargs from a PyTorch Generator's init kwargs."""
    defaults = DEFAULTS[codebase]
    kw = _kwargs(obj.init_kwargs, where, source)
    z_dim, c_dim, w_dim = kw.take("z_dim", None), kw.take("c_dim", None), kw.take("w_dim", None)
    resolution = kw.take("img_resolution", None)
    channels = kw.take("img_channels", None)
    if not all(isinstance(v, int) and v >= 0 for v in (z_dim, c_dim, w_dim, resolution,
                                                        channels)) or not z_dim or not w_dim:
        fail(source, f"{where}: z_dim, c_dim, w_dim, img_resolution and img_channels must "
                      "be given as ints (z_dim, w_dim > 0).")
    mkw = _kwargs(kw.take("mapping_kwargs", {}), f"{where}.mapping_kwargs", source)
    if codebase == ADA:
        skw = _kwargs(kw.take("synthesis_kwargs", {}), f"{where}.synthesis_kwargs", source)
        kw.check_all_used()
    else:
        skw = kw  # stylegan3's StyleGAN2 Generator takes the synthesis kwargs flat
    synthesis = _synthesis_config(skw, defaults)
    mapping, beta = _mapping_config(mkw, w_dim, c_dim, defaults)
    config = dict(family="stylegan2", resolution=resolution, num_channels=channels,
                  latent_size=z_dim, dlatent_size=w_dim, label_size=c_dim,
                  truncation_cutoff=None, w_avg_beta=1.0 if beta is None else beta,
                  mapping_kwargs=mapping, synthesis_kwargs=synthesis)
    _check_generator_attrs(obj, config, beta, where, source)
    return config


def _synthesis_config(skw, defaults):
    config = dict(
        fmap_base=skw.take("channel_base", 32768) // 2, fmap_max=skw.take("channel_max", 512),
        fmap_decay=1.0, fmap_min=1,
        num_fp16_res=skw.take("num_fp16_res", defaults["num_fp16_res"]),
        architecture=skw.take("architecture", "skip", choices=ARCHS),
        resample_kernel=_taps(skw.take("resample_filter", [1, 3, 3, 1]), skw.source),
        conv_clamp=skw.take("conv_clamp", defaults["conv_clamp"]),
        use_noise=skw.take("use_noise", True, choices=BOOL),
        nonlinearity=skw.take("activation", "lrelu", choices=ACTS))
    skw.take("kernel_size", 3, choices=(3,))
    # Memory layout only; fused vs non-fused modconv give the same numbers.
    skw.ignore("fp16_channels_last", "channels_last")
    fused = skw.take("fused_modconv_default", True, choices=(True, False, "inference_only"))
    config["fused_modconv"] = "auto" if fused is not False else False  # same numbers
    skw.check_all_used()
    return config


def _mapping_config(mkw, w_dim, c_dim, defaults):
    embed = mkw.take("embed_features", None)
    layer = mkw.take("layer_features", None)
    beta = mkw.take("w_avg_beta", defaults["w_avg_beta"])
    config = dict(mapping_layers=mkw.take("num_layers", 8),
                  mapping_fmaps=w_dim if layer is None else layer,
                  mapping_lrmul=mkw.take("lr_multiplier", 0.01),
                  nonlinearity=mkw.take("activation", "lrelu", choices=ACTS),
                  normalize_latents=True, label_embedding="embed")
    if c_dim:
        config["label_fmaps"] = w_dim if embed is None else embed
    mkw.check_all_used()
    return config, beta


def _check_generator_attrs(obj, config, beta, where, source):
    s = config["synthesis_kwargs"]
    _check_attr(obj, "mapping", "w_avg_beta", beta, where, source)
    _check_attr(obj, "mapping", "num_layers", config["mapping_kwargs"]["mapping_layers"],
                where, source)
    r = int(np.log2(config["resolution"]))
    for k in range(2, r + 1):
        block = f"synthesis.b{2 ** k}"
        fp16 = k >= 3 and k > r - s["num_fp16_res"]
        _check_attr(obj, block, "use_fp16", fp16, where, source)
        _check_attr(obj, block, "architecture", s["architecture"], where, source)
        _check_attr(obj, block + ".conv1", "conv_clamp", s["conv_clamp"], where, source)
        _check_attr(obj, block + ".conv1", "activation", s["nonlinearity"], where, source)


def _dense(prefix, layer):
    return [(f"{prefix}.weight", layer.kernel, _transpose),
            (f"{prefix}.bias", layer.bias, identity)]


def _transpose(w):
    return w.T


def _conv(w):
    """[O, I, kh, kw] -> [kh, kw, I, O]."""
    return np.transpose(w, (2, 3, 1, 0))


def _conv_flipped(w):
    """Up-sampling convs: PyTorch's correlation weight -> the TF1 layout's flipped kernel."""
    return _conv(w)[::-1, ::-1]


def _minus_one(b):
    return b - np.float32(1)


def _modconv_rows(prefix, layer, up=False):
    conv = layer.conv
    return [(f"{prefix}.weight", conv.kernel, _conv_flipped if up else _conv),
            (f"{prefix}.affine.weight", conv.affine.kernel, _transpose),
            (f"{prefix}.affine.bias", conv.affine.bias, _minus_one),
            (f"{prefix}.bias", layer.bias, identity)]


def _styled_rows(prefix, layer):
    rows = _modconv_rows(prefix, layer, up=layer.up)
    if layer.noise is not None:
        rows += [(f"{prefix}.noise_const", layer.noise.const, lambda x: x[None, :, :, None]),
                 (f"{prefix}.noise_strength", layer.noise.weight, identity)]
    return rows


def generator_table(G):
    """Rows (torch name, Keras variable, transform) of a `Generator`."""
    synth, mapping = G.synthesis, G.mapping
    rows = [("mapping.w_avg", G.w_avg, identity)]
    if mapping.label_size:
        rows += _dense("mapping.embed", mapping.label_embed)
    for i, dense in enumerate(mapping.dense_layers):
        rows += _dense(f"mapping.fc{i}", dense)
    for k, block in zip(range(2, synth.resolution_log2 + 1), synth.blocks):
        p = f"synthesis.b{2 ** k}"
        if k == 2:
            rows.append((f"{p}.const", block.const.const,
                         lambda c: np.transpose(c, (1, 2, 0))[None]))
        else:
            rows += _styled_rows(f"{p}.conv0", block.conv0)
        rows += _styled_rows(f"{p}.conv1", block.conv1)
        if block.skip is not None:
            rows.append((f"{p}.skip.weight", block.skip.kernel, _conv_flipped))
        if block.torgb is not None:
            rows += _modconv_rows(f"{p}.torgb", block.torgb)
    return rows


def _resample_filters(tensors, taps, where, source):
    """The names of the `resample_filter` buffers, each checked against our taps."""
    k = np.outer(taps, taps)
    k = (k / k.sum()).astype(np.float32)
    names = [n for n in tensors if n.split(".")[-1] == "resample_filter"]
    for n in names:
        if tensors[n].shape != k.shape or not np.allclose(tensors[n], k, atol=1e-6):
            fail(source, f"{where}.{n} is not the FIR filter of resample_filter {taps}.")
    return names


def generator(obj, codebase, source, name, where):
    """Builds our `Generator` from a stored PyTorch Generator and copies its weights."""
    config = generator_config(obj, codebase, source, where)
    try:
        G = Generator(name=name, **config)
    except ValueError as e:
        fail(source, f"{where}: {e}")
    tensors = named_tensors(obj)
    filters = _resample_filters(tensors, config["synthesis_kwargs"]["resample_kernel"],
                                where, source)
    assign_table(generator_table(G), tensors, G, where, source, superseded=filters)
    return G


# Discriminator -------------------------------------------------------------
def discriminator_config(obj, codebase, source, where="D"):
    """DiscriminatorSG2 kwargs from a PyTorch Discriminator's init kwargs."""
    defaults = DEFAULTS[codebase]
    kw = _kwargs(obj.init_kwargs, where, source)
    c_dim = kw.take("c_dim", None)
    base, cmax = kw.take("channel_base", 32768), kw.take("channel_max", 512)
    config = dict(
        resolution=kw.take("img_resolution", None), num_channels=kw.take("img_channels", None),
        label_size=c_dim, fmap_base=base // 2, fmap_max=cmax, fmap_decay=1.0, fmap_min=1,
        architecture=kw.take("architecture", "resnet", choices=ARCHS),
        num_fp16_res=kw.take("num_fp16_res", defaults["num_fp16_res"]),
        conv_clamp=kw.take("conv_clamp", defaults["conv_clamp"]))
    if not all(isinstance(config[k], int) for k in ("resolution", "num_channels",
                                                    "label_size")):
        fail(source, f"{where}: c_dim, img_resolution and img_channels must be ints.")
    cmap_dim = kw.take("cmap_dim", None)
    bkw = _kwargs(kw.take("block_kwargs", {}), f"{where}.block_kwargs", source)
    mkw = _kwargs(kw.take("mapping_kwargs", {}), f"{where}.mapping_kwargs", source)
    ekw = _kwargs(kw.take("epilogue_kwargs", {}), f"{where}.epilogue_kwargs", source)
    kw.check_all_used()
    acts = {bkw.take("activation", "lrelu", choices=ACTS),
            ekw.take("activation", "lrelu", choices=ACTS)}
    config["resample_kernel"] = _taps(bkw.take("resample_filter", [1, 3, 3, 1]), source)
    bkw.ignore("fp16_channels_last", "freeze_layers")  # memory layout; training only
    bkw.check_all_used()
    config.update(mbstd_group_size=ekw.take("mbstd_group_size", 4),
                  mbstd_num_features=ekw.take("mbstd_num_channels", 1))
    ekw.check_all_used()
    if c_dim:
        cmap = min(base // 4, cmax) if cmap_dim is None else cmap_dim
        for key in ("embed_features", "layer_features"):
            if mkw.take(key, None) not in (None, cmap):
                fail(source, f"{where}.mapping_kwargs.{key} differs from cmap_dim={cmap}; "
                              "keras-stylegan's label mapping is cmap_dim wide throughout.")
        acts.add(mkw.take("activation", "lrelu", choices=ACTS))
        config.update(cmap_dim=cmap, mapping_layers=mkw.take("num_layers", 8),
                      mapping_lrmul=mkw.take("lr_multiplier", 0.01))
    mkw.check_all_used()
    if len(acts) > 1:
        fail(source, f"{where} mixes activations {sorted(acts)}; keras-stylegan uses one.")
    config["nonlinearity"] = acts.pop()
    if min(base // 4, cmax) != min(base // 2, cmax):
        # NVIDIA's epilogue dense is as wide as the 4x4 features; ours is nf(0) wide.
        fail(source, f"{where}: channel_base={base} with channel_max={cmax} gives a 4x4 "
                      "dense layer narrower than keras-stylegan's DiscriminatorSG2 builds "
                      "(channel_max <= channel_base / 4 is supported).")
    r = int(np.log2(config["resolution"]))
    for k in range(3, r + 1):
        _check_attr(obj, f"b{2 ** k}", "use_fp16", k > r - config["num_fp16_res"], where,
                    source)
        _check_attr(obj, f"b{2 ** k}.conv0", "conv_clamp", config["conv_clamp"], where, source)
    return config


def _conv_rows(prefix, conv, transform=_conv):
    rows = [(f"{prefix}.weight", conv.kernel, transform)]
    if conv.use_bias:
        rows.append((f"{prefix}.bias", conv.bias, identity))
    return rows


def discriminator_table(D):
    """Rows (torch name, Keras variable, transform) of a `DiscriminatorSG2`."""
    rows = []
    for k, block in zip(range(D.resolution_log2, 2, -1), D.blocks):
        p = f"b{2 ** k}"
        if block.fromrgb is not None:
            rows += _conv_rows(f"{p}.fromrgb", block.fromrgb)
        rows += _conv_rows(f"{p}.conv0", block.conv0) + _conv_rows(f"{p}.conv1", block.conv1)
        if block.skip is not None:
            rows += _conv_rows(f"{p}.skip", block.skip)
    epi = D.epilogue
    if epi.fromrgb is not None:
        rows += _conv_rows("b4.fromrgb", epi.fromrgb)
    to_hwc = flatten_rows_chw_to_hwc(epi.conv.filters)
    rows += _conv_rows("b4.conv", epi.conv)
    rows += [("b4.fc.weight", epi.dense0.kernel, lambda w: to_hwc(w.T)),
             ("b4.fc.bias", epi.dense0.bias, identity)]
    rows += _dense("b4.out", epi.out)
    if D.label_embed is not None:
        rows += _dense("mapping.embed", D.label_embed)
        for i, layer in enumerate(D.label_mapping):
            rows += _dense(f"mapping.fc{i}", layer)
    return rows


def discriminator(obj, codebase, source, name="D"):
    """Builds our `DiscriminatorSG2` from a stored PyTorch Discriminator, copying weights."""
    config = discriminator_config(obj, codebase, source)
    try:
        D = DiscriminatorSG2(name=name, **config)
    except ValueError as e:
        fail(source, f"D: {e}")
    tensors = named_tensors(obj)
    filters = _resample_filters(tensors, config["resample_kernel"], "D", source)
    assign_table(discriminator_table(D), tensors, D, "D", source, superseded=filters)
    return D


# Snapshot ------------------------------------------------------------------
def describe_extras(snap):
    """The augment pipe's settings and the training-set kwargs, as plain data (not run)."""
    pipe = None
    if snap.augment_pipe is not None:
        p = (snap.augment_pipe.state.get("_buffers") or {}).get("p")
        pipe = dict(class_name=snap.augment_pipe.class_name,
                    init_kwargs=dict(snap.augment_pipe.init_kwargs),
                    p=None if p is None else float(np.asarray(p).reshape(-1)[0]))
    return dict(augment_pipe=pipe, training_set_kwargs=snap.training_set_kwargs)


@_structure_errors_as_format_errors
def load_torch_network_pkl(path_or_bytes, networks=("G", "D", "Gs")):
    """Loads a PyTorch snapshot into Keras networks (see `legacy.load_network_pkl`).

    Returns:
        {'G', 'D', 'Gs' (from G_ema), 'meta'}: meta has the family, the
        variant (code base), NVIDIA's generate.py defaults (truncation_psi 1,
        noise_mode 'const'), the augment pipe's settings and the training-set
        kwargs.
    """
    snap = read_torch_pkl(path_or_bytes)
    out = {}
    for key in networks:
        if key == "D":
            out[key] = discriminator(snap.D, snap.codebase, snap.source)
        elif key in ("G", "Gs"):
            obj, where = (snap.G, "G") if key == "G" else (snap.G_ema, "G_ema")
            out[key] = generator(obj, snap.codebase, snap.source, key, where)
        else:
            raise ValueError(f"networks must name 'G', 'D' or 'Gs'; received {key!r}.")
    out["meta"] = dict(family="stylegan2", variant=snap.codebase, format="pytorch",
                       truncation_psi=1.0, randomize_noise=False, **describe_extras(snap))
    return out


@_structure_errors_as_format_errors
def describe(path_or_bytes):
    """What `keras-stylegan info` shows of a PyTorch snapshot (no network is built).

    Example:

    >>> describe("network-snapshot-000000.pkl")["augment_pipe"]["p"]  # doctest: +SKIP
    0.2
    """
    snap = read_torch_pkl(path_or_bytes)
    nets = {}
    for key in ("G", "D", "G_ema"):
        obj = getattr(snap, key)
        tensors = named_tensors(obj)
        nets[key] = dict(class_name=obj.class_name, init_kwargs=obj.init_kwargs,
                         module_src_sha256=obj.module_src_sha256,
                         params=int(sum(v.size for v in named_tensors(
                             obj, kinds=("_parameters",)).values())),
                         stored_values=int(sum(v.size for v in tensors.values())))
    return dict(file=snap.source, format=f"NVIDIA PyTorch pickle ({snap.codebase})",
                family="stylegan2", variant=snap.codebase,
                resolution=snap.G_ema.init_kwargs.get("img_resolution"), networks=nets,
                **describe_extras(snap))

"""Shared machinery of the legacy converters: kwargs consumption and weight copying.

A converter describes a network declaratively: which NVIDIA kwargs it takes
(with defaults and allowed values), and a table of
`(nvidia_variable_name, keras_variable, transform)` rows. `assign_table`
copies every row and fails loudly, listing names, if a stored variable is
left unused or a Keras weight is left unfilled.
"""

import math

import numpy as np

from keras_stylegan.legacy.unpickler import LegacyFormatError, quote
from keras_stylegan.networks.common import num_features
from keras_stylegan.networks.generator import Generator

# Numeric kwargs: (type, lowest, highest). Far wider than any NVIDIA config;
# whether the stored variables can fill the network is checked separately
# (`check_size`) before any Keras weight is created.
NUMERIC_KWARGS = {
    "resolution": (int, 4, 2 ** 14), "num_channels": (int, 1, 2 ** 12),
    "latent_size": (int, 1, 2 ** 14), "dlatent_size": (int, 1, 2 ** 14),
    "label_size": (int, 0, 2 ** 16), "label_fmaps": (int, 1, 2 ** 14),
    "mapping_layers": (int, 0, 64), "mapping_fmaps": (int, 1, 2 ** 14),
    "fmap_base": (int, 1, 2 ** 24), "fmap_max": (int, 1, 2 ** 16),
    "fmap_min": (int, 1, 2 ** 16), "fmap_const": (int, 1, 2 ** 16),
    "fmap_decay": (float, 0.0, 16.0), "dlatent_broadcast": (int, 1, 2 ** 10),
    "truncation_cutoff": (int, 0, 2 ** 10), "mbstd_group_size": (int, 0, 2 ** 16),
    "mbstd_num_features": (int, 0, 2 ** 10), "num_fp16_res": (int, 0, 16),
    "conv_clamp": (float, 0.0, 1e30), "mapping_lrmul": (float, 0.0, 1e6),
    "truncation_psi": (float, -1e6, 1e6), "style_mixing_prob": (float, 0.0, 1.0),
    "dlatent_avg_beta": (float, 0.0, 1.0),
}
# Filter taps (blur_filter, resample_kernel): at most this many.
MAX_TAPS = 16


def _check_number(name, value, source, origin):
    kind, lo, hi = NUMERIC_KWARGS[name]
    ok = type(value) is int or (kind is float and type(value) is float and math.isfinite(value))
    if value is not None and not (ok and lo <= value <= hi):
        raise LegacyFormatError(
            f"{source}: unsupported {name}={quote(value)} (from {origin}); expected "
            f"{'an integer' if kind is int else 'a number'} in [{lo}, {hi}].")


def _check_taps(name, value, source, origin):
    if value is None:
        return
    if not (type(value) in (list, tuple) and 1 <= len(value) <= MAX_TAPS and all(
            type(t) in (int, float) and math.isfinite(t) for t in value)):
        raise LegacyFormatError(
            f"{source}: unsupported {name}={quote(value)} (from {origin}); expected a "
            f"list of 1 to {MAX_TAPS} numbers.")


class Kwargs:
    """NVIDIA static kwargs of one or more networks, consumed by name.

    Sub-networks repeat their parent's kwargs (NVIDIA's build functions take
    `**_kwargs`), so the kwargs of G, G_synthesis and G_mapping are merged;
    a name with two different values is an error.
    """

    def __init__(self, networks, source):
        self.source = source
        self.values, self.origin = {}, {}
        for net in networks:
            for key, value in net.static_kwargs.items():
                if key in self.values and _differs(self.values[key], value):
                    raise LegacyFormatError(
                        f"{source}: kwarg {quote(key)} is {quote(self.values[key])} in "
                        f"{quote(self.origin[key])} but {quote(value)} in {quote(net.name)}.")
                self.values[key], self.origin[key] = value, net.name
        self.used = set()

    def take(self, name, default, choices=None):
        """The value of `name` (or `default`), checked against `choices`."""
        self.used.add(name)
        value = self.values.get(name, default)
        origin = self.origin.get(name, "defaults")
        if choices is not None and not any(_same(value, c) for c in choices):
            raise LegacyFormatError(
                f"{self.source}: unsupported {name}={quote(value)} (from {quote(origin)}); "
                f"keras-stylegan supports {list(choices)}.")
        if name in NUMERIC_KWARGS:
            _check_number(name, value, self.source, origin)
        elif name in ("blur_filter", "resample_kernel"):
            _check_taps(name, value, self.source, origin)
        return value

    def ignore(self, *names):
        """Marks kwargs that do not change the network's numbers as consumed."""
        self.used.update(names)

    def check_all_used(self):
        unknown = sorted(set(self.values) - self.used)
        if unknown:
            details = ", ".join(f"{quote(k)[1:-1]}={quote(self.values[k])} ({self.origin[k]})"
                                for k in unknown[:20])
            raise LegacyFormatError(
                f"{self.source}: unknown kwargs {details}. They may change the network "
                "in ways keras-stylegan does not implement; please report this file.")


def _same(a, b):
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and \
            list(a) == list(b)
    return type(a) is type(b) and a == b or (
        isinstance(a, (int, float)) and isinstance(b, (int, float))
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def _differs(a, b):
    return not _same(a, b)


# Layout transforms from NVIDIA's NCHW world to ours.
def identity(x):
    return x


def nchw_to_nhwc(x):
    """[1, C, H, W] constants and noise maps -> [1, H, W, C]."""
    return np.transpose(x, (0, 2, 3, 1))


def flatten_rows_chw_to_hwc(channels, size=4):
    """Dense weight rows ordered (c, h, w) -> (h, w, c), for a flatten of NHWC."""
    def transform(w):
        out = w.shape[-1]
        return w.reshape(channels, size, size, out).transpose(1, 2, 0, 3).reshape(-1, out)
    return transform


def assign_table(table, source_vars, model, where, source, superseded=()):
    """Copies NVIDIA variables into Keras weights, strictly.

    Args:
        table: rows `(nvidia_name, keras_variable, transform)`.
        source_vars: {nvidia_name: array} of the stored network.
        model: the Keras model whose every weight must be filled.
        where: 'G', 'D' or 'Gs', for messages.
        superseded: stored names that NVIDIA's forward pass overrides at run
            time (consumed, not copied).
    """
    filled, used = set(), set(superseded)
    for name, variable, transform in table:
        if name not in source_vars:
            raise LegacyFormatError(
                f"{source}: {where} lacks variable {name!r} that this architecture needs.")
        try:
            value = np.asarray(transform(source_vars[name]), dtype=np.float32)
        except ValueError:  # a layout transform cannot reshape or transpose it
            value = None
        if value is None or tuple(value.shape) != tuple(variable.shape):
            raise LegacyFormatError(
                f"{source}: {where}/{name} has shape {list(source_vars[name].shape)} "
                f"(-> {'?' if value is None else list(value.shape)}), but {variable.path} "
                f"needs {list(variable.shape)}.")
        variable.assign(value)
        filled.add(id(variable))
        used.add(name)
    unused = [n for n in source_vars if n not in used]
    unfilled = [v.path for v in model.weights
                if id(v) not in filled and not v.path.endswith("seed_generator_state")]
    if unused or unfilled:
        raise LegacyFormatError(
            f"{source}: {where} does not match its architecture: stored variables not "
            f"used: {unused}; Keras weights not filled: {unfilled}.")


def build_generator(net, source, name, make_config):
    """Builds the `Generator` of a G network from its kwargs (weights not copied yet).

    `make_config(kw)` consumes the family's kwargs from the merged kwargs of
    G, G_synthesis and G_mapping and returns `(Generator kwargs, meta)`.
    Returns `(generator, meta)`.
    """
    synth, mapping = net.components["synthesis"], net.components["mapping"]
    kw = Kwargs([net, synth, mapping], source)
    config, meta = make_config(kw)
    broadcast = kw.take("dlatent_broadcast", None)
    kw.check_all_used()
    check_size(generator_size, config, net, source)
    G = construct(Generator, source, net.name, name=name or net.name, **config)
    if broadcast not in (None, G.num_ws):
        raise LegacyFormatError(
            f"{source}: dlatent_broadcast={broadcast} but the synthesis network has "
            f"{G.num_ws} style layers.")
    return G, meta


def construct(cls, source, where, **config):
    """`cls(**config)`, with a refusal of the kwargs as `LegacyFormatError`."""
    try:
        return cls(**config)
    except LegacyFormatError:
        raise
    except (ValueError, TypeError) as e:
        raise LegacyFormatError(
            f"{source}: the kwargs of {where} describe a network keras-stylegan cannot "
            f"build: {quote(str(e))[1:-1]}") from None


def _features(config):
    base, decay = config["fmap_base"], config.get("fmap_decay", 1.0)
    fmax, fmin = config["fmap_max"], config.get("fmap_min", 1)
    return lambda stage: num_features(stage, base, decay, fmax, fmin)


def _resolution_log2(config):
    # Not a power of two: the network's constructor refuses it (see `construct`).
    return int(config["resolution"]).bit_length() - 1


def discriminator_size(config):
    """A lower bound of a discriminator's parameter count: its 3x3 `Conv0` kernels."""
    nf, r = _features(config), _resolution_log2(config)
    return sum(9 * nf(k - 1) ** 2 for k in range(3, r + 1))


def generator_size(config):
    """A lower bound of a `Generator`'s parameter count (mapping, convs, noise, labels)."""
    m, syn = config["mapping_kwargs"], dict(config["synthesis_kwargs"])
    syn["resolution"] = config["resolution"]
    layers, fmaps = m["mapping_layers"], m["mapping_fmaps"]
    outs = [fmaps] * (layers - 1) + [config["dlatent_size"]] if layers else []
    ins = [config["latent_size"]] + [fmaps] * (layers - 1)
    size = sum(i * o for i, o in zip(ins, outs))
    size += config["label_size"] * (m.get("label_fmaps") or config["latent_size"])
    size += discriminator_size(syn)  # G's Conv1 kernels have D's Conv0 shapes
    if syn.get("use_noise", True):
        size += sum(2 * 4 ** k for k in range(3, _resolution_log2(syn) + 1))
    return size


def check_size(size, config, net, source):
    """Refuses kwargs whose network needs more weights than `net` stores, before building.

    `size(config)` is a lower bound of the parameter count of the network that
    `config` describes (`generator_size`, `discriminator_size`).
    """
    try:
        lower_bound = size(config)
    except (TypeError, ValueError, OverflowError) as e:  # e.g. resolution=None
        raise LegacyFormatError(
            f"{source}: the kwargs of {net.name} describe a network keras-stylegan cannot "
            f"build: {quote(str(e))[1:-1]}") from None
    stored = net.num_params(trainable_only=False)
    if lower_bound > stored:
        raise LegacyFormatError(
            f"{source}: the kwargs of {net.name} describe a network of at least "
            f"{lower_bound:,} parameters, but the file stores {stored:,} values; the "
            "file is corrupt or was tampered with.")

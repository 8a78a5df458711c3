"""Shared machinery of the legacy converters: kwargs consumption and weight copying.

A converter describes a network declaratively: which NVIDIA kwargs it takes
(with defaults and allowed values), and a table of
`(nvidia_variable_name, keras_variable, transform)` rows. `assign_table`
copies every row and fails loudly, listing names, if a stored variable is
left unused or a Keras weight is left unfilled.
"""

import numpy as np

from keras_stylegan.legacy.unpickler import LegacyFormatError
from keras_stylegan.networks.generator import Generator


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
                        f"{source}: kwarg {key!r} is {self.values[key]!r} in "
                        f"{self.origin[key]} but {value!r} in {net.name}.")
                self.values[key], self.origin[key] = value, net.name
        self.used = set()

    def take(self, name, default, choices=None):
        """The value of `name` (or `default`), checked against `choices`."""
        self.used.add(name)
        value = self.values.get(name, default)
        if choices is not None and not any(_same(value, c) for c in choices):
            raise LegacyFormatError(
                f"{self.source}: unsupported {name}={value!r} (from {self.origin.get(name)}); "
                f"keras-stylegan supports {list(choices)}.")
        return value

    def ignore(self, *names):
        """Marks kwargs that do not change the network's numbers as consumed."""
        self.used.update(names)

    def check_all_used(self):
        unknown = sorted(set(self.values) - self.used)
        if unknown:
            details = ", ".join(f"{k}={self.values[k]!r} ({self.origin[k]})" for k in unknown)
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
        value = np.asarray(transform(source_vars[name]), dtype=np.float32)
        if tuple(value.shape) != tuple(variable.shape):
            raise LegacyFormatError(
                f"{source}: {where}/{name} has shape {list(source_vars[name].shape)} "
                f"(-> {list(value.shape)}), but {variable.path} needs {list(variable.shape)}.")
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
    G = Generator(name=name or net.name, **config)
    if broadcast not in (None, G.num_ws):
        raise LegacyFormatError(
            f"{source}: dlatent_broadcast={broadcast} but the synthesis network has "
            f"{G.num_ws} style layers.")
    return G, meta

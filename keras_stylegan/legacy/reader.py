"""Reads and validates the `(G, D, Gs)` states of a legacy network pickle."""

import dataclasses
import os

import numpy as np

from keras_stylegan.legacy import limits
from keras_stylegan.legacy.unpickler import (
    NetworkState,
    fail,
    quote,
    safe_load,
)

STATE_KEYS = ("version", "name", "static_kwargs", "components", "build_module_src",
              "build_func_name", "variables")
# StyleGAN2-ADA (TensorFlow) adds these after `variables`.
ADA_KEYS = ("input_shapes", "output_shapes", "input_names", "output_names")
SUPPORTED_VERSIONS = (2, 3, 4, 5)

# Generator build function -> family.
FAMILY_OF_GENERATOR = {"G_style": "stylegan1", "G_main": "stylegan2"}


@dataclasses.dataclass
class Network:
    """One network of a legacy pickle, as plain data.

    Attributes:
        name: NVIDIA's network name ('G', 'D', 'Gs', 'G_synthesis', ...).
        version: the state format version (3: StyleGAN, 4: StyleGAN2, 5: -ADA).
        build_func_name: NVIDIA's build function ('G_style', 'D_basic', ...).
        static_kwargs: the kwargs the network was built with.
        variables: {local name: float32 array} in stored order.
        components: {'synthesis': Network, 'mapping': Network} for generators.
        extra: any StyleGAN2-ADA keys (input_shapes, ...).
    """

    name: str
    version: int
    build_func_name: str
    static_kwargs: dict
    variables: dict
    components: dict
    extra: dict

    def all_variables(self):
        """{name: array}: own variables plus `sub_name/var` for sub-networks."""
        out = dict(self.variables)
        for comp in self.components.values():
            out.update({f"{comp.name}/{k}": v for k, v in comp.all_variables().items()})
        return out

    def num_params(self, trainable_only=True):
        """Number of stored values (excluding `lod` and noise maps if `trainable_only`)."""
        skip = ("lod", "dlatent_avg", "noise")
        return int(sum(v.size for k, v in self.all_variables().items()
                       if not (trainable_only and k.split("/")[-1].startswith(skip))))


@dataclasses.dataclass
class LegacyPickle:
    """The three networks of a legacy pickle plus the detected family."""

    G: Network
    D: Network
    Gs: Network
    family: str
    source: str


def plain_value(value, where, source):
    """`value` as plain data (None, bool, int, float, str, list, tuple, str-keyed dict).

    NVIDIA's kwargs are plain Python values. Anything else (arrays, network
    objects), values nested deeper than `MAX_KWARG_DEPTH`, and more than
    `MAX_KWARG_VALUES` values or `MAX_KWARG_CHARS` characters of strings, counted
    as often as they are referenced (so shared values cannot multiply), are refused.
    NumPy numeric scalars become Python numbers. Works without recursion.
    """
    budget, chars = [limits.MAX_KWARG_VALUES], [limits.MAX_KWARG_CHARS]

    def convert(v, depth):
        budget[0] -= 1
        if budget[0] < 0:
            fail(source, f"{where} holds more than {limits.MAX_KWARG_VALUES:,} values "
                          "(counting shared ones each time); NVIDIA's hold a few dozen.")
        if depth > limits.MAX_KWARG_DEPTH:
            fail(source, f"{where} is nested more than {limits.MAX_KWARG_DEPTH} levels deep.")
        if v is None or type(v) in (bool, float):
            return v
        if type(v) is int:
            if abs(v) > 2 ** 63:
                fail(source, f"{where} holds an integer with {v.bit_length()} bits.")
            return v
        if isinstance(v, np.generic) and v.dtype.kind in "biuf" and v.ndim == 0:
            return v.item()
        if type(v) is str:
            chars[0] -= len(v)
            if chars[0] < 0:
                fail(source, f"{where} holds more than {limits.MAX_KWARG_CHARS:,} characters "
                              "of text (counting shared strings each time).")
            return v
        if type(v) in (list, tuple):
            return type(v)(convert(x, depth + 1) for x in v)
        if type(v) is dict and all(type(k) is str for k in v):
            return {k: convert(x, depth + 1) for k, x in v.items()}
        fail(source, f"{where} holds a {type(v).__name__}; network kwargs are plain "
                      "numbers, strings, lists and dicts.")

    # Depth is bounded by MAX_KWARG_DEPTH, far below Python's recursion limit.
    return convert(value, 0)


def _name(value, what, where, source):
    if type(value) is not str or len(value) > limits.MAX_NAME_CHARS:
        fail(source, f"network {where}: {what} is not a name (got {type(value).__name__}).")
    return value


def _array(value, where, source):
    if isinstance(value, np.generic):  # 0-d variables are stored as NumPy scalars
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        fail(source, f"variable {where} is a {type(value).__name__}, not an array.")
    if value.dtype != np.float32:
        fail(source, f"variable {where} has dtype {value.dtype}, expected float32.")
    return value


def _variables(items, where, source):
    if type(items) not in (list, tuple) or len(items) > limits.MAX_VARIABLES:
        fail(source, f"network {where}: malformed variables list.")
    variables = {}
    for item in items:
        if not (type(item) is tuple and len(item) == 2 and type(item[0]) is str
                and len(item[0]) <= limits.MAX_NAME_CHARS):
            fail(source, f"network {where}: malformed variables list.")
        variables[item[0]] = _array(item[1], f"{where}/{item[0]}", source)
    return variables


def _network(obj, where, source, seen, depth=0):
    """Validates one network state (and its components, at most MAX_COMPONENT_DEPTH deep)."""
    if type(obj) is not NetworkState or type(getattr(obj, "state", None)) is not dict:
        fail(source, f"{where} is not a dnnlib Network (got {type(obj).__name__}).")
    if id(obj) in seen or len(seen) >= limits.MAX_NETWORKS:
        fail(source, f"network {where} is shared with another network, or the file holds "
                      f"more than {limits.MAX_NETWORKS} networks; NVIDIA's files hold "
                      "G, D, Gs and their components, each once.")
    seen.add(id(obj))
    state = obj.state
    missing = [k for k in STATE_KEYS if k not in state and k != "components"]
    unknown = [k for k in state if k not in STATE_KEYS + ADA_KEYS]
    if missing or unknown:
        fail(source, f"network {where} has an unexpected state: missing keys {missing}, "
                      f"unknown keys {[quote(k) for k in unknown]}.")
    version = state["version"]
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        fail(source, f"network {where} has format version {quote(version)}; supported "
                      f"versions are {SUPPORTED_VERSIONS}.")
    if type(state["static_kwargs"]) is not dict:
        fail(source, f"network {where}: static_kwargs is not a dict.")
    kwargs = plain_value(state["static_kwargs"], f"network {where}: static_kwargs", source)
    components = state.get("components") or {}
    if type(components) is not dict or not all(type(k) is str for k in components) or (
            components and depth >= limits.MAX_COMPONENT_DEPTH):
        fail(source, f"network {where}: components must be a dict of networks at most "
                      f"{limits.MAX_COMPONENT_DEPTH} levels deep.")
    return Network(
        name=_name(state["name"], "name", where, source), version=version,
        build_func_name=_name(state["build_func_name"], "build_func_name", where, source),
        static_kwargs=kwargs, variables=_variables(state["variables"], where, source),
        components={k: _network(v, f"{where}.components.{k}", source, seen, depth + 1)
                    for k, v in components.items()},
        extra={k: plain_value(state[k], f"network {where}: {k}", source)
               for k in ADA_KEYS if k in state})


def read_network_pkl(path_or_bytes):
    """Reads a legacy NVIDIA pickle into plain data, without building networks.

    Nothing stored in the file is executed (see `unpickler`).

    Args:
        path_or_bytes: a file path, or the file's bytes.

    Returns:
        `LegacyPickle` with `G`, `D`, `Gs` and `family`.

    Example:

    >>> p = read_network_pkl("stylegan2-ffhq-config-f.pkl")  # doctest: +SKIP
    >>> p.family, p.Gs.static_kwargs["resolution"]              # doctest: +SKIP
    ('stylegan2', 1024)
    """
    if isinstance(path_or_bytes, (bytes, bytearray)):
        data, source = bytes(path_or_bytes), "<bytes>"
    else:
        source = os.fspath(path_or_bytes)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"No such network pickle: {source}")
        size = os.path.getsize(source)
        if size > limits.MAX_FILE_BYTES:
            fail(source, f"{size:,} bytes is over the limit of {limits.MAX_FILE_BYTES:,} "
                          "bytes for a network pickle.")
        with open(source, "rb") as f:
            data = f.read(size + 1)  # one more byte: safe_load sees a file that grew
    obj = safe_load(data, source)
    if not (isinstance(obj, tuple) and len(obj) == 3):
        fail(source, "expected the tuple (G, D, Gs) that NVIDIA's training code writes; "
                      f"found {type(obj).__name__}.")
    seen = set()
    G, D, Gs = (_network(o, n, source, seen) for o, n in zip(obj, ("G", "D", "Gs")))
    family = FAMILY_OF_GENERATOR.get(G.build_func_name)
    if family is None or Gs.build_func_name != G.build_func_name:
        fail(source, f"unknown generator architecture {quote(G.build_func_name)}; supported: "
                      f"{sorted(FAMILY_OF_GENERATOR)} (StyleGAN, StyleGAN2, StyleGAN2-ADA).")
    return LegacyPickle(G=G, D=D, Gs=Gs, family=family, source=source)

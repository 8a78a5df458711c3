"""Reads and validates the `(G, D, Gs)` states of a legacy network pickle."""

import dataclasses
import os

import numpy as np

from keras_stylegan.legacy.unpickler import LegacyFormatError, NetworkState, safe_load

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


def _fail(source, msg):
    raise LegacyFormatError(f"{source}: {msg}")


def _network(obj, where, source):
    if not isinstance(obj, NetworkState) or not isinstance(getattr(obj, "state", None), dict):
        _fail(source, f"{where} is not a dnnlib Network (got {type(obj).__name__}).")
    state = obj.state
    missing = [k for k in STATE_KEYS if k not in state and k != "components"]
    unknown = [k for k in state if k not in STATE_KEYS + ADA_KEYS]
    if missing or unknown:
        _fail(source, f"network {where} has an unexpected state: missing keys {missing}, "
                      f"unknown keys {unknown}.")
    version = state["version"]
    if version not in SUPPORTED_VERSIONS:
        _fail(source, f"network {where} has format version {version!r}; supported "
                      f"versions are {SUPPORTED_VERSIONS}.")
    if not isinstance(state["static_kwargs"], dict):
        _fail(source, f"network {where}: static_kwargs is not a dict.")
    variables = {}
    for item in state["variables"]:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            _fail(source, f"network {where}: malformed variables list.")
        name, value = item
        value = np.asarray(value)
        if value.dtype != np.float32:
            _fail(source, f"variable {where}/{name} has dtype {value.dtype}, expected float32.")
        variables[name] = value
    components = {k: _network(v, f"{where}.components.{k}", source)
                  for k, v in (state.get("components") or {}).items()}
    return Network(name=state["name"], version=version,
                   build_func_name=state["build_func_name"],
                   static_kwargs=dict(state["static_kwargs"]), variables=variables,
                   components=components, extra={k: state[k] for k in ADA_KEYS if k in state})


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
        with open(source, "rb") as f:
            data = f.read()
    obj = safe_load(data, source)
    if not (isinstance(obj, tuple) and len(obj) == 3):
        _fail(source, "expected the tuple (G, D, Gs) that NVIDIA's training code writes; "
                      f"found {type(obj).__name__}.")
    G, D, Gs = (_network(o, n, source) for o, n in zip(obj, ("G", "D", "Gs")))
    family = FAMILY_OF_GENERATOR.get(G.build_func_name)
    if family is None or Gs.build_func_name != G.build_func_name:
        _fail(source, f"unknown generator architecture {G.build_func_name!r}; supported: "
                      f"{sorted(FAMILY_OF_GENERATOR)} (StyleGAN, StyleGAN2, StyleGAN2-ADA).")
    return LegacyPickle(G=G, D=D, Gs=Gs, family=family, source=source)

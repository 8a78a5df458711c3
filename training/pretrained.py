"""Starting a training run from a pretrained network (`keras-stylegan train --init NET`).

NET is anything `generate` accepts: an NVIDIA pickle (TF1 with G, D, Gs;
PyTorch with G, D, G_ema), a `.keras` generator snapshot, a training run
directory (its newest checkpoint: G, D and Gs), a checkpoint prefix
(`RUN/checkpoints/ckpt-N`) or `preset:NAME`.

* `load(spec)` reads NET into a `Pretrained` (its G, D, Gs and architecture).
* `configure(cfg, net, keep)` makes a config train NET's own architecture:
  family, G_kwargs, D_kwargs, labels and no progressive growing come from NET
  (except the keys in `keep`, which the user named); the config supplies the
  training hyperparameters.
* `check_data(net, ...)` refuses a dataset at another resolution (or with
  other channels or labels) than NET.
* `copy_into(net, G, D, Gs)` copies NET's weights (with `w_avg`) into a run's
  networks where names and shapes agree (NVIDIA's `copy_params_and_buffers`),
  with one error listing every layer whose shape does not fit.

Example:

>>> from keras_stylegan.training import configs, pretrained
>>> net = pretrained.load("preset:stylegan2-tiny-32")
>>> cfg = pretrained.configure(configs.get("stylegan2"), net)
>>> cfg["family"], cfg["G_kwargs"]["latent_size"], cfg["init"]
('stylegan2', 64, 'preset:stylegan2-tiny-32')
"""

import copy
import dataclasses
import json
import os

from keras_stylegan.errors import ConfigError, NetworkFileError

# Generator constructor arguments that a config's G_kwargs holds (the rest,
# resolution, channels and labels, come from the data).
G_KEYS = ("latent_size", "dlatent_size", "mapping_kwargs", "synthesis_kwargs",
          "truncation_cutoff", "w_avg_beta")
# Discriminator get_config() entries that are not D_kwargs.
NOT_D_KWARGS = ("name", "trainable", "dtype", "resolution", "num_channels", "label_size")
# Synthesis settings a discriminator built for a generator alone shares with it.
SHARED_WITH_D = ("fmap_base", "fmap_decay", "fmap_min", "fmap_max", "nonlinearity",
                 "num_fp16_res", "conv_clamp", "resample_kernel", "blur_filter")


def _jsonable(value):
    return json.loads(json.dumps(value))


def _strip_root(path):
    return path.split("/", 1)[-1]


@dataclasses.dataclass
class Pretrained:
    """A network to start training from.

    Attributes:
        spec: what the user passed (recorded as the config key `init`).
        G, Gs: generators (G is Gs where NET holds only a generator).
        D: the discriminator, or None where NET holds none (a `.keras`
            snapshot, a preset): the run's D then starts from random weights.
        D_kwargs: NET's discriminator arguments (for a NET without D: the
            preset's, or the generator's channel settings).
        what: a description for the log ("TF1 pickle ...").
    """

    spec: str
    G: object
    D: object
    Gs: object
    D_kwargs: dict
    what: str

    @property
    def family(self):
        return self.Gs.family

    @property
    def resolution(self):
        return self.Gs.resolution

    @property
    def num_channels(self):
        return self.Gs.num_channels

    @property
    def label_size(self):
        return self.Gs.label_size

    def G_kwargs(self):
        config = self.Gs.get_config()
        return _jsonable({k: config[k] for k in G_KEYS})

    def arch(self):
        """The config keys of NET's architecture (JSON values, as config.json holds them)."""
        return dict(family=self.family, G_kwargs=self.G_kwargs(),
                    D_kwargs=_jsonable(self.D_kwargs))

    def check_data(self, resolution, num_channels, label_size, asked=None):
        """See `check_data` (`training.loop` calls it through the object)."""
        check_data(self, resolution, num_channels, label_size, asked)

    def copy_into(self, G, D, Gs):
        """See `copy_into`; returns the log lines."""
        return copy_into(self, G, D, Gs, print_fn=lambda line: None)


def load(spec):
    """Reads NET (see the module docstring) into a `Pretrained`.

    Raises `NetworkFileError`, `FileNotFoundError`, `ConfigError` or the
    legacy importer's `LegacyFormatError`, each naming the file.
    """
    from keras_stylegan import legacy, loading, presets
    spec = os.fspath(spec)
    if spec.startswith("preset:"):
        name = spec[len("preset:"):]
        G = presets.generator(name)
        disc = presets.get(name)["discriminator"]
        D_kwargs = {k: v for k, v in disc.items() if k not in ("family",) + NOT_D_KWARGS}
        return Pretrained(spec, G, None, G, D_kwargs, f"preset {name} (random weights)")
    if os.path.isdir(spec) or os.path.isfile(spec + ".index"):
        return _load_run(spec)
    if not os.path.exists(spec):
        raise FileNotFoundError(f"--init: no such network file: {spec}")
    if spec.endswith(".keras"):
        G = loading.load_generator(spec)
        return Pretrained(spec, G, None, G, _d_kwargs_for(G), f"generator snapshot {spec}")
    nets = legacy.load_network_pkl(spec, networks=("G", "D", "Gs"))
    kind = "PyTorch" if nets["meta"].get("format") == "pytorch" else "TF1"
    return Pretrained(spec, nets["G"], nets["D"], nets["Gs"], _d_config(nets["D"]),
                      f"NVIDIA {kind} pickle {spec} ({nets['meta']['family']})")


def _d_config(D):
    return {k: v for k, v in D.get_config().items() if k not in NOT_D_KWARGS}


def _d_kwargs_for(G):
    """D arguments for a generator alone: its channel settings (as NVIDIA's configs
    and the presets give G and D the same fmap_base, fmap_max, ...)."""
    import inspect

    from keras_stylegan.networks.registry import discriminator_class
    accepted = inspect.signature(discriminator_class(G.family).__init__).parameters
    return {k: v for k, v in G.synthesis_kwargs.items()
            if k in SHARED_WITH_D and k in accepted}


def _load_run(spec):
    """A run directory (newest checkpoint) or one checkpoint prefix: G, D and Gs."""
    from keras_stylegan import loading
    from keras_stylegan.training import loop
    if os.path.isdir(spec):
        run_dir = spec
        ckpt = loop.tf_latest_checkpoint(os.path.join(spec, loop.CHECKPOINT_DIR))
    else:
        ckpt, run_dir = spec, os.path.dirname(os.path.dirname(os.path.abspath(spec)))
    config_path = os.path.join(run_dir, "config.json")
    if ckpt is None or not os.path.isfile(config_path):
        G = loading.load_generator(spec)  # a snapshot, or a clear error
        return Pretrained(spec, G, None, G, _d_kwargs_for(G),
                          f"newest generator snapshot of {spec} (no checkpoint)")
    stored = _read_run_config(config_path)
    try:
        G, D, Gs = loop.build_networks(stored, "float32")
    except ConfigError as e:
        raise NetworkFileError(f"--init: {config_path}: {e}") from None
    _restore(ckpt, G, D, Gs)
    return Pretrained(spec, G, D, Gs, _d_config(D), f"training checkpoint {ckpt}")


def _read_run_config(path):
    from keras_stylegan.json_file import read_json_object
    stored = read_json_object(path, "the config.json of a keras-stylegan training run",
                              error=_InitFileError)
    if not all(k in stored for k in ("family", "resolution", "num_channels", "label_size",
                                     "G_kwargs", "D_kwargs")) or not all(
            isinstance(stored[k], dict) for k in ("G_kwargs", "D_kwargs")):
        raise NetworkFileError(f"--init: {path} is not the config.json of a keras-stylegan "
                               "training run (network keys missing).")
    return stored


class _InitFileError(NetworkFileError):
    """A NetworkFileError whose message starts with '--init: '."""

    def __init__(self, message):
        super().__init__(f"--init: {message}")


def _restore(ckpt, G, D, Gs):
    import tensorflow as tf

    from keras_stylegan.training import loop
    parts = dict(G=loop._variables_by_path(G), D=loop._variables_by_path(D),
                 Gs=loop._variables_by_path(Gs))
    try:
        status = tf.train.Checkpoint(**parts).restore(ckpt)
        status.assert_existing_objects_matched().expect_partial()
    except (tf.errors.OpError, AssertionError, ValueError) as e:
        raise NetworkFileError(
            f"--init: the checkpoint {ckpt} does not hold the networks its run's "
            f"config.json describes ({str(e).splitlines()[0][:300]}).") from None


def configure(cfg, net, keep=()):
    """`cfg` set to train `net`'s own architecture; returns a new config.

    Sets `init` to `net.spec`; `family`, `G_kwargs` and `D_kwargs` to NET's;
    `use_labels` to follow NET (conditional or not); and
    `progressive` to False: a pretrained StyleGAN1 network trains at its full
    resolution from the first step (lod 0), it does not grow again from
    8 px. Keys in `keep` (those the user named, e.g. `--set G_kwargs=...`)
    are left as they are; networks named that way receive NET's weights where
    names and shapes agree (`copy_into`). `resolution` stays the config's, as
    without --init: None (the dataset's own), or the one the config or
    `--resolution` names, to which the dataset is resized; `check_data`
    compares the result with NET's.
    """
    cfg = copy.deepcopy(cfg)
    keep = set(keep)
    cfg["init"] = net.spec
    for key, value in net.arch().items():
        if key not in keep:
            cfg[key] = value
    if "progressive" not in keep:
        cfg["progressive"] = False
    if "use_labels" not in keep:
        if not net.label_size:
            cfg["use_labels"] = False
        elif not cfg.get("use_labels"):
            cfg["use_labels"] = True
    _check_trainable(net, cfg)
    return cfg


def _check_trainable(net, cfg):
    synthesis = cfg["G_kwargs"].get("synthesis_kwargs")
    G_progressive = isinstance(synthesis, dict) and synthesis.get("progressive", False)
    if cfg["family"] == "stylegan2" and (G_progressive or cfg["D_kwargs"].get("progressive")):
        raise ConfigError(
            f"--init {net.spec}: a StyleGAN2 config a-d network (progressive growing) cannot "
            "be trained by keras-stylegan (generate and export use it); fine-tune a "
            "config e/f or StyleGAN2-ADA network.")


def check_data(net, resolution, num_channels, label_size, asked=None):
    """Raises `ConfigError` unless the dataset (as resolved) fits NET; `asked`
    is the config's `resolution` (the config's own or --resolution), None
    where the dataset keeps its own."""
    if asked is not None and resolution != net.resolution:
        raise ConfigError(
            f"--init {net.spec} is a {net.resolution}x{net.resolution} network, but the "
            f"run trains at {resolution}x{resolution} (resolution {asked} of the config or "
            f"--resolution): pass --resolution {net.resolution}, or a config without "
            "a resolution.")
    if resolution != net.resolution:
        fix = (f"pass --resolution {net.resolution} to downsample the dataset"
               if resolution > net.resolution else
               f"use images of at least {net.resolution}x{net.resolution} px")
        raise ConfigError(
            f"--init {net.spec} is a {net.resolution}x{net.resolution} network, but the "
            f"dataset is {resolution}x{resolution}: {fix}.")
    if num_channels != net.num_channels:
        raise ConfigError(
            f"--init {net.spec} makes {net.num_channels}-channel images, but the dataset has "
            f"{num_channels} channel(s); use a dataset with {net.num_channels}.")
    if label_size != net.label_size:
        have = f"{label_size} label columns" if label_size else "no labels"
        if net.label_size:
            fix = (f"train on a dataset with {net.label_size} labels (--labels; a "
                   "dataset.json of labels)")
        else:
            fix = "drop --labels / use_labels"
        kind = (f"conditional with {net.label_size} labels" if net.label_size
                else "unconditional")
        raise ConfigError(f"--init {net.spec} is {kind}, but the dataset gives {have}: {fix}.")


def copy_into(net, G, D, Gs, print_fn=print):
    """Copies NET's G, D (when it has one) and Gs weights, `w_avg` included, into
    a run's networks where names and shapes agree; returns a list of log lines.

    Raises `ConfigError` naming every layer whose shape differs (or when no
    weight of a network fits at all).
    """
    pairs = [("G", net.G, G), ("Gs", net.Gs, Gs)]
    if net.D is not None:
        pairs.insert(1, ("D", net.D, D))
    plans = [(where, _plan(src, dst)) for where, src, dst in pairs]
    problems = [f"{where}: " + "; ".join(plan["mismatch"]) for where, plan in plans
                if plan["mismatch"]]
    problems += [f"{where}: no weight of NET has the name and shape of one of the run's"
                 for where, plan in plans if not plan["copy"]]
    if problems:
        raise ConfigError(
            f"--init {net.spec} does not fit the run's networks (the config's G_kwargs / "
            f"D_kwargs / family): {' | '.join(problems)}. Leave the networks to --init "
            "(drop --set G_kwargs/D_kwargs/family), or name ones whose layers match.")
    lines = [f"Initialised from {net.what}"]
    for where, plan in plans:
        for dst, value in plan["copy"]:
            dst.assign(value)
        extra = ""
        if plan["fresh"]:
            extra += f"; kept random (not in NET): {', '.join(plan['fresh'])}"
        if plan["unused"]:
            extra += f"; not used (not in the run's {where}): {', '.join(plan['unused'])}"
        lines.append(f"  {where}: {len(plan['copy'])} weights copied{extra}")
    if net.D is None:
        lines.append("  D: NET has no discriminator: D starts from random weights "
                     "(seeded by --seed)")
    for line in lines:
        print_fn(line)
    return lines


def _plan(src, dst):
    """Which weights of `dst` receive which of `src` (by path without the model
    name); the names that do not fit."""
    import numpy as np
    source = {_strip_root(v.path): v for v in src.weights}
    out = dict(copy=[], mismatch=[], fresh=[])
    for v in dst.weights:
        name = _strip_root(v.path)
        if name.endswith("seed_generator_state"):
            continue
        s = source.pop(name, None)
        if s is None:
            out["fresh"].append(name)
        elif tuple(s.shape) != tuple(v.shape):
            out["mismatch"].append(f"{name} is {list(s.shape)} in NET, {list(v.shape)} here")
        else:
            out["copy"].append((v, np.asarray(s.numpy(), dtype=v.dtype)))
    out["unused"] = [n for n in source if not n.endswith("seed_generator_state")]
    return out

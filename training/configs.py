"""Training configurations: NVIDIA's paper setups and small CPU configs.

A config is a flat, JSON-serializable dict. `DEFAULTS` holds every key with
NVIDIA's StyleGAN1 values; each named config overrides only what differs
(flax `configs/` style); command-line options override last; `resolve`
fills in what depends on the dataset and the number of replicas. The
resolved config is written to the run directory as `config.json`.

Example:

>>> from keras_stylegan.training import configs
>>> cfg = configs.get("paper-256", total_kimg=100)
>>> cfg["lod_initial_resolution"], cfg["r1_gamma"], cfg["total_kimg"]
(8, 10.0, 100)
>>> sorted(configs.CONFIGS)[:3]
['cpu-demo', 'cpu-small', 'paper']
"""

import copy
import json

from keras_stylegan.errors import ConfigError
from keras_stylegan.training import rules

# NVIDIA StyleGAN1 train.py: global minibatch per resolution by GPU count.
PAPER_MINIBATCH = {
    1: (4, {4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8, 512: 4}),
    2: (8, {4: 256, 8: 256, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8}),
    4: (16, {4: 512, 8: 256, 16: 128, 32: 64, 64: 32, 128: 16}),
    8: (32, {4: 512, 8: 256, 16: 128, 32: 64, 64: 32}),
}
PAPER_LRATE = {128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}

DEFAULTS = dict(
    description="",
    family="stylegan1",
    # Data.
    data="builtin",
    resolution=None,            # None: the dataset's own
    use_labels=False,           # True, or built-in factor names: "shape", "shape,color"
    max_images=None,
    builtin_fixed=None,         # built-in only: factors held fixed, e.g. {"x": 0.5, "y": 0.5}
    mirror_augment=False,
    # Networks: extra Generator / Discriminator kwargs (resolution, channels
    # and label size come from the data). Empty = NVIDIA's full size.
    G_kwargs={},
    D_kwargs={},
    init=None,                  # start from this network (train --init; training.pretrained)
    freezed=0,                  # Freeze-D: D's N highest-resolution blocks stay fixed
    # Progressive growing and schedules (NVIDIA's TrainingSchedule).
    progressive=True,
    lod_initial_resolution=8,
    lod_training_kimg=600.0,
    lod_transition_kimg=600.0,
    reset_opt_for_new_lod=True,
    minibatch_base=4,
    minibatch_dict={},
    minibatch_by_replicas=None,  # "paper": NVIDIA's dicts chosen by replica count
    G_lrate_base=0.001,
    G_lrate_dict={},
    D_lrate_base=0.001,
    D_lrate_dict={},
    total_kimg=25000,
    # Optimizers (Adam as NVIDIA).
    adam_beta1=0.0,
    adam_beta2=0.99,
    adam_epsilon=1e-8,
    # Losses and regularization.
    loss="r1",
    r1_gamma=10.0,
    wgan_lambda=10.0,
    wgan_epsilon=0.001,
    wgan_target=1.0,
    style_mixing_prob=0.9,
    G_smoothing_kimg=10.0,
    ema_rampup=None,
    # Lazy regularization and path length (StyleGAN2; 1 / 0 = StyleGAN1's off).
    D_reg_interval=1,            # R1 every N steps (lazy when > 1)
    G_reg_interval=1,            # path-length regularization every N steps
    pl_weight=0.0,
    pl_decay=0.01,
    pl_batch_shrink=2,
    # Adaptive discriminator augmentation (StyleGAN2-ADA; training.augment).
    aug="noaug",                 # 'noaug', 'fixed' (p = aug_p) or 'ada'
    aug_p=0.0,                   # fixed p, or ADA's initial p
    augpipe="bgc",               # pipeline preset: blit, geom, color, ..., bgcfnc
    ada_target=0.6,              # ADA's target for r_t = E[sign(D(reals))]
    ada_kimg=500.0,              # ADA's speed: p changes by at most 1 per ada_kimg
    ada_interval=4,              # steps between updates of p
    # Execution.
    seed=0,
    mixed_precision=False,
    steps_per_execution=1,
    jit_compile=False,
    deterministic=False,
    # Monitoring and snapshots.
    tick_kimg=None,              # console progress every N kimg (None: automatic)
    log_steps=10,                # TensorBoard scalars every N steps
    snap_kimg=50.0,              # image grid + network snapshot every N kimg
    checkpoint_kimg=None,        # checkpoint every N kimg (None: = snap_kimg)
    keep_checkpoints=3,
    grid_size=[8, 4],            # columns, rows of the image grids
    grid_scale=1,                # pixel enlargement of the grid PNGs (small images)
    grid_seed=0,
    metrics=[],                  # metric names computed at every snapshot (train --metrics)
)

# Small networks for CPU runs.
_SMALL_G = dict(latent_size=128, dlatent_size=128,
                mapping_kwargs=dict(mapping_fmaps=128, mapping_layers=4),
                synthesis_kwargs=dict(fmap_base=1024, fmap_max=128))
_SMALL_D = dict(fmap_base=1024, fmap_max=128)

CONFIGS = {
    "paper": dict(
        description="StyleGAN paper setup at the dataset's resolution: full-size "
                    "networks, progressive growing from 8 px (600+600 kimg per level), "
                    "NVIDIA's minibatch and learning-rate dicts, R1 gamma 10, 25000 kimg.",
        minibatch_by_replicas="paper",
        G_lrate_dict=PAPER_LRATE, D_lrate_dict=PAPER_LRATE,
        snap_kimg=200.0),
    "cpu-small": dict(
        description="Small networks for CPU experiments at 32 px (batch 32, "
                    "progressive 8 -> 32 px, 60+60 kimg per level).",
        G_kwargs=_SMALL_G, D_kwargs=_SMALL_D,
        lod_training_kimg=60.0, lod_transition_kimg=60.0, minibatch_base=32,
        total_kimg=600, snap_kimg=20.0, reset_opt_for_new_lod=False),
    "cpu-demo": dict(
        description="The `make demo` run: small networks trained on the built-in shapes "
                    "at 16 px (8 -> 16 px) on a 2-core CPU in about 8.5 minutes, conditional "
                    "on the shape label (generate --class 0-4: a row per shape), objects "
                    "centred (builtin_fixed x = y = 0.5; shape, colour, size and background "
                    "vary). Deviations from the paper for speed at this scale: pixel norm "
                    "instead of instance norm in G, no style mixing, R1 gamma 1, batch 16, "
                    "lr 0.005 for G and 0.004 for D, mapping network at full learning rate "
                    "(lr multiplier 1), 64 channels up to 8 px and 32 at 16 px.",
        data="builtin", resolution=16, use_labels="shape", builtin_fixed={"x": 0.5, "y": 0.5},
        G_kwargs=dict(latent_size=64, dlatent_size=64,
                      mapping_kwargs=dict(mapping_fmaps=64, mapping_layers=4, mapping_lrmul=1.0),
                      synthesis_kwargs=dict(fmap_base=256, fmap_max=64,
                                            use_instance_norm=False, use_pixel_norm=True)),
        D_kwargs=dict(fmap_base=256, fmap_max=64),
        lod_initial_resolution=8, lod_training_kimg=30.0, lod_transition_kimg=10.0,
        reset_opt_for_new_lod=False, minibatch_base=16,
        G_lrate_base=0.005, D_lrate_base=0.004, r1_gamma=1.0, style_mixing_prob=0.0,
        G_smoothing_kimg=2.0, ema_rampup=0.05,
        total_kimg=250, snap_kimg=50.0, log_steps=20, tick_kimg=10.0, grid_scale=4),
    "tiny": dict(
        description="Minimal networks for tests (16-32 px, a few steps).",
        G_kwargs=dict(latent_size=16, dlatent_size=16,
                      mapping_kwargs=dict(mapping_fmaps=16, mapping_layers=2),
                      synthesis_kwargs=dict(fmap_base=64, fmap_max=16)),
        D_kwargs=dict(fmap_base=64, fmap_max=16),
        lod_training_kimg=0.064, lod_transition_kimg=0.064, minibatch_base=8,
        total_kimg=0.256, snap_kimg=0.064, log_steps=1, tick_kimg=0.032),
}
for _res in (32, 64, 128, 256, 512, 1024):
    CONFIGS[f"paper-{_res}"] = dict(
        CONFIGS["paper"], resolution=_res,
        description=f"StyleGAN paper setup at {_res}x{_res} (dataset resized if larger).")

# StyleGAN2 config-f (NVIDIA's run_training.py): no growing, lazy R1 every 16
# D steps, path-length regularization every 4 G steps (weight 2, decay 0.01,
# batch shrink 2), lr 0.002, global minibatch 32.
_SG2 = dict(family="stylegan2", progressive=False, minibatch_base=32,
            G_lrate_base=0.002, D_lrate_base=0.002, r1_gamma=10.0,
            D_reg_interval=16, G_reg_interval=4, pl_weight=2.0, pl_decay=0.01,
            pl_batch_shrink=2, reset_opt_for_new_lod=False)
CONFIGS.update({
    "stylegan2": dict(
        _SG2, snap_kimg=200.0,
        description="StyleGAN2 config-f at the dataset's resolution: full-size skip G / "
                    "residual D, no growing, lazy R1 (gamma 10, every 16 steps), path-length "
                    "regularization (weight 2, every 4 steps), batch 32, lr 0.002, 25000 kimg."),
    "stylegan2-small": dict(
        _SG2, resolution=32, minibatch_base=16, total_kimg=600, snap_kimg=20.0,
        G_kwargs=dict(_SMALL_G, synthesis_kwargs=dict(_SMALL_G["synthesis_kwargs"],
                                                      fused_modconv=False)),
        D_kwargs=_SMALL_D,
        description="StyleGAN2 with small networks for CPU experiments at 32 px (batch 16; "
                    "non-fused modulated convolution, the faster form on CPUs)."),
    "stylegan2-tiny": dict(
        _SG2, minibatch_base=8, total_kimg=0.256, snap_kimg=0.064, log_steps=1,
        tick_kimg=0.032, G_kwargs=CONFIGS["tiny"]["G_kwargs"],
        D_kwargs=CONFIGS["tiny"]["D_kwargs"],
        description="StyleGAN2 with minimal networks for tests (16-32 px, a few steps)."),
})
for _res in (256, 512, 1024):
    CONFIGS[f"stylegan2-{_res}"] = dict(
        CONFIGS["stylegan2"], resolution=_res,
        description=f"StyleGAN2 config-f at {_res}x{_res} (dataset resized if larger).")


# What a key accepts when its default is None ("automatic", None also accepted) or
# not enough; other keys accept the type of their default (a number: any number).
KEY_TYPES = dict(resolution=int, use_labels=(bool, str), max_images=int,
                 lod_initial_resolution=int, minibatch_base=int, D_reg_interval=int,
                 G_reg_interval=int, pl_batch_shrink=int, seed=int, steps_per_execution=int,
                 log_steps=int, keep_checkpoints=int, grid_scale=int, grid_seed=int,
                 ada_interval=int,
                          builtin_fixed=dict, minibatch_by_replicas=str, ema_rampup=float,
                          tick_kimg=float, checkpoint_kimg=float, init=str, freezed=int)
_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number",
               str: "a string", dict: "a JSON object {...}", list: "a JSON list [...]"}


def _accepts(kind, value):
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def check_value(key, value):
    """Raises `ConfigError` naming `key` unless `value` has the type the key takes.

    >>> check_value("r1_gamma", 5)
    >>> check_value("r1_gamma", "abc")
    Traceback (most recent call last):
    ...
    keras_stylegan.errors.ConfigError: Config key 'r1_gamma' takes a number; received 'abc' (e.g. --set r1_gamma=10.0).
    """
    if key not in DEFAULTS:
        raise ConfigError(f"Unknown config key {key!r}. Known keys: "
                          f"{', '.join(sorted(DEFAULTS))}.")
    default = DEFAULTS[key]
    if default is None and value is None:
        return
    kinds = KEY_TYPES.get(key) or (float if type(default) in (int, float) else type(default))
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if not any(_accepts(kind, value) for kind in kinds):
        expected = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        example = json.dumps(default if default is not None else EXAMPLES.get(key),
                             separators=(",", ":"))
        raise ConfigError(f"Config key {key!r} takes {expected}"
                          f"{' or null' if default is None else ''}; received {value!r} "
                          f"(e.g. --set {key}={example}).")


EXAMPLES = dict(resolution=256, use_labels=True, max_images=1000, builtin_fixed={"x": 0.5},
                minibatch_by_replicas="paper", ema_rampup=0.05, tick_kimg=4.0,
                checkpoint_kimg=50.0, init="ffhq.pkl")


def get(name, **overrides):
    """The config `name` on top of `DEFAULTS`, with `overrides` (unknown keys rejected)."""
    if name not in CONFIGS:
        raise ConfigError(f"Unknown training config {name!r}. Available: "
                          f"{', '.join(sorted(CONFIGS))}.")
    cfg = copy.deepcopy(DEFAULTS)
    cfg.update(copy.deepcopy(CONFIGS[name]))
    cfg["config"] = name
    for key, value in overrides.items():
        check_value(key, value)
        cfg[key] = copy.deepcopy(value)
    return cfg


def _check_family(cfg):
    from keras_stylegan.networks.common import check_family
    try:
        family = check_family(cfg["family"])
    except ValueError as e:
        raise ConfigError(f"Config key 'family': {e}") from None
    rules.check_growing(family, cfg["progressive"])
    if family == "stylegan2" and cfg["mixed_precision"]:
        raise ConfigError("--mixed-precision is for StyleGAN1. StyleGAN2 runs its highest "
                          "resolutions in float16 with G_kwargs/D_kwargs num_fp16_res and "
                          "conv_clamp (as NVIDIA's ADA code) instead.")
    lazy = (rules.is_lazy(cfg["D_reg_interval"], cfg["r1_gamma"])
            or rules.is_lazy(cfg["G_reg_interval"], cfg["pl_weight"]))
    rules.check_steps_per_execution(cfg["steps_per_execution"], lazy)


def _int_keys(d):
    return {int(k): v for k, v in (d or {}).items()}


def with_defaults(cfg):
    """A copy of `cfg` with every key it lacks at its default: a config stored
    by an earlier version (before a key existed) means that key's default.

    >>> with_defaults({"family": "stylegan2"})["aug"]
    'noaug'
    """
    out = copy.deepcopy(DEFAULTS)
    out.update(copy.deepcopy(cfg))
    return out


def resolve(cfg, resolution, num_channels, label_size, num_replicas):
    """Fills in the data- and device-dependent values; returns a new config.

    Sets `resolution`, `num_channels`, `label_size`, `num_replicas`, turns the
    paper minibatch table into `minibatch_base/dict` for `num_replicas`
    (NVIDIA's entry for the largest GPU count <= it), `tick_kimg` when None,
    and `checkpoint_kimg` when None.
    """
    cfg = with_defaults(cfg)
    for key in DEFAULTS:
        check_value(key, cfg[key])
    _check_family(cfg)
    cfg.update(resolution=int(resolution), num_channels=int(num_channels),
               label_size=int(label_size), num_replicas=int(num_replicas))
    if cfg["minibatch_by_replicas"] == "paper":
        gpus = max(g for g in PAPER_MINIBATCH if g <= max(num_replicas, 1))
        base, table = PAPER_MINIBATCH[gpus]
        scale = max(num_replicas // gpus, 1)
        cfg["minibatch_base"] = base * scale
        cfg["minibatch_dict"] = {r: mb * scale for r, mb in table.items()}
    elif cfg["minibatch_by_replicas"] is not None:
        raise ConfigError("minibatch_by_replicas must be None or 'paper'.")
    for key in ("minibatch_dict", "G_lrate_dict", "D_lrate_dict"):
        cfg[key] = {str(k): v for k, v in _int_keys(cfg[key]).items()}
    if cfg["tick_kimg"] is None:
        cfg["tick_kimg"] = max(min(float(cfg["snap_kimg"]) / 4, 20.0), 0.001)
    if cfg["checkpoint_kimg"] is None:
        cfg["checkpoint_kimg"] = cfg["snap_kimg"]
    if not float(cfg["total_kimg"]) > 0:
        raise ConfigError(f"total_kimg (--kimg) must be > 0; received {cfg['total_kimg']!r}.")
    from keras_stylegan.training.losses import check_loss
    check_loss(cfg["loss"])
    from keras_stylegan.training.freeze_d import check_count
    check_count(cfg["freezed"], cfg["resolution"])
    from keras_stylegan.training.augment.adaptive import check_config
    check_config(cfg)
    if not (isinstance(cfg["grid_size"], (list, tuple)) and len(cfg["grid_size"]) == 2):
        raise ConfigError(f"grid_size must be [columns, rows]; received {cfg['grid_size']!r}.")
    return cfg


def schedule_kwargs(cfg):
    """`training.schedule.Schedule` arguments of a resolved config."""
    return dict(
        resolution=cfg["resolution"], progressive=cfg["progressive"],
        lod_initial_resolution=min(cfg["lod_initial_resolution"], cfg["resolution"]),
        lod_training_kimg=cfg["lod_training_kimg"],
        lod_transition_kimg=cfg["lod_transition_kimg"],
        minibatch_base=cfg["minibatch_base"], minibatch_dict=_int_keys(cfg["minibatch_dict"]),
        G_lrate_base=cfg["G_lrate_base"], G_lrate_dict=_int_keys(cfg["G_lrate_dict"]),
        D_lrate_base=cfg["D_lrate_base"], D_lrate_dict=_int_keys(cfg["D_lrate_dict"]),
        num_replicas=cfg["num_replicas"])


# Keys that may change when a run is resumed (they do not change the trajectory).
RESUMABLE_CHANGES = frozenset({
    "total_kimg", "description", "tick_kimg", "log_steps", "snap_kimg", "checkpoint_kimg",
    "keep_checkpoints", "grid_size", "grid_scale", "grid_seed", "data", "deterministic",
    "strategy", "num_replicas", "metrics"})

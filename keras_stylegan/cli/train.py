"""Train a StyleGAN (StyleGAN1 with progressive growing, or StyleGAN2 with lazy
and path-length regularization: the stylegan2* configs) with model.fit.

The run directory (--outdir) receives config.json, log.txt, TensorBoard logs
(logs/), checkpoints/, image grids (reals.png, fakesKIMG.png) and Gs snapshots
(network-snapshot-KIMG.keras). Running the same command again resumes from the
newest checkpoint. Under TF_CONFIG every worker runs the same command
(MultiWorkerMirroredStrategy); the chief writes the run directory.

Examples:
  keras-stylegan train --data builtin --config cpu-demo --outdir runs/demo
  keras-stylegan train --data ~/ffhq-tfrecords --config paper-1024 --outdir runs/ffhq --gpus 8
  keras-stylegan train --data photos.zip --config paper-256 --outdir runs/x --dry-run
  keras-stylegan train --data builtin --config cpu-small --outdir runs/x --set r1_gamma=5
  keras-stylegan train --data photos.zip --config stylegan2-256 --outdir runs/sg2 --gpus 4
  keras-stylegan train --data photos.zip --init ffhq.pkl --freezed 2 --outdir runs/ft
  keras-stylegan train --data builtin --config cpu-demo --outdir runs/m --metrics fd_shapes10k_full,ls10k
  keras-stylegan train --data photos.zip --config stylegan2-256 --outdir runs/x --aug ada
  tensorboard --logdir runs/demo/logs
"""

import argparse
import json


def _kv(text):
    """'KEY=VALUE' -> (KEY, VALUE parsed as JSON, else the string); the key and the
    value's type are checked by `training.configs.get` (also under --dry-run)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expects KEY=VALUE; received {text!r}")
    try:
        value = json.loads(value)
    except json.JSONDecodeError:
        pass  # a plain string
    return key.strip(), value


def add_arguments(p):
    from keras_stylegan.training.configs import CONFIGS

    g = p.add_argument_group("run")
    g.add_argument("--data", default=None, metavar="PATH",
                   help="'builtin', 'builtin:N', an image folder, a .zip or TFRecords "
                        "(default: the config's, 'builtin')")
    g.add_argument("--config", default=None, choices=sorted(CONFIGS), metavar="NAME",
                   help=f"training config: {', '.join(sorted(CONFIGS))} (default: paper; "
                   "with --init, stylegan2 for a StyleGAN2 network)")
    g.add_argument("--outdir", required=True, metavar="DIR", help="run directory")
    g.add_argument("--kimg", type=float, default=None, metavar="K",
                   help="train until K thousand images (default: the config's)")
    g.add_argument("--resume", action="store_true",
                   help="require a checkpoint in --outdir (without it a checkpoint, if "
                        "present, is resumed anyway)")
    g.add_argument("--dry-run", action="store_true",
                   help="print the resolved config and schedule, then exit")
    g.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    g.add_argument("--set", dest="overrides", action="append", type=_kv, default=[],
                   metavar="KEY=VALUE", help="override any config key (JSON value); repeatable")

    g = p.add_argument_group("starting from a pretrained network (fine-tuning)")
    g.add_argument("--init", default=None, metavar="NET",
                   help="start from NET (an NVIDIA .pkl, a .keras snapshot, a run directory "
                   "or preset:NAME) at kimg 0: the networks are NET's own, the config gives "
                   "the training settings; a run that has checkpoints resumes from them")
    g.add_argument("--freezed", type=int, default=None, metavar="N",
                   help="Freeze-D: do not train D's N highest-resolution blocks (default 0)")

    g = p.add_argument_group("data and model")
    g.add_argument("--resolution", type=int, default=None, help="train at this resolution "
                   "(the dataset is downsampled)")
    g.add_argument("--labels", nargs="?", const=True, default=None, metavar="FACTORS",
                   help="conditional training on the dataset's labels; for the built-in "
                   "dataset optionally only some factors, e.g. --labels shape")
    g.add_argument("--mirror", action="store_true", help="random left-right mirroring")
    g.add_argument("--max-images", type=int, default=None, help="use the first N images")
    g.add_argument("--no-growing", action="store_true",
                   help="train at full resolution from the start (no progressive growing)")
    g.add_argument("--loss", default=None, metavar="NAME",
                   help="'r1': logistic + R1 (default), or 'wgan-gp'")
    g.add_argument("--gamma", type=float, default=None, help="R1 weight (default 10)")
    g.add_argument("--batch", type=int, default=None,
                   help="global minibatch at every resolution (overrides the config's dicts)")
    g.add_argument("--lrate", type=float, default=None,
                   help="learning rate of G and D at every resolution")

    g = p.add_argument_group("augmentation (StyleGAN2-ADA)")
    g.add_argument("--aug", default=None, choices=("ada", "fixed", "noaug"),
                   help="augment every image D sees: 'ada' adapts p to keep D from "
                        "overfitting, 'fixed' uses --p, 'noaug' none (default)")
    g.add_argument("--p", type=float, default=None, metavar="P",
                   help="augmentation probability for --aug fixed (ADA's initial p with --aug ada)")
    g.add_argument("--target", type=float, default=None, metavar="R",
                   help="ADA's target for r_t = E[sign(D(reals))] (default 0.6)")
    g.add_argument("--augpipe", default=None, metavar="NAME",
                   help="augmentation pipeline: blit, geom, color, filter, noise, cutout, bg, "
                        "bgc (default), bgcf, bgcfn, bgcfnc")

    g = p.add_argument_group("devices and precision")
    g.add_argument("--gpus", type=int, default=None,
                   help="number of GPUs (default: all visible; 0 = CPU)")
    g.add_argument("--cpu-replicas", type=int, default=None, metavar="N",
                   help="mirror over N logical CPU devices (testing without GPUs)")
    g.add_argument("--mixed-precision", action="store_true",
                   help="mixed_float16 on GPU / mixed_bfloat16 on CPU, loss scaling")
    g.add_argument("--steps-per-execution", type=int, default=None, metavar="N",
                   help="train steps per compiled call")
    g.add_argument("--deterministic", action="store_true",
                   help="deterministic TF ops (bit-exact resume; slower)")

    g = p.add_argument_group("monitoring and snapshots")
    g.add_argument("--snap", type=float, default=None, metavar="KIMG",
                   help="image grid + network snapshot (+ checkpoint) every KIMG")
    g.add_argument("--checkpoint-kimg", type=float, default=None, metavar="KIMG",
                   help="checkpoint every KIMG (default: --snap)")
    g.add_argument("--keep", type=int, default=None, help="checkpoints to keep (default 3)")
    g.add_argument("--tick", type=float, default=None, metavar="KIMG",
                   help="console progress every KIMG")
    g.add_argument("--metrics", default=None, metavar="NAMES",
                   help="metrics of every snapshot, e.g. fd_shapes10k_full,ls10k or "
                   "fid50k_full,ppl_wend (see `keras-stylegan metrics`): TensorBoard "
                   "Metrics/<name> and metric-<name>.jsonl in the run directory")
    g.add_argument("--feature-weights", default=None, metavar="DIR",
                   help="--metrics: folder of the public weight files (default: "
                   "$KERAS_STYLEGAN_WEIGHTS)")
    g.add_argument("--classifiers", default=None, metavar="FILES",
                   help="--metrics ls on your own data: Keras attribute classifiers "
                   "(a.keras,b.keras)")
    g.add_argument("--no-ppl-crop", action="store_true",
                   help="--metrics ppl_*: skip NVIDIA's face crop (use it for non-face data)")


def build_config(args, net=None):
    """The (unresolved) config of the parsed arguments; with `net` (the loaded
    --init network) its architecture, except what the options name."""
    from keras_stylegan.training import configs
    overrides = dict(args.overrides)
    simple = dict(data=args.data, total_kimg=args.kimg, seed=args.seed,
                  resolution=args.resolution, max_images=args.max_images, loss=args.loss,
                  r1_gamma=args.gamma, steps_per_execution=args.steps_per_execution,
                  snap_kimg=args.snap, checkpoint_kimg=args.checkpoint_kimg,
                  keep_checkpoints=args.keep, tick_kimg=args.tick, freezed=args.freezed,
                  metrics=[n.strip() for n in args.metrics.split(",") if n.strip()]
                  if args.metrics is not None else None)
    overrides.update({k: v for k, v in simple.items() if v is not None})
    for flag, key, value in ((args.labels, "use_labels", args.labels),
                             (args.mirror, "mirror_augment", True),
                             (args.no_growing, "progressive", False),
                             (args.mixed_precision, "mixed_precision", True),
                             (args.deterministic, "deterministic", True)):
        if flag:
            overrides[key] = value
    overrides.update(_augment_overrides(args))
    if args.batch is not None:
        overrides.update(minibatch_base=args.batch, minibatch_dict={}, minibatch_by_replicas=None)
    if args.lrate is not None:
        overrides.update(G_lrate_base=args.lrate, D_lrate_base=args.lrate,
                         G_lrate_dict={}, D_lrate_dict={})
    name = args.config or ("stylegan2" if net is not None and net.family == "stylegan2"
                           else "paper")
    cfg = configs.get(name, **overrides)
    if net is None:
        return cfg
    from keras_stylegan.training import pretrained
    return pretrained.configure(cfg, net, keep=overrides)


def _augment_overrides(args):
    """Config keys of --aug/--p/--target/--augpipe; their combinations are checked
    here (the values by `training.configs.resolve`)."""
    from keras_stylegan.errors import ConfigError
    aug = args.aug or dict(args.overrides).get("aug")
    if args.aug == "fixed" and args.p is None:
        raise ConfigError("--aug fixed needs --p (the augmentation probability, e.g. --p 0.2).")
    if args.target is not None and aug != "ada":
        raise ConfigError("--target is ADA's target: use it with --aug ada.")
    if args.p is not None and aug not in ("ada", "fixed"):
        raise ConfigError("--p needs --aug fixed (or --aug ada, as the initial p).")
    if args.augpipe is not None and aug in (None, "noaug"):
        raise ConfigError("--augpipe needs --aug ada or --aug fixed.")
    out = dict(aug=args.aug, aug_p=args.p, ada_target=args.target, augpipe=args.augpipe)
    return {k: v for k, v in out.items() if v is not None}


def run(args):
    from keras_stylegan.cli.errors import require_tensorflow_backend
    require_tensorflow_backend("train")
    from keras_stylegan.training import loop

    net = None
    init = args.init if args.init is not None else dict(args.overrides).get("init")
    if isinstance(init, str):  # --init NET, or --set init=NET (else: the type error)
        from keras_stylegan.training import pretrained
        net = pretrained.load(init)
    cfg = build_config(args, net)
    if args.dry_run:
        run_ = loop.prepare(cfg, args.outdir, gpus=args.gpus, cpu_replicas=args.cpu_replicas,
                            pretrained=net)
        from keras_stylegan.training.schedule import Schedule
        from keras_stylegan.training.configs import schedule_kwargs
        schedule = Schedule(**schedule_kwargs(run_.cfg))
        print(json.dumps(run_.cfg, indent=2, sort_keys=True))
        print(f"\nSchedule to {run_.cfg['total_kimg']} kimg:")
        for s in schedule.segments(int(round(run_.cfg["total_kimg"] * 1000))):
            print(f"  {s.resolution:>4} px {'fade-in' if s.fading else 'stable ':<7} "
                  f"kimg {s.start_nimg / 1000:>9.2f} - {s.end_nimg / 1000:>9.2f}  "
                  f"minibatch {s.minibatch:<4} steps {s.steps:<7} "
                  f"lr G {s.G_lrate:g} D {s.D_lrate:g}")
        return 0
    result = loop.train(cfg, args.outdir, resume=True if args.resume else "auto",
                        gpus=args.gpus, cpu_replicas=args.cpu_replicas, pretrained=net,
                        metric_options=dict(feature_weights=args.feature_weights,
                                            classifiers=args.classifiers,
                                            ppl_crop=not args.no_ppl_crop))
    print(f"Run directory: {result['run_dir']}")
    return 0

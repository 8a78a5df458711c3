"""Compute the papers' metrics (FID, KID, precision/recall, PPL, linear
separability) and the built-in data's Fréchet distance for a network.

Metric names are NVIDIA's, with the sample count in the name, so a small run
is the same metric on fewer samples: fid50k_full, fid10k, fid1k, kid50k_full,
pr50k3_full, pr1k3, ppl_zfull, ppl_wfull, ppl_zend, ppl_wend, ppl2_wend,
ppl1k_wend, ls (linear separability, 200k samples; ls10k), fd_shapes10k_full
(Fréchet distance on the built-in data's factor classifier). Each evaluation appends one JSON line to metric-NAME.jsonl in
--outdir (default: the run directory when --network is one, else the current
directory) and the results are printed as a table.

Feature networks use the public weight files (see README "Evaluation
metrics"); nothing is downloaded. Dataset features are cached on disk, keyed
by the dataset, resolution, feature network, weight file and sample count.

Examples:
  keras-stylegan metrics --network runs/demo --metrics fd_shapes10k_full,ls10k
  keras-stylegan metrics --network runs/demo --metrics fid1k,ppl1k_wend --data builtin \\
      --feature-weights ~/weights
  keras-stylegan metrics --network stylegan2-ffhq-config-f.pkl --data ffhq-1024.zip \\
      --metrics fid50k_full,pr50k3_full,ppl_wend
"""

import os

from keras_stylegan.json_file import read_json_object


def add_arguments(p):
    p.add_argument("--network", required=True, metavar="NET",
                   help="legacy .pkl, .keras snapshot, training run dir, or preset:NAME")
    p.add_argument("--metrics", required=True, metavar="LIST",
                   help="comma-separated metric names, e.g. fid50k_full,kid50k_full,ppl_wend")
    p.add_argument("--data", metavar="DATA",
                   help="the real images (folder, .zip, TFRecords, builtin[:N]); needed by "
                   "fid/kid/pr/fd_shapes (default: the training run's data, when --network "
                   "is a run directory or one of its snapshots)")
    p.add_argument("--classifiers", metavar="FILES",
                   help="ls on your own data: comma-separated Keras attribute classifiers "
                   "(.keras, one attribute each; see README). Default on the built-in data: "
                   "its factors, judged by a classifier trained on real built-in images")
    p.add_argument("--outdir", metavar="DIR",
                   help="where metric-NAME.jsonl goes (default: the run dir, else .)")
    p.add_argument("--feature-weights", metavar="DIR",
                   help="folder holding the public weight files (default: "
                   "$KERAS_STYLEGAN_WEIGHTS)")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="dataset feature cache (default: $KERAS_STYLEGAN_CACHE, else "
                   "~/.cache/keras-stylegan/metrics)")
    p.add_argument("--batch", type=int, default=16, help="batch size (default 16)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the samples (default 0)")
    p.add_argument("--no-ppl-crop", action="store_true",
                   help="ppl_*: skip NVIDIA's face crop (use it for non-face data)")


def run(args):
    from keras_stylegan.cli.errors import CommandError
    from keras_stylegan.metrics import names
    try:
        specs = names.parse_metrics(args.metrics, ppl_crop=not args.no_ppl_crop)
    except ValueError as e:
        raise CommandError(str(e)) from None
    if args.batch < 1:
        raise CommandError("--batch must be >= 1")
    from keras_stylegan.loading import load_generator
    from keras_stylegan.metrics.suite import MetricInputError, write_jsonl
    from keras_stylegan.metrics.weights import WeightsFileError
    G = load_generator(args.network)
    outdir = args.outdir or (args.network if os.path.isdir(args.network) else ".")
    uses_data = any(s.needs != "lpips" and not (s.needs == "attributes" and args.classifiers)
                    for s in specs)
    ds = _open_data(args, G, CommandError) if uses_data else None
    try:
        suite = make_suite(args, specs, G, ds)
        results = [suite.compute(spec) for spec in specs]
    except (WeightsFileError, MetricInputError) as e:
        raise CommandError(str(e)) from None
    finally:
        if ds is not None:
            ds.close()
    for spec, (values, seconds) in zip(specs, results):
        write_jsonl(outdir, spec.name, values, seconds, args.network)
    print_table(specs, results)
    print(f"Wrote {', '.join(f'metric-{s.name}.jsonl' for s in specs)} to {outdir}")


def run_config(network):
    """The config.json of the training run `network` belongs to (a run directory or
    a snapshot inside one), or None."""
    folder = network if os.path.isdir(network) else os.path.dirname(os.path.abspath(network))
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        return None
    try:
        cfg = read_json_object(path)
    except ValueError:
        return None  # not a run's config: the command works as without one
    return cfg if isinstance(cfg.get("data"), str) else None


def _open_data(args, G, CommandError):
    """The real images: --data, else the data of the run the network comes from
    (its labels and fixed built-in factors too), else None."""
    from keras_stylegan.training.data import open_dataset
    data, kwargs = args.data, {}
    cfg = None if data else run_config(args.network)
    if cfg is not None:
        data = cfg["data"]
        kwargs = dict(use_labels=cfg.get("use_labels") or False,
                      max_images=cfg.get("max_images"), builtin_fixed=cfg.get("builtin_fixed"))
    if not data:
        return None
    if data == "builtin" or data.startswith("builtin:"):
        kwargs["resolution"] = G.resolution  # the built-in data draws at any resolution
    if cfg is None:
        kwargs["use_labels"] = bool(G.label_size) or None
    try:
        ds = open_dataset(data, **kwargs)
    except ValueError:
        if cfg is not None or not kwargs.get("use_labels"):
            raise
        kwargs["use_labels"] = None  # no labels: random one-hot classes are used
        ds = open_dataset(data, **kwargs)
    if ds.resolution != G.resolution:
        ds.close()
        raise CommandError(f"--data is {ds.resolution}x{ds.resolution} but the network draws "
                           f"{G.resolution}x{G.resolution}; convert the data with "
                           f"`keras-stylegan dataset --resolution {G.resolution}`.")
    return ds


def make_suite(args, specs, G, ds, draw=None):
    """The `MetricSuite` of the command's options (the judge and classifiers only
    when a metric needs them)."""
    from keras_stylegan.metrics.suite import MetricSuite, default_cache_dir
    cache_dir = args.cache_dir or default_cache_dir()
    classifiers = None
    if getattr(args, "classifiers", None):
        from keras_stylegan.metrics.classifiers import load_classifiers
        classifiers = load_classifiers(args.classifiers, G.resolution)
    judge, factors = None, ()
    if any(s.needs == "judge" or (s.needs == "attributes" and classifiers is None)
           for s in specs):
        from keras_stylegan.training import builtin_judge
        judge, factors = builtin_judge.for_dataset(ds, G.resolution, cache_dir)
    return MetricSuite(G, ds, args.feature_weights, cache_dir, args.batch, args.seed,
                       judge=judge, judge_factors=factors, classifiers=classifiers, draw=draw)


def print_table(specs, results):
    rows = [(k, f"{v:.6g}", f"{sec:.1f}s") for _, (vals, sec) in zip(specs, results)
            for k, v in vals.items()]
    w = max(len(r[0]) for r in rows + [("metric",)])
    v = max(len(r[1]) for r in rows + [("", "value")])
    print(f"{'metric':<{w}}  {'value':>{v}}  time")
    for name, value, sec in rows:
        print(f"{name:<{w}}  {value:>{v}}  {sec}")

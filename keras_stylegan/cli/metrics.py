"""Compute the papers' metrics (FID, KID, precision/recall, PPL) for a network.

Metric names are NVIDIA's, with the sample count in the name, so a small run
is the same metric on fewer samples: fid50k_full, fid10k, fid1k, kid50k_full,
pr50k3_full, pr1k3, ppl_zfull, ppl_wfull, ppl_zend, ppl_wend, ppl2_wend,
ppl1k_wend. Each evaluation appends one JSON line to metric-NAME.jsonl in
--outdir (default: the run directory when --network is one, else the current
directory) and the results are printed as a table.

Feature networks use the public weight files (see README "Evaluation
metrics"); nothing is downloaded. Dataset features are cached on disk, keyed
by the dataset, resolution, feature network, weight file and sample count.

Examples:
  keras-stylegan metrics --network runs/demo --metrics fid1k,ppl1k_wend --data builtin \\
      --feature-weights ~/weights
  keras-stylegan metrics --network stylegan2-ffhq-config-f.pkl --data ffhq-1024.zip \\
      --metrics fid50k_full,pr50k3_full,ppl_wend
"""

import json
import os
import sys
import time


def add_arguments(p):
    p.add_argument("--network", required=True, metavar="NET",
                   help="legacy .pkl, .keras snapshot, training run dir, or preset:NAME")
    p.add_argument("--metrics", required=True, metavar="LIST",
                   help="comma-separated metric names, e.g. fid50k_full,kid50k_full,ppl_wend")
    p.add_argument("--data", metavar="DATA",
                   help="the real images (folder, .zip, TFRecords, builtin[:N]); needed by "
                   "fid/kid/pr")
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
    if any(s.kind != "ppl" for s in specs) and not args.data:
        raise CommandError("fid/kid/pr metrics compare with real images: pass --data DATA.")
    from keras_stylegan.loading import load_generator
    from keras_stylegan.metrics.weights import WeightsFileError
    G = load_generator(args.network)
    outdir = args.outdir or (args.network if os.path.isdir(args.network) else ".")
    ds = _open_data(args, G, CommandError) if args.data else None
    try:
        results = evaluate_all(args, specs, G, ds)
    except WeightsFileError as e:
        raise CommandError(str(e)) from None
    finally:
        if ds is not None:
            ds.close()
    for spec, (values, seconds) in zip(specs, results):
        write_jsonl(outdir, spec.name, values, seconds, args.network)
    print_table(specs, results)
    print(f"Wrote {', '.join(f'metric-{s.name}.jsonl' for s in specs)} to {outdir}")


def _open_data(args, G, CommandError):
    from keras_stylegan.training.data import open_dataset
    try:
        ds = open_dataset(args.data, use_labels=bool(G.label_size) or None)
    except ValueError:
        ds = open_dataset(args.data)  # no labels: random one-hot classes are used
    if ds.resolution != G.resolution:
        ds.close()
        raise CommandError(f"--data is {ds.resolution}x{ds.resolution} but the network draws "
                           f"{G.resolution}x{G.resolution}; convert the data with "
                           f"`keras-stylegan dataset --resolution {G.resolution}`.")
    return ds


def dataset_identity(ds):
    """What the cached features depend on, beyond the network and the count."""
    src = ds.source
    ident = {"kind": src.kind, "path": os.path.abspath(src.path) if src.kind != "builtin"
             else src.path, "num_images": ds.num_images, "resolution": ds.resolution}
    if src.kind != "builtin" and os.path.exists(src.path):
        st = os.stat(src.path)
        ident.update(size=st.st_size, mtime=st.st_mtime_ns)
    if getattr(src, "image_names", None) is not None:
        ident["names"] = list(src.image_names)
    return ident


def evaluate_all(args, specs, G, ds):
    """[(results dict, seconds)] per spec, sharing feature networks and features."""
    from keras_stylegan.metrics import evaluate as ev
    from keras_stylegan.metrics.networks import feature_network
    from keras_stylegan.metrics.weights import find_weights
    nets, gen_cache, out = {}, {}, []
    cache_dir = args.cache_dir or os.environ.get("KERAS_STYLEGAN_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "keras-stylegan", "metrics")
    labels = ev.random_labels(G.label_size, None if ds is None else ds.labels)
    for spec in specs:
        start = time.monotonic()
        print(f"{spec.name}:", file=sys.stderr)
        if spec.needs not in nets:
            net_weights = (None, None) if spec.needs == "lpips" else None
            nets[spec.needs] = feature_network(spec.needs, weights=net_weights,
                                               folder=args.feature_weights)
        net = nets[spec.needs]
        if spec.kind == "ppl":
            dist = ev.ppl_distances(G, net, spec, args.batch, args.seed, labels,
                                    ev.Progress("generated pairs", spec.num_gen))
            out.append(({spec.name: ev.ppl_from_distances(dist)}, time.monotonic() - start))
            continue
        key_g = (spec.needs, spec.num_gen)
        if key_g not in gen_cache:
            gen_cache[key_g] = ev.generated_features(
                G, net, spec.num_gen, args.batch, args.seed, labels,
                ev.Progress("generated", spec.num_gen))
        num_real = ds.num_images if spec.num_real is None else min(spec.num_real,
                                                                     ds.num_images)
        weights_file = find_weights(spec.needs, None, args.feature_weights)
        st = os.stat(weights_file)
        key = ev.cache_key(dataset=dataset_identity(ds), network=spec.needs, num=num_real,
                           weights=[os.path.basename(weights_file), st.st_size])
        real = ev.real_features(lambda n: _first_images(ds, n, args.batch), num_real, net,
                                key, cache_dir, ev.Progress("dataset", num_real))
        out.append((ev.feature_metric(spec, gen_cache[key_g], real, args.seed),
                    time.monotonic() - start))
    return out


def _first_images(ds, n, batch):
    import numpy as np
    for _, images in ds.iter_uint8(batch, indices=np.arange(n)):
        yield images


def write_jsonl(outdir, name, values, seconds, network):
    """Appends NVIDIA's JSON line to OUTDIR/metric-NAME.jsonl."""
    os.makedirs(outdir, exist_ok=True)
    line = {"results": values, "metric": name, "total_time": seconds,
            "total_time_str": f"{int(seconds) // 60}m {int(seconds) % 60:02d}s",
            "num_gpus": 1, "snapshot_pkl": os.fspath(network), "timestamp": time.time()}
    with open(os.path.join(outdir, f"metric-{name}.jsonl"), "a") as f:
        f.write(json.dumps(line) + "\n")


def print_table(specs, results):
    rows = [(k, f"{v:.6g}", f"{sec:.1f}s") for _, (vals, sec) in zip(specs, results)
            for k, v in vals.items()]
    w = max(len(r[0]) for r in rows + [("metric",)])
    v = max(len(r[1]) for r in rows + [("", "value")])
    print(f"{'metric':<{w}}  {'value':>{v}}  time")
    for name, value, sec in rows:
        print(f"{name:<{w}}  {value:>{v}}  {sec}")

"""`train --metrics NAMES`: the metrics of every network snapshot, computed by the
chief right after it writes the snapshot (as NVIDIA's training loop), logged to
TensorBoard as `Metrics/<result name>` and appended to `metric-<name>.jsonl` in
the run directory: the same `keras_stylegan.metrics.suite.MetricSuite` and
samples as `keras-stylegan metrics` on that snapshot, so the two agree.

Under MirroredStrategy each replica draws its share of every batch (the same
z, labels and noise, split across the replicas); under several workers the
chief computes alone on its local device (once, not once per worker).

>>> hook = SnapshotMetrics(["fd_shapes1k_full"], run_dir, dataset, strategy)  # doctest: +SKIP
>>> hook(Gs, nimg=64_000, snapshot="runs/x/network-snapshot-000064.keras")    # doctest: +SKIP
"""

import os

import numpy as np
import tensorflow as tf

from keras_stylegan.errors import ConfigError
from keras_stylegan.metrics import names as metric_names
from keras_stylegan.metrics.suite import MetricInputError, MetricSuite, default_cache_dir
from keras_stylegan.metrics.suite import write_jsonl
from keras_stylegan.ops.basic import to_uint8_tensor


def parse(text_or_list, ppl_crop=True):
    """MetricSpecs of the config's `metrics` (a list of names, or 'a,b'); ConfigError."""
    text = text_or_list if isinstance(text_or_list, str) else ",".join(text_or_list)
    try:
        return metric_names.parse_metrics(text, ppl_crop=ppl_crop)
    except ValueError as e:
        raise ConfigError(f"--metrics: {e}") from None


def replica_draw(strategy, Gs):
    """(z, labels, noise) -> uint8 images of Gs, each replica of `strategy`
    drawing its slice of the batch; batches that do not split evenly, and
    single-replica strategies, are drawn on one device."""
    n = strategy.num_replicas_in_sync
    conditional = bool(Gs.label_size)

    def one(z, c, *noise):
        return to_uint8_tensor(Gs(z, labels=c if conditional else None, truncation_psi=1.0,
                                  noise=list(noise)))

    @tf.function
    def local(z, c, *noise):
        return one(z, c, *noise)

    @tf.function
    def spread(z, c, *noise):
        return strategy.experimental_local_results(strategy.run(one, args=(z, c) + noise))

    def split(x, b):
        return strategy.experimental_distribute_values_from_function(
            lambda ctx: tf.constant(x[ctx.replica_id_in_sync_group * (b // n):
                                      (ctx.replica_id_in_sync_group + 1) * (b // n)]))

    def draw(z, c, noise):
        b = len(z)
        c = np.zeros([b, 0], np.float32) if c is None else c
        if n == 1 or b % n:
            return local(z, c, *noise).numpy()
        parts = spread(split(z, b), split(c, b), *[split(m, b) for m in noise])
        return np.concatenate([p.numpy() for p in parts])
    return draw


class SnapshotMetrics:
    """Computes, logs and records the metrics `specs` of each snapshot (chief only).

    Args:
        specs: metric names (list or 'a,b') or parsed MetricSpecs.
        run_dir: where `metric-<name>.jsonl` go.
        dataset: the run's opened dataset (the reals of fid/kid/pr/fd_shapes).
        strategy: the run's distribution strategy (None: one device).
        multi_worker: several workers: draw on the chief's own device.
        writer: TensorBoard summary writer (`Metrics/<name>`), or None.
        options: feature_weights, cache_dir, classifiers (file list), batch_size,
            seed, ppl_crop, judge_recipe (see `keras-stylegan metrics`).
    """

    def __init__(self, specs, run_dir, dataset, strategy=None, multi_worker=False, writer=None,
                 options=None, print_fn=print):
        options = dict(options or {})
        if isinstance(specs, str) or (specs and isinstance(specs[0], str)):
            specs = parse(specs, options.get("ppl_crop", True))
        self.specs = list(specs)
        self.run_dir, self.dataset, self.strategy = run_dir, dataset, strategy
        self.multi_worker, self.writer, self.options = multi_worker, writer, options
        self.print_fn = print_fn
        self._judge = self._classifiers = None

    def check(self, G):
        """Fails now, not at the first snapshot, when a metric lacks what it needs:
        its weight files, real images, or attribute classifiers (`ConfigError`)."""
        from keras_stylegan.metrics.weights import WeightsFileError, find_weights
        opt = self.options
        builtin = getattr(getattr(self.dataset, "source", None), "kind", None) == "builtin"
        for spec in self.specs:
            try:
                for key in {"inception": ["inception"], "vgg16": ["vgg16"],
                            "lpips": ["vgg16", "lpips"]}.get(spec.needs, []):
                    find_weights(key, None, opt.get("feature_weights"))
            except WeightsFileError as e:
                raise ConfigError(f"--metrics {spec.name}: {e}") from None
            if spec.needs == "judge" and not builtin:
                raise ConfigError(f"--metrics {spec.name}: the built-in Fréchet distance needs "
                                  "the built-in data (--data builtin).")
            if spec.needs == "attributes" and not builtin and not opt.get("classifiers"):
                raise ConfigError(f"--metrics {spec.name}: linear separability on your own data "
                                  "needs attribute classifiers: --classifiers A.keras,B.keras.")
        if opt.get("classifiers"):
            from keras_stylegan.metrics.classifiers import load_classifiers
            self._classifiers = load_classifiers(opt["classifiers"], G.resolution)
        return self

    def suite(self, Gs):
        opt = self.options
        cache_dir = opt.get("cache_dir") or default_cache_dir()
        if self._classifiers is None and opt.get("classifiers"):
            from keras_stylegan.metrics.classifiers import load_classifiers
            self._classifiers = load_classifiers(opt["classifiers"], Gs.resolution)
        judge, factors = None, ()
        if any(s.needs == "judge" or (s.needs == "attributes" and self._classifiers is None)
               for s in self.specs):
            if self._judge is None:
                from keras_stylegan.training import builtin_judge
                self._judge = builtin_judge.for_dataset(self.dataset, Gs.resolution, cache_dir,
                                                        opt.get("judge_recipe"))
            judge, factors = self._judge
        draw = None
        if self.strategy is not None and not self.multi_worker and \
                self.strategy.num_replicas_in_sync > 1:
            draw = replica_draw(self.strategy, Gs)
        return MetricSuite(Gs, self.dataset, opt.get("feature_weights"), cache_dir,
                           opt.get("batch_size", 16), opt.get("seed", 0), judge=judge,
                           judge_factors=factors, classifiers=self._classifiers, draw=draw,
                           progress=opt.get("progress", False))

    def __call__(self, Gs, nimg, snapshot):
        """Computes every metric of `Gs` (the snapshot `snapshot`, after `nimg` images)."""
        suite = self.suite(Gs)
        replicas = 1 if self.strategy is None else self.strategy.num_replicas_in_sync
        for spec in self.specs:
            try:
                values, seconds = suite.compute(spec)
            except MetricInputError as e:
                raise ConfigError(f"--metrics {spec.name}: {e}") from None
            write_jsonl(self.run_dir, spec.name, values, seconds, os.path.abspath(snapshot),
                        num_gpus=replicas)
            if self.writer is not None:
                with self.writer.as_default(step=int(nimg)):
                    for key, value in values.items():
                        tf.summary.scalar(f"Metrics/{key}", value)
                self.writer.flush()
            shown = "  ".join(f"{k} {v:.4g}" for k, v in values.items())
            self.print_fn(f"metric {spec.name} at kimg {nimg / 1000:.2f}: {shown} "
                          f"({seconds:.1f} s)")

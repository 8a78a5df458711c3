"""Computes named metrics for one generator: what `keras-stylegan metrics` and
`train --metrics` both run, sharing feature networks and cached dataset features.

The pieces that depend on the data are given, so this module stays free of any
input pipeline and of the built-in dataset's code:

- `data`: an opened dataset (`keras_stylegan.training.data.open_dataset`), used
  through `num_images`, `labels`, `iter_uint8(batch, indices)` and `source`;
- `judge`: the built-in `FactorJudge` (fd_shapes*, ls on the built-in data) and
  `judge_factors`, the factors that linear separability judges with it;
- `classifiers`: the user's attribute classifiers (`classifiers.load_classifiers`);
- `draw`: (z, labels, noise) -> uint8 images, e.g. one that spreads the batch
  over the replicas of a distribution strategy (default: G on one device).

>>> suite = MetricSuite(G, data=ds, feature_weights="~/weights")   # doctest: +SKIP
>>> values, seconds = suite.compute(parse_metric("fid1k"))          # doctest: +SKIP
"""

import json
import os
import sys
import time

import numpy as np
from keras import ops

from keras_stylegan import files
from keras_stylegan.metrics import evaluate as ev
from keras_stylegan.metrics import separability


class MetricInputError(ValueError):
    """A metric cannot be computed with what was given (data, classifiers, weights);
    the message says what to pass."""


def default_cache_dir():
    """$KERAS_STYLEGAN_CACHE, else ~/.cache/keras-stylegan/metrics."""
    return os.environ.get("KERAS_STYLEGAN_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "keras-stylegan", "metrics")


def dataset_identity(ds):
    """What cached dataset features depend on, beyond the network and the count."""
    src = ds.source
    ident = {"kind": src.kind, "path": os.path.abspath(src.path) if src.kind != "builtin"
             else src.path, "num_images": ds.num_images, "resolution": ds.resolution}
    if src.kind == "builtin" and getattr(src, "shapes", None) is not None:
        ident["fixed"] = src.shapes.fixed
    if src.kind != "builtin" and os.path.exists(src.path):
        st = os.stat(src.path)
        ident.update(size=st.st_size, mtime=st.st_mtime_ns)
    if getattr(src, "image_names", None) is not None:
        ident["names"] = list(src.image_names)
    return ident


class _Silent:
    def update(self, n):
        pass


class MetricSuite:
    """Metrics of generator `G` (see the module doc for the arguments)."""

    def __init__(self, G, data=None, feature_weights=None, cache_dir=None, batch_size=16,
                 seed=0, judge=None, judge_factors=(), classifiers=None, draw=None,
                 progress=True):
        self.G, self.data, self.feature_weights = G, data, feature_weights
        self.cache_dir = cache_dir or default_cache_dir()
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.judge, self.judge_factors = judge, tuple(judge_factors)
        self.classifiers, self.draw, self.progress = classifiers, draw, progress
        self.labels = ev.random_labels(G.label_size, None if data is None else data.labels)
        self._nets, self._gen = {}, {}

    def _progress(self, what, total):
        return ev.Progress(what, total) if self.progress else _Silent()

    def _net(self, kind):
        if kind not in self._nets:
            from keras_stylegan.metrics.networks import feature_network
            self._nets[kind] = feature_network(
                kind, weights=(None, None) if kind == "lpips" else None,
                folder=self.feature_weights)
        return self._nets[kind]

    def compute(self, spec):
        """({result name: value}, seconds) of one parsed metric."""
        start = time.monotonic()
        if self.progress:
            print(f"{spec.name}:", file=sys.stderr)
        if spec.kind == "ppl":
            dist = ev.ppl_distances(self.G, self._net("lpips"), spec, self.batch_size,
                                    self.seed, self.labels,
                                    self._progress("generated pairs", spec.num_gen))
            values = {spec.name: ev.ppl_from_distances(dist)}
        elif spec.kind == "ls":
            values = self._separability(spec)
        else:
            values = self._feature_metric(spec)
        return values, time.monotonic() - start

    # Feature metrics (fid, kid, pr, fd_shapes) ----------------------------------
    def _features_of(self, kind):
        """(function uint8 images -> [N, D] features, cache identity of the network)."""
        if kind == "judge":
            judge = self._require_judge("fd_shapes")
            return (lambda images: judge(images)[0]), {"judge": judge.identity(),
                                                        "weights": _judge_digest(judge)}
        from keras_stylegan.metrics.weights import find_weights
        net = self._net(kind)
        path = find_weights(kind, None, self.feature_weights)
        return (lambda images: np.asarray(ops.convert_to_numpy(net(images)), np.float32)), {
            "weights": [os.path.basename(path), os.stat(path).st_size]}

    def _feature_metric(self, spec):
        if self.data is None:
            raise MetricInputError(f"{spec.name} compares with real images: pass --data DATA.")
        features, ident = self._features_of(spec.needs)
        key_g = (spec.needs, spec.num_gen)
        if key_g not in self._gen:
            self._gen[key_g] = ev.generated_features(
                self.G, features, spec.num_gen, self.batch_size, self.seed, self.labels,
                self._progress("generated", spec.num_gen), draw=self.draw)
        ds = self.data
        num_real = ds.num_images if spec.num_real is None else min(spec.num_real, ds.num_images)
        key = ev.cache_key(dataset=dataset_identity(ds), network=spec.needs, num=num_real,
                           **ident)
        real = ev.real_features(lambda n: _first_images(ds, n, self.batch_size), num_real,
                                features, key, self.cache_dir,
                                self._progress("dataset", num_real))
        return ev.feature_metric(spec, self._gen[key_g], real, self.seed)

    def _require_judge(self, what):
        if self.judge is None:
            raise MetricInputError(
                f"{what} uses the built-in dataset's factor classifier: it needs --data builtin "
                "(the built-in shapes) at the network's resolution.")
        if self.judge.resolution != self.G.resolution:
            raise MetricInputError(f"the judge sees {self.judge.resolution} px images but the "
                                   f"network draws {self.G.resolution} px.")
        return self.judge

    # Linear separability --------------------------------------------------------
    def _attributes(self):
        """(name -> probabilities function of uint8 images) for ls."""
        if self.classifiers is not None:
            return self.classifiers
        if self.judge is not None and self.judge_factors:
            judge, factors = self.judge, self.judge_factors
            return _JudgeAttributes(judge, factors)
        if self.judge is not None:
            raise MetricInputError("ls: no built-in factor varies freely in this run's data (all "
                                   "are fixed or given as labels); nothing to separate.")
        raise MetricInputError("ls needs attribute classifiers: pass --classifiers "
                               "A.keras,B.keras (your own Keras classifiers), or use it on the "
                               "built-in data (--data builtin) to judge its factors.")

    def _separability(self, spec):
        attributes = self._attributes()
        G, rng = self.G, np.random.RandomState(self.seed)
        draw = self.draw or ev.compiled_draw(G)
        progress = self._progress("generated", spec.num_gen)
        zs, ws, probs = [], [], {n: [] for n in attributes.names}
        for start in range(0, spec.num_gen, self.batch_size):
            b = min(self.batch_size, spec.num_gen - start)
            z = rng.randn(self.batch_size, G.z_dim).astype(np.float32)
            c = self.labels(rng, self.batch_size)
            images = ops.convert_to_numpy(draw(z, c, ev.noise_maps(G, rng, self.batch_size)))
            w = ops.convert_to_numpy(G.mapping(z, labels=c))
            zs.append(z[:b])
            ws.append(np.asarray(w)[:b, -1])  # NVIDIA: dlatents[:, -1]
            for name, p in attributes(ev.rgb(images[:b])).items():
                probs[name].append(p)
            progress.update(b)
        probs = {n: np.concatenate(p) for n, p in probs.items()}
        return separability.linear_separability(
            np.concatenate(zs), np.concatenate(ws), probs, name=spec.name,
            keep=spec.num_gen // 2, seed=self.seed)


class _JudgeAttributes:
    def __init__(self, judge, factors):
        self.judge, self.names = judge, tuple(factors)

    def __call__(self, images):
        _, probs = self.judge(images)
        return {n: probs[n] for n in self.names}


def _judge_digest(judge):
    import hashlib
    h = hashlib.sha256()
    for w in judge.model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()[:16]


def _first_images(ds, n, batch):
    for _, images in ds.iter_uint8(batch, indices=np.arange(n)):
        yield images


def write_jsonl(outdir, name, values, seconds, network, num_gpus=1):
    """Appends NVIDIA's JSON line to OUTDIR/metric-NAME.jsonl (one `write` of one
    line in append mode: concurrent appenders do not interleave lines)."""
    os.makedirs(outdir, exist_ok=True)
    line = {"results": values, "metric": name, "total_time": seconds,
            "total_time_str": f"{int(seconds) // 60}m {int(seconds) % 60:02d}s",
            "num_gpus": int(num_gpus), "snapshot_pkl": os.fspath(network),
            "timestamp": time.time()}
    path = os.path.join(outdir, f"metric-{name}.jsonl")
    with files.write_errors("the metric file", path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, (json.dumps(line) + "\n").encode())
        finally:
            os.close(fd)
    return path

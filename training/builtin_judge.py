"""The built-in dataset's judge: a `FactorJudge` trained on real built-in
images of another set (seed 1; training runs use seed 0) with every factor
varying, one head per factor: shape (5), color (6), background (4), and the
continuous ones halved at the middle of their range: size (small / large),
x (left / right), y (top / bottom).

It is the attribute classifier of linear separability (`ls*`) and the feature
network of the built-in Fréchet distance (`fd_shapes*`). Trained once per
resolution and recipe, then cached on disk (keyed by a fingerprint of both).

>>> judge = builtin_judge(16, cache_dir="~/.cache/keras-stylegan/metrics")  # doctest: +SKIP
>>> feats, probs = judge(uint8_images)    # [N, 64], {"shape": [N, 5], ...}  # doctest: +SKIP
"""

import sys

import numpy as np

from keras_stylegan.metrics import evaluate
from keras_stylegan.metrics.factor_judge import FactorJudge, cached_judge
from keras_stylegan.training import builtin

JUDGE_SEED = 1
VERSION = 1
HEADS = dict({name: len(values) for name, values in builtin.CATEGORICAL.items()},
             **{name: 2 for name in builtin.CONTINUOUS})
# Training recipe. Held-out accuracy at 16 px (2000 real images): shape 98.5%,
# colour 100%, background 99.95%, size 94.5% (a size near the middle is
# ambiguous), x 98.9%, y 96.7%; about 2.5 minutes on 2 busy cores, once.
RECIPE = dict(num_train=20000, epochs=4)


def targets(factors):
    """{factor: int class [N]} of raw built-in factors (continuous ones halved)."""
    out = {name: np.asarray(factors[name], np.int64) for name in builtin.CATEGORICAL}
    for name, (lo, hi) in builtin.CONTINUOUS.items():
        out[name] = (np.asarray(factors[name]) >= (lo + hi) / 2).astype(np.int64)
    return out


def train(resolution, num_train, epochs, num_test=0):
    """(judge, {factor: held-out accuracy} or None) trained on set `JUDGE_SEED`."""
    shapes = builtin.BuiltinShapes(num_images=num_train + num_test, seed=JUDGE_SEED)
    images = shapes.images(np.arange(num_train + num_test), resolution)
    y = targets(shapes.factors())
    judge = FactorJudge(resolution, HEADS).fit(
        images[:num_train], {k: v[:num_train] for k, v in y.items()}, epochs=epochs)
    acc = judge.accuracy(images[num_train:], {k: v[num_train:] for k, v in y.items()}) \
        if num_test else None
    return judge, acc


def fingerprint(resolution, recipe=None):
    """(cache key, identity stored with the weights) of the judge at `resolution`."""
    recipe = dict(RECIPE if recipe is None else recipe)
    extra = dict(recipe, version=VERSION, seed=JUDGE_SEED)
    return evaluate.cache_key(judge="builtin", resolution=resolution, heads=HEADS,
                              **extra), extra


def builtin_judge(resolution, cache_dir=None, recipe=None):
    """The built-in judge at `resolution`, from `cache_dir` or trained (and cached)."""
    recipe = dict(RECIPE if recipe is None else recipe)
    key, extra = fingerprint(resolution, recipe)
    def build():
        print(f"Training the built-in factor classifier at {resolution} px (once; cached in "
              f"{cache_dir})", file=sys.stderr, flush=True)
        return train(resolution, **recipe)[0]
    return cached_judge(cache_dir, key, build, resolution, HEADS, extra)


def separability_factors(fixed=None, label_names=()):
    """The factors linear separability can judge for a run: those that vary in its
    data (not in `fixed`) and are not given to the network as labels (a label,
    not z, decides those).

    >>> separability_factors({"x": 0.5, "y": 0.5}, ["shape=circle", "shape=square"])
    ('color', 'background', 'size')
    """
    conditioned = {str(n).split("=")[0] for n in label_names}
    return tuple(n for n in HEADS if n not in (fixed or {}) and n not in conditioned)


def for_dataset(ds, resolution, cache_dir=None, recipe=None):
    """(judge, factors linear separability judges) for an opened built-in dataset
    `ds` (`training.data.open_dataset`), or (None, ()) for other data."""
    src = getattr(ds, "source", None)
    if ds is None or getattr(src, "kind", None) != "builtin":
        return None, ()
    factors = separability_factors(getattr(src.shapes, "fixed", None), ds.label_names)
    return builtin_judge(resolution, cache_dir, recipe), factors

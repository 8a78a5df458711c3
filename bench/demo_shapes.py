"""How recognisable are a conditional built-in run's shapes? A classifier's verdict.

Trains a small CNN to tell the five built-in shapes apart on images of the
built-in set with seed 1 (the training runs use seed 0), every factor varying,
and reports its accuracy on held-out real images. Then draws `--per-class`
images of each shape from the run's newest snapshot (`Gs`, z from a fixed
seed, constant noise, no truncation) and reports which shape the classifier
sees in them: per-class accuracy and the confusion matrix.

Usage (after `make demo`):

    .venv/bin/python bench/demo_shapes.py runs/demo

The run must be conditional on the shape (`--labels shape`, as `cpu-demo`).
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tables import Column, markdown  # noqa: E402  (bench/tables.py)
from keras_stylegan import metrics  # noqa: E402
from keras_stylegan.generate import ImageGenerator, class_labels  # noqa: E402
from keras_stylegan.loading import find_snapshot, load_generator  # noqa: E402
from keras_stylegan.training import builtin, builtin_judge  # noqa: E402

CLASSIFIER_SEED = 1


def _floats(images):
    return images.astype(np.float32) / 127.5 - 1.0


def train_classifier(resolution, num_train=30000, num_test=2000, epochs=4):
    """(classifier, held-out accuracy) for the shape of built-in set 1 images."""
    shapes = builtin.BuiltinShapes(num_images=num_train + num_test, seed=CLASSIFIER_SEED)
    x = _floats(shapes.images(np.arange(num_train + num_test), resolution))
    y = shapes.factors()["shape"]
    keras.utils.set_random_seed(0)
    layers = [keras.Input((resolution, resolution, 3))]
    for strides in (1, 2, 1, 2, 1):
        layers += [keras.layers.Conv2D(64, 3, strides, "same"), keras.layers.LeakyReLU(0.2)]
    layers += [keras.layers.Flatten(), keras.layers.Dense(64), keras.layers.LeakyReLU(0.2),
               keras.layers.Dense(len(builtin.SHAPES))]
    model = keras.Sequential(layers)
    model.compile(keras.optimizers.Adam(0.001), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:num_train], y[:num_train], batch_size=32, epochs=epochs, verbose=0)
    _, accuracy = model.evaluate(x[num_train:], y[num_train:], verbose=0)
    return model, float(accuracy)


def lod_images(images, lod):
    """Real images as a progressive run at `lod` sees them: averaged down by
    2**floor(lod), blended with the next coarser level by frac(lod), and
    upscaled back (nearest) to the full size."""
    def level(x, j):
        n, h, w, c = x.shape
        f = 2 ** j
        x = x.reshape(n, h // f, f, w // f, f, c).mean(axis=(2, 4))
        return np.repeat(np.repeat(x, f, axis=1), f, axis=2)
    j, frac = int(np.floor(lod)), float(lod - np.floor(lod))
    y = level(images, j)
    return y if frac == 0 else y + (level(images, j + 1) - y) * frac


class Judge:
    """The built-in judge of `keras-stylegan metrics` (`fd_shapes*`, `ls*`:
    `keras_stylegan.training.builtin_judge`, trained once and cached) as a
    feature network: Fréchet distances between a conditional run's images
    (every shape equally often) and real images, in its 64 hidden features,
    with the real images seen as a progressive run at `lod` sees them.

    `real_accuracy` is its shape accuracy on held-out real images.
    """

    def __init__(self, resolution, num_images=1000, cache_dir=None, recipe=None):
        from keras_stylegan.metrics.suite import default_cache_dir
        self.resolution, self.num_images = resolution, num_images
        recipe = dict(builtin_judge.RECIPE if recipe is None else recipe)
        self.judge = builtin_judge.builtin_judge(resolution, cache_dir or default_cache_dir(),
                                                 recipe)
        held_out = np.arange(recipe["num_train"], recipe["num_train"] + 1000)
        shapes = builtin.BuiltinShapes(num_images=held_out[-1] + 1, seed=builtin_judge.JUDGE_SEED)
        self.real_accuracy = self.judge.accuracy(
            shapes.images(held_out, resolution),
            builtin_judge.targets(shapes.factors(held_out)))["shape"]

    def real_images(self, lod=0.0, fixed=None, seed=0):
        """The first `num_images` real built-in images (seed 0, centred like cpu-demo)
        as a progressive run at `lod` sees them: uint8 NHWC."""
        fixed = {"x": 0.5, "y": 0.5} if fixed is None else fixed
        shapes = builtin.BuiltinShapes(seed=seed, fixed=fixed)
        x = shapes.images(np.arange(self.num_images), self.resolution).astype(np.float32)
        return np.rint(lod_images(x, lod)).astype(np.uint8)

    def real_features(self, lod=0.0, fixed=None, seed=0):
        """Features of `real_images`."""
        return self._features(self.real_images(lod, fixed, seed))

    def fake_images(self, G, seed=5):
        """`num_images` images of `G` (every shape equally often): uint8 NHWC."""
        gen = ImageGenerator(G)
        z = np.random.RandomState(seed).randn(self.num_images, G.z_dim).astype(np.float32)
        labels = np.eye(len(builtin.SHAPES), dtype=np.float32)[
            np.arange(self.num_images) % len(builtin.SHAPES)]
        return np.concatenate([gen(z[i:i + 100], labels[i:i + 100])[1]
                               for i in range(0, self.num_images, 100)])

    def fake_features(self, G, seed=5):
        return self._features(self.fake_images(G, seed))

    def _features(self, uint8_images):
        return self.judge(uint8_images)[0]

    def frechet_distance(self, G, real_features):
        """Fréchet distance of `G`'s images to the reals (keras_stylegan.metrics)."""
        fake = metrics.feature_statistics(self.fake_features(G))
        return metrics.frechet_distance(*fake, *metrics.feature_statistics(real_features))


def confusion(G, classifier, per_class, seed=123):
    """[5, 5] counts: row = the shape asked for, column = the shape the classifier sees."""
    if G.label_size != len(builtin.SHAPES):
        raise ValueError(f"The network has {G.label_size} label columns; this check needs a "
                         "run conditional on the shape only (--labels shape).")
    gen = ImageGenerator(G)
    z = np.random.RandomState(seed).randn(per_class, G.z_dim).astype(np.float32)
    counts = np.zeros([len(builtin.SHAPES)] * 2, np.int64)
    for k in range(len(builtin.SHAPES)):
        labels = class_labels(k, G.label_size, per_class)
        images = np.concatenate([gen(z[i:i + 50], labels[i:i + 50])[1]
                                 for i in range(0, per_class, 50)])
        seen = classifier.predict(_floats(images), verbose=0).argmax(axis=1)
        counts[k] = np.bincount(seen, minlength=len(builtin.SHAPES))
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="training run directory or network-snapshot-*.keras")
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    snapshot = find_snapshot(args.run) if os.path.isdir(args.run) else args.run
    G = load_generator(snapshot)
    classifier, real_accuracy = train_classifier(G.resolution)
    counts = confusion(G, classifier, args.per_class)
    accuracy = counts.diagonal() / counts.sum(axis=1)
    print(f"snapshot: {snapshot}")
    print(f"classifier accuracy on held-out real images: {real_accuracy:.3f}")
    cols = [Column("asked for", "shape")] + [
        Column(f"seen as {name}", name, "d", right=True) for name in builtin.SHAPES] + [
        Column("accuracy", "accuracy", ".2f", right=True)]
    rows = [dict(shape=name, accuracy=accuracy[k], **dict(zip(builtin.SHAPES, counts[k])))
            for k, name in enumerate(builtin.SHAPES)]
    print(markdown(cols, rows))
    print(f"mean accuracy: {accuracy.mean():.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(snapshot=snapshot, real_accuracy=real_accuracy,
                           confusion=counts.tolist(), accuracy=accuracy.tolist()), f, indent=1)


if __name__ == "__main__":
    main()

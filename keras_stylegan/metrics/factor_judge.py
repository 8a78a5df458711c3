"""A small classifier of known factors of variation, trained on real images:
the attribute classifiers of linear separability and the feature network of
the built-in Fréchet distance (`fd_shapes*`) on data whose factors are known.

One convolutional trunk, a 64-feature hidden layer (the Fréchet distance's
feature space) and one softmax head per factor. Its weights are saved as a
plain `.npz` (no pickle, no Keras config is deserialised): `load` rebuilds the
architecture in code and checks every array's shape.

>>> judge = FactorJudge(16, {"shape": 5, "size": 2})
>>> feats, probs = judge(np.zeros([2, 16, 16, 3], np.uint8))
>>> feats.shape, probs["shape"].shape
((2, 64), (2, 5))
"""

import json
import os

import keras
import numpy as np

from keras_stylegan import files

FEATURES = 64
_STRIDES = (1, 2, 1, 2, 1)


def _floats(images):
    return np.asarray(images, np.float32) / 127.5 - 1.0


class FactorJudge:
    """The classifier (see module doc) for images of `resolution` px.

    Args:
        resolution: input side (3-channel uint8 images).
        heads: {factor name: number of classes}, in output order.
        channels: trunk width.
    """

    def __init__(self, resolution, heads, channels=64):
        self.resolution, self.heads, self.channels = int(resolution), dict(heads), int(channels)
        x = inp = keras.Input((self.resolution, self.resolution, 3))
        for strides in _STRIDES:
            x = keras.layers.Conv2D(self.channels, 3, strides, "same")(x)
            x = keras.layers.LeakyReLU(0.2)(x)
        x = keras.layers.Flatten()(x)
        feats = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(FEATURES)(x))
        logits = [keras.layers.Dense(k, name=f"head_{i}")(feats)
                  for i, k in enumerate(self.heads.values())]
        self.model = keras.Model(inp, [feats] + logits)
        self.train_model = keras.Model(inp, logits)

    def fit(self, images, targets, epochs=3, batch_size=32, seed=0):
        """Trains on uint8 images [N, R, R, 3] and {factor: int classes [N]}."""
        keras.utils.set_random_seed(seed)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.train_model.compile(keras.optimizers.Adam(0.001), loss=[loss] * len(self.heads))
        ys = [np.asarray(targets[name], np.int64) for name in self.heads]
        self.train_model.fit(_floats(images), ys, batch_size=batch_size, epochs=epochs,
                             verbose=0, shuffle=True)
        return self

    def __call__(self, images, batch_size=256):
        """(features [N, 64] float64, {factor: class probabilities [N, K]}) of uint8 images."""
        out = [[] for _ in range(len(self.heads) + 1)]
        images = np.asarray(images)
        for i in range(0, len(images), batch_size):
            for acc, t in zip(out, self.model(_floats(images[i:i + batch_size]))):
                acc.append(keras.ops.convert_to_numpy(t))
        feats = np.concatenate(out[0]).astype(np.float64)
        probs = {}
        for name, logits in zip(self.heads, out[1:]):
            logits = np.concatenate(logits).astype(np.float64)
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs[name] = e / e.sum(axis=1, keepdims=True)
        return feats, probs

    def accuracy(self, images, targets):
        """{factor: fraction of images whose argmax is the target class}."""
        _, probs = self(images)
        return {n: float(np.mean(p.argmax(axis=1) == np.asarray(targets[n])))
                for n, p in probs.items()}

    # Saving -------------------------------------------------------------------
    def identity(self):
        return {"resolution": self.resolution, "heads": [[n, k] for n, k in self.heads.items()],
                "channels": self.channels}

    def save(self, path, extra=None):
        """Writes the weights and the architecture's identity to `path` (.npz), atomically."""
        arrays = {f"w{i:03d}": w for i, w in enumerate(self.model.get_weights())}
        arrays["identity"] = np.array(json.dumps(dict(self.identity(), **(extra or {}))))
        with files.atomic_file(path, "the judge cache") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

    @classmethod
    def load(cls, path, resolution, heads, channels=64, extra=None):
        """The judge saved at `path` if it is one with this architecture (and `extra`
        identity), else None (a stale or foreign file is simply not used)."""
        judge = cls(resolution, heads, channels)
        try:
            with np.load(path, allow_pickle=False) as z:
                ident = json.loads(str(z["identity"]))
                weights = [z[f"w{i:03d}"] for i in range(len(judge.model.weights))]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if ident != json.loads(json.dumps(dict(judge.identity(), **(extra or {})))):
            return None
        if [w.shape for w in weights] != [tuple(v.shape) for v in judge.model.weights] or \
                not all(w.dtype == np.float32 and np.all(np.isfinite(w)) for w in weights):
            return None
        judge.model.set_weights(weights)
        return judge


def cached_judge(cache_dir, key, build, resolution, heads, extra=None):
    """The judge cached as `cache_dir/judge-{key}.npz`, else `build()` (trained), saved there.

    Args:
        build: () -> a trained FactorJudge, called when there is no usable cache.
    """
    path = os.path.join(cache_dir, f"judge-{key}.npz") if cache_dir else None
    if path and os.path.isfile(path):
        judge = FactorJudge.load(path, resolution, heads, extra=extra)
        if judge is not None:
            return judge
    judge = build()
    if path:
        os.makedirs(cache_dir, exist_ok=True)
        judge.save(path, extra)
    return judge

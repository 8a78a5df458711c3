"""The user's attribute classifiers for linear separability on their own data.

Each file is a Keras model (`.keras`) for one attribute: input NHWC float
images in [-1, 1] (the project's convention) at the network's resolution, or
a resolution that divides it (images are box-downsampled, as NVIDIA
downsamples to its classifiers' 256 px); output [N, K] for one attribute: K = 1
is a binary attribute (its logit, or its probability when the last layer ends
in a sigmoid), K >= 2 classes (logits, or probabilities when the last layer
ends in a softmax). Models load with Keras' `safe_mode` (no code from the file
runs); a file that is not such a model gets one `NetworkFileError`.

>>> attrs = load_classifiers(["smiling.keras", "hair.keras"], resolution=256)  # doctest: +SKIP
>>> attrs.names, attrs(uint8_images)["smiling"].shape  # doctest: +SKIP
(('smiling', 'hair'), (N, 2))
"""

import os

import keras
import numpy as np

from keras_stylegan.errors import NetworkFileError
from keras_stylegan.metrics.separability import class_probabilities

_HOW = ("Pass Keras classifier files (.keras), one per attribute, each taking NHWC float "
        "images in [-1, 1] and giving [N, K] logits or probabilities.")


def _ends_in(model, names):
    act = getattr(model.layers[-1], "activation", None) if model.layers else None
    return getattr(act, "__name__", None) in names


class Classifier:
    """One loaded attribute classifier: `__call__(uint8 images)` -> probabilities [N, K]."""

    def __init__(self, path, model, resolution):
        self.path, self.model, self.resolution = path, model, resolution
        shape = tuple(model.inputs[0].shape)
        self.input_resolution = shape[1]
        self.probabilities = _ends_in(model, ("softmax", "sigmoid"))

    def __call__(self, images, batch_size=64):
        x = np.asarray(images, np.float32) / 127.5 - 1.0
        f = self.resolution // self.input_resolution
        if f > 1:
            n, h, w, c = x.shape
            x = x.reshape(n, h // f, f, w // f, f, c).mean(axis=(2, 4))
        out = np.concatenate([np.asarray(keras.ops.convert_to_numpy(
            self.model(x[i:i + batch_size], training=False)), np.float64).reshape(
                len(x[i:i + batch_size]), -1) for i in range(0, len(x), batch_size)])
        if not np.all(np.isfinite(out)):
            raise NetworkFileError(f"{self.path} gave non-finite outputs. {_HOW}")
        if self.probabilities and (out.min() < 0 or out.max() > 1):
            raise NetworkFileError(f"{self.path} ends in a softmax/sigmoid but gave values "
                                   f"outside [0, 1]. {_HOW}")
        return class_probabilities(out, self.probabilities)


def load_classifier(path, resolution, channels=3):
    """A `Classifier` of the `.keras` file `path` for `resolution` px images."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise NetworkFileError(f"No such classifier file: {path}. {_HOW}")
    if not path.endswith(".keras"):
        raise NetworkFileError(f"{path}: classifiers must be .keras files. {_HOW}")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # any failure to read an untrusted file: one clear error
        raise NetworkFileError(f"{path} is not a readable Keras model ({type(e).__name__}: "
                               f"{str(e)[:300]}). {_HOW}") from None
    if not isinstance(model, keras.Model) or len(model.inputs) != 1 or \
            len(model.outputs) != 1:
        raise NetworkFileError(f"{path} must be a Keras model with one input and one "
                               f"output. {_HOW}")
    shape = tuple(model.inputs[0].shape)
    res = shape[1] if len(shape) == 4 else None
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != channels or not res or \
            resolution % res or (resolution // res) & (resolution // res - 1):
        raise NetworkFileError(
            f"{path} takes input {shape}; the network draws [N, {resolution}, {resolution}, "
            f"{channels}] images: a classifier must take [N, R, R, {channels}] with R = "
            f"{resolution} or {resolution} divided by a power of two.")
    out = tuple(model.outputs[0].shape)
    if len(out) != 2 or not out[1] or out[1] < 1:
        raise NetworkFileError(f"{path} outputs {out}; it must output [N, K] for one "
                               f"attribute. {_HOW}")
    return Classifier(path, model, resolution)


def attribute_name(path, taken):
    """The attribute's name: the file name without `.keras` (numbered if repeated)."""
    base = os.path.basename(os.fspath(path))[:-len(".keras")] or "attribute"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}{i}", i + 1
    return name


class Attributes:
    """Several classifiers: `names`, and `__call__(images)` -> {name: probabilities}."""

    def __init__(self, classifiers):
        self.classifiers = dict(classifiers)
        self.names = tuple(self.classifiers)

    def __call__(self, images):
        return {n: c(images) for n, c in self.classifiers.items()}


def load_classifiers(paths, resolution, channels=3):
    """`Attributes` of the classifier files `paths` (a list or 'a.keras,b.keras')."""
    if isinstance(paths, str):
        paths = [p.strip() for p in paths.split(",") if p.strip()]
    if not paths:
        raise NetworkFileError(f"--classifiers is empty. {_HOW}")
    out = {}
    for p in paths:
        out[attribute_name(p, out)] = load_classifier(p, resolution, channels)
    return Attributes(out)

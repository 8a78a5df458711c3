"""Serve a network without exporting it: the SavedModel's signatures, run in this process.

`GeneratorServable` wraps a `Generator` (from a legacy pickle, a `.keras`
snapshot, a training run or a preset) in the same `tf.function`s that
`export.savedmodel` writes out, so the server (and `keras-stylegan
explore`) answers exactly as it would for the exported SavedModel:
`generate` derives the noise from each seed, `generate_const` uses the
stored noise maps, and `mapping` / `synthesis` make style mixing possible.
Each signature is traced on its first call.

`open_servable` picks the servable for anything `generate` accepts, and a
SavedModel folder or a `.tflite` file as `serve` loads them.

Example:

>>> from keras_stylegan import presets
>>> servable = GeneratorServable("tiny", presets.generator("stylegan-tiny-32"))
>>> sorted(servable.noise_modes), servable.z_dim
(['const', 'seed'], 64)
"""

import os

import numpy as np

from keras_stylegan.export import rest
from keras_stylegan.export.rest import SignatureSpec, TensorInfo
from keras_stylegan.export.savedmodel import input_specs, signature_functions
from keras_stylegan.export.server import (SavedModelServable, TFLiteServable,
                                          _sanitize)
from keras_stylegan.networks.generator import DEFAULT


class GeneratorServable(SavedModelServable):
    """A `Generator` behind the servable interface, with the SavedModel's signatures."""

    kind = "generator"

    def __init__(self, name, G, version=1, truncation_cutoff=DEFAULT, source=None):
        import tensorflow as tf

        self.name, self.version, self.path, self.G = name, version, source, G
        specs = input_specs(G)
        functions, signatures = {}, {}
        for key, (fn, inputs) in signature_functions(G, truncation_cutoff,
                                                     fused_modconv=False).items():
            functions[key] = tf.function(fn, input_signature=[specs[i] for i in inputs])
            signatures[key] = SignatureSpec(
                key, {i: _info(specs[i]) for i in inputs}, _outputs(G, key))
        functions[rest.DEFAULT_SIGNATURE] = functions["generate"]
        signatures[rest.DEFAULT_SIGNATURE] = SignatureSpec(
            rest.DEFAULT_SIGNATURE, signatures["generate"].inputs, signatures["generate"].outputs)
        self._set_signatures(functions, signatures)


def _info(spec):
    return TensorInfo(np.dtype(spec.dtype.as_numpy_dtype), tuple(spec.shape.as_list()))


def _outputs(G, signature):
    if signature == "mapping":
        return {"ws": TensorInfo(np.dtype("float32"), (None, G.num_ws, G.w_dim))}
    shape = (None, G.resolution, G.resolution, G.num_channels)
    return {"images": TensorInfo(np.dtype("uint8"), shape),
            "images_float": TensorInfo(np.dtype("float32"), shape)}


def default_name(network):
    """A model name (for URLs) from a network spec: the preset's, or the file's stem."""
    if network.startswith("preset:"):
        return _sanitize(network[len("preset:"):])
    base = os.path.basename(os.path.normpath(network))
    for ext in (".pkl", ".keras", ".tflite"):
        if base.endswith(ext):
            base = base[:-len(ext)]
    return _sanitize(base)


def open_servable(network, name=None, truncation_cutoff=DEFAULT, num_threads=None):
    """The servable of `network`: a `.tflite`, a SavedModel folder, or anything
    `load_generator` takes (pickle, `.keras`, run directory, `preset:NAME`)."""
    from keras_stylegan.loading import load_generator

    name = name or default_name(network)
    if network.endswith(".tflite"):
        if not os.path.isfile(network):
            raise FileNotFoundError(f"No such network file: {network}")
        return TFLiteServable(name, 1, os.path.abspath(network), num_threads)
    if os.path.isfile(os.path.join(network, "saved_model.pb")):
        return SavedModelServable(name, 1, os.path.abspath(network))
    G = load_generator(network)
    return GeneratorServable(name, G, truncation_cutoff=truncation_cutoff, source=network)

"""Import NVIDIA's legacy TF1 network pickles (StyleGAN, StyleGAN2, StyleGAN2-ADA).

No TensorFlow 1, no `dnnlib`, and nothing stored in the file is executed.

Example:

>>> from keras_stylegan import legacy, to_uint8
>>> nets = legacy.load_network_pkl("karras2019stylegan-ffhq-1024x1024.pkl")  # doctest: +SKIP
>>> G = nets["Gs"]                                                          # doctest: +SKIP
>>> img = G(z, truncation_psi=0.7, noise_mode="const")  # NHWC in [-1, 1]    # doctest: +SKIP
"""

import importlib

from keras_stylegan.legacy.reader import LegacyPickle, Network, read_network_pkl
from keras_stylegan.legacy.unpickler import LegacyFormatError, UnsafePickleError

# family -> converter module exposing generator(net, source, name) and
# discriminator(net, source, name).
CONVERTERS = {
    "stylegan1": "keras_stylegan.legacy.stylegan1",
    "stylegan2": "keras_stylegan.legacy.stylegan2",
}

__all__ = ["LegacyFormatError", "LegacyPickle", "Network", "UnsafePickleError",
           "load_network_pkl", "read_network_pkl"]


def converter(family):
    """The converter module for `family`."""
    if family not in CONVERTERS:
        raise LegacyFormatError(f"Importing {family} pickles is not supported yet.")
    return importlib.import_module(CONVERTERS[family])


def load_network_pkl(path_or_bytes, networks=("G", "D", "Gs")):
    """Loads a legacy NVIDIA pickle into Keras networks.

    Args:
        path_or_bytes: the `.pkl` path (or its bytes).
        networks: which of 'G', 'D', 'Gs' to build (skipping some saves time).

    Returns:
        A dict with the Keras networks under 'G' (training generator), 'D'
        (discriminator) and 'Gs' (moving-average generator, the one to use
        for images), and 'meta': the family and NVIDIA's run-time defaults
        (truncation_psi, style_mixing_prob, randomize_noise).

    Raises:
        LegacyFormatError: the file is not a usable network pickle (truncated,
            corrupt, wrong type, unknown architecture or kwargs). The message
            says which.
        UnsafePickleError: the file references globals a network pickle never
            needs; nothing in it was executed.
    """
    pkl = read_network_pkl(path_or_bytes)
    conv = converter(pkl.family)
    out, meta = {}, {"family": pkl.family}
    for key in networks:
        net = getattr(pkl, key)
        if key == "D":
            out[key] = conv.discriminator(net, pkl.source, name=key)
        else:
            out[key], gmeta = conv.generator(net, pkl.source, name=key)
            meta.update(gmeta)
    out["meta"] = meta
    return out

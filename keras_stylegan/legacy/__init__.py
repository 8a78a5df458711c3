"""Import NVIDIA's network pickles: TF1 (StyleGAN, StyleGAN2, StyleGAN2-ADA) and
PyTorch (StyleGAN2-ADA-PyTorch, the stylegan3 repo's StyleGAN2).

No TensorFlow 1, no PyTorch, no `dnnlib`, and nothing stored in the file is executed.

Example:

>>> from keras_stylegan import legacy, to_uint8
>>> nets = legacy.load_network_pkl("karras2019stylegan-ffhq-1024x1024.pkl")  # doctest: +SKIP
>>> G = nets["Gs"]                                                          # doctest: +SKIP
>>> img = G(z, truncation_psi=0.7, noise_mode="const")  # NHWC in [-1, 1]    # doctest: +SKIP
"""

import importlib
import os

from keras_stylegan.legacy.reader import LegacyPickle, Network, read_network_pkl
from keras_stylegan.legacy.unpickler import LegacyFormatError, UnsafePickleError

# family -> converter module exposing generator(net, source, name) and
# discriminator(net, source, name).
CONVERTERS = {
    "stylegan1": "keras_stylegan.legacy.stylegan1",
    "stylegan2": "keras_stylegan.legacy.stylegan2",
}

__all__ = ["LegacyFormatError", "LegacyPickle", "Network", "UnsafePickleError", "is_torch_pickle",
           "load_network_pkl", "read_network_pkl"]


def converter(family):
    """The converter module for `family`."""
    if family not in CONVERTERS:
        raise LegacyFormatError(f"Importing {family} pickles is not supported yet.")
    return importlib.import_module(CONVERTERS[family])


def _pickle_bytes(path_or_bytes):
    if isinstance(path_or_bytes, (bytes, bytearray)):
        return bytes(path_or_bytes)
    path = os.fspath(path_or_bytes)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such network pickle: {path}")
    with open(path, "rb") as f:
        return f.read(1 << 16)


def is_torch_pickle(path_or_bytes):
    """True for NVIDIA's PyTorch snapshots (stylegan2-ada-pytorch, stylegan3)."""
    from keras_stylegan.legacy.torch_unpickler import looks_like_torch_pickle
    return looks_like_torch_pickle(_pickle_bytes(path_or_bytes))


def load_network_pkl(path_or_bytes, networks=("G", "D", "Gs"), force_fp32=False):
    """Loads an NVIDIA network pickle (TF1 or PyTorch) into Keras networks.

    PyTorch snapshots (`network-snapshot-*.pkl` of stylegan2-ada-pytorch and
    of the stylegan3 repo's `--cfg=stylegan2`) are read without torch; their
    `G_ema` becomes 'Gs'. StyleGAN3 alias-free networks are refused.

    Args:
        path_or_bytes: the `.pkl` path (or its bytes).
        networks: which of 'G', 'D', 'Gs' to build (skipping some saves time).
        force_fp32: build every block in float32 (NVIDIA's `force_fp32=True`,
            and what NVIDIA's code does on CPUs); the stored `num_fp16_res`
            is kept in `meta['num_fp16_res']`.

    Returns:
        A dict with the Keras networks under 'G' (training generator), 'D'
        (discriminator) and 'Gs' (moving-average generator, the one to use
        for images), and 'meta': the family and NVIDIA's run-time defaults
        (truncation_psi, style_mixing_prob, randomize_noise); for PyTorch
        snapshots also the augment pipe's settings and the training-set
        kwargs (reported, never run).

    Raises:
        LegacyFormatError: the file is not a usable network pickle (truncated,
            corrupt, wrong type, unknown architecture or kwargs). The message
            says which.
        UnsafePickleError: the file references globals a network pickle never
            needs; nothing in it was executed.
    """
    if is_torch_pickle(path_or_bytes):
        from keras_stylegan.legacy.pytorch import load_torch_network_pkl
        out = load_torch_network_pkl(path_or_bytes, networks)
    else:
        out = _load_tf1(path_or_bytes, networks)
    from keras_stylegan.legacy.precision import apply_force_fp32
    return apply_force_fp32(out, force_fp32)


def _load_tf1(path_or_bytes, networks):
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

"""keras-stylegan: NVIDIA's StyleGAN and StyleGAN2 in Keras 3.

>>> from keras_stylegan import legacy, to_uint8
>>> nets = legacy.load_network_pkl("karras2019stylegan-ffhq-1024x1024.pkl")  # doctest: +SKIP
>>> img = nets["Gs"](z, truncation_psi=0.7, noise_mode="const")             # doctest: +SKIP

Names are imported on first use, so `import keras_stylegan` (and the
`keras-stylegan` console script's --help) does not load TensorFlow.
"""

import importlib

__version__ = "0.2.0"

_LAZY = {
    "Discriminator": "keras_stylegan.networks",       # old name of DiscriminatorSG1
    "DiscriminatorSG1": "keras_stylegan.networks",
    "Generator": "keras_stylegan.networks",
    "MappingNetwork": "keras_stylegan.networks",
    "SynthesisNetwork": "keras_stylegan.networks",    # old name of SynthesisNetworkSG1
    "SynthesisNetworkSG1": "keras_stylegan.networks",
    "DiscriminatorSG2": "keras_stylegan.networks",
    "SynthesisNetworkSG2": "keras_stylegan.networks",
    "build_discriminator": "keras_stylegan.networks",
    "to_uint8": "keras_stylegan.ops.basic",
    "load_generator": "keras_stylegan.loading",
}
_SUBMODULES = ("legacy", "presets", "generate", "layers", "ops", "networks", "loading")

__all__ = sorted(_LAZY) + list(_SUBMODULES) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_stylegan.{name}")
    raise AttributeError(f"module 'keras_stylegan' has no attribute {name!r}")

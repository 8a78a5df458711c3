"""keras-stylegan: NVIDIA's StyleGAN and StyleGAN2 in Keras 3.

>>> from keras_stylegan import legacy, to_uint8
>>> nets = legacy.load_network_pkl("karras2019stylegan-ffhq-1024x1024.pkl")  # doctest: +SKIP
>>> img = nets["Gs"](z, truncation_psi=0.7, noise_mode="const")             # doctest: +SKIP
"""

__version__ = "0.1.0"

from keras_stylegan.networks import (  # noqa: E402
    Discriminator, Generator, MappingNetwork, SynthesisNetwork, build_discriminator)
from keras_stylegan.ops import to_uint8  # noqa: E402
from keras_stylegan import legacy, presets  # noqa: E402

__all__ = ["Discriminator", "Generator", "MappingNetwork", "SynthesisNetwork",
           "build_discriminator", "legacy", "presets", "to_uint8", "__version__"]

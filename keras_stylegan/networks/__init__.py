"""StyleGAN networks: mapping, synthesis, generator and discriminator."""

from keras_stylegan.networks.common import num_features
from keras_stylegan.networks.discriminator_sg1 import Discriminator
from keras_stylegan.networks.discriminator_sg2 import DiscriminatorSG2
from keras_stylegan.networks.generator import Generator
from keras_stylegan.networks.mapping import MappingNetwork
from keras_stylegan.networks.registry import build_discriminator
from keras_stylegan.networks.synthesis_sg1 import SynthesisNetwork
from keras_stylegan.networks.synthesis_sg2 import SynthesisNetworkSG2

__all__ = ["Discriminator", "Generator", "MappingNetwork", "SynthesisNetwork",
           "build_discriminator", "num_features"]
__all__ += ["DiscriminatorSG2", "SynthesisNetworkSG2"]

"""StyleGAN networks: mapping, synthesis, generator and discriminator.

`Discriminator` and `SynthesisNetwork` are the StyleGAN1 classes' names before
0.2 (now `DiscriminatorSG1`, `SynthesisNetworkSG1`), kept for existing code;
files that name them still load (`networks.renames`).
"""

from keras_stylegan.networks import renames
from keras_stylegan.networks.common import num_features
from keras_stylegan.networks.discriminator_sg1 import DiscriminatorSG1
from keras_stylegan.networks.discriminator_sg2 import DiscriminatorSG2
from keras_stylegan.networks.generator import Generator
from keras_stylegan.networks.mapping import MappingNetwork
from keras_stylegan.networks.registry import build_discriminator
from keras_stylegan.networks.synthesis_sg1 import SynthesisNetworkSG1
from keras_stylegan.networks.synthesis_sg2 import SynthesisNetworkSG2

Discriminator = DiscriminatorSG1        # the name before 0.2
SynthesisNetwork = SynthesisNetworkSG1  # the name before 0.2
renames.register_old_names({cls.__name__: cls for cls in (DiscriminatorSG1, SynthesisNetworkSG1)})

__all__ = ["DiscriminatorSG1", "DiscriminatorSG2", "Generator", "MappingNetwork",
           "SynthesisNetworkSG1", "SynthesisNetworkSG2", "build_discriminator", "num_features",
           "Discriminator", "SynthesisNetwork"]

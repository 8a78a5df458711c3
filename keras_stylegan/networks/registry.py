"""Which synthesis network and discriminator class each family uses."""

import importlib

from keras_stylegan.networks.common import check_family

# family -> "module:Class" (imported lazily so each family lives in its own module)
SYNTHESIS = {
    "stylegan1": "keras_stylegan.networks.synthesis_sg1:SynthesisNetworkSG1",
    "stylegan2": "keras_stylegan.networks.synthesis_sg2:SynthesisNetworkSG2",
}
DISCRIMINATORS = {
    "stylegan1": "keras_stylegan.networks.discriminator_sg1:DiscriminatorSG1",
    "stylegan2": "keras_stylegan.networks.discriminator_sg2:DiscriminatorSG2",
}


def _load(table, family, what):
    check_family(family)
    if family not in table:
        raise NotImplementedError(f"No {what} is available for family {family!r} yet.")
    module, name = table[family].split(":")
    return getattr(importlib.import_module(module), name)


def synthesis_class(family):
    """The synthesis-network class of `family`."""
    return _load(SYNTHESIS, family, "synthesis network")


def discriminator_class(family):
    """The discriminator class of `family`."""
    return _load(DISCRIMINATORS, family, "discriminator")


def build_discriminator(family="stylegan1", **config):
    """Builds the discriminator of `family` from its constructor arguments."""
    return discriminator_class(family)(**config)

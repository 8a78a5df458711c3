"""The StyleGAN1 renames (`networks.renames`): old names are read, new ones written.

The end-to-end check (files written by the release before the renames load and
give that release's outputs) is `test_compat.py`; these are the pieces."""

import pathlib

import keras
import numpy as np

from keras_stylegan.networks import renames
from helpers import paths

COMPAT = pathlib.Path(paths.DATA) / "compat"


def test_old_weight_paths_are_renamed_and_new_ones_kept():
    old = "layers/synthesis_network/blocks/synthesis_block_2/layer1/epilogue/vars/0"
    assert renames.new_weight_path(old) == (
        "layers/synthesis_network_sg1/blocks/synthesis_block_sg1_2/conv1/epilogue/vars/0")
    for kept in ("layers/synthesis_network_sg2/blocks/synthesis_block_sg2_1/conv0/vars/0",
                 "layers/mapping_network/dense_layers/equalized_dense_1/vars/1",
                 "layers/synthesis_network_sg1/blocks/synthesis_block_sg1/conv0/vars"):
        assert renames.new_weight_path(kept) == kept


def test_checkpoint_keys_only_change_in_stylegan1_synthesis_blocks():
    new = "G.synthesis.b8.conv0.epilogue.noise.weight"
    old = renames.old_checkpoint_key(new)
    assert old == "G.synthesis.b8.layer0.epilogue.noise.weight"
    assert renames.is_old_checkpoint_key(old) and not renames.is_old_checkpoint_key(new)
    assert renames.old_checkpoint_key("D.b8.conv0.kernel") == "D.b8.conv0.kernel"


def test_a_file_written_now_uses_the_new_names(tmp_path):
    from helpers import tiny
    G, _, _ = tiny.networks(16)
    G(np.zeros([1, G.z_dim], "float32"))
    path = tmp_path / "G.keras"
    G.save(path)
    assert not renames.is_old_keras_file(path)
    assert renames.is_old_keras_file(COMPAT / "sg1_G.keras")
    upgraded = tmp_path / "up.keras"
    renames.upgrade_keras_file(COMPAT / "sg1_G.keras", upgraded)
    assert not renames.is_old_keras_file(upgraded)


def test_old_registered_names_deserialize_to_the_new_classes():
    from keras_stylegan.networks import DiscriminatorSG1, SynthesisNetworkSG1
    d = DiscriminatorSG1(resolution=8, fmap_base=32, fmap_max=16)
    config = keras.saving.serialize_keras_object(d)
    assert config["registered_name"] == "keras_stylegan>DiscriminatorSG1"
    config.update(registered_name="keras_stylegan>Discriminator", class_name="Discriminator")
    assert type(keras.saving.deserialize_keras_object(config)) is DiscriminatorSG1
    s = SynthesisNetworkSG1(resolution=8, dlatent_size=8, fmap_base=32, fmap_max=16)
    config = keras.saving.serialize_keras_object(s)
    config.update(registered_name="keras_stylegan>SynthesisNetwork", class_name="SynthesisNetwork")
    assert type(keras.saving.deserialize_keras_object(config)) is SynthesisNetworkSG1

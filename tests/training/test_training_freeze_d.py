"""Freeze-D (`--freezed N`): D's N highest-resolution blocks get no update, for
both families; the rest of D trains. (The command-line path, checkpoints and
resume with --freezed: tests/training/test_training_init.py.)"""

import numpy as np
import pytest

from helpers import tiny
from keras_stylegan.errors import ConfigError
from keras_stylegan.networks.discriminator_sg1 import DiscriminatorSG1
from keras_stylegan.networks.discriminator_sg2 import DiscriminatorSG2
from keras_stylegan.training import configs
from keras_stylegan.training.freeze_d import freeze
from keras_stylegan.training.gan import StyleGAN
from keras_stylegan.training.schedule import Schedule

BATCH = 8


def frozen_paths(D, resolutions):
    """The weights NVIDIA's Freeze-D keeps for these block resolutions, by name:
    everything under b{res} (and StyleGAN1's / configs a-d's fromrgb at res)."""
    r = D.resolution_log2
    names = set()
    for res in resolutions:
        names |= {f"/b{res}/", f"/fromrgb{res}/", f"/fromrgb_lod{r - res.bit_length() + 1}/"}
    return {v.path for v in D.weights if any(n in v.path for n in names)}


@pytest.mark.parametrize("family", ["stylegan1", "stylegan2"])
def test_frozen_blocks_keep_their_weights_and_the_rest_trains(family):
    G, D, Gs = tiny.networks(16, family=family)
    assert freeze(D, 1) == ["b16"]
    frozen = frozen_paths(D, [16])
    assert len(frozen) >= 4
    trainable = {v.path for v in D.trainable_variables}
    assert trainable == {v.path for v in D.weights if not v.path.endswith("/lod")} - frozen
    gan = StyleGAN(G, D, Gs, Schedule(16, progressive=False, minibatch_base=BATCH), seed=5)
    gan.compile(tiny.adam(), tiny.adam())
    # No optimizer slot for a frozen weight (Adam: 2 per trainable weight).
    assert len(gan.D_opt.variables) == 2 * len(D.trainable_variables) + 2
    before = {v.path: v.numpy().copy() for v in D.weights}
    images = tiny.synthetic_images(32, 16)
    gan.set_resolution(16)
    gan.fit(tiny.stream(images, np.zeros((32, 0), np.float32), BATCH, 16), epochs=1,
            steps_per_epoch=1, verbose=0, shuffle=False)
    moved = []
    for v in D.weights:
        if v.path in frozen:
            np.testing.assert_array_equal(v.numpy(), before[v.path], err_msg=v.path)
        elif not np.array_equal(v.numpy(), before[v.path]):
            moved.append(v.path)
    # Every kernel of the blocks below (b8, the 4x4 epilogue) was updated.
    kernels = [p for p in before if p.endswith("kernel") and ("/b8/" in p or "/b4/" in p)]
    assert kernels and set(kernels) <= set(moved)


def test_which_layers_each_architecture_freezes():
    """StyleGAN2 'skip' D has a fromrgb inside every block; configs a-d's
    progressive D has fromrgb_lod{n} beside each block; StyleGAN1's fromrgb{res}."""
    cases = [(DiscriminatorSG2(resolution=32, fmap_base=64, fmap_max=16, architecture="skip"),
              ["/b32/fromrgb/", "/b16/fromrgb/", "/b32/conv1/", "/b16/conv0/"]),
             (DiscriminatorSG2(resolution=32, fmap_base=64, fmap_max=16, architecture="orig",
                               progressive=True),
              ["/fromrgb_lod0/", "/fromrgb_lod1/", "/b16/conv1/"]),
             (DiscriminatorSG1(resolution=32, fmap_base=64, fmap_max=16),
              ["/fromrgb32/", "/fromrgb16/", "/b16/conv0/"])]
    for D, expected in cases:
        assert freeze(D, 2) == ["b32", "b16"]
        fixed = [v.path for v in D.weights
                 if v.path not in {t.path for t in D.trainable_variables}]
        for part in expected:
            assert any(part in p for p in fixed), (part, fixed)
        assert not any("/b8/" in p or "/b4/" in p or "fromrgb8" in p for p in fixed
                       if not p.endswith("/lod"))
        assert {p for p in fixed if not p.endswith("/lod")} == frozen_paths(D, [32, 16])


def test_the_number_of_blocks_is_checked():
    D = DiscriminatorSG1(resolution=16, fmap_base=64, fmap_max=16)
    for bad in (3, -1):
        with pytest.raises(ConfigError, match=r"has 2 blocks above 4x4 \(b16, b8\); freeze 0 "
                                              "to 2"):
            freeze(D, bad)
    assert freeze(D, 2) == ["b16", "b8"] and freeze(D, 0) == []
    with pytest.raises(ConfigError, match="freezed"):  # also before anything is built
        configs.resolve(configs.get("tiny", freezed=5), 32, 3, 0, 1)
    with pytest.raises(ConfigError, match="takes an integer"):
        configs.get("tiny", freezed=1.5)

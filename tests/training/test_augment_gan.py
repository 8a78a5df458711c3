"""ADA inside the GAN's step: every set of images D sees goes through the
pipeline, with one p per step, in StyleGAN2's G main, D main and lazy R1
phases (StyleGAN1's R1-in-D-main phase too); noaug bypasses it."""

import keras
import numpy as np
import pytest
from helpers import tiny
from keras_stylegan.errors import ConfigError
from keras_stylegan.training import gan as gan_lib
from keras_stylegan.training.gan import StyleGAN
from keras_stylegan.training.schedule import Schedule

# About 35 s on 2 idle CPU cores (three compiled steps).
BATCH, RES = 8, 16
D_SEES = {gan_lib._AUG_REAL, gan_lib._AUG_FAKE_D, gan_lib._AUG_FAKE_G, gan_lib._AUG_R1}


def make_gan(family, **kwargs):
    G, D, Gs = tiny.networks(RES, family=family)
    gan = StyleGAN(G, D, Gs, Schedule(RES, progressive=False, minibatch_base=BATCH), seed=3,
                   **kwargs)
    gan.compile(tiny.adam(), tiny.adam())
    gan.set_resolution(RES)
    return gan


def spy(gan):
    """Records (purpose, p tensor, changed?) of every augmentation the step traces."""
    calls, original = [], gan._augment

    def augment(images, s, purpose):
        out = original(images, s, purpose)
        calls.append((purpose, None if s is None else s["aug_p"], out is not images))
        return out
    gan._augment = augment
    return calls


def one_step(gan):
    images = tiny.synthetic_images(BATCH, RES)
    labels = np.zeros((BATCH, 0), np.float32)
    gan.fit(tiny.stream(images, labels, BATCH, RES), epochs=1, steps_per_epoch=1, verbose=0,
            shuffle=False)


@pytest.mark.parametrize("family,kwargs,purposes", [
    ("stylegan2", dict(D_reg_interval=4, G_reg_interval=4, pl_weight=2.0), D_SEES),
    ("stylegan1", dict(), D_SEES - {gan_lib._AUG_R1}),  # R1 on the D-main reals
])
@pytest.mark.slow  # ~25 s: both families
def test_every_image_d_sees_is_augmented_with_one_p(family, kwargs, purposes):
    gan = make_gan(family, aug="fixed", aug_p=0.5, augpipe="bgc", **kwargs)
    calls = spy(gan)
    one_step(gan)
    assert {purpose for purpose, _, _ in calls} == purposes
    assert all(changed for _, _, changed in calls)
    assert len({id(p) for _, p, _ in calls}) == 1  # the p read once at the step's start
    assert float(gan.aug_p.numpy()) == 0.5  # fixed: never adjusted
    keras.config.set_dtype_policy("float32")


def test_noaug_leaves_d_inputs_alone():
    gan = make_gan("stylegan1")
    calls = spy(gan)
    one_step(gan)
    assert calls and not any(changed for _, _, changed in calls)
    assert gan.augment_pipe is None


def test_bad_augment_arguments():
    with pytest.raises(ConfigError, match="--augpipe"):
        make_gan("stylegan1", aug="ada", augpipe="nope")
    with pytest.raises(ConfigError, match="--aug"):
        make_gan("stylegan1", aug="sometimes")

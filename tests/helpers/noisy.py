"""Generators whose per-pixel noise is visible (for the serving and explorer tests)."""

import numpy as np


def noisy_generator(preset="stylegan-tiny-32", seed=3):
    """`preset`'s generator with seeded random weights and noise strengths in [0.5, 1].

    NVIDIA initialises the noise strengths to zero, so a fresh network draws
    the same image whatever its noise: a test of noise modes needs them set.
    """
    import keras

    from keras_stylegan import presets
    keras.utils.set_random_seed(seed)
    G = presets.generator(preset)
    G(np.zeros([1, G.z_dim], np.float32))  # build
    rng = np.random.RandomState(seed)
    for w in G.weights:
        if w.path.endswith("noise/weight"):
            w.assign(rng.uniform(0.5, 1.0, w.shape).astype(np.float32))
    return G

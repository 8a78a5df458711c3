"""Uncurated images: a grid of seeds, as the paper's Figures 10-13.

Example:

>>> from keras_stylegan import presets
>>> net = FigureNetwork(presets.generator("stylegan-tiny-32"))
>>> uncurated(net, range(6), cols=3).shape     # 2 rows of 3
(64, 96, 3)
"""

from keras_stylegan.figures.network import FigureNetwork  # noqa: F401 (doctest)
from keras_stylegan.generate import image_grid
from keras_stylegan.networks.generator import DEFAULT

# The paper's uncurated figures use psi = 0.7 (on the first 8 styles, 4-32 px).
UNCURATED_PSI = 0.7


def uncurated(net, seeds, psi=UNCURATED_PSI, cutoff=DEFAULT, cols=None):
    """A uint8 grid of one image per seed (`cols` per row; default: square)."""
    seeds = list(seeds)
    return image_grid(net.images(net.ws(seeds, psi, cutoff), seeds=seeds), cols=cols)

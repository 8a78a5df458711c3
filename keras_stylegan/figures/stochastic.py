"""Stochastic variation: the paper's Figure 4 (one w, many noise draws) and
Figure 5 (noise on all / no / fine / coarse layers).

The noise of draw `i` of seed `s` is that of `(s, noise_seed + i)`
(`keras_stylegan.noise`), so every figure is reproducible.

Example:

>>> from keras_stylegan import presets
>>> net = FigureNetwork(presets.generator("stylegan-tiny-32"))
>>> variation(net, seed=0, draws=8, show=3).shape   # 2 rows of 3 draws + std
(64, 128, 3)
>>> noise_layers(net, seeds=[0, 1]).shape            # all, none, fine, coarse
(64, 128, 3)
"""

import numpy as np

from keras_stylegan.errors import ConfigError
from keras_stylegan.figures.layers import noise_masks
from keras_stylegan.figures.network import FigureNetwork  # noqa: F401 (doctest)
from keras_stylegan.generate import image_grid
from keras_stylegan.networks.generator import DEFAULT

# NVIDIA's draw_noise_detail_figure: 100 draws for the std, its scale 4.
PAPER_DRAWS = 100
STD_GAIN = 4
FIGURE5_ORDER = ("all", "none", "fine", "coarse")


def std_image(images):
    """NVIDIA's per-pixel standard deviation image of uint8 NHWC draws:
    `clip(std(mean over channels) * 4 + 0.5)`, as an image of the same channels.

    >>> int(std_image(np.zeros([3, 2, 2, 3], np.uint8)).max())
    0
    """
    gray = np.asarray(images, np.float64).mean(axis=3)
    std = np.clip(gray.std(axis=0) * STD_GAIN + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(std[..., None], np.shape(images)[3], axis=2)


def crop_zoom(image, crop):
    """The square `crop = (x, y, size)` of an HWC image, enlarged (nearest) to the image's size."""
    x, y, size = crop
    zoom = max(image.shape[0] // size, 1)
    return image[y:y + size, x:x + size].repeat(zoom, 0).repeat(zoom, 1)


def default_crop(resolution):
    """A quarter-size square at the image's centre: (x, y, size)."""
    size = max(resolution // 4, 1)
    return ((resolution - size) // 2,) * 2 + (size,)


def check_crop(crop, resolution):
    x, y, size = (int(v) for v in crop)
    if size < 1 or resolution % size or x < 0 or y < 0 or x + size > resolution \
            or y + size > resolution:
        raise ConfigError(f"crop {x},{y},{size} must be a square X,Y,SIZE inside the "
                          f"{resolution} px image, with SIZE dividing {resolution}.")
    return x, y, size


def variation(net, seed, draws=PAPER_DRAWS, show=4, crop=None, psi=1.0, cutoff=DEFAULT):
    """Figure 4: top row `show` draws of one w and the std image of all `draws`;
    bottom row the same `crop` zoomed in."""
    if not 1 <= show <= draws:
        raise ConfigError(f"show must be in [1, draws = {draws}]; received {show}.")
    crop = check_crop(crop or default_crop(net.resolution), net.resolution)
    ws = np.repeat(net.ws([seed], psi, cutoff), draws, axis=0)
    images = net.images(ws, seeds=[seed] * draws,
                        noise_seeds=[net.noise_seed + i for i in range(draws)])
    top = list(images[:show]) + [std_image(images)]
    return image_grid(np.stack(top + [crop_zoom(im, crop) for im in top]), cols=show + 1)


def noise_layers(net, seeds, split=None, psi=1.0, cutoff=DEFAULT):
    """Figure 5: a row per seed, columns noise on all / no / fine / coarse layers
    (the same draw; fine = at `split` px and up, see `layers.noise_masks`)."""
    if not net.per_layer_noise:
        raise ConfigError("noise on some layers only (Figure 5) needs per-layer noise maps, "
                          "which an exported SavedModel does not take: use the network it "
                          "was exported from, or draw only the variation figure")
    seeds = list(seeds)
    masks = noise_masks(net.synthesis, split)
    ws = net.ws(seeds, psi, cutoff)
    maps = net.seed_noise(seeds)
    cols = []
    for name in FIGURE5_ORDER:
        noise = [m if on else np.zeros_like(m) for m, on in zip(maps, masks[name])]
        cols.append(net.images(ws, noise=noise))
    return image_grid(np.stack(cols, axis=1).reshape((-1,) + cols[0].shape[1:]),
                      cols=len(FIGURE5_ORDER))

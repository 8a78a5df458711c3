"""The image distances the projector minimises, as feature maps.

Each distance is `sum((features(a) - features(b)) ** 2)` for a `features`
function of NHWC images in [-1, 1], so the target's features are computed once
(as NVIDIA's projector does):

- `LPIPSFeatures`: LPIPS-VGG16 (the metrics' `LPIPSDistance.features`), on
  images area-downsampled to 256 px when larger, as StyleGAN2's projector
  (`vgg16.pt`, `return_lpips=True`). Needs the user's weight files
  (`vgg16-397923af.pth` and the lpips package's `vgg.pth`).
- `PixelFeatures`: the FALLBACK when those files are absent: the mean squared
  pixel difference summed over a pyramid of scales (the image, then halved by
  2x2 averaging down to 8 px). It is not NVIDIA's distance: it optimises
  colours and layout well but misses perceptual detail (projections look
  blurrier than with LPIPS).

>>> import numpy as np
>>> feats = PixelFeatures()
>>> a, b = np.zeros([1, 16, 16, 3], "float32"), np.full([1, 16, 16, 3], 0.5, "float32")
>>> float(np.sum((feats(a) - feats(b)) ** 2))  # 0.25 at 16 px and at 8 px
0.5
"""

from keras import ops

from keras_stylegan.errors import ConfigError

LPIPS_RESOLUTION = 256  # NVIDIA's projector compares images at most 256 px in size
MIN_PYRAMID = 8
MIN_LPIPS = 16  # VGG16's fifth stage is 1 px there


def area_downsample(images, size):
    """NHWC images -> `size` x `size` by averaging (`F.interpolate(mode='area')`
    for a whole factor). Images already at most `size` are returned as they are."""
    h = images.shape[1]
    if h <= size:
        return images
    if h % size:
        raise ValueError(f"cannot area-downsample {h} px images to {size} px exactly.")
    return ops.average_pool(images, h // size, h // size, padding="valid")


def _rgb(images):
    return ops.tile(images, (1, 1, 1, 3)) if images.shape[-1] == 1 else images


class LPIPSFeatures:
    """LPIPS-VGG16 features (see the module docstring); `net` is the metrics'
    `LPIPSDistance` (`metrics.networks.feature_network("lpips", ...)`)."""

    name = "lpips-vgg16"
    fallback = False

    def __init__(self, net):
        self.net = net

    def __call__(self, images):
        images = area_downsample(ops.convert_to_tensor(images, "float32"), LPIPS_RESOLUTION)
        if images.shape[1] < MIN_LPIPS:
            raise ConfigError(f"LPIPS-VGG16 needs images of at least {MIN_LPIPS} px (VGG16 "
                              f"halves them four times); these are {images.shape[1]} px: use "
                              "the pixel distance (--distance pixel).")
        return self.net.features(_rgb(images))


class PixelFeatures:
    """The fallback distance: multi-scale pixel MSE (see the module docstring)."""

    name = "pixel-mse-multiscale (fallback: no LPIPS weight files)"
    fallback = True

    def __call__(self, images):
        x = ops.convert_to_tensor(images, "float32")
        out = []
        while True:
            numel = x.shape[1] * x.shape[2] * x.shape[3]
            out.append(ops.reshape(x, (ops.shape(x)[0], -1)) / float(numel) ** 0.5)
            if x.shape[1] <= MIN_PYRAMID or x.shape[1] % 2:
                break
            x = ops.average_pool(x, 2, 2, padding="valid")
        return ops.concatenate(out, axis=1)


def projection_features(kind="auto", folder=None):
    """The projector's `features` function for distance `kind`.

    Args:
        kind: 'lpips' (the weight files must be found), 'pixel' (the fallback) or
            'auto' (LPIPS when the files are found, else the fallback).
        folder: the `--feature-weights` folder (else `$KERAS_STYLEGAN_WEIGHTS`).

    Returns:
        (features, note): `note` is None, or the sentence saying why the fallback
        is used (callers print it: the fallback is never silent).

    Raises:
        WeightsFileError: kind 'lpips' and a file is missing or unusable.
    """
    from keras_stylegan.metrics.networks import feature_network
    from keras_stylegan.metrics.weights import WeightsFileError, find_weights
    if kind not in ("auto", "lpips", "pixel"):
        raise ValueError(f"distance must be 'auto', 'lpips' or 'pixel'; received {kind!r}.")
    if kind == "pixel":
        return PixelFeatures(), None
    try:  # absent files: the fallback; present but unusable: an error
        find_weights("vgg16", None, folder)
        find_weights("lpips", None, folder)
    except WeightsFileError as e:
        if kind == "lpips":
            raise
        return PixelFeatures(), (
            f"LPIPS weights not found, so the projector uses its FALLBACK distance "
            f"{PixelFeatures.name!r}, not NVIDIA's LPIPS-VGG16 ({e})")
    return LPIPSFeatures(feature_network("lpips", folder=folder)), None

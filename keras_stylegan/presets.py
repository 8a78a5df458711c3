"""Named network configurations: NVIDIA's released models and tiny test configs.

Each preset maps a name to the constructor arguments of the generator and the
discriminator, a description and the file NVIDIA released (load those with
`keras_stylegan.legacy.load_network_pkl`; a preset gives the same
architecture with fresh random weights).

Example:

>>> from keras_stylegan import presets
>>> G = presets.generator("stylegan-tiny-32")
>>> D = presets.discriminator("stylegan-tiny-32")
>>> sorted(presets.PRESETS)[:2]
['stylegan-bedrooms-256', 'stylegan-cars-512']
"""

import copy

from keras_stylegan.errors import ConfigError

from keras_stylegan.networks.generator import Generator
from keras_stylegan.networks.registry import build_discriminator


def _sg1(resolution, description, source, **extra):
    gen = dict(family="stylegan1", resolution=resolution, num_channels=3, **extra)
    disc = dict(family="stylegan1", resolution=resolution, num_channels=3)
    return dict(description=description, source=source, generator=gen, discriminator=disc)


def _tiny(family, resolution=32, label_size=0):
    gen = dict(family=family, resolution=resolution, num_channels=3, latent_size=64,
               dlatent_size=64, label_size=label_size,
               mapping_kwargs=dict(mapping_fmaps=64),
               synthesis_kwargs=dict(fmap_base=512, fmap_max=64))
    disc = dict(family=family, resolution=resolution, num_channels=3, label_size=label_size,
                fmap_base=512, fmap_max=64)
    return dict(description=f"Tiny {family} config for tests ({resolution}x{resolution}).",
                source=None, generator=gen, discriminator=disc)


def _sg2(resolution, description, source, fmap_base=16 << 10):
    """A StyleGAN2 config-f network: 'skip' G, 'resnet' D, fmap_base 16384.

    (NVIDIA's configs a-e halve fmap_base to 8192; config-f keeps the default.)
    """
    gen = dict(family="stylegan2", resolution=resolution, num_channels=3,
               synthesis_kwargs=dict(fmap_base=fmap_base))
    disc = dict(family="stylegan2", resolution=resolution, num_channels=3, fmap_base=fmap_base)
    return dict(description=description, source=source, generator=gen, discriminator=disc)


PRESETS = {
    "stylegan-ffhq-1024": _sg1(
        1024, "StyleGAN, FFHQ faces 1024x1024 (Karras et al. 2019).",
        "karras2019stylegan-ffhq-1024x1024.pkl"),
    "stylegan-celebahq-1024": _sg1(
        1024, "StyleGAN, CelebA-HQ faces 1024x1024.",
        "karras2019stylegan-celebahq-1024x1024.pkl"),
    "stylegan-bedrooms-256": _sg1(
        256, "StyleGAN, LSUN bedrooms 256x256.", "karras2019stylegan-bedrooms-256x256.pkl"),
    "stylegan-cats-256": _sg1(
        256, "StyleGAN, LSUN cats 256x256.", "karras2019stylegan-cats-256x256.pkl"),
    "stylegan-cars-512": _sg1(
        512, "StyleGAN, LSUN cars 512x384, stored as 512x512 (images padded top and "
        "bottom; crop rows 64:448 for the 512x384 picture).",
        "karras2019stylegan-cars-512x384.pkl"),
    "stylegan-tiny-32": _tiny("stylegan1"),
    "stylegan-tiny-cond-32": _tiny("stylegan1", label_size=4),
    "stylegan2-ffhq-1024": _sg2(
        1024, "StyleGAN2 config-f, FFHQ faces 1024x1024 (Karras et al. 2020).",
        "stylegan2-ffhq-config-f.pkl"),
    "stylegan2-car-512": _sg2(
        512, "StyleGAN2 config-f, LSUN car 512x384, stored as 512x512 (images padded top "
        "and bottom; crop rows 64:448 for the 512x384 picture).",
        "stylegan2-car-config-f.pkl"),
    "stylegan2-cat-256": _sg2(
        256, "StyleGAN2 config-f, LSUN cat 256x256.", "stylegan2-cat-config-f.pkl"),
    "stylegan2-church-256": _sg2(
        256, "StyleGAN2 config-f, LSUN church 256x256.", "stylegan2-church-config-f.pkl"),
    "stylegan2-horse-256": _sg2(
        256, "StyleGAN2 config-f, LSUN horse 256x256.", "stylegan2-horse-config-f.pkl"),
    "stylegan2-tiny-32": _tiny("stylegan2"),
    "stylegan2-tiny-cond-32": _tiny("stylegan2", label_size=4),
}


def get(name):
    """A deep copy of preset `name`'s config, with a clear error for unknown names."""
    if name not in PRESETS:
        raise ConfigError(f"Unknown preset {name!r}. Available: {', '.join(sorted(PRESETS))}.")
    return copy.deepcopy(PRESETS[name])


def generator(name, **overrides):
    """Builds the generator of preset `name` (random weights); kwargs override the config."""
    config = get(name)["generator"]
    config.update(overrides)
    return Generator(**config)


def discriminator(name, **overrides):
    """Builds the discriminator of preset `name` (random weights)."""
    config = get(name)["discriminator"]
    config.update(overrides)
    return build_discriminator(**config)

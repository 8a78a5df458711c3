"""Freeze-D (Mo et al. 2020, as StyleGAN2-ADA's `--freezed`): the discriminator's
highest-resolution blocks keep their pretrained weights while the rest trains.

`freeze(D, n)` freezes D's first `n` blocks from the input side: `b{R}`,
`b{R/2}`, ... (with the `fromrgb` layers that read the images at those
resolutions), for both families. The 4x4 block (epilogue) and a conditional
D's label mapping always train. Frozen layers are made non-trainable, so
their weights are left out of `D.trainable_variables` (no gradient, no
optimizer slot, no update) but stay in `D.weights`, and so in checkpoints.

NVIDIA's code counts layers (each FromRGB, Conv0, Conv1 and Skip), not
blocks: its `--freezed=10` freezes about three resnet blocks; here
`--freezed 3` does.

Example:

>>> from keras_stylegan.networks.discriminator_sg2 import DiscriminatorSG2
>>> from keras_stylegan.training.freeze_d import freeze
>>> D = DiscriminatorSG2(resolution=32, fmap_base=64, fmap_max=16)
>>> freeze(D, 2)
['b32', 'b16']
>>> any("b32" in v.path for v in D.trainable_variables)
False
"""

from keras_stylegan.errors import ConfigError


def blocks_from_input(D):
    """[(name, layers)] of D's blocks above 4x4, highest resolution first; `layers`
    are the block and the `fromrgb` layers that read images at its resolution."""
    r = D.resolution_log2
    if D.family == "stylegan1":  # blocks[k - 3] and fromrgb[k - 2] work at 2**k px
        return [(f"b{2 ** k}", [D.blocks[k - 3], D.fromrgb[k - 2]]) for k in range(r, 2, -1)]
    out = []
    for i, (k, block) in enumerate(zip(range(r, 2, -1), D.blocks)):
        layers = [block] + ([D.fromrgbs[i]] if D.fromrgbs else [])  # progressive a-d
        out.append((f"b{2 ** k}", layers))
    return out


def check_count(n, resolution):
    """Raises `ConfigError` unless 0 <= n <= the number of blocks above 4x4 of a
    `resolution` px discriminator (log2(resolution) - 2).

    >>> check_count(7, 256)
    Traceback (most recent call last):
    ...
    keras_stylegan.errors.ConfigError: --freezed 7: the 256x256 discriminator has 6 blocks above 4x4 (b256, b128, b64, b32, b16, b8); freeze 0 to 6 of them (Freeze-D counts blocks from the input, the highest resolution first).
    """
    names = [f"b{2 ** k}" for k in range(int(resolution).bit_length() - 1, 2, -1)]
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= len(names):
        raise ConfigError(
            f"--freezed {n!r}: the {resolution}x{resolution} discriminator has "
            f"{len(names)} blocks above 4x4 ({', '.join(names) or 'none'}); freeze 0 to "
            f"{len(names)} of them (Freeze-D counts blocks from the input, the highest "
            "resolution first).")


def freeze(D, n):
    """Freezes D's `n` highest-resolution blocks; returns their names.

    Raises `ConfigError` unless 0 <= n <= the number of blocks above 4x4.
    """
    check_count(n, D.resolution)
    blocks = blocks_from_input(D)
    for _, layers in blocks[:n]:
        for layer in layers:
            layer.trainable = False
    return [name for name, _ in blocks[:n]]

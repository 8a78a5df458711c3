"""Which styles and noise inputs sit at which resolution: the layer ranges of the figures.

Derived from the synthesis network's blocks (their style indices, `w_indices`
for StyleGAN1 and `w_index` for StyleGAN2, and `noise_shapes`), never typed
in. A style's resolution is that of the lowest block reading it (StyleGAN2's
`torgb` of the block at `r` px shares its style with the next block's first
conv; it counts at `r`), so a 1024 px network of either family has the
paper's ranges: styles 0-3 at 4-8 px (coarse), 4-7 at 16-32 px (middle) and
8-17 at 64-1024 px (fine).

Example:

>>> from keras_stylegan import presets
>>> G = presets.generator("stylegan-tiny-32")
>>> style_resolutions(G.synthesis)
[4, 4, 8, 8, 16, 16, 32, 32]
>>> style_preset(G.synthesis, "middle")
[4, 5, 6, 7]
"""

from keras_stylegan.errors import ConfigError

# The paper's (Karras et al. 2019, Figure 3) style ranges, in px (None: no upper bound).
STYLE_PRESETS = {"coarse": (4, 8), "middle": (16, 32), "fine": (64, None)}
# The paper's Figure 5 splits noise at 64 px: coarse 4-32 px, fine 64-1024 px.
PAPER_NOISE_SPLIT = 64


def _block_styles(block):
    """The style indices a synthesis block reads (either family)."""
    if hasattr(block, "w_indices"):
        return tuple(block.w_indices)
    return tuple(block.w_index.values())


def _block_resolution(block):
    return int(block.noise_shapes[0][0])


def style_resolutions(synthesis):
    """[resolution in px of each style index], `num_ws` long, lowest block first."""
    res = [None] * synthesis.num_ws
    for block in synthesis.blocks:
        for i in _block_styles(block):
            if res[i] is None:
                res[i] = _block_resolution(block)
    return res


def noise_resolutions(synthesis):
    """[resolution in px of each noise input], in the network's noise order."""
    return [int(h) for h, _ in synthesis.noise_shapes]


def style_preset(synthesis, name):
    """The style indices of preset `name` ('coarse', 'middle' or 'fine') for this network.

    Raises `ConfigError` when the name is unknown or the network has no layers
    at that preset's resolutions (e.g. 'fine' = 64 px and up of a 32 px network).
    """
    if name not in STYLE_PRESETS:
        raise ConfigError(f"unknown style preset {name!r}; use one of "
                          f"{', '.join(STYLE_PRESETS)} or a range such as '0-3'.")
    lo, hi = STYLE_PRESETS[name]
    res = style_resolutions(synthesis)
    out = [i for i, r in enumerate(res) if r >= lo and (hi is None or r <= hi)]
    if not out:
        span = f"{lo} px and up" if hi is None else f"{lo}-{hi} px"
        raise ConfigError(
            f"this {synthesis.resolution} px network has no {name} styles ({span}); use "
            f"another preset or a range of its styles 0-{synthesis.num_ws - 1}.")
    return out


def parse_styles(synthesis, text):
    """'coarse' / 'middle' / 'fine' or a range such as '0-3,8' -> sorted style indices."""
    from keras_stylegan.generate import parse_seeds
    text = str(text).strip()
    if text in STYLE_PRESETS:
        return style_preset(synthesis, text)
    try:
        styles = sorted(set(parse_seeds(text)))
    except ValueError as e:
        raise ConfigError(f"styles: {e} Or use coarse, middle or fine.") from None
    if styles[-1] >= synthesis.num_ws:
        raise ConfigError(f"style {styles[-1]} is out of range: the network has styles "
                          f"0-{synthesis.num_ws - 1}.")
    return styles


def default_noise_split(resolution):
    """The paper's 64 px split between coarse and fine noise, or half the
    resolution for networks of 64 px and less (so both halves are non-empty).

    >>> default_noise_split(1024), default_noise_split(64), default_noise_split(16)
    (64, 32, 8)
    """
    return min(PAPER_NOISE_SPLIT, int(resolution) // 2)


def noise_masks(synthesis, split=None):
    """{'all', 'none', 'fine', 'coarse'}: which noise inputs are on, as the paper's
    Figure 5 (fine = at `split` px and up, coarse = below)."""
    res = noise_resolutions(synthesis)
    split = default_noise_split(synthesis.resolution) if split is None else int(split)
    if not 4 < split <= synthesis.resolution:
        raise ConfigError(f"the noise split must be in (4, {synthesis.resolution}] px; "
                          f"received {split}.")
    return {"all": [True] * len(res), "none": [False] * len(res),
            "fine": [r >= split for r in res], "coarse": [r < split for r in res]}

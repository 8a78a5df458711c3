"""The truncation trick, as the paper's Figure 8: one row per seed, one column per psi.

Each image is `w_avg + psi * (w - w_avg)` on the first `cutoff` styles
(`Generator.truncate`): psi 1 is the untruncated image, 0 the average face,
negative values its "opposite".

Example:

>>> from keras_stylegan import presets
>>> net = FigureNetwork(presets.generator("stylegan-tiny-32"))
>>> truncation(net, [91, 388], [1, 0.5, 0, -0.5]).shape
(64, 128, 3)
"""

import numpy as np

from keras_stylegan.errors import ConfigError
from keras_stylegan.figures.network import FigureNetwork  # noqa: F401 (doctest)
from keras_stylegan.generate import image_grid
from keras_stylegan.networks.generator import DEFAULT

# NVIDIA's `draw_truncation_trick_figure` (generate_figures.py).
PAPER_SEEDS = (91, 388)
PAPER_PSIS = (1, 0.7, 0.5, 0, -0.5, -1)


def parse_psis(text):
    """'1,0.5,0' -> [1, 0.5, 0]; 'A..B' or 'A..B:N' -> N (default 9) even steps from A to B.

    >>> parse_psis("1..-1:5")
    [1.0, 0.5, 0.0, -0.5, -1.0]
    """
    text = str(text).strip()
    try:
        if ".." in text:
            span, _, steps = text.partition(":")
            lo, hi = (float(v) for v in span.split(".."))
            steps = int(steps or 9)
            if steps < 2:
                raise ValueError
            return [round(float(v), 6) for v in np.linspace(lo, hi, steps)]
        psis = [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"bad psi list {text!r}; use e.g. '1,0.7,0.5,0,-0.5,-1' or "
                          "'1..-1:9'.") from None
    if not all(np.isfinite(psis)):
        raise ConfigError(f"psi values must be finite numbers; received {text!r}.")
    return psis


def truncation(net, seeds, psis, cutoff=DEFAULT):
    """The uint8 grid: len(seeds) rows x len(psis) columns."""
    seeds = list(seeds)
    all_ws = np.stack([net.ws(seeds, psi, cutoff) for psi in psis], axis=1)
    all_ws = all_ws.reshape((-1,) + all_ws.shape[2:])  # seed-major: a row per seed
    images = net.images(all_ws, seeds=np.repeat(seeds, len(psis)))
    return image_grid(images, cols=len(psis))

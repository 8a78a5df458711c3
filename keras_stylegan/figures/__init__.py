"""The papers' figures of a generator, as NumPy images (`keras-stylegan figures`).

* `uncurated`: a grid of seeds (Figures 10-13);
* `style_mixing`: Figure 3 (column sources' styles replace the rows' in a
  layer range: coarse 4-8 px, middle 16-32 px, fine 64 px and up, `layers`);
* `truncation`: Figure 8, psi around the tracked `w_avg`;
* `variation` / `noise_layers`: Figures 4 and 5 (stochastic variation);
* `interpolation_frames`: lerp in W or slerp in Z between seeds.

Every figure takes a `FigureNetwork` (a generator with its noise settings)
and returns uint8 NHWC / HWC NumPy arrays; random noise is derived from the
seeds (`keras_stylegan.noise`), so the same arguments give the same pixels.

Example:

>>> from keras_stylegan import presets
>>> from keras_stylegan.figures import FigureNetwork, truncation
>>> net = FigureNetwork(presets.generator("stylegan-tiny-32"))
>>> truncation(net, seeds=[1, 2], psis=[1, 0, -1]).shape
(64, 96, 3)
"""

from keras_stylegan.figures.interpolation import interpolation_frames
from keras_stylegan.figures.layers import parse_styles, style_preset, style_resolutions
from keras_stylegan.figures.network import FigureNetwork
from keras_stylegan.figures.stochastic import noise_layers, variation
from keras_stylegan.figures.style_mixing import Source, style_mixing
from keras_stylegan.figures.truncation import parse_psis, truncation
from keras_stylegan.figures.uncurated import uncurated

__all__ = ["FigureNetwork", "Source", "interpolation_frames", "noise_layers", "parse_psis",
           "parse_styles", "style_mixing", "style_preset", "style_resolutions", "truncation",
           "uncurated", "variation"]

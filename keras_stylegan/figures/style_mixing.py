"""Style mixing, as the paper's Figure 3 and NVIDIA's `style_mixing.py`.

Each cell is the row source with the given styles taken from the column
source (`w = w_row; w[styles] = w_col[styles]`). The canvas has the column
sources on the top row, the row sources on the left column and a black
top-left corner.

Example:

>>> from keras_stylegan import presets
>>> from keras_stylegan.figures.layers import style_preset
>>> net = FigureNetwork(presets.generator("stylegan-tiny-32"))
>>> rows, cols = Source.from_seeds(net, [1, 2]), Source.from_seeds(net, [3, 4, 5])
>>> style_mixing(net, rows, cols, style_preset(net.synthesis, "coarse")).shape
(96, 128, 3)
"""

from dataclasses import dataclass

import numpy as np

from keras_stylegan.figures.network import FigureNetwork  # noqa: F401 (doctest)
from keras_stylegan.generate import image_grid


@dataclass
class Source:
    """Source images of a style-mixing figure: ws [N, num_ws, w_dim] and the
    seed of each (for random noise)."""

    ws: np.ndarray
    seeds: list

    @classmethod
    def from_seeds(cls, net, seeds, psi=1.0):
        return cls(net.ws(list(seeds), psi), list(seeds))

    @classmethod
    def from_ws(cls, ws):
        """Sources from a ws file (e.g. a projected image); noise seeds 0, 1, ..."""
        return cls(np.asarray(ws, np.float32), list(range(len(ws))))

    @staticmethod
    def concat(sources):
        return Source(np.concatenate([s.ws for s in sources]),
                      [seed for s in sources for seed in s.seeds])


def mix(row_ws, col_ws, styles):
    """`row_ws` with `styles` replaced by `col_ws`'s: NVIDIA's `w[col_styles] = w_col[col_styles]`.

    >>> mix(np.zeros([1, 4, 2]), np.ones([1, 4, 2]), [1, 2])[0, :, 0].tolist()
    [0.0, 1.0, 1.0, 0.0]
    """
    out = np.array(row_ws, np.float32, copy=True)
    out[:, styles] = np.asarray(col_ws, np.float32)[:, styles]
    return out


def style_mixing(net, rows, cols, styles):
    """The uint8 canvas: (len(rows) + 1) x (len(cols) + 1) images."""
    nr, nc = len(rows.seeds), len(cols.seeds)
    row_img = net.images(rows.ws, seeds=rows.seeds)
    col_img = net.images(cols.ws, seeds=cols.seeds)
    cell_ws = mix(np.repeat(rows.ws, nc, axis=0), np.tile(cols.ws, (nr, 1, 1)), styles)
    cells = net.images(cell_ws, seeds=np.repeat(rows.seeds, nc)).reshape(
        (nr, nc) + row_img.shape[1:])
    tiles = [np.zeros_like(row_img[0])] + list(col_img)
    for r in range(nr):
        tiles += [row_img[r]] + list(cells[r])
    return image_grid(np.stack(tiles), cols=nc + 1)

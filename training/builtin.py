"""The built-in dataset: procedurally drawn shapes with known factors of variation.

Each image shows one flat-coloured object on a flat background, drawn in NumPy
(no download, no TensorFlow) with analytic anti-aliasing: the coverage of each
pixel is `clip(0.5 - d, 0, 1)` where `d` is the signed distance (in pixels)
from the pixel centre to the object's outline. Six independent factors:

| factor       | kind        | values                                              |
|--------------|-------------|-----------------------------------------------------|
| `shape`      | categorical | circle, square, triangle, diamond, plus             |
| `color`      | categorical | red, green, blue, yellow, magenta, cyan (object)    |
| `background` | categorical | black, gray, white, beige                           |
| `size`       | continuous  | half-extent of the object's bounding box, 0.18-0.32 |
| `x`, `y`     | continuous  | centre of the bounding box, 0.34-0.66               |

`size`, `x` and `y` are fractions of the image side (x to the right, y
downwards, (0, 0) the top-left corner of the image), so an index draws the
same picture at every resolution; the object always lies fully inside the
image. Image `i` of seed `s` depends only on `(s, i)`: the first N images of a
larger set are the N-image set.

Label layout (`LABEL_SIZE` = 18 floats, names in `LABEL_NAMES`)::

    [0:5]   shape one-hot       (SHAPES order)
    [5:11]  color one-hot       (COLORS order)
    [11:15] background one-hot  (BACKGROUNDS order)
    [15]    size  rescaled to [0, 1] over SIZE_RANGE
    [16]    x     rescaled to [0, 1] over POSITION_RANGE
    [17]    y     rescaled to [0, 1] over POSITION_RANGE

Labels can also be restricted to some factors, in the same order: `labels(...,
factors="shape")` gives the 5 shape columns only (conditional training on the
shape, `keras-stylegan train --labels shape`).

Factors can be held fixed: `BuiltinShapes(fixed={"x": 0.5, "y": 0.5})` draws
every object centred (config key `builtin_fixed`; the `cpu-demo` config does
this). The other factors of image `i` stay those of the full set, since each
factor has its own random stream.

Example:

>>> from keras_stylegan.training import builtin
>>> shapes = builtin.BuiltinShapes(num_images=1000, seed=0)
>>> images = shapes.images([0, 1, 2], resolution=32)   # uint8 [3, 32, 32, 3]
>>> f = shapes.factors([0, 1, 2])                      # dict of [3] arrays
>>> builtin.SHAPES[f["shape"][0]], round(float(f["x"][0]), 3)
('circle', 0.623)
>>> shapes.labels([0, 1, 2]).shape
(3, 18)
"""

import numpy as np

from keras_stylegan.errors import ConfigError

SHAPES = ("circle", "square", "triangle", "diamond", "plus")
COLORS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (45, 90, 230),
    "yellow": (240, 215, 40),
    "magenta": (210, 50, 200),
    "cyan": (40, 200, 210),
}
BACKGROUNDS = {
    "black": (15, 15, 15),
    "gray": (128, 128, 128),
    "white": (240, 240, 240),
    "beige": (200, 170, 120),
}
SIZE_RANGE = (0.18, 0.32)
POSITION_RANGE = (0.34, 0.66)
PLUS_ARM = 0.36  # half-width of the plus's arms, as a fraction of its half-extent

CATEGORICAL = {"shape": SHAPES, "color": tuple(COLORS), "background": tuple(BACKGROUNDS)}
CONTINUOUS = {"size": SIZE_RANGE, "x": POSITION_RANGE, "y": POSITION_RANGE}
FACTOR_NAMES = tuple(CATEGORICAL) + tuple(CONTINUOUS)
LABEL_NAMES = tuple(
    [f"{factor}={value}" for factor, values in CATEGORICAL.items() for value in values]
    + list(CONTINUOUS))
LABEL_SIZE = len(LABEL_NAMES)
DEFAULT_NUM_IMAGES = 10000
DEFAULT_RESOLUTION = 32

_COLOR_TABLE = np.array(list(COLORS.values()), np.float32)
_BACKGROUND_TABLE = np.array(list(BACKGROUNDS.values()), np.float32)
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x):
    """SplitMix64 finaliser: a well-mixed uint64 hash of each element of `x`."""
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
    return x ^ (x >> np.uint64(31))


def _uniform(seed, indices, stream):
    """Uniform floats in [0, 1) that depend only on (seed, index, stream)."""
    key = _splitmix64(np.full(indices.shape, seed & 0xFFFFFFFF, np.uint64))
    key = _splitmix64(key ^ np.uint64(stream * 0x632BE59BD9B4E019 & 0xFFFFFFFFFFFFFFFF))
    bits = _splitmix64(key ^ indices.astype(np.uint64))
    return (bits >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _check_indices(indices):
    indices = np.asarray(indices, np.int64).reshape(-1)
    if indices.size and indices.min() < 0:
        raise ConfigError(f"Built-in image indices must be >= 0. Received: {indices.min()}")
    return indices


def check_fixed(fixed):
    """`fixed` ({factor: value} or None) checked and normalised: categorical
    values as indices (a name such as "square" or an index), continuous values
    as floats inside the factor's range.

    >>> check_fixed({"x": 0.5, "shape": "square"})
    {'x': 0.5, 'shape': 1}
    """
    if fixed is not None and not isinstance(fixed, dict):
        raise ConfigError("Fixed built-in factors must be a dict {factor: value}, e.g. "
                          f'{{"x": 0.5, "y": 0.5}}. Received: {fixed!r}')
    out = {}
    for name, value in (fixed or {}).items():
        if name in CATEGORICAL:
            out[name] = _category_index(name, value)
        elif name in CONTINUOUS:
            lo, hi = CONTINUOUS[name]
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not lo <= float(value) <= hi:
                raise ConfigError(f"Fixed built-in factor {name}={value!r} must be a number in "
                                  f"[{lo}, {hi}] (fractions of the image side).")
            out[name] = float(value)
        else:
            raise ConfigError(f"Cannot fix unknown built-in factor {name!r}: choose from "
                              f"{', '.join(FACTOR_NAMES)} (e.g. {{'x': 0.5, 'y': 0.5}}).")
    return out


def _category_index(name, value):
    values = CATEGORICAL[name]
    if isinstance(value, str) and value in values:
        return values.index(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) \
            and 0 <= value < len(values):
        return int(value)
    raise ConfigError(f"Fixed built-in factor {name}={value!r} must be one of "
                      f"{', '.join(values)} (or its index 0-{len(values) - 1}).")


def sample_factors(indices, seed=0, fixed=None):
    """The raw factors of images `indices` of built-in set `seed`.

    Args:
        indices: int or sequence of ints >= 0.
        seed: int, which built-in set.
        fixed: optional {factor: value} held fixed (see `check_fixed`); the
            other factors are the same as without it.

    Returns:
        dict with int64 arrays `shape`, `color`, `background` (indices into
        `SHAPES`, `COLORS`, `BACKGROUNDS`) and float64 arrays `size`, `x`,
        `y` (fractions of the image side), each of shape [len(indices)].

    Example:

    >>> f = sample_factors([0, 1], seed=0)
    >>> sorted(f)
    ['background', 'color', 'shape', 'size', 'x', 'y']
    """
    indices = _check_indices(indices)
    factors = {}
    for stream, (name, values) in enumerate(CATEGORICAL.items()):
        u = _uniform(seed, indices, stream)
        factors[name] = np.minimum((u * len(values)).astype(np.int64), len(values) - 1)
    for stream, (name, (lo, hi)) in enumerate(CONTINUOUS.items(), start=len(CATEGORICAL)):
        factors[name] = lo + (hi - lo) * _uniform(seed, indices, stream)
    for name, value in check_fixed(fixed).items():
        factors[name] = np.full(indices.shape, value, factors[name].dtype)
    return factors


def check_factor_names(names):
    """`names` (a factor name, a comma-separated string, or a sequence) as a tuple
    of factor names in `FACTOR_NAMES` order; None -> all factors."""
    if names is None:
        return FACTOR_NAMES
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in names if n not in FACTOR_NAMES]
    if unknown or not names:
        raise ConfigError(f"Unknown built-in label factor(s) {unknown or list(names)}: choose "
                          f"from {', '.join(FACTOR_NAMES)} (e.g. 'shape' or 'shape,color').")
    return tuple(n for n in FACTOR_NAMES if n in names)


def label_names(names=None):
    """Names of the label columns of factors `names` (default: all, = `LABEL_NAMES`).

    >>> label_names("shape")
    ('shape=circle', 'shape=square', 'shape=triangle', 'shape=diamond', 'shape=plus')
    """
    names = check_factor_names(names)
    return tuple(label for label in LABEL_NAMES if label.split("=")[0] in names)


def factors_to_labels(factors, names=None):
    """Label vectors [N, L] float32 of a factor dict: one-hot columns for the
    categorical factors and [0, 1] values for the continuous ones, in the layout
    of the module doc, restricted to factors `names` (default: all, L = 18).

    >>> f = sample_factors([0, 1, 2])
    >>> factors_to_labels(f, "shape").argmax(axis=1).tolist() == f["shape"].tolist()
    True
    """
    names = check_factor_names(names)
    parts = []
    for name, values in CATEGORICAL.items():
        if name in names:
            parts.append(np.eye(len(values), dtype=np.float32)[np.asarray(factors[name])])
    for name, (lo, hi) in CONTINUOUS.items():
        if name in names:
            value = (np.asarray(factors[name], np.float64) - lo) / (hi - lo)
            parts.append(value.astype(np.float32)[:, None])
    return np.concatenate(parts, axis=1)


def _box_sdf(px, py, half):
    """Signed distance (approximate outside the corners) to an axis-aligned box."""
    return np.maximum(np.abs(px) - half, np.abs(py) - half)


def _shape_sdf(shape_id, px, py, s):
    """Signed distance (pixels, negative inside) to shape `shape_id` of half-extent `s`.

    `px`, `py` are pixel-centre offsets from the object's centre, y downwards;
    every shape fills the bounding box [-s, s]^2 edge to edge.
    """
    name = SHAPES[shape_id]
    if name == "circle":
        return np.sqrt(px * px + py * py) - s
    if name == "square":
        return _box_sdf(px, py, s)
    if name == "diamond":
        return (np.abs(px) + np.abs(py) - s) / np.sqrt(2.0)
    if name == "triangle":  # apex at top centre (0, -s), base along y = s
        side = (2.0 * np.abs(px) - py - s) / np.sqrt(5.0)
        return np.maximum(side, py - s)
    if name == "plus":
        arm = PLUS_ARM * s
        horizontal = np.maximum(np.abs(px) - s, np.abs(py) - arm)
        vertical = np.maximum(np.abs(px) - arm, np.abs(py) - s)
        return np.minimum(horizontal, vertical)
    raise ConfigError(f"Unknown shape id {shape_id}.")


def _check_resolution(resolution):
    if not (isinstance(resolution, (int, np.integer)) and 4 <= resolution <= 1024
            and resolution & (resolution - 1) == 0):
        raise ConfigError("Built-in dataset resolution must be a power of two in [4, 1024]. "
                          f"Received: resolution={resolution!r}")
    return int(resolution)


def render_one(factors, resolution):
    """Draws one image (uint8 [R, R, 3]) from a dict of scalar factors."""
    r = _check_resolution(resolution)
    centres = np.arange(r, dtype=np.float32) + 0.5
    px = centres[None, :] - np.float32(factors["x"] * r)
    py = centres[:, None] - np.float32(factors["y"] * r)
    sdf = _shape_sdf(int(factors["shape"]), px, py, np.float32(factors["size"] * r))
    alpha = np.clip(0.5 - sdf, 0.0, 1.0)[..., None]
    fg = _COLOR_TABLE[int(factors["color"])]
    bg = _BACKGROUND_TABLE[int(factors["background"])]
    image = bg + (fg - bg) * alpha
    return np.rint(image).astype(np.uint8)


def render(factors, resolution):
    """Draws images (uint8 [N, R, R, 3]) from a factor dict of [N] arrays."""
    n = len(np.asarray(factors["shape"]))
    r = _check_resolution(resolution)
    out = np.empty([n, r, r, 3], np.uint8)
    for i in range(n):
        out[i] = render_one({k: np.asarray(v)[i] for k, v in factors.items()}, resolution)
    return out


class BuiltinShapes:
    """The built-in shapes dataset: `num_images` images of set `seed`.

    Args:
        num_images: int > 0, the images are indices 0..num_images-1.
        seed: int, which set (the default 0 is the project's built-in dataset).
        fixed: optional {factor: value} held fixed in every image, e.g.
            `{"x": 0.5, "y": 0.5}` for centred objects (see `check_fixed`).

    Example:

    >>> shapes = BuiltinShapes(num_images=100)
    >>> shapes.images([0], resolution=64).shape
    (1, 64, 64, 3)
    >>> centred = BuiltinShapes(num_images=100, fixed={"x": 0.5, "y": 0.5})
    >>> float(centred.factors([7])["x"][0])
    0.5
    """

    def __init__(self, num_images=DEFAULT_NUM_IMAGES, seed=0, fixed=None):
        if int(num_images) <= 0:
            raise ConfigError("The built-in dataset needs num_images > 0 (use 'builtin:N'). "
                              f"Received: num_images={num_images}")
        self.num_images = int(num_images)
        self.seed = int(seed)
        self.fixed = check_fixed(fixed)

    def _indices(self, indices):
        indices = _check_indices(indices)
        if indices.size and indices.max() >= self.num_images:
            raise IndexError(f"Built-in image index {indices.max()} out of range "
                             f"[0, {self.num_images}).")
        return indices

    def factors(self, indices=None):
        """Raw factors (see `sample_factors`) of `indices` (default: all images)."""
        if indices is None:
            indices = np.arange(self.num_images)
        return sample_factors(self._indices(indices), self.seed, self.fixed)

    def labels(self, indices=None, factors=None):
        """Label vectors [N, L] float32 of `indices` (default: all images) for the
        factors `factors` (default: all, L = LABEL_SIZE; e.g. "shape": L = 5)."""
        return factors_to_labels(self.factors(indices), factors)

    def images(self, indices, resolution=DEFAULT_RESOLUTION):
        """uint8 images [N, R, R, 3] of `indices` drawn at `resolution`."""
        return render(self.factors(indices), resolution)

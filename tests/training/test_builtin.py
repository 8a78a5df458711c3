"""The built-in shapes dataset: determinism, and factors measured from the pixels."""

import time

import numpy as np
import pytest

from keras_stylegan.training import builtin

RES = 64
# Area of each shape in units of size^2 (size = half-extent), and the share of
# that area above the bounding-box centre: independent analytic references.
AREA = {"circle": np.pi, "square": 4.0, "triangle": 2.0, "diamond": 2.0,
        "plus": 8 * builtin.PLUS_ARM - 4 * builtin.PLUS_ARM ** 2}
TOP_SHARE = {"circle": 0.5, "square": 0.5, "triangle": 0.25, "diamond": 0.5, "plus": 0.5}


def _coverage(image, fg, bg):
    """Per-pixel object coverage: the projection of each pixel on the bg->fg segment."""
    fg, bg = np.asarray(fg, np.float64), np.asarray(bg, np.float64)
    d = fg - bg
    return ((image.astype(np.float64) - bg) @ d) / (d @ d)


@pytest.fixture(scope="module")
def sample():
    shapes = builtin.BuiltinShapes(num_images=60, seed=0)
    return shapes.factors(), shapes.images(np.arange(60), resolution=RES)


def test_same_seed_and_index_give_the_same_image():
    a = builtin.BuiltinShapes(num_images=50, seed=3).images([7, 2, 40], resolution=32)
    b = builtin.BuiltinShapes(num_images=5000, seed=3).images([7, 2, 40], resolution=32)
    c = builtin.BuiltinShapes(num_images=50, seed=4).images([7, 2, 40], resolution=32)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(a[1], builtin.render_one(
        {k: v[0] for k, v in builtin.sample_factors([2], seed=3).items()}, 32))


def test_background_and_object_colour_match_the_labels(sample):
    factors, images = sample
    for i, image in enumerate(images):
        bg = list(builtin.BACKGROUNDS.values())[factors["background"][i]]
        fg = list(builtin.COLORS.values())[factors["color"][i]]
        for corner in (image[0, 0], image[0, -1], image[-1, 0], image[-1, -1]):
            np.testing.assert_array_equal(corner, bg)
        cx, cy = int(factors["x"][i] * RES), int(factors["y"][i] * RES)
        np.testing.assert_array_equal(image[cy, cx], fg)


def test_object_position_size_and_shape_match_the_labels(sample):
    factors, images = sample
    ys, xs = np.mgrid[0:RES, 0:RES] + 0.5
    for i, image in enumerate(images):
        fg = list(builtin.COLORS.values())[factors["color"][i]]
        bg = list(builtin.BACKGROUNDS.values())[factors["background"][i]]
        alpha = _coverage(image, fg, bg)
        shape = builtin.SHAPES[factors["shape"][i]]
        x, y, size = (factors[k][i] * RES for k in ("x", "y", "size"))
        # Centre: the centroid (a triangle's lies size/3 below its box centre).
        area = alpha.sum()
        centroid_y = y + (size / 3 if shape == "triangle" else 0.0)
        assert abs((alpha * xs).sum() / area - x) < 0.1, (i, shape)
        assert abs((alpha * ys).sum() / area - centroid_y) < 0.1, (i, shape)
        # Size: the width of the object (pointed corners cover less than half a pixel).
        inside = xs[alpha > 0.5]
        tolerance = 1.25 if shape in ("triangle", "diamond") else 0.6
        assert abs((inside.max() - inside.min() + 1) / 2 - size) < tolerance, (i, shape)
        # Shape: area / size^2 and the share of the area above the centre line.
        np.testing.assert_allclose(area / size ** 2, AREA[shape], rtol=0.04, err_msg=shape)
        above = alpha[ys < y].sum() / area
        assert abs(above - TOP_SHARE[shape]) < 0.04, (i, shape, above)


def test_pixels_are_blends_of_object_and_background_with_antialiased_edges(sample):
    factors, images = sample
    partial = 0
    for i, image in enumerate(images):
        fg = np.array(list(builtin.COLORS.values())[factors["color"][i]], np.float64)
        bg = np.array(list(builtin.BACKGROUNDS.values())[factors["background"][i]], np.float64)
        alpha = np.clip(_coverage(image, fg, bg), 0, 1)
        blend = bg + (fg - bg) * alpha[..., None]
        assert np.abs(blend - image).max() <= 1.0  # only uint8 rounding off the segment
        partial += np.count_nonzero((alpha > 0.05) & (alpha < 0.95))
    assert partial > 20 * len(images)  # edges are anti-aliased, not jagged


def test_labels_layout():
    shapes = builtin.BuiltinShapes(num_images=200)
    factors, labels = shapes.factors(), shapes.labels()
    assert labels.shape == (200, builtin.LABEL_SIZE) == (200, 18)
    assert labels.dtype == np.float32
    np.testing.assert_array_equal(labels[:, 0:5].argmax(1), factors["shape"])
    np.testing.assert_array_equal(labels[:, 5:11].argmax(1), factors["color"])
    np.testing.assert_array_equal(labels[:, 11:15].argmax(1), factors["background"])
    np.testing.assert_array_equal(labels[:, :15].sum(1), 3.0)
    for column, (name, (lo, hi)) in zip((15, 16, 17), builtin.CONTINUOUS.items()):
        np.testing.assert_allclose(labels[:, column], (factors[name] - lo) / (hi - lo),
                                   atol=1e-6)
    assert builtin.LABEL_NAMES[0] == "shape=circle"
    assert builtin.LABEL_NAMES[15:] == ("size", "x", "y")


def test_labels_of_some_factors_are_those_columns():
    """labels(factors=...) keeps exactly the full layout's columns of those factors."""
    shapes = builtin.BuiltinShapes(num_images=50)
    full = shapes.labels()
    for names in ("shape", "size", "color,x", ["y", "background"]):
        chosen = builtin.check_factor_names(names)
        columns = [i for i, label in enumerate(builtin.LABEL_NAMES)
                   if label.split("=")[0] in chosen]
        np.testing.assert_array_equal(shapes.labels(factors=names), full[:, columns])
        assert builtin.label_names(names) == tuple(builtin.LABEL_NAMES[i] for i in columns)
    assert shapes.labels(factors="shape").shape == (50, 5)
    with pytest.raises(ValueError, match=r"Unknown built-in label factor\(s\) \['shap'\]"):
        shapes.labels(factors="shap")
    with pytest.raises(ValueError, match="choose from shape, color"):
        builtin.check_factor_names([])


def test_factors_are_independent_and_cover_their_ranges():
    f = builtin.sample_factors(np.arange(6000), seed=0)
    for name, values in builtin.CATEGORICAL.items():
        counts = np.bincount(f[name], minlength=len(values))
        expected = 6000 / len(values)
        assert np.all(np.abs(counts - expected) < 0.12 * expected), (name, counts)
    for name, (lo, hi) in builtin.CONTINUOUS.items():
        assert lo <= f[name].min() < lo + 0.01 * (hi - lo)
        assert hi - 0.01 * (hi - lo) < f[name].max() < hi
    corr = np.corrcoef(np.stack([f["size"], f["x"], f["y"], f["shape"], f["color"]]))
    assert np.abs(corr - np.eye(5)).max() < 0.06


def test_every_object_colour_contrasts_with_every_background():
    for fg in builtin.COLORS.values():
        for bg in builtin.BACKGROUNDS.values():
            assert np.linalg.norm(np.subtract(fg, bg)) > 90, (fg, bg)


def test_resolutions_draw_the_same_scene():
    shapes = builtin.BuiltinShapes(num_images=20)
    hi = shapes.images(np.arange(20), 64).astype(np.float64)
    lo = shapes.images(np.arange(20), 32).astype(np.float64)
    pooled = hi.reshape(20, 32, 2, 32, 2, 3).mean((2, 4))
    assert np.abs(pooled - lo).mean() < 1.5
    assert shapes.images([0], 4).shape == (1, 4, 4, 3)
    assert shapes.images([0], 1024).shape == (1, 1024, 1024, 3)


def test_rendering_is_cheap():
    shapes = builtin.BuiltinShapes(num_images=1000)
    start = time.perf_counter()
    shapes.images(np.arange(1000), 32)
    assert time.perf_counter() - start < 2.0  # ~0.05 s on one core


@pytest.mark.parametrize("resolution", [3, 12, 2048, 32.0])
def test_bad_resolution_is_a_clear_error(resolution):
    with pytest.raises(ValueError, match="power of two"):
        builtin.BuiltinShapes(10).images([0], resolution)


def test_fixed_factors_hold_and_the_others_are_the_full_sets():
    """Fixing x, y and the background: those factors are constant in the factors and
    in the pixels (centroid at the image centre, background colour in the corners);
    every other factor is the full set's, image by image."""
    fixed = {"x": 0.5, "y": 0.5, "background": "black"}
    full = builtin.BuiltinShapes(num_images=40, seed=2).factors()
    shapes = builtin.BuiltinShapes(num_images=40, seed=2, fixed=fixed)
    factors, images = shapes.factors(), shapes.images(np.arange(40), resolution=RES)
    for name in ("shape", "color", "size"):
        np.testing.assert_array_equal(factors[name], full[name])
    assert (factors["x"] == 0.5).all() and (factors["y"] == 0.5).all()
    assert (factors["background"] == 0).all()
    bg = builtin.BACKGROUNDS["black"]
    ys, xs = np.mgrid[0:RES, 0:RES] + 0.5
    for i, image in enumerate(images):
        np.testing.assert_array_equal(image[0, 0], bg)
        alpha = _coverage(image, list(builtin.COLORS.values())[factors["color"][i]], bg)
        shape = builtin.SHAPES[factors["shape"][i]]
        below = factors["size"][i] * RES / 3 if shape == "triangle" else 0.0
        assert abs((alpha * xs).sum() / alpha.sum() - RES / 2) < 0.1, (i, shape)
        assert abs((alpha * ys).sum() / alpha.sum() - RES / 2 - below) < 0.1, (i, shape)
    np.testing.assert_array_equal(shapes.labels(factors="x"), np.full([40, 1], 0.5, np.float32))


@pytest.mark.parametrize("fixed, message", [
    ({"angle": 0.5}, "unknown built-in factor 'angle'"),
    ({"x": 0.9}, r"x=0.9 must be a number in \[0.34, 0.66\]"),
    ({"x": "middle"}, "must be a number"),
    ({"shape": "star"}, "must be one of circle, square"),
    ({"color": 6}, r"index 0-5"),
    ("x=0.5", "must be a dict"),
])
def test_bad_fixed_factors_are_clear_errors(fixed, message):
    with pytest.raises(ValueError, match=message):
        builtin.BuiltinShapes(10, fixed=fixed)


def test_bad_counts_and_indices_are_clear_errors():
    with pytest.raises(ValueError, match="num_images > 0"):
        builtin.BuiltinShapes(0)
    with pytest.raises(IndexError, match="out of range"):
        builtin.BuiltinShapes(10).factors([10])
    with pytest.raises(ValueError, match=">= 0"):
        builtin.sample_factors([-1])

"""Each ADA operation against an independent NumPy/SciPy implementation of the
same matrix and resampling, on fixed parameters."""

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal
from keras_stylegan.training.augment import color, corrupt, filters, geometric
from scipy.spatial.transform import Rotation


# NumPy references --------------------------------------------------------------
def np_translate(tx, ty):
    return np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], np.float64)


def np_scale(sx, sy):
    return np.diag([sx, sy, 1.0])


def np_rotate(theta):
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def np_geometric_matrix(prm, h, w):
    """G_inv = product of the inverse transforms, in ADA's order."""
    g = np.eye(3)
    g = g @ np.linalg.inv(np_scale(1 - 2 * prm["xflip"], 1))
    g = g @ np.linalg.inv(np_rotate(-np.pi / 2 * prm["rotate90"]))
    g = g @ np.linalg.inv(np_translate(np.round(prm["xint"][0] * w), np.round(prm["xint"][1] * h)))
    g = g @ np.linalg.inv(np_scale(prm["scale"], prm["scale"]))
    g = g @ np.linalg.inv(np_rotate(-prm["rotate_pre"]))
    g = g @ np.linalg.inv(np_scale(prm["aniso"], 1 / prm["aniso"]))
    g = g @ np.linalg.inv(np_rotate(-prm["rotate_post"]))
    g = g @ np.linalg.inv(np_translate(prm["xfrac"][0] * w, prm["xfrac"][1] * h))
    return g


def np_geometric(image, g):
    """ADA's geometric execution of one image with NumPy/SciPy (reflect pad, x2
    upsampling with scipy.signal.upfirdn, bilinear map_coordinates, upfirdn
    down x2), padded by its own margins."""
    h, w = image.shape[:2]
    f = filters.SYM6 / np.sum(filters.SYM6)
    return _np_geometric_with_margins(image, g, np_margins([g], h, w), f)


def np_margins(gs, h, w):
    """Reflection padding (x0, y0, x1, y1) covering the transformed corners of
    every matrix of `gs` plus twice the filter margin (3), at most size - 1."""
    cx, cy = (w - 1) / 2, (h - 1) / 2
    pts = np.array([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]]).T
    cp = np.concatenate([(g @ pts)[:2] for g in gs], axis=1)
    lo = np.ceil(np.clip(np.max(-cp, 1) - [cx, cy] + 6, 0, [w - 1, h - 1]))
    hi = np.ceil(np.clip(np.max(cp, 1) - [cx, cy] + 6, 0, [w - 1, h - 1]))
    return np.concatenate([lo, hi]).astype(int)


# Matrices and geometric transforms ---------------------------------------------------
def fixed_geometric():
    """Fixed per-image parameters (every op non-trivial, image 0 mild)."""
    return dict(
        xflip=np.float32([1, 0, 1]), rotate90=np.float32([0, 3, 1]),
        xint=np.float32([[0.0, 0.06], [-0.12, 0.1], [0.1, -0.03]]),
        scale=np.float32([1.0, 1.3, 0.8]), rotate_pre=np.float32([0.3, -2.0, 1.0]),
        aniso=np.float32([1.0, 0.85, 1.2]), rotate_post=np.float32([0.0, 0.7, -0.4]),
        xfrac=np.float32([[0.01, -0.02], [0.05, 0.1], [-0.08, 0.0]]))


def test_geometric_matrix_matches_numpy():
    prm = fixed_geometric()
    got = geometric.matrix(prm, 16, 12).numpy()
    for i in range(3):
        want = np_geometric_matrix({k: v[i] for k, v in prm.items()}, 16, 12)
        np.testing.assert_allclose(got[i], want, atol=1e-5)


@pytest.mark.parametrize("size", [(16, 16), (12, 20)])
def test_geometric_transform_matches_scipy(size):
    h, w = size
    rs = np.random.RandomState(1)
    images = rs.uniform(-1, 1, (3, h, w, 3)).astype(np.float32)
    prm = fixed_geometric()
    G = geometric.matrix(prm, h, w).numpy()
    # The padding is the max over the batch (ADA's).
    got = geometric.transform(images, G).numpy()
    for i in range(3):
        want = np_geometric_batch(images, G, i)
        np.testing.assert_allclose(got[i], want, atol=2e-5)


def np_geometric_batch(images, G, i):
    """`np_geometric` of image i, padded by the margins of the whole batch (the
    TF margins must be the same)."""
    h, w = images.shape[1:3]
    m = np_margins(G.astype(np.float64), h, w)
    np.testing.assert_array_equal(geometric.margins(G, h, w, 3).numpy(), m)
    return _np_geometric_with_margins(images[i], G[i].astype(np.float64), m,
                                      filters.SYM6 / np.sum(filters.SYM6))


def _np_geometric_with_margins(image, g, m, f):
    """Upsampled pixel j sits at original pixel (j - 1/2) / 2 (even-length f)."""
    mx0, my0, mx1, my1 = m
    h, w, c = image.shape
    x = np.pad(image, ((my0, my1), (mx0, mx1), (0, 0)), mode="reflect")
    g = np_translate((mx0 - mx1) / 2, (my0 - my1) / 2) @ g
    for axis in (0, 1):
        n = x.shape[axis]
        x = np.take(scipy.signal.upfirdn(2 * f, x, up=2, axis=axis), np.arange(5, 5 + 2 * n),
                    axis=axis)
    g = np_scale(2, 2) @ g @ np_scale(0.5, 0.5)
    g = np_translate(-0.5, -0.5) @ g @ np_translate(0.5, 0.5)
    oh, ow = (h + 6) * 2, (w + 6) * 2
    ys, xs = np.mgrid[0:oh, 0:ow]
    src = g @ np.stack([xs.ravel() - (ow - 1) / 2, ys.ravel() - (oh - 1) / 2, np.ones(xs.size)])
    coords = [src[1] + (x.shape[0] - 1) / 2, src[0] + (x.shape[1] - 1) / 2]
    out = np.stack([scipy.ndimage.map_coordinates(x[..., k], coords, order=1,
                                                  mode="grid-constant", cval=0.0)
                    for k in range(c)], -1).reshape(oh, ow, c)
    for axis, size in ((0, h), (1, w)):
        out = np.take(scipy.signal.upfirdn(f[::-1], out, down=2, axis=axis),
                      np.arange(6, 6 + size), axis=axis)
    return out


def test_single_image_reference_agrees_with_batch_reference():
    """np_geometric (own margins) is the batch reference for a batch of one."""
    image = np.random.RandomState(2).uniform(-1, 1, (1, 10, 10, 3)).astype(np.float32)
    G = geometric.matrix({k: v[1:2] for k, v in fixed_geometric().items()}, 10, 10).numpy()
    np.testing.assert_allclose(geometric.transform(image, G).numpy()[0],
                               np_geometric(image[0], G[0].astype(np.float64)), atol=2e-5)


def test_identity_and_integer_translation_are_lossless():
    """With the pixel alignment right, the sym6 up/down pair reconstructs the
    image exactly (orthogonal wavelet): the identity and integer shifts are
    pixel copies."""
    images = np.random.RandomState(3).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    prm = dict(xint=np.float32([[2 / 16, 1 / 16], [-3 / 16, 0]]))
    got = geometric.transform(images, geometric.matrix(prm, 16, 16)).numpy()
    np.testing.assert_allclose(got[0, 1:, 2:], images[0, :-1, :-2], atol=1e-5)
    np.testing.assert_allclose(got[1, :, :-3], images[1, :, 3:], atol=1e-5)
    eye = np.tile(np.eye(3, dtype=np.float32), (2, 1, 1))
    np.testing.assert_allclose(geometric.transform(images, eye).numpy(), images, atol=1e-5)


def test_wavelet_taps_are_orthonormal_low_passes():
    for taps in (filters.SYM2, filters.SYM6):
        assert np.sum(taps) == pytest.approx(np.sqrt(2))
        for shift in range(0, taps.size, 2):
            dot = np.dot(taps[shift:], taps[:taps.size - shift])
            assert dot == pytest.approx(1.0 if shift == 0 else 0.0, abs=1e-12)


@pytest.mark.parametrize("n,before,after", [(6, 2, 5), (5, 9, 13), (2, 3, 1)])
def test_reflect_pad_matches_numpy(n, before, after):
    x = np.arange(2 * n * 3, dtype=np.float32).reshape(1, 2, n, 3)
    got = filters.reflect_pad(x, 2, before, after).numpy()
    np.testing.assert_array_equal(got, np.pad(x, ((0, 0), (0, 0), (before, after), (0, 0)),
                                              mode="reflect"))


# Colour ------------------------------------------------------------------------------
def np_color_matrix(b, c, flip, hue, sat):
    v = np.array([1, 1, 1]) / np.sqrt(3)
    m = np.eye(4)
    m[:3, 3] = b                                                        # brightness
    m = np.diag([c, c, c, 1.0]) @ m                                     # contrast
    house = np.eye(4)
    house[:3, :3] -= 2 * np.outer(v, v) * flip                          # luma flip
    m = house @ m
    rot = np.eye(4)
    rot[:3, :3] = Rotation.from_rotvec(v * hue).as_matrix()             # hue
    m = rot @ m
    sm = np.eye(4)
    sm[:3, :3] = np.outer(v, v) + (np.eye(3) - np.outer(v, v)) * sat    # saturation
    return sm @ m


COLOR = dict(brightness=np.float32([0.1, -0.3]), contrast=np.float32([1.4, 0.7]),
             lumaflip=np.float32([1, 0]), hue=np.float32([0.9, -2.5]),
             saturation=np.float32([0.5, 2.0]))


def test_color_matrix_and_apply_match_numpy():
    C = color.matrix(COLOR).numpy()
    images = np.random.RandomState(4).uniform(-1, 1, (2, 5, 7, 3)).astype(np.float32)
    got = color.apply(images, C).numpy()
    for i in range(2):
        want_m = np_color_matrix(*(COLOR[k][i] for k in color.OPS))
        np.testing.assert_allclose(C[i, :3], want_m[:3], atol=1e-5)  # row 3 is unused
        rgb1 = np.concatenate([images[i], np.ones((5, 7, 1))], -1)
        np.testing.assert_allclose(got[i], (rgb1 @ want_m.T)[..., :3], atol=1e-5)


def test_color_on_grey_images_uses_the_mean_colour_row():
    prm = {k: COLOR[k] for k in ("brightness", "contrast", "lumaflip")}
    C = color.matrix(prm).numpy()
    grey = np.random.RandomState(5).uniform(-1, 1, (2, 4, 4, 1)).astype(np.float32)
    got = color.apply(grey, C).numpy()
    for i in range(2):
        m = np_color_matrix(COLOR["brightness"][i], COLOR["contrast"][i],
                            COLOR["lumaflip"][i], 0.0, 1.0)
        # A grey pixel g is the colour (g, g, g); the output is its mean channel.
        rgb = np.concatenate([np.repeat(grey[i], 3, -1), np.ones((4, 4, 1))], -1) @ m.T
        np.testing.assert_allclose(got[i, ..., 0], rgb[..., :3].mean(-1), atol=1e-5)


# Image-space filtering and corruptions ----------------------------------------------
def test_filter_bank_splits_the_identity():
    bank = filters.filter_bank()
    impulse = np.zeros(bank.shape[1])
    impulse[bank.shape[1] // 2] = 1
    np.testing.assert_allclose(bank.sum(0), impulse, atol=1e-12)
    np.testing.assert_allclose(bank, bank[:, ::-1], atol=1e-15)  # zero phase
    # Band 0 is the low-pass: DC gain 1; the others pass no DC.
    np.testing.assert_allclose(bank.sum(1), [1, 0, 0, 0], atol=1e-12)


@pytest.mark.parametrize("size", [8, 24])
def test_imgfilter_matches_scipy(size):
    t = np.float32([[2.0, 1.0, 0.5, 1.0], [1.0, 0.25, 1.0, 3.0]])
    g = corrupt.band_gains(t).numpy()
    power = np.array([10, 1, 1, 1]) / 13
    want_g = np.ones_like(t, np.float64)
    for i in range(4):  # each band in turn, renormalized to the expected power
        ti = np.ones_like(t, np.float64)
        ti[:, i] = t[:, i]
        want_g *= ti / np.sqrt((power * ti ** 2).sum(-1, keepdims=True))
    np.testing.assert_allclose(g, want_g, rtol=1e-5)
    images = np.random.RandomState(6).uniform(-1, 1, (2, size, size, 3)).astype(np.float32)
    got = corrupt.apply_filter(images, g).numpy()
    bank = filters.filter_bank()
    for i in range(2):
        h = want_g[i] @ bank
        want = scipy.ndimage.convolve1d(images[i].astype(np.float64), h, axis=1, mode="mirror")
        want = scipy.ndimage.convolve1d(want, h, axis=0, mode="mirror")
        np.testing.assert_allclose(got[i], want, atol=2e-5)


def test_cutout_mask_matches_numpy():
    center = np.float32([[0.5, 0.5], [0.1, 0.9]])
    size = np.float32([0.5, 0.5])
    got = corrupt.cutout_mask(center, size, 8, 6).numpy()[..., 0]
    for i in range(2):
        want = np.ones((8, 6))
        for y in range(8):
            for x in range(6):
                if (abs((x + 0.5) / 6 - center[i, 0]) < size[i] / 2
                        and abs((y + 0.5) / 8 - center[i, 1]) < size[i] / 2):
                    want[y, x] = 0
        np.testing.assert_array_equal(got[i], want)
    assert got[0].sum() == 8 * 6 - 4 * 2  # 4 rows x 2 columns have their centres inside

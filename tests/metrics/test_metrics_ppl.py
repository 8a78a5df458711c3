"""Metric names and perceptual path length pieces (keras_stylegan.metrics) against
independent references: scipy's geometric_slerp, NumPy lerp/percentiles, and a
stub generator whose images are known functions of w and of the noise."""

import numpy as np
import pytest
import scipy.spatial

from keras_stylegan.metrics import evaluate as ev
from keras_stylegan.metrics.names import parse_metric, parse_metrics


def test_names():
    s = parse_metric("fid50k_full")
    assert (s.kind, s.num_gen, s.num_real, s.needs) == ("fid", 50000, None, "inception")
    assert parse_metric("fid10k").num_real == 10000
    s = parse_metric("pr50k3_full")
    assert (s.k, s.num_gen, s.num_real, s.needs) == (3, 50000, 200000, "vgg16")
    s = parse_metric("kid1k_full")
    assert (s.kind, s.num_gen, s.num_real) == ("kid", 1000, None)
    for name, n, space, sampling, crop in [
            ("ppl_zfull", 100000, "z", "full", True), ("ppl_wend", 100000, "w", "end", True),
            ("ppl2_wend", 50000, "w", "end", False), ("ppl1k_zend", 1000, "z", "end", True),
            ("ppl20_wfull", 20, "w", "full", True), ("ppl2_500_wend", 500, "w", "end", False)]:
        s = parse_metric(name)
        assert (s.num_gen, s.space, s.sampling, s.crop) == (n, space, sampling, crop), name
    assert parse_metric("ppl_wend", ppl_crop=False).crop is False
    assert [s.name for s in parse_metrics("fid1k, ppl_wend,fid1k")] == ["fid1k", "ppl_wend"]
    for bad in ["fid", "fid1", "fidk", "pr50k", "ppl2_zend", "ppl_wmid", "is50k", ""]:
        with pytest.raises(ValueError):
            parse_metrics(bad)


def test_slerp_matches_scipy_geometric_slerp():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    t = rng.uniform(size=(5, 1))
    got = ev.slerp(a, b, t)
    for i in range(5):
        ua, ub = a[i] / np.linalg.norm(a[i]), b[i] / np.linalg.norm(b[i])
        want = scipy.spatial.geometric_slerp(ua, ub, t[i, 0])
        np.testing.assert_allclose(got[i], want, atol=1e-12)


def test_ppl_filter_against_sorted_percentiles():
    d = np.random.default_rng(1).exponential(size=301)
    s = np.sort(d)
    lo, hi = s[3], s[297]  # 1% / 99% of 300 gaps: indices 3 and 297 exactly
    assert ev.ppl_from_distances(d) == pytest.approx(s[(s >= lo) & (s <= hi)].mean())


class StubG:
    """z_dim 3; w = mapping(z) = 2 z + 1 (num_ws 2); image = A w0 (+ noise), 16x16."""

    z_dim, label_size, resolution = 3, 0, 16

    def __init__(self):
        self.A = np.random.default_rng(2).normal(size=(3, 16 * 16 * 3)) * 0.1
        outer = self

        class Synthesis:
            noise_shapes = [(4, 4), (8, 8)]

            def __call__(self, ws, noise=None, noise_mode="const"):
                img = (ws[:, 0] @ outer.A).reshape(-1, 16, 16, 3)
                return img + np.repeat(np.repeat(noise[0], 4, 1), 4, 2)
        self.synthesis = Synthesis()

    def mapping(self, z, labels=None):
        w = 2 * np.asarray(z, np.float64) + 1
        return np.stack([w, w], axis=1).astype(np.float32)


@pytest.mark.parametrize("space", ["w", "z"])
def test_ppl_endpoints_lerp_in_w_slerp_in_z(space):
    G, n, eps = StubG(), 4, 1e-2
    spec = parse_metric(f"ppl4_{space}full")
    ws = ev.ppl_endpoints(G, spec, np.random.RandomState(5), n, ev.random_labels(0), eps)
    rng = np.random.RandomState(5)  # the documented draw order: t, z0, z1
    t = rng.uniform(size=[n, 1])
    z0, z1 = rng.randn(n, 3), rng.randn(n, 3)
    if space == "w":
        w0, w1 = 2 * z0 + 1, 2 * z1 + 1
        want0, want1 = w0 + t * (w1 - w0), w0 + (t + eps) * (w1 - w0)
    else:
        geo = scipy.spatial.geometric_slerp
        u0, u1 = (z0.T / np.linalg.norm(z0, axis=1)).T, (z1.T / np.linalg.norm(z1, axis=1)).T
        want0 = np.stack([2 * geo(u0[i], u1[i], t[i, 0]) + 1 for i in range(n)])
        want1 = np.stack([2 * geo(u0[i], u1[i], t[i, 0] + eps) + 1 for i in range(n)])
    np.testing.assert_allclose(ws[:n, 0], want0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ws[n:, 1], want1, rtol=1e-5, atol=1e-5)


def test_ppl_images_share_noise_within_a_pair_and_crop():
    G = StubG()
    ws = np.zeros((6, 2, 3), np.float32)  # both ends equal: images equal iff noise shared
    img = ev.ppl_images(G, ws, np.random.RandomState(0), crop=False)
    np.testing.assert_array_equal(img[:3], img[3:])
    assert not np.allclose(img[0], img[1])  # different pairs, different noise
    full = ev.ppl_images(G, ws, np.random.RandomState(0), crop=False)
    cropped = ev.ppl_images(G, ws, np.random.RandomState(0), crop=True)
    # NVIDIA's crop of an R x R image (c = R // 8): rows 3c:7c, columns 2c:6c.
    np.testing.assert_array_equal(cropped, full[:, 6:14, 4:12])


def test_ppl_distances_are_lpips_over_epsilon_squared():
    """Linear synthesis, a squared-L2 'LPIPS': d = ||A eps (w1 - w0)||^2 / eps^2."""
    G, eps = StubG(), 1e-2
    sq = lambda a, b: np.sum((np.asarray(a, np.float64) - b) ** 2, axis=(1, 2, 3))  # noqa
    spec = parse_metric("ppl6_wend", ppl_crop=False)
    d = ev.ppl_distances(G, sq, spec, batch_size=4, seed=3, epsilon=eps)
    rng = np.random.RandomState(3)  # the first batch of 4: t, z0, z1 drawn first
    rng.uniform(size=[4, 1])
    z0, z1 = rng.randn(4, 3), rng.randn(4, 3)
    want = np.sum((eps * (2 * (z1 - z0)) @ G.A) ** 2, axis=1) / eps ** 2
    assert d.shape == (6,)
    np.testing.assert_allclose(d[:4], want, rtol=1e-3)


def test_labels_for_conditional_networks():
    rng = np.random.RandomState(0)
    pool = np.eye(4, dtype=np.float32)[[3, 3, 1]]
    drawn = ev.random_labels(4, pool)(rng, 50)
    assert set(drawn.argmax(1).tolist()) == {1, 3}  # rows of the dataset's labels
    uniform = ev.random_labels(4, np.zeros((3, 18)))(rng, 400)  # other labels: ignored
    assert set(uniform.argmax(1).tolist()) == {0, 1, 2, 3} and (uniform.sum(1) == 1).all()
    assert ev.random_labels(0)(rng, 3) is None

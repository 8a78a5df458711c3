"""FID, KID and precision/recall (keras_stylegan.metrics) against independent
NumPy/SciPy computations of NVIDIA's definitions."""

import numpy as np
import pytest
import scipy.spatial.distance

from keras_stylegan.metrics import distances as dm


def _gaussians(rng, d=6):
    a = rng.normal(size=(d, d))
    b = rng.normal(size=(d, d))
    return rng.normal(size=d), a @ a.T + 0.1 * np.eye(d), rng.normal(size=d), b @ b.T


def test_frechet_distance_against_eigen_formula():
    """tr sqrt(S1 S2) = sum sqrt(eig(sqrt(S1) S2 sqrt(S1))), with sqrt(S1) from eigh."""
    rng = np.random.default_rng(0)
    mu1, s1, mu2, s2 = _gaussians(rng)
    w, v = np.linalg.eigh(s1)
    r1 = v @ np.diag(np.sqrt(w)) @ v.T
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(r1 @ s2 @ r1), 0, None)).sum()
    want = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert dm.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-9)
    assert dm.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0, abs=1e-9)
    # Diagonal covariances: closed form sum (sqrt(a) - sqrt(b))^2.
    a, b = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)
    want = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert dm.frechet_distance(np.zeros(4), np.diag(a), np.zeros(4),
                               np.diag(b)) == pytest.approx(want, rel=1e-9)


def test_feature_statistics_is_mean_and_unbiased_covariance():
    x = np.random.default_rng(1).normal(size=(30, 5))
    mu, sigma = dm.feature_statistics(x)
    np.testing.assert_allclose(mu, x.sum(0) / 30)
    xc = x - x.mean(0)
    np.testing.assert_allclose(sigma, xc.T @ xc / 29)


def _mmd2_unbiased(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, by explicit double loops."""
    d, m = x.shape[1], len(x)
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return kxx / (m * (m - 1)) + kyy / (m * (m - 1)) - 2 * kxy / (m * m)


def test_kid_against_explicit_mmd():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(12, 4)), rng.normal(0.5, 1.2, size=(12, 4))
    # One subset holding every sample: the subset order does not matter.
    got = dm.kernel_inception_distance(x, y, num_subsets=1, max_subset_size=100)
    assert got == pytest.approx(_mmd2_unbiased(x, y), rel=1e-10)
    # Subsets: the mean of the per-subset MMDs, subsets drawn as NVIDIA (x, then y).
    got = dm.kernel_inception_distance(x, y, num_subsets=3, max_subset_size=5, seed=7)
    rng = np.random.default_rng(7)
    want = np.mean([_mmd2_unbiased(x[rng.choice(12, 5, replace=False)],
                                   y[rng.choice(12, 5, replace=False)]) for _ in range(3)])
    assert got == pytest.approx(want, rel=1e-10)


def _pr_reference(real, fake, k):
    """Precision/recall by scipy cdist and sorting (k-th neighbour, self excluded)."""
    out = []
    for manifold, probes in ((real, fake), (fake, real)):
        dm_ = scipy.spatial.distance.cdist(manifold, manifold)
        radii = np.sort(dm_, axis=1)[:, k]
        d = scipy.spatial.distance.cdist(probes, manifold)
        out.append(float(np.mean((d <= radii[None]).any(axis=1))))
    return tuple(out)


def test_precision_recall_against_cdist():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(40, 5))
    fake = np.concatenate([rng.normal(size=(20, 5)), rng.normal(4, 1, size=(25, 5))])
    want = _pr_reference(real, fake, 3)
    assert 0 < want[0] < 1 and 0 < want[1] <= 1
    assert dm.precision_recall(real, fake, k=3, batch_size=7) == pytest.approx(want)
    assert dm.precision_recall(real, fake, k=1) == pytest.approx(_pr_reference(real, fake, 1))
    # Far-away fakes: nothing inside the real manifold, no real inside the fakes'.
    assert dm.precision_recall(real, real + 100.0, k=3) == (0.0, 0.0)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        dm.precision_recall(np.zeros(5), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="k must be"):
        dm.precision_recall(np.zeros((4, 2)), np.zeros((4, 2)), k=4)
    with pytest.raises(ValueError, match="finite"):
        dm.kernel_inception_distance(np.full((4, 2), np.nan), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="sigma"):
        dm.frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3))

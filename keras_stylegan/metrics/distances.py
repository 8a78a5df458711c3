"""FID, KID and precision/recall on feature arrays, with NVIDIA's definitions
(stylegan2-ada-pytorch `metrics/frechet_inception_distance.py`,
`kernel_inception_distance.py`, `precision_recall.py`). NumPy/SciPy, so they
run the same whatever the Keras backend.
"""

import numpy as np
import scipy.linalg


def _features(x, name):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be a finite [N, D] feature array with N >= 2; got "
                         f"shape {x.shape}.")
    return x


def feature_statistics(feats):
    """(mean [D], covariance [D, D]) of [N, D] features, as NVIDIA's FID (unbiased cov)."""
    feats = _features(feats, "feats")
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance between two Gaussians: |mu1-mu2|^2 + tr(S1 + S2 - 2 sqrt(S1 S2)).

    NVIDIA's definition (scipy.linalg.sqrtm, real part). With Inception pool3
    statistics this is FID.

    >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))
    2.0
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    if mu1.shape != mu2.shape or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"frechet_distance needs mu [D] and sigma [D, D] for both; got "
                         f"{mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}.")
    m = np.square(mu1 - mu2).sum()
    s = scipy.linalg.sqrtm(np.dot(s1, s2))
    return float(np.real(m + np.trace(s1 + s2 - s * 2)))


def kernel_inception_distance(feats_a, feats_b, num_subsets=100, max_subset_size=1000,
                              seed=0):
    """KID: unbiased MMD^2 with the kernel k(x, y) = (x.y / D + 1)^3, averaged over
    `num_subsets` random subsets of m = min(N_a, N_b, max_subset_size) each.

    `feats_a` plays NVIDIA's generated set, `feats_b` the real one (KID is
    symmetric in expectation). `seed` fixes the subsets (NVIDIA's are unseeded).

    >>> x = np.random.default_rng(0).normal(size=[50, 8])
    >>> y = np.random.default_rng(1).normal(size=[50, 8])
    >>> same = kernel_inception_distance(x, y, num_subsets=10, max_subset_size=40)
    >>> shifted = kernel_inception_distance(x, y + 1.0, num_subsets=10, max_subset_size=40)
    >>> abs(same) < 0.1 < 5 < shifted
    True
    """
    x_all, y_all = _features(feats_a, "feats_a"), _features(feats_b, "feats_b")
    if x_all.shape[1] != y_all.shape[1]:
        raise ValueError(f"feature sizes differ: {x_all.shape[1]} vs {y_all.shape[1]}.")
    if num_subsets < 1 or max_subset_size < 2:
        raise ValueError("num_subsets must be >= 1 and max_subset_size >= 2.")
    n = x_all.shape[1]
    m = min(x_all.shape[0], y_all.shape[0], max_subset_size)
    rng = np.random.default_rng(seed)
    t = 0.0
    for _ in range(num_subsets):
        x = x_all[rng.choice(x_all.shape[0], m, replace=False)]
        y = y_all[rng.choice(y_all.shape[0], m, replace=False)]
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        t += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return float(t / num_subsets / m)


def _kth_radii(manifold, k, batch):
    """Distance of each row to its k-th nearest other row (self excluded)."""
    radii = np.empty(manifold.shape[0])
    for i in range(0, manifold.shape[0], batch):
        d = _pairwise(manifold[i:i + batch], manifold)
        radii[i:i + batch] = np.partition(d, k, axis=1)[:, k]  # index 0 is self (0.0)
    return radii


def _pairwise(a, b):
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def precision_recall(feats_real, feats_fake, k=3, batch_size=1000):
    """Improved precision and recall (Kynkäänniemi et al. 2019), NVIDIA's `pr50k3`.

    Precision: fraction of fake samples inside some real sample's k-NN ball (the
    ball's radius is the distance to its k-th nearest real neighbour, the sample
    itself excluded); recall: the same with the roles swapped.

    Returns:
        (precision, recall), floats in [0, 1].

    >>> x = np.random.default_rng(0).normal(size=[20, 4])
    >>> precision_recall(x, x, k=3)
    (1.0, 1.0)
    """
    real, fake = _features(feats_real, "feats_real"), _features(feats_fake, "feats_fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: {real.shape[1]} vs {fake.shape[1]}.")
    if not 1 <= k < min(len(real), len(fake)):
        raise ValueError(f"k must be in [1, {min(len(real), len(fake)) - 1}]; got {k}.")
    out = []
    for manifold, probes in ((real, fake), (fake, real)):
        radii = _kth_radii(manifold, k, batch_size)
        inside = np.zeros(len(probes), bool)
        for i in range(0, len(probes), batch_size):
            inside[i:i + batch_size] = (_pairwise(probes[i:i + batch_size], manifold)
                                        <= radii[None, :]).any(axis=1)
        out.append(float(inside.mean()))
    return tuple(out)

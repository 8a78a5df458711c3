"""The papers' evaluation metrics: feature networks and the distances on them.

>>> from keras_stylegan import metrics
>>> w = "pt_inception-2015-12-05-6726825d.pth"
>>> net = metrics.feature_network("inception", weights=w)  # doctest: +SKIP
>>> mu, sigma = metrics.feature_statistics(net(images))  # doctest: +SKIP
>>> metrics.frechet_distance(mu, sigma, mu_real, sigma_real)  # doctest: +SKIP

Weight files are never downloaded; see README "Evaluation metrics" for the
three public files, their SHA-256 and where to put them.
"""

import importlib

_LAZY = {
    "feature_network": "keras_stylegan.metrics.networks",
    "frechet_distance": "keras_stylegan.metrics.distances",
    "feature_statistics": "keras_stylegan.metrics.distances",
    "kernel_inception_distance": "keras_stylegan.metrics.distances",
    "precision_recall": "keras_stylegan.metrics.distances",
    "WeightsFileError": "keras_stylegan.metrics.weights",
    "WEIGHT_FILES": "keras_stylegan.metrics.weights",
    "CheckpointError": "keras_stylegan.metrics.torch_checkpoint",
    "read_state_dict": "keras_stylegan.metrics.torch_checkpoint",
    "linear_separability": "keras_stylegan.metrics.separability",
    "load_classifiers": "keras_stylegan.metrics.classifiers",
    "FactorJudge": "keras_stylegan.metrics.factor_judge",
    "MetricSuite": "keras_stylegan.metrics.suite",
    "parse_metric": "keras_stylegan.metrics.names",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras_stylegan.metrics' has no attribute {name!r}")

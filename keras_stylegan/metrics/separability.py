"""Linear separability (StyleGAN paper, section 4.2), NVIDIA's procedure
(stylegan `metrics/linear_separability.py`).

For each attribute: an attribute classifier labels N generated images; the
most confident half is kept; a linear SVM (scikit-learn's `LinearSVC`, as
NVIDIA) is fitted on the latents (z, or w) to predict those labels; the
conditional entropy H(Y | X) of the classifier's label Y given the SVM's
prediction X measures how much information the hyperplane misses. The score
is `2 ** sum_i H_i` with entropies in bits (= the paper's `exp(sum_i H_i)` in
nats). Lower is more separable; 1 is perfect. NVIDIA's attributes are binary;
a categorical attribute with K classes uses a K x K joint table (one-vs-rest
SVM), which is the same definition.

>>> rng = np.random.default_rng(0)
>>> z = rng.normal(size=[400, 8])
>>> p = np.stack([z[:, 0] > 0, z[:, 0] <= 0], axis=1).astype(np.float64)
>>> round(separability(z, {"a": p})["score"], 3)   # a hyperplane: perfectly separable
1.0
"""

import warnings

import numpy as np


def entropy_bits(p):
    """-sum p log2 p of a probability table (zeros contribute nothing)."""
    p = np.asarray(p, np.float64).ravel()
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


def conditional_entropy(joint):
    """H(Y | X) in bits of a joint count/probability table, X on axis 0, Y on axis 1.

    >>> conditional_entropy([[5, 0], [0, 5]]), conditional_entropy([[1, 1], [1, 1]])
    (0.0, 1.0)
    """
    p = np.asarray(joint, np.float64)
    p = p / p.sum()
    return entropy_bits(p) - entropy_bits(p.sum(axis=1))


def class_probabilities(outputs, probabilities=False):
    """A classifier's outputs [N, K] -> class probabilities [N, max(K, 2)].

    K = 1 is one binary attribute: its logit l (or probability p) gives
    [1 - sigmoid(l), sigmoid(l)]. K >= 2 logits go through a softmax;
    `probabilities=True` takes them as they are.
    """
    x = np.asarray(outputs, np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"classifier outputs must be finite [N, K]; got shape {x.shape}.")
    if x.shape[1] == 1:
        p = x[:, 0] if probabilities else 1.0 / (1.0 + np.exp(-x[:, 0]))
        return np.stack([1.0 - p, p], axis=1)
    if probabilities:
        return x
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def most_confident(probs, keep):
    """Indices of the `keep` samples with the highest top class probability
    (ties in sample order, as NVIDIA's stable sort)."""
    return np.argsort(-np.max(probs, axis=1), kind="stable")[:keep]


def svm_predictions(x, y, seed=0):
    """Predictions on `x` of a `LinearSVC` fitted on (x, y); the labels themselves
    when y has a single class (NVIDIA: "assume perfect prediction")."""
    if len(np.unique(y)) < 2:
        return y.copy()
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.svm import LinearSVC
    except ImportError as e:  # a dependency of requirements.txt
        raise ImportError("linear separability needs scikit-learn (pip install "
                          "scikit-learn).") from e
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        svm = LinearSVC(random_state=seed).fit(x, y)
    return svm.predict(x)


def attribute_entropy(latents, probs, keep=None, seed=0):
    """H(classifier label | SVM prediction) in bits for one attribute.

    Args:
        latents: [N, D] z or w of the samples.
        probs: [N, K] the classifier's class probabilities of their images.
        keep: how many of the most confident samples to use (default N // 2).
    """
    latents, probs = np.asarray(latents, np.float64), np.asarray(probs, np.float64)
    if latents.ndim != 2 or probs.ndim != 2 or len(latents) != len(probs):
        raise ValueError(f"latents [N, D] and probabilities [N, K] must have the same N; "
                         f"got {latents.shape} and {probs.shape}.")
    keep = len(probs) // 2 if keep is None else int(keep)
    if keep < 2:
        raise ValueError("linear separability needs at least 4 samples.")
    idx = most_confident(probs, keep)
    targets = np.argmax(probs[idx], axis=1)
    outputs = svm_predictions(latents[idx], targets, seed)
    k = probs.shape[1]
    joint = np.zeros([k, k])
    np.add.at(joint, (outputs, targets), 1.0)
    return conditional_entropy(joint)


def separability(latents, attributes, keep=None, seed=0):
    """Linear separability of `latents` for the attributes {name: probs [N, K]}.

    Returns:
        {"score": 2 ** sum of the entropies, "entropy": {name: H in bits},
         "per_attribute": {name: 2 ** H}}.
    """
    entropies = {name: attribute_entropy(latents, p, keep, seed)
                 for name, p in attributes.items()}
    return {"score": float(2.0 ** sum(entropies.values())), "entropy": entropies,
            "per_attribute": {n: float(2.0 ** h) for n, h in entropies.items()}}


def linear_separability(z, w, attributes, name="ls", keep=None, seed=0):
    """NVIDIA's result dict of the `ls` metric: `{name}_z`, `{name}_w` and, per
    attribute, `{name}_z_{attr}` / `{name}_w_{attr}` (= 2 ** that attribute's H).

    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=[200, 4])
    >>> w = np.tanh(z)
    >>> out = linear_separability(z, w, {"a": np.stack([z[:, 1] < 0, z[:, 1] >= 0], 1)})
    >>> sorted(out)
    ['ls_w', 'ls_w_a', 'ls_z', 'ls_z_a']
    """
    out = {}
    for space, latents in (("z", z), ("w", w)):
        result = separability(latents, attributes, keep, seed)
        out[f"{name}_{space}"] = result["score"]
        for attr, value in result["per_attribute"].items():
            out[f"{name}_{space}_{attr}"] = value
    return out

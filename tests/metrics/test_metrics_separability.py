"""Linear separability: the math against a transcription of NVIDIA's loop and
SciPy's entropy, the user's classifier files (and their errors), the factor
judge's cache, and the built-in judge against the built-in ground truth."""

import os

import keras
import numpy as np
import pytest
import scipy.special
import scipy.stats

from keras_stylegan.errors import NetworkFileError
from keras_stylegan.metrics import names, separability
from keras_stylegan.metrics.classifiers import load_classifiers
from keras_stylegan.metrics.factor_judge import FactorJudge, cached_judge


def nvidia_entropy(svm_outputs, svm_targets):
    """stylegan metrics/linear_separability.py, binary attributes, as written there."""
    p = [[np.mean([case == (row, col) for case in zip(svm_outputs, svm_targets)])
          for col in (0, 1)] for row in (0, 1)]
    p = np.asarray(p, np.float64)
    p = p / np.sum(p)
    joint = -np.sum([v * np.log2(v) for v in p.ravel() if v > 0])
    px = p.sum(axis=1)
    return joint - (-np.sum([v * np.log2(v) for v in px if v > 0]))


def nvidia_attribute(latents, softmax, num_keep):
    import sklearn.svm
    pruned = sorted(range(len(softmax)), key=lambda i: -np.max(softmax[i]))[:num_keep]
    targets = np.argmax(softmax[pruned], axis=1)
    svm = sklearn.svm.LinearSVC(random_state=0)
    svm.fit(latents[pruned], targets)
    return nvidia_entropy(svm.predict(latents[pruned]), targets)


def test_conditional_entropy_is_scipys_h_xy_minus_h_x():
    joint = np.random.default_rng(0).uniform(size=[4, 4])
    want = scipy.stats.entropy(joint.ravel(), base=2) - scipy.stats.entropy(
        joint.sum(axis=1), base=2)
    assert separability.conditional_entropy(joint) == pytest.approx(want, rel=1e-12)


def test_attribute_entropy_matches_nvidias_procedure():
    rng = np.random.default_rng(1)
    z = rng.normal(size=[300, 6])
    logit = z @ rng.normal(size=6) + 0.8 * rng.normal(size=300)  # not quite linear
    softmax = scipy.special.softmax(np.stack([logit, -logit], 1), axis=1)
    got = separability.attribute_entropy(z, softmax, keep=150)
    assert got == pytest.approx(nvidia_attribute(z, softmax, 150), abs=1e-12)
    assert 0 < got < 1


def test_score_is_two_to_the_sum_and_separable_beats_entangled():
    rng = np.random.default_rng(2)
    z = rng.normal(size=[400, 4])
    # Confidence grows away from the boundary, so the kept half has a margin.
    linear = scipy.special.softmax(np.stack([3 * z[:, 0], -3 * z[:, 0]], 1), axis=1)
    r = 3 * (np.abs(z[:, 1]) - 0.67)  # |z1| large: no hyperplane separates it
    radial = scipy.special.softmax(np.stack([r, -r], 1), axis=1)
    out = separability.linear_separability(z, z, {"lin": linear, "rad": radial}, "ls400")
    h_lin = separability.attribute_entropy(z, linear)
    h_rad = separability.attribute_entropy(z, radial)
    assert out["ls400_z"] == pytest.approx(2 ** (h_lin + h_rad))
    assert out["ls400_z_lin"] == pytest.approx(1.0) and out["ls400_z_rad"] > 1.5


def test_one_class_is_perfect_prediction_and_bad_shapes_fail():
    z = np.random.default_rng(3).normal(size=[20, 3])
    probs = np.tile([0.9, 0.1], (20, 1))
    assert separability.attribute_entropy(z, probs) == 0.0
    with pytest.raises(ValueError, match="same N"):
        separability.attribute_entropy(z[:10], probs)


def test_class_probabilities_of_logits_and_probabilities():
    x = np.random.default_rng(4).normal(size=[5, 3])
    np.testing.assert_allclose(separability.class_probabilities(x),
                               scipy.special.softmax(x, axis=1), rtol=1e-12)
    p = separability.class_probabilities(x[:, :1])
    np.testing.assert_allclose(p[:, 1], scipy.special.expit(x[:, 0]), rtol=1e-12)
    np.testing.assert_allclose(separability.class_probabilities([[0.2], [0.7]], True),
                               [[0.8, 0.2], [0.3, 0.7]])


def test_metric_names():
    assert names.parse_metric("ls").num_gen == 200_000
    s = names.parse_metric("ls10k")
    assert (s.kind, s.num_gen, s.needs) == ("ls", 10_000, "attributes")
    s = names.parse_metric("fd_shapes2k_full")
    assert (s.kind, s.num_gen, s.num_real, s.needs) == ("fd_shapes", 2000, None, "judge")
    assert names.parse_metric("fd_shapes500").num_real == 500
    for bad in ("ls2", "fid_shapes1k", "fd_shapes"):
        with pytest.raises(ValueError):
            names.parse_metric(bad)


# ----------------------------------------------------------------- user classifiers
def _classifier(path, res=8, outputs=2, activation=None):
    inp = keras.Input((res, res, 3))
    x = keras.layers.GlobalAveragePooling2D()(inp)
    model = keras.Model(inp, keras.layers.Dense(outputs, activation=activation)(x))
    model.save(path)
    return model


def test_user_classifiers_give_their_models_probabilities(tmp_path):
    a = _classifier(tmp_path / "smile.keras")
    b = _classifier(tmp_path / "hair.keras", res=4, outputs=1, activation="sigmoid")
    attrs = load_classifiers(f"{tmp_path / 'smile.keras'},{tmp_path / 'hair.keras'}", 8)
    assert attrs.names == ("smile", "hair")
    images = np.random.default_rng(5).integers(0, 256, [3, 8, 8, 3]).astype(np.uint8)
    out = attrs(images)
    x = images.astype(np.float32) / 127.5 - 1
    np.testing.assert_allclose(out["smile"], scipy.special.softmax(
        np.asarray(a(x), np.float64), axis=1), rtol=1e-5)
    small = x.reshape(3, 4, 2, 4, 2, 3).mean(axis=(2, 4))  # box-downsampled to its 4 px
    p = np.asarray(b(small), np.float64)[:, 0]
    np.testing.assert_allclose(out["hair"], np.stack([1 - p, p], 1), rtol=1e-5)


def test_bad_classifier_files_get_one_clear_error(tmp_path):
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    _classifier(tmp_path / "wrong_size.keras", res=6)
    inp = keras.Input((8, 8, 3))
    two = keras.Model(inp, [keras.layers.Flatten()(inp), keras.layers.Flatten()(inp)])
    two.save(tmp_path / "two.keras")
    lam = keras.Model(inp, keras.layers.Lambda(lambda t: t[:, 0, 0, :] * 2)(inp))
    lam.save(tmp_path / "lambda.keras")
    cases = {"missing.keras": "No such classifier", "junk.keras": "not a readable Keras",
             "wrong_size.keras": "takes input", "two.keras": "one input and one output",
             "lambda.keras": "not a readable Keras"}
    (tmp_path / "model.h5").write_bytes(b"")
    cases["model.h5"] = "must be .keras"
    for name, message in cases.items():
        with pytest.raises(NetworkFileError, match=message):
            load_classifiers([str(tmp_path / name)], 8)


# ----------------------------------------------------------------- the factor judge
def test_factor_judge_cache_round_trip_and_foreign_files(tmp_path):
    heads = {"a": 3, "b": 2}
    built = []

    def build():
        built.append(1)
        return FactorJudge(8, heads, channels=8)
    first = cached_judge(str(tmp_path), "k", build, 8, heads, {"v": 1})
    images = np.random.default_rng(6).integers(0, 256, [4, 8, 8, 3]).astype(np.uint8)
    # FactorJudge.load rebuilds 64-channel judges by default: build with the default
    # width for the round trip.
    j = FactorJudge(8, heads)
    j.save(str(tmp_path / "judge-x.npz"), {"v": 1})
    again = cached_judge(str(tmp_path), "x", build, 8, heads, {"v": 1})
    np.testing.assert_array_equal(again(images)[0], j(images)[0])
    assert len(built) == 1 and first.channels == 8
    # Another identity, a corrupt file: not used, rebuilt.
    assert FactorJudge.load(str(tmp_path / "judge-x.npz"), 8, heads, extra={"v": 2}) is None
    (tmp_path / "judge-y.npz").write_bytes(b"garbage")
    cached_judge(str(tmp_path), "y", build, 8, heads, {"v": 1})
    assert len(built) == 2


def test_builtin_judge_knows_the_ground_truth_factors():
    from keras_stylegan.training import builtin_judge
    judge, acc = builtin_judge.train(16, num_train=2000, epochs=2, num_test=500)
    # Held-out real images of the judge's set, scored against their true factors.
    # This small budget (the default trains 10x longer: 98.5% on shapes, see
    # training/builtin_judge.py) already learns colours, backgrounds and positions.
    for factor in ("color", "background"):
        assert acc[factor] > 0.95, acc
    for factor in ("x", "y"):
        assert acc[factor] > 0.8, acc
    assert builtin_judge.separability_factors({"x": 0.5}, ("shape=circle",)) == (
        "color", "background", "size", "y")


def test_builtin_judge_cache_key_changes_with_what_it_depends_on():
    from keras_stylegan.training import builtin_judge
    key = builtin_judge.fingerprint(16)[0]
    assert key == builtin_judge.fingerprint(16)[0]
    assert key != builtin_judge.fingerprint(32)[0]
    assert key != builtin_judge.fingerprint(16, dict(num_train=10, epochs=1))[0]
    assert os.path.basename(key) == key


def test_ls_without_classifiers_or_builtin_data_is_one_clear_error(capsys):
    from keras_stylegan import cli
    assert cli.main(["metrics", "--network", "preset:stylegan-tiny-32", "--metrics",
                     "ls8"]) == 2
    assert "ls needs attribute classifiers: pass --classifiers" in capsys.readouterr().err

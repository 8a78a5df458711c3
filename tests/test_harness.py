"""Every layer and network of both families through the one harness
(`tests/harness.py`; cases in `tests/cases.py`)."""

import numpy as np
import pytest

import cases
import harness

CASES = cases.all_cases()
IDS = [c.name for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_config_round_trip(case):
    harness.check_config_round_trip(case)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_keras_file_round_trip(case, tmp_path):
    harness.check_keras_file_round_trip(case, tmp_path / f"{case.name}.keras")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_mixed_precision(case):
    harness.check_mixed_precision(case)


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backends")
    tf_out = harness.tf_outputs_and_weights(CASES, folder)
    return tf_out, harness.jax_outputs(IDS, folder)


@pytest.mark.slow  # one JAX subprocess compiling every case: a minute or two
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jax_backend_agrees_with_tensorflow(backends, case):
    tf_out, jax_out = backends
    harness.assert_backends_agree(case, jax_out[case.name], tf_out[case.name])


def test_the_harness_catches_a_missing_config_key(monkeypatch):
    """A layer whose get_config drops a constructor argument fails the check."""
    from keras_stylegan.layers.common import EqualizedDense
    case = harness.Case("dense", lambda: EqualizedDense(5, lrmul=0.1), lambda: [np.ones((2, 3),
                                                                                 np.float32)])
    original = EqualizedDense.get_config
    monkeypatch.setattr(EqualizedDense, "get_config",
                        lambda self: {k: v for k, v in original(self).items() if k != "lrmul"})
    with pytest.raises(AssertionError):
        harness.check_config_round_trip(case)

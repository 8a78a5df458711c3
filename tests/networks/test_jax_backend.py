"""The networks run on the JAX backend too (keras_stylegan/ uses keras.ops only).

Fixture cases of both families run in a subprocess with KERAS_BACKEND=jax (a
process's Keras backend is fixed at import time), one per fixture, through
the same runner and tolerances as on TensorFlow (`helpers.fixture_cases`).
"""

import pytest

from helpers import fixture_cases

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow

JAX_CASES = {
    "sg1_r32": ("gs_psi0.7", "gs_psi0.7_uint8", "gs_psi1_lod1.5_linear",
                "D_random_images", "D_lod1.5_linear"),
    "sg2_r32_f": ("gs_psi0.7", "gs_psi0.7_uint8", "gs_psi1_unfused_modconv",
                  "D_random_images"),
}


@pytest.fixture(scope="module")
def on_jax(tmp_path_factory):
    """fixture -> {case: (ours on JAX, NVIDIA's)}, one subprocess per fixture."""
    results = {}

    def get(fixture):
        if fixture not in results:
            results[fixture] = fixture_cases.run_in_subprocess(
                fixture, JAX_CASES[fixture], "jax", tmp_path_factory.mktemp("jax"))
        return results[fixture]
    return get


@pytest.mark.parametrize("fixture,case_name",
                         [(f, c) for f, cases in JAX_CASES.items() for c in cases])
def test_parity_on_jax(on_jax, fixture, case_name):
    fixture_cases.assert_matches(*on_jax(fixture)[case_name])

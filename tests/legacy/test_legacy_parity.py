"""Every case of every StyleGAN1 fixture: our networks vs NVIDIA's own outputs.

The cases run through `helpers.fixture_cases`, shared with the StyleGAN2
fixtures: float outputs must agree within 1e-4 (two CPU kernel paths of
NVIDIA's own code differ by up to 1.3e-5), uint8 outputs within 1 LSB.
"""

import numpy as np
import pytest

from helpers.fixture_cases import FixtureNets, case_params, check_case, check_metadata

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow

SG1_FIXTURES = ("sg1_r32", "sg1_r32_cond", "sg1_r128")


@pytest.fixture(scope="module")
def fixture_nets():
    return FixtureNets()


@pytest.mark.parametrize("fixture,case_name", case_params(SG1_FIXTURES))
def test_sg1_fixture_case(fixture_nets, fixture, case_name):
    check_case(*fixture_nets(fixture), case_name)


@pytest.mark.parametrize("fixture", SG1_FIXTURES)
def test_fixture_metadata(fixture_nets, fixture):
    nets, manifest, _ = fixture_nets(fixture)
    check_metadata(nets, manifest)
    assert manifest["family"] == "stylegan1"
    assert float(nets["Gs"].synthesis.lod.numpy()) == manifest["stored_lod"]["Gs/lod"]


def test_lower_resolution_path_equals_full_output_downsampled(fixture_nets):
    """`resolution=` (used for cheap progressive training) is a second code path
    for NVIDIA's lod semantics: at lod >= 1 the full output is a nearest-neighbour
    upscale of the 16 px output, and D's score is unchanged."""
    nets, _, ref = fixture_nets("sg1_r32")
    Gs, D = nets["Gs"], nets["D"]
    ws = Gs.mapping(ref["latents"])
    for lod in (1.0, 1.5, 2.0):
        full = np.asarray(Gs.synthesis(ws, noise_mode="const", lod=lod))
        low = np.asarray(Gs.synthesis(ws, noise_mode="const", lod=lod, resolution=16))
        np.testing.assert_allclose(full[:, ::2, ::2], low, atol=1e-6)
        np.testing.assert_allclose(np.repeat(np.repeat(low, 2, 1), 2, 2), full, atol=1e-6)
        np.testing.assert_allclose(D(full, lod=lod), D(low, lod=lod, resolution=16), atol=1e-5)

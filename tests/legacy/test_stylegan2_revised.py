"""StyleGAN2 configs a-d (`G_synthesis_stylegan_revised` + `D_stylegan`) give NVIDIA's numbers.

The genuine fixture `legacy/sg2_r32_d_revised` (random weights, NVIDIA's
outputs) covers lod 0, 0.5, 1 and 2 with the 'recursive', 'linear' and
'fixed' structures (one implementation here: they agree within 6e-7).
Every case on TensorFlow; every case on JAX in one subprocess; `.keras`
save/load and `generate` work for these networks.
"""

import keras
import numpy as np
import pytest

from conftest import load_fixture
from helpers import fixture_cases
from helpers.fixture_cases import FixtureNets, case_params, check_case, check_metadata
from keras_stylegan import cli
from keras_stylegan.generate import ImageGenerator

FIXTURE = "sg2_r32_d_revised"


@pytest.fixture(scope="module")
def fixture_nets():
    return FixtureNets()


@pytest.mark.parametrize("fixture,case_name", case_params((FIXTURE,)))
def test_revised_case_matches_nvidia(fixture_nets, fixture, case_name):
    check_case(*fixture_nets(fixture), case_name)


def test_revised_metadata_and_structure(fixture_nets):
    nets, manifest, _ = fixture_nets(FIXTURE)
    check_metadata(nets, manifest)
    assert nets["meta"]["variant"] == "stylegan2-revised"
    G, D = nets["Gs"], nets["D"]
    assert G.synthesis.progressive and G.synthesis.architecture == "orig"
    assert D.progressive and D.architecture == "orig"
    assert float(G.synthesis.lod.numpy()) == manifest["stored_lod"]["Gs/lod"]
    assert float(D.lod.numpy()) == manifest["stored_lod"]["D/lod"]


@pytest.mark.slow  # one subprocess, every case: ~1-2 min here (JAX compiles every shape)
def test_every_revised_case_matches_nvidia_on_jax(tmp_path):
    _, manifest, _ = load_fixture(FIXTURE)
    names = [c["name"] for c in manifest["cases"]]
    results = fixture_cases.run_in_subprocess(FIXTURE, names, "jax", str(tmp_path))
    for name in names:
        fixture_cases.assert_matches(*results[name])


def test_keras_save_load_round_trip(fixture_nets, tmp_path):
    nets, _, ref = fixture_nets(FIXTURE)
    for key in ("Gs", "D"):
        path = str(tmp_path / f"{key}.keras")
        nets[key].save(path)
        loaded = keras.saving.load_model(path, compile=False)
        assert loaded.get_config() == nets[key].get_config()
        for a, b in zip(loaded.get_weights(), nets[key].get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    G = keras.saving.load_model(str(tmp_path / "Gs.keras"), compile=False)
    z = ref["latents"][:2]
    np.testing.assert_allclose(G(z, noise_mode="const", lod=1.5),
                               nets["Gs"](z, noise_mode="const", lod=1.5), rtol=0, atol=1e-6)


def test_generate_command(fixture_nets, tmp_path):
    from PIL import Image
    nets, _, _ = fixture_nets(FIXTURE)
    pkl, _, _ = load_fixture(FIXTURE)
    assert cli.main(["generate", "--network", str(pkl), "--seeds", "0-1",
                     "--outdir", str(tmp_path)]) == 0
    want = ImageGenerator(nets["Gs"], noise_mode="const").from_seeds([0, 1])
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) == 2
    for png, img in zip(pngs, want):
        np.testing.assert_array_equal(np.asarray(Image.open(png)), img)


@pytest.mark.slow  # ~35 s here: tracing and saving eight signatures
def test_savedmodel_export_reproduces_nvidia(tmp_path):
    from keras_stylegan.export.savedmodel import call_signature, load
    pkl, _, ref = load_fixture(FIXTURE)
    assert cli.main(["export", "--network", str(pkl), "--out", str(tmp_path),
                     "--name", "revised"]) == 0
    model = load(str(tmp_path / "revised" / "1"))
    z = ref["latents"][:4]
    out = call_signature(model, "generate_const", z=z, truncation_psi=np.full(4, 0.7, "f4"))
    want = np.transpose(ref["gs_psi0.7"][:4], (0, 2, 3, 1))
    np.testing.assert_allclose(out["images_float"], want, rtol=0, atol=1e-4)

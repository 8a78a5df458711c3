"""TFLite / LiteRT export: builtins only, runs in ai_edge_litert, matches the SavedModel.

Each quantization variant is gated by PSNR against the SavedModel (itself
checked against NVIDIA's outputs in test_export.py); float32 also against
NVIDIA's fixture directly. Noise-input models are checked against the
SavedModel's in-graph seed noise.
"""

import os
import re

import numpy as np
import pytest
from PIL import Image

from conftest import load_fixture, nchw_to_nhwc
from keras_stylegan.export.savedmodel import call_signature
from keras_stylegan.export.tflite import TFLiteGenerator, convert, make_interpreter
from keras_stylegan import cli
from keras_stylegan.generate import latents_from_seeds
from test_export import exported, psnr

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow

BATCH = 4
# Minimum PSNR (dB) against the SavedModel, per family and variant. Measured on
# the fixtures' random weights: float32 ~130-140, float16 72-81, dynamic 40 (SG1:
# AdaIN / instance norm amplifies int8 weight error) and 50 (SG2: demodulation).
MIN_PSNR = {
    ("stylegan1", None): 110, ("stylegan2", None): 110,
    ("stylegan1", "float16"): 62, ("stylegan2", "float16"): 68,
    ("stylegan1", "dynamic"): 35, ("stylegan2", "dynamic"): 44,
}


def ops_of(model):
    """Names of the operators in a .tflite flatbuffer."""
    interp = make_interpreter(model_content=model)
    return {op["op_name"] for op in interp._get_ops_details()}


@pytest.mark.parametrize("quantize", [None, "float16", "dynamic"])
@pytest.mark.parametrize("fixture", ["sg1_r32", "sg2_r32_f"])
def test_variant_matches_savedmodel(fixture, quantize, tmp_path_factory):
    fx = exported(fixture, tmp_path_factory)
    G, ref = fx["G"], fx["ref"]
    model = convert(G, batch=BATCH, quantize=quantize)
    ops = ops_of(model)
    assert not [op for op in ops if op.startswith("Flex") or op in ("CUSTOM", "DELEGATE")], ops
    gen = TFLiteGenerator(model_content=model)
    assert (gen.batch, gen.z_dim, gen.resolution) == (BATCH, G.z_dim, G.resolution)
    z = ref["latents"][:6]  # 6 samples: one full batch of 4 and a padded one
    psi = np.array([0.7, 1.0, 0.5, 0.7, 0.9, 0.7], np.float32)
    floats, u8 = gen(z, truncation_psi=psi)
    saved = call_signature(fx["loaded"], "generate_const", z=z, truncation_psi=psi)
    db = psnr(floats, saved["images_float"])
    assert db >= MIN_PSNR[(G.family, quantize)], f"{fixture} {quantize}: {db:.1f} dB"
    assert u8.dtype == np.uint8 and u8.shape == saved["images"].shape
    if quantize is None:  # essentially exact: also NVIDIA's own numbers
        np.testing.assert_allclose(floats, saved["images_float"], atol=5e-5, rtol=0)
        nvidia = nchw_to_nhwc(ref["gs_psi0.7"])[[0, 3, 5]]
        np.testing.assert_allclose(floats[[0, 3, 5]], nvidia, atol=1e-4, rtol=0)
        assert np.abs(u8.astype(int) - saved["images"].astype(int)).max() <= 1


@pytest.mark.parametrize("fixture", ["sg1_r32_cond", "sg2_r32_f"])
def test_noise_inputs_reproduce_savedmodel_seed_noise(fixture, tmp_path_factory):
    fx = exported(fixture, tmp_path_factory)
    G, ref = fx["G"], fx["ref"]
    gen = TFLiteGenerator(model_content=convert(G, batch=2, noise="input"))
    assert gen.noise_from_seed and gen.noise_shapes == [tuple(s) for s in
                                                        G.synthesis.noise_shapes]
    z, seeds = ref["latents"][:3], np.array([4, 5, 2 ** 35], np.int64)
    lab = {"labels": ref["labels"][:3]} if G.label_size else {}
    psi = np.full(3, 0.8, np.float32)
    floats, _ = gen(z, truncation_psi=psi, seeds=seeds, **lab)
    saved = call_signature(fx["loaded"], "generate", z=z, truncation_psi=psi, seed=seeds, **lab)
    np.testing.assert_allclose(floats, saved["images_float"], atol=5e-5, rtol=0)
    with pytest.raises(ValueError, match="seeds"):
        gen(z, truncation_psi=psi, **lab)


def test_generate_command_runs_a_tflite_file(tmp_path, tmp_path_factory, capsys):
    fx = exported("sg1_r32_cond", tmp_path_factory)
    pkl = str(load_fixture("sg1_r32_cond")[0])
    model = str(tmp_path / "g.tflite")
    assert cli.main(["export", "--network", pkl, "--format", "tflite", "--batch", "2",
                     "--quantize", "float16", "--out", model]) == 0
    assert os.path.isfile(model) and not [f for f in os.listdir(tmp_path) if "tmp" in f]
    check = re.search(r"PSNR vs the Keras generator on 4 samples: ([\d.]+) dB",
                      capsys.readouterr().out)
    assert check and float(check.group(1)) > MIN_PSNR[("stylegan1", "float16")]
    out = tmp_path / "png"
    assert cli.main(["generate", "--network", model, "--seeds", "0-2", "--trunc", "0.7",
                     "--class", "1", "--grid", "--outdir", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["grid.png", "seed0000.png", "seed0001.png",
                                       "seed0002.png"]
    G = fx["G"]
    z = latents_from_seeds([0, 1, 2], G.z_dim)
    labels = np.eye(G.label_size, dtype=np.float32)[[1, 1, 1]]
    saved = call_signature(fx["loaded"], "generate_const", z=z, labels=labels,
                           truncation_psi=np.full(3, 0.7, np.float32))["images"]
    for i in range(3):
        png = np.asarray(Image.open(out / f"seed000{i}.png")).astype(int)
        assert np.abs(png - saved[i].astype(int)).max() <= 4  # float16 weights
        assert psnr(png / 127.5, saved[i] / 127.5) > 40
    capsys.readouterr()
    # The noise mode is fixed at export: asking for another one is a clear error.
    assert cli.main(["generate", "--network", model, "--seeds", "0", "--class", "1",
                     "--noise-mode", "random", "--outdir", str(out)]) == 2
    assert "--noise const" in capsys.readouterr().err
    assert cli.main(["generate", "--network", str(tmp_path / "missing.tflite"), "--seeds", "0",
                     "--outdir", str(out)]) == 2


def test_tflite_layout_for_serving(tmp_path):
    pkl = str(load_fixture("sg2_r32_f")[0])  # random non-zero noise strengths
    assert cli.main(["export", "--network", pkl, "--format", "tflite",
                     "--noise", "input", "--out", str(tmp_path), "--name", "lite"]) == 0
    path = tmp_path / "lite" / "1" / "model.tflite"
    gen = TFLiteGenerator(str(path))
    assert gen.batch == 1 and gen.noise_from_seed
    a, _ = gen(np.zeros([2, gen.z_dim], np.float32), seeds=[1, 2])
    b, _ = gen(np.zeros([1, gen.z_dim], np.float32), seeds=[2])
    np.testing.assert_array_equal(a[1], b[0])
    assert np.abs(a[0] - a[1]).max() > 1e-3


def test_float16_keeps_epsilons_float32():
    """A fresh StyleGAN1 has constant 4x4 feature maps (variance 0) and z = 0 has norm 0:
    with instance / pixel norm's 1e-8 rounded to float16 zero, both gave NaN."""
    from keras_stylegan import presets
    G = presets.generator("stylegan-tiny-32")
    model = convert(G, batch=2, quantize="float16")
    interp = make_interpreter(model_content=model)
    types = {d["dtype"] for d in interp.get_tensor_details()}
    assert np.float16 in types  # the weights are float16
    z = np.stack([np.zeros(G.z_dim), np.random.RandomState(1).randn(G.z_dim)]).astype(np.float32)
    floats, _ = TFLiteGenerator(model_content=model)(z, truncation_psi=0.7)
    expected = np.asarray(G(z, truncation_psi=0.7, noise_mode="const"))
    assert np.all(np.isfinite(floats))
    assert psnr(floats, expected) > 45

"""NVIDIA's PyTorch pickles (StyleGAN2-ADA-PyTorch, stylegan3's StyleGAN2) give NVIDIA's numbers.

The fixtures in `fixtures/pytorch/` are genuine snapshots written by NVIDIA's
PyTorch code with random weights, and the outputs of NVIDIA's own forward
pass. Every case of every fixture must match within 1e-4 (uint8: 1 LSB) on
TensorFlow and, in one subprocess for all fixtures, on JAX. The parsed
tensors are also checked against the manifests' sha256 inventory, and the
protocol-3 / NumPy-1 twin file against the protocol-4 one.
"""

import hashlib
import json

import numpy as np
import pytest

from helpers import pytorch_cases
from helpers.pytorch_cases import NAMES, assert_matches, expected, pytorch_fixture, run_case
from keras_stylegan import cli, legacy
from keras_stylegan.legacy import pytorch
from keras_stylegan.legacy.torch_unpickler import load_torch_pickle


def case_params():
    params = []
    for name in NAMES:
        path = pytorch_cases.PYTORCH / name / "manifest.json"
        if not path.is_file():
            params.append(pytest.param(name, None, id=f"{name}-missing"))
            continue
        params += [pytest.param(name, c["name"], id=f"{name}-{c['name']}")
                   for c in json.loads(path.read_text())["cases"]]
    return params


@pytest.fixture(scope="module")
def loaded():
    cache = {}

    def get(name):
        if name not in cache:
            folder, manifest, ref = pytorch_fixture(name)
            cache[name] = (pytorch_cases.load(folder), manifest, ref)
        return cache[name]
    return get


@pytest.mark.parametrize("name,case_name", case_params())
def test_case_matches_nvidia_on_tensorflow(loaded, name, case_name):
    nets, manifest, ref = loaded(name)
    case = next(c for c in manifest["cases"] if c["name"] == case_name)
    assert_matches(run_case(nets, ref, case), expected(ref, case))


@pytest.fixture(scope="module")
def on_jax(tmp_path_factory):
    return pytorch_cases.run_in_subprocess(NAMES, "jax", tmp_path_factory.mktemp("jax"))


@pytest.mark.slow  # one subprocess for all fixtures: 1-3 min here (JAX compiles every shape)
@pytest.mark.parametrize("name", NAMES)
def test_every_case_matches_nvidia_on_jax(on_jax, name):
    _, manifest, ref = pytorch_fixture(name)
    for case in manifest["cases"]:
        assert_matches(on_jax[f"{name}/{case['name']}"], expected(ref, case))


@pytest.mark.parametrize("name", NAMES)
def test_parsed_tensors_match_the_manifest_inventory(name):
    folder, manifest, _ = pytorch_fixture(name)
    snap = load_torch_pickle((folder / "network-stripped.pkl").read_bytes())
    for key in ("G", "D", "G_ema"):
        want = {k: v for k, v in manifest["tensors"][key].items()}
        got = pytorch.named_tensors(snap[key])
        assert sorted(got) == sorted(want)
        for tname, info in want.items():
            arr = got[tname]
            assert list(arr.shape) == info["shape"] and str(arr.dtype) == info["dtype"]
            assert hashlib.sha256(arr.tobytes()).hexdigest() == info["sha256"], tname


def test_protocol3_numpy1_twin_loads_the_same_networks(loaded):
    nets, _, _ = loaded("ada_r32_paper")
    folder = pytorch_cases.PYTORCH / "ada_r32_paper"
    twin = pytorch_cases.load(folder, "network-proto3-numpy1names-stripped.pkl")
    for key in ("G", "D", "Gs"):
        for a, b in zip(nets[key].get_weights(), twin[key].get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    assert twin["meta"] == nets["meta"]


@pytest.mark.parametrize("name", NAMES)
def test_config_and_meta_follow_the_manifest(loaded, name):
    nets, m, _ = loaded(name)
    G, D, d = nets["Gs"], nets["D"], m["derived"]
    assert (G.z_dim, G.w_dim, G.label_size, G.num_ws, G.resolution) == (
        d["z_dim"], d["w_dim"], d["c_dim"], d["num_ws"], d["img_resolution"])
    assert G.w_avg_beta == pytest.approx(d["w_avg_beta"])
    assert G.synthesis.architecture == d["G_architecture"]
    assert D.architecture == d["D_architecture"]
    assert D.mbstd_group_size == d["D_mbstd_group_size"]
    assert (D.cmap_dim or 0) == d["D_cmap_dim"]
    meta = nets["meta"]
    assert meta["training_set_kwargs"] == m["training_set_kwargs"]
    assert meta["variant"] == ("stylegan3-stylegan2" if name.startswith("sg3")
                               else "stylegan2-ada-pytorch")
    pipe = m["augment_pipe"]
    if pipe is None:
        assert meta["augment_pipe"] is None
    else:
        assert meta["augment_pipe"]["init_kwargs"] == pipe["init_kwargs"]
        assert meta["augment_pipe"]["p"] == pytest.approx(pipe["p"])


def test_stylegan3_repo_fp16_defaults_are_kept_without_force_fp32(loaded):
    fp32, _, _ = loaded("sg3repo_r32_sg2")
    assert fp32["meta"]["num_fp16_res"] == {"G": 4, "D": 4, "Gs": 4}
    assert fp32["Gs"].synthesis.num_fp16_res == fp32["D"].num_fp16_res == 0
    folder, m, _ = pytorch_fixture("sg3repo_r32_sg2")
    nets = legacy.load_network_pkl(folder / "network-stripped.pkl", networks=("Gs", "D"))
    G, D = nets["Gs"], nets["D"]
    assert G.synthesis.num_fp16_res == 4 and D.num_fp16_res == 4
    assert G.synthesis.conv_clamp == D.conv_clamp == m["fp16"]["G_conv_clamp"] == 256
    assert [b.use_fp16 for b in G.synthesis.blocks] == [
        m["fp16"]["G_blocks_use_fp16"][str(r)] for r in (4, 8, 16, 32)]
    assert "num_fp16_res" not in nets["meta"]


def test_generate_command_writes_nvidia_images(loaded, tmp_path):
    """`keras-stylegan generate --network <pytorch pkl>`: PNGs equal to G_ema's images."""
    from PIL import Image

    from keras_stylegan.generate import ImageGenerator
    nets, _, _ = loaded("ada_r32_paper")
    pkl = pytorch_cases.PYTORCH / "ada_r32_paper" / "network-stripped.pkl"
    assert cli.main(["generate", "--network", str(pkl), "--seeds", "3-4", "--trunc", "0.7",
                     "--outdir", str(tmp_path)]) == 0
    want = ImageGenerator(nets["Gs"], truncation_psi=0.7, noise_mode="const").from_seeds([3, 4])
    for i, seed in enumerate((3, 4)):
        png = sorted(tmp_path.glob(f"*{seed}*.png"))
        assert len(png) == 1
        np.testing.assert_array_equal(np.asarray(Image.open(png[0])), want[i])


def test_info_command_reports_the_augment_pipe(capsys):
    pkl = pytorch_cases.PYTORCH / "ada_r32_paper" / "network-stripped.pkl"
    pytorch_fixture("ada_r32_paper")
    assert cli.main(["info", "--json", str(pkl)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "NVIDIA PyTorch pickle (stylegan2-ada-pytorch)"
    assert info["augment_pipe"]["init_kwargs"]["hue"] == 1
    assert info["augment_pipe"]["p"] == pytest.approx(0.2)
    assert info["training_set_kwargs"]["path"] == "datasets/random-r32"
    assert info["networks"]["G_ema"]["init_kwargs"]["z_dim"] == 64


@pytest.mark.slow  # ~35 s here: tracing and saving eight signatures
def test_savedmodel_export_reproduces_nvidia(tmp_path):
    """`keras-stylegan export --network <pytorch pkl>`: the SavedModel gives NVIDIA's images."""
    from keras_stylegan.export.savedmodel import call_signature, load
    folder, _, ref = pytorch_fixture("ada_r32_cond")
    assert cli.main(["export", "--network", str(folder / "network-stripped.pkl"),
                     "--out", str(tmp_path), "--name", "cond"]) == 0
    model = load(str(tmp_path / "cond" / "1"))
    n = 4
    out = call_signature(model, "generate_const", z=ref["z"][:n], labels=ref["c"][:n],
                         truncation_psi=np.full(n, 0.7, np.float32))
    np.testing.assert_allclose(out["images_float"], expected(ref, {"output": "G_ema_psi0.7"})[:n],
                               rtol=1e-4, atol=1e-4)
    diff = out["images"].astype(int) - ref["G_ema_psi0.7_uint8"][:n].astype(int)
    assert np.abs(diff).max() <= 1


@pytest.mark.slow  # ~1-2 min here: TFLite conversion
def test_tflite_export_of_a_float16_network_reproduces_nvidia(tmp_path):
    """A stylegan3-repo pickle keeps its float16 blocks (num_fp16_res=4); its
    `.tflite` is converted in float32 (TFLite builtins have no float16
    arithmetic) and gives NVIDIA's images."""
    from keras_stylegan.export.tflite import TFLiteGenerator
    folder, _, ref = pytorch_fixture("sg3repo_r32_sg2")
    out = tmp_path / "g.tflite"
    assert cli.main(["export", "--network", str(folder / "network-stripped.pkl"),
                     "--format", "tflite", "--out", str(out)]) == 0
    gen = TFLiteGenerator(str(out))
    n = 4
    images, _ = gen(ref["z"][:n], truncation_psi=0.7)
    np.testing.assert_allclose(images, expected(ref, {"output": "G_ema_psi0.7"})[:n],
                               rtol=1e-4, atol=1e-4)


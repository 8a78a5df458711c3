"""SavedModel export: NVIDIA's fixture outputs, the Keras generator, seed noise, layout.

References: NVIDIA's own outputs (`ref.npz`, const noise), our Keras
generator fed the NumPy twin of the in-graph seed noise, and NumPy for
style mixing. Exports are made once per fixture (`exported`, also used by
test_tflite.py and test_serve.py).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO, load_fixture, nchw_to_nhwc
from keras_stylegan.export import savedmodel
from keras_stylegan.export.noise import seed_noise_np, seed_noise_tf
from keras_stylegan.export.savedmodel import call_signature
from keras_stylegan import cli, legacy, presets, to_uint8

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow

FIXTURES = ("sg1_r32", "sg1_r32_cond", "sg2_r32_f")
_CACHE = {}


def generator_of(source):
    """(Gs, manifest, ref) for a fixture name, (G, None, None) for 'preset:NAME'."""
    if source.startswith("preset:"):
        return presets.generator(source[len("preset:"):]), None, None
    pkl, manifest, ref = load_fixture(source)
    return legacy.load_network_pkl(pkl, networks=("Gs",))["Gs"], manifest, ref


def exported(source, tmp_path_factory):
    """Exports `source` once per session with `keras-stylegan export`.

    Returns dict(G, manifest, ref, path, loaded). Fixtures are exported from
    NVIDIA's pickle; presets (random weights) are saved as `.keras` first and
    exported from that file.
    """
    if source not in _CACHE:
        G, manifest, ref = generator_of(source)
        out = tmp_path_factory.mktemp("savedmodels")
        name = source.replace("preset:", "")
        if manifest is None:
            network = str(out / f"{name}.keras")
            G.save(network)
        else:
            network = str(load_fixture(source)[0])
        assert cli.main(["export", "--network", network, "--out", str(out),
                         "--name", name]) == 0
        path = os.path.join(out, name, "1")
        _CACHE[source] = dict(G=G, manifest=manifest, ref=ref, path=str(path),
                              loaded=tf.saved_model.load(str(path)))
    return _CACHE[source]


def psnr(x, ref, peak_to_peak=2.0):
    """PSNR in dB of `x` against `ref` (images in [-1, 1]: peak-to-peak 2)."""
    mse = np.mean((np.asarray(x, np.float64) - np.asarray(ref, np.float64)) ** 2)
    return np.inf if mse == 0 else 10 * np.log10(peak_to_peak ** 2 / mse)


def labels_kw(G, ref, n=None):
    """{'labels': ...} for conditional networks, else {}."""
    if not G.label_size:
        return {}
    labels = ref["labels"] if ref is not None else np.eye(G.label_size, dtype=np.float32)[
        np.arange(n) % G.label_size]
    return {"labels": labels[:n] if n else labels}


@pytest.fixture(scope="module", params=FIXTURES)
def fx(request, tmp_path_factory):
    return exported(request.param, tmp_path_factory)


# Layout and signatures ----------------------------------------------------------------------

def test_tf_serving_layout_and_signatures(fx):
    G, path, loaded = fx["G"], fx["path"], fx["loaded"]
    assert os.path.basename(path) == "1"
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    assert os.path.isdir(os.path.join(path, "variables"))
    assert not [d for d in os.listdir(os.path.dirname(path)) if d.startswith(".tmp")]
    assert sorted(loaded.signatures) == sorted(savedmodel.SIGNATURES)
    latent = {"z", "labels"} if G.label_size else {"z"}
    expected = {
        "serving_default": latent | {"truncation_psi", "seed"},
        "generate": latent | {"truncation_psi", "seed"},
        "generate_const": latent | {"truncation_psi"},
        "mapping": latent | {"truncation_psi"},
        "synthesis": {"ws", "seed"}, "synthesis_const": {"ws"},
        "mix": {"ws", "ws2", "crossover", "seed"}, "mix_const": {"ws", "ws2", "crossover"},
    }
    for name, fn in loaded.signatures.items():
        _, inputs = fn.structured_input_signature
        assert set(inputs) == expected[name], name
        for key, spec in inputs.items():  # TF Serving's row format needs a batch dim
            assert spec.shape.rank >= 1 and spec.shape[0] is None, (name, key)
        outs = fn.structured_outputs
        if name == "mapping":
            assert outs["ws"].shape.as_list() == [None, G.num_ws, G.w_dim]
        else:
            res = G.resolution
            assert outs["images"].dtype == tf.uint8
            assert outs["images"].shape.as_list() == [None, res, res, G.num_channels]
            assert outs["images_float"].dtype == tf.float32
    meta = savedmodel.read_metadata(path)
    assert (meta["family"], meta["z_dim"], meta["label_size"]) == (
        G.family, G.z_dim, G.label_size)
    # Every weight stored once (Keras's ExportArchive.track would store them twice).
    folder = os.path.join(path, "variables")
    stored = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)
                 if f.startswith("variables.data"))
    weights = sum(np.asarray(v).nbytes for v in G.weights)
    assert 0.5 * weights < stored < 1.05 * weights + 16384, (stored, weights)


# NVIDIA's outputs (const noise) ---------------------------------------------------------------

def test_const_signatures_reproduce_nvidia(fx):
    G, ref, m = fx["G"], fx["ref"], fx["loaded"]
    z, n = ref["latents"], len(ref["latents"])
    lab = labels_kw(G, ref)
    ones = np.ones(n, np.float32)
    ws = call_signature(m, "mapping", z=z, truncation_psi=ones, **lab)["ws"]
    np.testing.assert_allclose(ws, ref["mapping"], atol=1e-4, rtol=0)
    for psi, key in ((1.0, "gs_psi1"), (0.7, "gs_psi0.7")):
        out = call_signature(m, "generate_const", z=z, truncation_psi=ones * psi, **lab)
        np.testing.assert_allclose(out["images_float"], nchw_to_nhwc(ref[key]), atol=1e-4,
                                   rtol=0)
        if psi == 0.7:
            diff = out["images"].astype(int) - ref["gs_psi0.7_uint8"].astype(int)
            assert out["images"].dtype == np.uint8 and np.abs(diff).max() <= 1
    for ws_key, key in (("mapping", "synthesis_from_mapping"), ("dlatents_rand", "synthesis_rand"),
                        ("style_mix_k2_dlatents", "style_mix_k2"),
                        ("style_mix_k5_dlatents", "style_mix_k5")):
        out = call_signature(m, "synthesis_const", ws=ref[ws_key])
        np.testing.assert_allclose(out["images_float"], nchw_to_nhwc(ref[key]), atol=1e-4,
                                   rtol=0)


# The Keras generator, seed noise, mixing --------------------------------------------------------

def test_generate_equals_keras_generator_with_seed_noise(fx):
    G, ref, m = fx["G"], fx["ref"], fx["loaded"]
    z = ref["latents"][:6]
    psi = np.array([1.0, 0.7, 0.5, 0.0, 1.2, -0.3], np.float32)  # per sample
    seeds = np.array([0, 1, 2, 12345, 2 ** 40 + 7, -3], np.int64)
    lab = labels_kw(G, ref, 6)
    out = call_signature(m, "serving_default", z=z, truncation_psi=psi, seed=seeds, **lab)
    noise = seed_noise_np(seeds, G.synthesis.noise_shapes)
    expected = np.stack([np.asarray(G(z[i:i + 1], truncation_psi=float(psi[i]),
                                      noise=[x[i:i + 1] for x in noise],
                                      **{k: v[i:i + 1] for k, v in lab.items()}))[0]
                         for i in range(6)])
    np.testing.assert_allclose(out["images_float"], expected, atol=1e-5, rtol=0)
    assert np.abs(out["images"].astype(int) - to_uint8(expected).astype(int)).max() <= 1
    same = call_signature(m, "generate", z=z, truncation_psi=psi, seed=seeds, **lab)
    np.testing.assert_array_equal(same["images_float"], out["images_float"])


def test_mix_signatures_equal_numpy_mixing(fx):
    G, ref, m = fx["G"], fx["ref"], fx["loaded"]
    ws = ref["mapping"][:4]
    ws2 = ref["dlatents_rand"][:4]
    crossover = np.array([0, 2, 5, G.num_ws], np.int32)
    layer = np.arange(G.num_ws)[None, :, None]
    mixed = np.where(layer < crossover[:, None, None], ws, ws2)
    out = call_signature(m, "mix_const", ws=ws, ws2=ws2, crossover=crossover)
    ref_const = call_signature(m, "synthesis_const", ws=mixed)
    np.testing.assert_allclose(out["images_float"], ref_const["images_float"], atol=1e-6)
    keras_const = np.asarray(G.synthesis(mixed, noise_mode="const"))
    np.testing.assert_allclose(out["images_float"], keras_const, atol=1e-5, rtol=0)
    seeds = np.array([5, 6, 7, 8], np.int64)
    out = call_signature(m, "mix", ws=ws, ws2=ws2, crossover=crossover, seed=seeds)
    expected = G.synthesis(mixed, noise=seed_noise_np(seeds, G.synthesis.noise_shapes))
    np.testing.assert_allclose(out["images_float"], np.asarray(expected), atol=1e-5, rtol=0)


def test_seed_noise_is_per_sample(fx):
    """A seed's image does not depend on the rest of the batch; other seeds differ.

    Both batches have the same size: oneDNN's convolutions may round differently
    for another batch size (~1e-6), which says nothing about the noise."""
    G, ref, m = fx["G"], fx["ref"], fx["loaded"]
    z = np.repeat(ref["latents"][:1], 3, axis=0)
    lab3 = {k: np.repeat(v, 3, axis=0) for k, v in labels_kw(G, ref, 1).items()}

    def generate(seeds):
        return call_signature(m, "generate", z=z, truncation_psi=np.ones(3, np.float32),
                              seed=np.array(seeds), **lab3)["images_float"]
    batch, others = generate([3, 7, 9]), generate([11, 7, 2])
    np.testing.assert_allclose(batch[1], others[1], atol=1e-6)  # seed 7 among other seeds
    assert np.abs(batch[0] - batch[1]).max() > 1e-3  # same z, other noise
    assert np.abs(batch[0] - others[0]).max() > 1e-3


def test_seed_noise_survives_a_restart_and_ignores_the_global_seed(tmp_path_factory):
    """A fresh process with a global seed set reproduces this process's images."""
    fx = exported("sg1_r32", tmp_path_factory)
    z = fx["ref"]["latents"][:2]
    here = call_signature(fx["loaded"], "generate", z=z, truncation_psi=np.ones(2, np.float32),
                          seed=np.array([11, 12]))["images_float"]
    code = (
        "import sys, numpy as np, tensorflow as tf\n"
        "tf.random.set_seed(1234)\n"
        "from keras_stylegan.export.savedmodel import load, call_signature\n"
        "z = np.load(sys.argv[2])\n"
        "out = call_signature(load(sys.argv[1]), 'generate', z=z,\n"
        "    truncation_psi=np.ones(2, np.float32), seed=np.array([11, 12]))\n"
        "np.save(sys.argv[3], out['images_float'])\n")
    tmp = tmp_path_factory.mktemp("restart")
    np.save(tmp / "z.npy", z)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-c", code, fx["path"], str(tmp / "z.npy"),
                    str(tmp / "out.npy")], check=True, env=env, timeout=120, cwd=REPO)
    np.testing.assert_array_equal(np.load(tmp / "out.npy"), here)


def test_noise_twins_agree_and_are_standard_normal():
    from scipy import stats
    shapes = [(4, 4), (8, 8), (64, 64)]
    seeds = np.array([0, 1, -1, 2 ** 33 + 5, 2 ** 63 - 1], np.int64)
    a = seed_noise_np(seeds, shapes)
    b = [x.numpy() for x in seed_noise_tf(tf.constant(seeds), shapes)]
    for x, y, (h, w) in zip(a, b, shapes):
        assert x.shape == y.shape == (5, h, w, 1) and x.dtype == np.float32
        np.testing.assert_allclose(x, y, atol=2e-6, rtol=0)
    big = a[2]
    for i in range(len(seeds)):
        assert stats.kstest(big[i].ravel(), "norm").pvalue > 1e-4
    assert abs(np.corrcoef(big[0].ravel(), big[1].ravel())[0, 1]) < 0.05
    assert abs(np.corrcoef(a[1][0].ravel(), a[2][0, :8, :8].ravel())[0, 1]) < 0.5
    assert not np.allclose(a[0][3], a[0][4])  # the high 32 bits of the seed count


def test_conditional_stylegan2_preset(tmp_path_factory):
    fx = exported("preset:stylegan2-tiny-cond-32", tmp_path_factory)
    G, m = fx["G"], fx["loaded"]
    z = np.random.RandomState(0).randn(4, G.z_dim).astype(np.float32)
    labels = np.eye(G.label_size, dtype=np.float32)[[0, 1, 2, 3]]
    psi = np.full(4, 0.7, np.float32)
    out = call_signature(m, "generate_const", z=z, labels=labels, truncation_psi=psi)
    # The export runs the non-fused modulated conv: compare with the same form
    # (fused vs non-fused agreement is tested in test_stylegan2_networks.py).
    ws = G.truncate(G.mapping(z, labels=labels), psi=0.7)
    expected = np.asarray(G.synthesis(ws, noise_mode="const", fused_modconv=False))
    np.testing.assert_allclose(out["images_float"], expected, atol=1e-5, rtol=0)
    other = call_signature(m, "generate_const", z=z, labels=labels[::-1], truncation_psi=psi)
    assert np.abs(other["images_float"] - out["images_float"]).max() > 1e-3


# Atomic writes, versions, CLI errors ------------------------------------------------------------

def test_failed_export_leaves_no_version(tmp_path, monkeypatch):
    G = presets.generator("stylegan-tiny-32")

    def broken(G, path, *args, **kwargs):
        with open(os.path.join(path, "saved_model.pb"), "wb") as f:
            f.write(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(savedmodel, "write_savedmodel", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        savedmodel.export_savedmodel(G, str(tmp_path), name="m", version=4)
    assert os.listdir(tmp_path / "m") == []


def test_versions_are_immutable_and_auto_increment(tmp_path, capsys):
    model = tmp_path / "m"
    (model / "1").mkdir(parents=True)
    (model / "7").mkdir()
    (model / "notes").mkdir()
    assert savedmodel.resolve_version(str(model)) == 8
    with pytest.raises(FileExistsError, match="immutable"):
        savedmodel.resolve_version(str(model), 7)
    assert savedmodel.resolve_version(str(tmp_path / "new")) == 1
    rc = cli.main(["export", "--network", "preset:stylegan-tiny-32", "--out", str(tmp_path),
                   "--name", "m", "--version", "7"])
    assert rc == 2 and "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--name", "bad/name"], "Model name"),
    (["--quantize", "float16"], "--format tflite"),
    (["--batch", "4"], "--format tflite"),
    (["--trunc-cutoff", "x"], "--trunc-cutoff"),
    (["--format", "tflite", "--batch", "0"], "--batch"),
])
def test_export_cli_rejects_bad_options(tmp_path, capsys, argv, message):
    rc = cli.main(["export", "--network", "preset:stylegan-tiny-32", "--out", str(tmp_path)]
                  + argv)
    assert rc == 2
    assert message in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_metadata_file_is_json(tmp_path_factory):
    fx = exported("sg2_r32_f", tmp_path_factory)
    with open(os.path.join(fx["path"], savedmodel.METADATA_FILE)) as f:
        meta = json.load(f)
    assert meta["noise_shapes"] == [list(s) for s in fx["G"].synthesis.noise_shapes]
    assert meta["truncation_cutoff"] is None and meta["num_ws"] == fx["G"].num_ws


@pytest.mark.slow
def test_fused_modconv_export_reproduces_nvidia(tmp_path, tmp_path_factory):
    """`--fused-modconv yes` (NVIDIA's grouped conv, XLA on CPU) gives the same numbers."""
    fx = exported("sg2_r32_f", tmp_path_factory)
    pkl = str(load_fixture("sg2_r32_f")[0])
    assert cli.main(["export", "--network", pkl, "--out", str(tmp_path), "--name", "f",
                     "--fused-modconv", "yes"]) == 0
    fused = tf.saved_model.load(str(tmp_path / "f" / "1"))
    ref = fx["ref"]
    psi = np.full(len(ref["latents"]), 0.7, np.float32)
    out = call_signature(fused, "generate_const", z=ref["latents"], truncation_psi=psi)
    np.testing.assert_allclose(out["images_float"], nchw_to_nhwc(ref["gs_psi0.7"]), atol=1e-4,
                               rtol=0)
    default = call_signature(fx["loaded"], "generate_const", z=ref["latents"],
                             truncation_psi=psi)
    np.testing.assert_allclose(out["images_float"], default["images_float"], atol=1e-5)

"""`keras_stylegan.figures` and `keras-stylegan figures`: each figure against a
second code path (the generator called directly on ws built here with NumPy),
the paper's layer ranges, reproducible noise, and the command's errors."""

import os

import numpy as np
import pytest
from PIL import Image

from conftest import load_fixture
from keras_stylegan import cli, to_uint8
from keras_stylegan.figures import (FigureNetwork, Source, interpolation_frames,
                                    noise_layers, style_mixing, style_preset, truncation,
                                    variation)
from keras_stylegan.figures.interpolation import slerp
from keras_stylegan.figures.layers import noise_masks, style_resolutions
from keras_stylegan.generate import latents_from_seeds
from keras_stylegan.loading import load_generator
from keras_stylegan.noise import seed_noise_np
from keras_stylegan.ws_file import save_ws

FAMILIES = {"stylegan1": "sg1_r32", "stylegan2": "sg2_r32_f"}  # NVIDIA-made pickles


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def fx(request):
    """(pickle path, Generator) of a 32 px NVIDIA fixture with non-zero noise
    strengths and w_avg."""
    pkl = str(load_fixture(FAMILIES[request.param])[0])
    return pkl, load_generator(pkl)


def mapped(G, seeds, psi=1.0, layers=None):
    """ws of `seeds`, truncated with NumPy: w_avg + (w - w_avg) * psi on the first `layers`."""
    ws = np.array(G.mapping(latents_from_seeds(seeds, G.z_dim)), np.float32)
    avg = np.asarray(G.w_avg)
    layers = G.num_ws if layers is None else layers
    ws[:, :layers] = avg + (ws[:, :layers] - avg) * np.float32(psi)
    return ws


def keys(seeds, noise_seed=0):
    """The 64-bit noise keys, written out: seed + noise_seed * 2**32."""
    return np.array([s + noise_seed * 2 ** 32 for s in seeds], np.int64)


def synth(G, ws, noise=None, noise_mode="const"):
    return to_uint8(G.synthesis(np.asarray(ws, np.float32), noise=noise, noise_mode=noise_mode))


def tile(canvas, r, c, res):
    return canvas[r * res:(r + 1) * res, c * res:(c + 1) * res]


def assert_close(a, b):
    """Compiled and eager uint8 images agree within 1 LSB (float rounding)."""
    assert a.shape == b.shape
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


# -- layer ranges ------------------------------------------------------------

@pytest.mark.parametrize("family", ["stylegan1", "stylegan2"])
def test_style_presets_are_the_papers_ranges(family):
    """NVIDIA's generate_figures.py for 1024 px: coarse range(0, 4), middle
    range(4, 8), fine range(8, 18); 32 and 64 px networks keep the px ranges."""
    from keras_stylegan.errors import ConfigError
    from keras_stylegan.networks.generator import Generator
    tiny = dict(latent_size=8, dlatent_size=8, mapping_kwargs=dict(mapping_fmaps=8),
                synthesis_kwargs=dict(fmap_base=16, fmap_max=4))
    for res, fine in ((32, None), (64, [8, 9]), (1024, list(range(8, 18)))):
        synthesis = Generator(family=family, resolution=res, **tiny).synthesis
        assert style_preset(synthesis, "coarse") == [0, 1, 2, 3]
        assert style_preset(synthesis, "middle") == [4, 5, 6, 7]
        if fine is None:
            with pytest.raises(ConfigError, match="no fine styles"):
                style_preset(synthesis, "fine")
        else:
            assert style_preset(synthesis, "fine") == fine
        assert len(style_resolutions(synthesis)) == synthesis.num_ws
    masks = noise_masks(synthesis)  # 1024 px: the paper's Figure 5 split at 64 px
    res = [h for h, _ in synthesis.noise_shapes]
    assert [r for r, on in zip(res, masks["fine"]) if on] == [r for r in res if r >= 64]
    assert [r for r, on in zip(res, masks["coarse"]) if on] == [r for r in res if r <= 32]


# -- figures against the generator called directly ---------------------------

def test_style_mixing_cells_are_manually_mixed_ws(fx):
    _, G = fx
    net = FigureNetwork(G, noise_mode="random", noise_seed=3)
    rows, cols, styles = [1, 2], [5, 6, 7], [2, 3, 4]
    canvas = style_mixing(net, Source.from_seeds(net, rows, 0.7),
                          Source.from_seeds(net, cols, 0.7), styles)
    res = G.resolution
    assert canvas.shape == (3 * res, 4 * res, 3)
    assert not tile(canvas, 0, 0, res).any()  # the blank corner
    w_rows, w_cols = mapped(G, rows, 0.7), mapped(G, cols, 0.7)
    for r, seed in enumerate(rows):
        noise = seed_noise_np(keys([seed], 3), G.synthesis.noise_shapes)
        assert_close(tile(canvas, r + 1, 0, res), synth(G, w_rows[r:r + 1], noise)[0])
        for c in range(len(cols)):
            w = w_rows[r:r + 1].copy()
            w[:, styles] = w_cols[c:c + 1, styles]
            assert_close(tile(canvas, r + 1, c + 1, res), synth(G, w, noise)[0])
    noise = seed_noise_np(keys(cols, 3), G.synthesis.noise_shapes)
    for c in range(len(cols)):
        assert_close(tile(canvas, 0, c + 1, res), synth(G, w_cols, noise)[c])


def test_truncation_columns_are_psi_around_w_avg(fx):
    _, G = fx
    net = FigureNetwork(G)
    psis = [1, 0, -1]
    canvas = truncation(net, [91, 388], psis, cutoff=None)
    res = G.resolution
    avg_image = synth(G, np.broadcast_to(np.asarray(G.w_avg), (1, G.num_ws, G.w_dim)))[0]
    for r, seed in enumerate([91, 388]):
        for c, psi in enumerate(psis):
            assert_close(tile(canvas, r, c, res), synth(G, mapped(G, [seed], psi))[0])
        assert_close(tile(canvas, r, 1, res), avg_image)  # psi 0: the average image


def test_noise_figures_follow_the_seeded_noise(fx):
    _, G = fx
    net = FigureNetwork(G, noise_seed=2)
    res, shapes = G.resolution, G.synthesis.noise_shapes
    ws = mapped(G, [3])
    fig = variation(net, seed=3, draws=5, show=2, crop=(8, 8, 8))
    draws = [synth(G, ws, seed_noise_np(keys([3], 2 + i), shapes))[0] for i in range(5)]
    assert_close(tile(fig, 0, 1, res), draws[1])
    gray = np.stack(draws).astype(np.float64).mean(3)
    std = np.clip(gray.std(0) * 4 + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(tile(fig, 0, 2, res)[..., 0].astype(int) - std).max() <= 2
    assert std.max() > 10  # the draws differ
    np.testing.assert_array_equal(tile(fig, 1, 0, res), tile(fig, 0, 0, res)[8:16, 8:16]
                                  .repeat(4, 0).repeat(4, 1))
    # Figure 5: all / none / fine / coarse, the same draw; split at 16 px here
    fig5 = noise_layers(net, seeds=[3])
    maps = seed_noise_np(keys([3], 2), shapes)
    assert_close(tile(fig5, 0, 0, res), synth(G, ws, maps)[0])
    assert_close(tile(fig5, 0, 1, res), synth(G, ws, noise_mode="none")[0])
    for col, keep in ((2, lambda h: h >= 16), (3, lambda h: h < 16)):
        part = [m if keep(h) else 0 * m for m, (h, _) in zip(maps, shapes)]
        assert_close(tile(fig5, 0, col, res), synth(G, ws, part)[0])


def test_no_noise_gives_identical_draws_and_a_zero_std_image(fx):
    pkl, _ = fx
    G = load_generator(pkl)  # a copy whose noise strengths are switched off
    for v in G.weights:
        if v.path.endswith("noise/weight"):
            v.assign(np.zeros(v.shape, np.float32))
    fig = variation(FigureNetwork(G), seed=0, draws=4, show=3)
    res = G.resolution
    assert not tile(fig, 0, 3, res).any()
    for c in (1, 2):
        np.testing.assert_array_equal(tile(fig, 0, c, res), tile(fig, 0, 0, res))


def test_interpolation_lerps_in_w_and_slerps_in_z(fx):
    _, G = fx
    net = FigureNetwork(G)
    frames = interpolation_frames(net, [0, 1, 2], steps=3, space="w")
    assert len(frames) == 5
    ws = mapped(G, [0, 1, 2])
    assert_close(frames[0], synth(G, ws[:1])[0])
    assert_close(frames[1], synth(G, (ws[:1] + ws[1:2]) / 2)[0])
    assert_close(frames[4], synth(G, ws[2:])[0])
    zframes = interpolation_frames(net, [0, 1], steps=3, space="z")
    z = latents_from_seeds([0, 1], G.z_dim).astype(np.float64)
    # slerp half-way: (a + b) sin(omega / 2) / sin(omega), omega the angle between a and b
    mid = slerp(z[0], z[1], 0.5)
    omega = np.arccos(z[0] @ z[1] / np.linalg.norm(z[0]) / np.linalg.norm(z[1]))
    np.testing.assert_allclose(mid, (z[0] + z[1]) * np.sin(omega / 2) / np.sin(omega))
    want = synth(G, np.asarray(G.mapping(mid[None].astype(np.float32))))[0]
    assert_close(zframes[1], want)


# -- the command ---------------------------------------------------------------

def run(*argv):
    return cli.main(["figures", *map(str, argv)])


def png(path):
    return np.asarray(Image.open(path))


@pytest.mark.slow  # ~20 s: every kind twice
def test_every_kind_from_a_keras_file_and_run_dir_reproducibly(tmp_path):
    from keras_stylegan import presets
    G = presets.generator("stylegan2-tiny-32")
    (tmp_path / "run").mkdir()
    G.save(tmp_path / "run" / "network-snapshot-000010.keras")
    spec = tmp_path / "run"
    common = ["--noise-mode", "random", "--scale", "2"]
    for kind, extra in (("uncurated", ["--seeds", "0-3"]),
                        ("style-mixing", ["--rows", "0-1", "--cols", "2-3", "--styles", "middle"]),
                        ("truncation", ["--seeds", "1", "--psi", "1..-1:3"]),
                        ("noise", ["--seeds", "3", "--draws", "3", "--show", "2"]),
                        ("interpolation", ["--seeds", "0-1", "--steps", "3"])):
        for out in ("a", "b") if kind in ("noise", "style-mixing") else ("a",):
            assert run(kind, "--network", spec, "--outdir", tmp_path / out, *common,
                       *extra) == 0
    names = sorted(os.listdir(tmp_path / "a"))
    assert names == ["interpolation.gif", "interpolation.png", "noise-layers.png",
                     "noise-variation.png", "style-mixing-middle.png", "truncation.png",
                     "uncurated.png"]
    for name in os.listdir(tmp_path / "b"):  # two runs, the same bytes
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    grid = png(tmp_path / "a" / "uncurated.png")
    assert grid.shape == (128, 128, 3)
    net = FigureNetwork(G, noise_mode="random")
    want = net.images(net.ws([3], 0.7), seeds=[3])[0]
    np.testing.assert_array_equal(grid[64:, 64:], want.repeat(2, 0).repeat(2, 1))
    gif = Image.open(tmp_path / "a" / "interpolation.gif")
    assert gif.n_frames == 3 and gif.size == (64, 64)


def test_style_mixing_a_ws_file_with_seeds(tmp_path):
    pkl = str(load_fixture("sg2_r32_f")[0])
    G = load_generator(pkl)
    ws = mapped(G, [11]) + 0.25  # a "projected" w no seed gives
    save_ws(tmp_path / "projected_w.npz", ws)
    assert run("style-mixing", "--network", pkl, "--rows", f"{tmp_path}/projected_w.npz,4",
               "--cols", "9", "--styles", "0-2", "--outdir", tmp_path) == 0
    canvas = png(tmp_path / "style-mixing-0-2.png")
    res = G.resolution
    assert canvas.shape == (3 * res, 2 * res, 3)
    mixed = ws.copy()
    mixed[:, :3] = mapped(G, [9])[:, :3]
    assert_close(tile(canvas, 1, 0, res), synth(G, ws)[0])
    assert_close(tile(canvas, 1, 1, res), synth(G, mixed)[0])
    assert_close(tile(canvas, 2, 1, res), synth(G, np.concatenate(
        [mapped(G, [9])[:, :3], mapped(G, [4])[:, 3:]], axis=1))[0])


def test_generate_random_noise_is_the_seeds_noise(tmp_path):
    """`generate --noise-mode random` draws each image's noise from its seed
    (the numbers a SavedModel's `seed` input gives): two runs, same bytes."""
    pkl = str(load_fixture("sg2_r32_f")[0])
    for out, noise_seed in (("a", 0), ("b", 0), ("c", 1)):
        assert cli.main(["generate", "--network", pkl, "--seeds", "5-6", "--noise-mode",
                         "random", "--noise-seed", str(noise_seed),
                         "--outdir", str(tmp_path / out)]) == 0
    a, b, c = (png(tmp_path / o / "seed0006.png") for o in "abc")
    np.testing.assert_array_equal(a, b)
    assert (tmp_path / "a" / "seed0006.png").read_bytes() == \
        (tmp_path / "b" / "seed0006.png").read_bytes()
    G = load_generator(pkl)
    z = latents_from_seeds([6], G.z_dim)
    for got, noise_seed in ((a, 0), (c, 1)):
        noise = seed_noise_np(keys([6], noise_seed), G.synthesis.noise_shapes)
        assert_close(got, to_uint8(G(z, noise=noise))[0])
    assert np.abs(a.astype(int) - c.astype(int)).max() > 8


@pytest.mark.parametrize("argv, message", [
    (["style-mixing", "--styles", "fine"], "no fine styles (64 px and up)"),
    (["style-mixing", "--styles", "3-40"], "style 40 is out of range"),
    (["style-mixing", "--rows", "x"], "--rows: Bad seed range"),
    (["truncation", "--psi", "a,b"], "bad psi list"),
    (["noise", "--crop", "30,30,8"], "inside the 32 px image"),
    (["noise", "--draws", "2", "--show", "3"], "show must be in [1, draws = 2]"),
    (["interpolation", "--seeds", "4"], "at least two seeds"),
    (["uncurated", "--scale", "0"], "--scale must be >= 1"),
    (["uncurated", "--scale", "1000"], "keep resolution x scale <= 16384"),
    (["interpolation", "--fps", "500"], "--fps must be <= 100"),
    (["uncurated", "--class", "1"], "unconditional"),
    (["uncurated", "--seeds", "4294967296"], "seeds must be in"),
])
def test_bad_arguments_give_one_clear_error(argv, message, tmp_path, capsys):
    assert run(*argv, "--network", "preset:stylegan-tiny-32", "--outdir", tmp_path) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not os.listdir(tmp_path)


def test_bad_networks_and_ws_files_give_one_clear_error(tmp_path, capsys):
    (tmp_path / "model" / "1").mkdir(parents=True)
    (tmp_path / "model" / "1" / "saved_model.pb").write_bytes(b"")
    save_ws(tmp_path / "w.npz", np.zeros([1, 5, 64], np.float32))
    cases = [(["--network", tmp_path / "model"], "not a SavedModel written by keras-stylegan"),
             (["--network", tmp_path / "x.tflite"], "is a TFLite model"),
             (["--network", "preset:stylegan-tiny-cond-32"], "pass a class"),
             (["--network", "preset:stylegan-tiny-32", "--rows", tmp_path / "w.npz"],
              "num_ws = 5 but the network has 8")]
    for argv, message in cases:
        assert run("style-mixing", *argv, "--outdir", tmp_path / "out") == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err


@pytest.mark.slow  # the export: about 20 s of CPU, minutes on a loaded machine
def test_a_savedmodel_draws_the_figures_its_signatures_allow(tmp_path, capsys):
    """uncurated, style mixing and the noise variation of an exported SavedModel
    equal those of the .keras file it was exported from (random noise: the
    same keys in the graph); Figure 5 and other cutoffs are one clear error."""
    from keras_stylegan import presets
    from keras_stylegan.export.savedmodel import export_savedmodel
    G = presets.generator("stylegan-tiny-32")
    G.save(tmp_path / "g.keras")
    export_savedmodel(G, str(tmp_path / "models"), name="tiny")
    common = ["--noise-mode", "random", "--noise-seed", "4"]
    kinds = (("uncurated", ["--seeds", "0-2"]),
             ("style-mixing", ["--rows", "1", "--cols", "2-3", "--styles", "middle"]),
             ("noise", ["--seeds", "5", "--draws", "3", "--noise-figures", "variation"]))
    for spec, out in ((tmp_path / "models" / "tiny", "sm"), (tmp_path / "g.keras", "k")):
        for kind, extra in kinds:
            assert run(kind, "--network", spec, "--outdir", tmp_path / out, *common,
                       *extra) == 0
    for name in ("uncurated.png", "style-mixing-middle.png", "noise-variation.png"):
        assert_close(png(tmp_path / "sm" / name), png(tmp_path / "k" / name))
    for extra, message in ((["noise"], "Figure 5"),
                           (["truncation", "--cutoff", "2"], "fixed at export"),
                           (["uncurated", "--noise-mode", "none"], "no noise-free")):
        assert run(*extra, "--network", tmp_path / "models" / "tiny",
                   "--outdir", tmp_path / "bad") == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()

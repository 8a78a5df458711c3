"""The `keras-stylegan generate` and `info` commands, as users run them."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import load_fixture
from keras_stylegan import cli, legacy, to_uint8
from keras_stylegan.generate import latents_from_seeds, parse_seeds


def assert_uint8_close(a, b):
    """uint8 images from the compiled (PNG) and eager paths: equal within 1 LSB,
    since ~1e-7 float differences can cross a rounding boundary."""
    assert a.shape == b.shape
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


@pytest.fixture(scope="module")
def pkl():
    return str(load_fixture("sg1_r32")[0])


def test_generate_writes_the_generators_images(pkl, tmp_path):
    rc = cli.main(["generate", "--network", pkl, "--seeds", "0-2,5", "--trunc", "0.7",
                   "--noise-mode", "const", "--grid", "--outdir", str(tmp_path)])
    assert rc == 0
    names = sorted(os.listdir(tmp_path))
    assert names == ["grid.png", "seed0000.png", "seed0001.png", "seed0002.png", "seed0005.png"]
    Gs = legacy.load_network_pkl(pkl, networks=("Gs",))["Gs"]
    z = latents_from_seeds([0, 1, 2, 5], Gs.z_dim)
    expected = to_uint8(Gs(z, truncation_psi=0.7, noise_mode="const"))
    for i, seed in enumerate([0, 1, 2, 5]):
        png = np.asarray(Image.open(tmp_path / f"seed{seed:04d}.png"))
        assert_uint8_close(png, expected[i])
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape == (64, 64, 3)
    assert_uint8_close(grid[32:, :32], expected[2])
    # --grid-scale 3: every pixel a 3x3 block (np.kron as the reference).
    assert cli.main(["generate", "--network", pkl, "--seeds", "0-2,5", "--trunc", "0.7",
                     "--noise-mode", "const", "--grid", "--grid-scale", "3",
                     "--outdir", str(tmp_path / "big")]) == 0
    big = np.asarray(Image.open(tmp_path / "big" / "grid.png"))
    np.testing.assert_array_equal(big, np.kron(grid, np.ones((3, 3, 1), np.uint8)))
    assert cli.main(["generate", "--network", pkl, "--grid-scale", "0",
                     "--outdir", str(tmp_path / "bad")]) == 2


def test_seeds_are_nvidias():
    """z for seed s is RandomState(s).randn(1, z_dim), as in NVIDIA's scripts."""
    z = latents_from_seeds([3], 512)
    np.testing.assert_array_equal(z, np.random.RandomState(3).randn(1, 512).astype(np.float32))
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]


def test_generate_conditional_needs_class(tmp_path):
    pkl = str(load_fixture("sg1_r32_cond")[0])
    assert cli.main(["generate", "--network", pkl, "--seeds", "0", "--outdir",
                     str(tmp_path)]) == 2
    assert cli.main(["generate", "--network", pkl, "--seeds", "0-1", "--class", "2",
                     "--outdir", str(tmp_path)]) == 0
    assert len(os.listdir(tmp_path)) == 2


def test_generate_a_grid_row_per_class(tmp_path):
    """--class 0-2: every seed for each class, `classC-seedS.png`, a grid row per
    class; each image equals the one-class command's image."""
    pkl = str(load_fixture("sg1_r32_cond")[0])
    many, one = tmp_path / "many", tmp_path / "one"
    assert cli.main(["generate", "--network", pkl, "--seeds", "0-1", "--class", "0-2",
                     "--grid", "--outdir", str(many)]) == 0
    assert cli.main(["generate", "--network", pkl, "--seeds", "0-1", "--class", "2",
                     "--outdir", str(one)]) == 0
    names = sorted(os.listdir(many))
    assert names == ["class0-seed0000.png", "class0-seed0001.png", "class1-seed0000.png",
                     "class1-seed0001.png", "class2-seed0000.png", "class2-seed0001.png",
                     "grid.png"]
    read = lambda path: np.asarray(Image.open(path))  # noqa: E731
    grid = read(many / "grid.png")
    assert grid.shape == (3 * 32, 2 * 32, 3)
    np.testing.assert_array_equal(read(many / "class2-seed0001.png"), read(one / "seed0001.png"))
    np.testing.assert_array_equal(grid[64:, 32:], read(one / "seed0001.png"))
    assert cli.main(["generate", "--network", pkl, "--class", "1-x",
                     "--outdir", str(tmp_path)]) == 2
    unconditional = str(load_fixture("sg1_r32")[0])
    assert cli.main(["generate", "--network", unconditional, "--class", "0",
                     "--outdir", str(tmp_path / "u")]) == 2
    assert not (tmp_path / "u").exists()


def test_info(pkl, capsys):
    assert cli.main(["info", pkl]) == 0
    out = capsys.readouterr().out
    assert "stylegan1, 32x32" in out and "G_style" in out and "D_basic" in out
    assert cli.main(["info", pkl, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["family"] == "stylegan1" and info["resolution"] == 32
    nets = legacy.read_network_pkl(pkl)
    assert info["networks"]["Gs"]["params"] == nets.Gs.num_params() > 0
    assert info["networks"]["D"]["static_kwargs"]["fmap_max"] == 64


@pytest.mark.parametrize("argv,message", [
    (["generate", "--network", "{bad}", "--outdir", "{out}"], "not a pickle"),
    (["generate", "--network", "{missing}", "--outdir", "{out}"], "No such network file"),
    (["generate", "--network", "{pkl}", "--seeds", "9-2", "--outdir", "{out}"], "Bad seed range"),
    (["info", "{bad}"], "not a pickle"),
])
def test_errors_are_clear(pkl, tmp_path, capsys, argv, message):
    bad = tmp_path / "bad.pkl"
    bad.write_text("not a network")
    fill = dict(bad=str(bad), missing=str(tmp_path / "nope.pkl"), pkl=pkl, out=str(tmp_path))
    assert cli.main([a.format(**fill) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith(f"keras-stylegan {argv[0]}: error:")


def test_bad_flag_is_an_argparse_error(pkl, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["generate", "--network", pkl, "--noise-mode", "bogus", "--outdir", "x"])
    assert e.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err


def test_console_script(pkl, tmp_path):
    exe = shutil.which("keras-stylegan", path=os.path.dirname(sys.executable))
    assert exe, "the keras-stylegan console script is not installed"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for command in ("generate", "info", "dataset", "train", "export", "serve"):
        assert command in out.stdout
    out = subprocess.run([exe, "generate", "--network", pkl, "--seeds", "1", "--outdir",
                          str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "seed0001.png").is_file()


def test_generate_and_info_from_keras_snapshot_and_run_dir(tmp_path, capsys):
    from keras_stylegan import presets
    G = presets.generator("stylegan-tiny-32")
    run = tmp_path / "run"
    run.mkdir()
    G.save(run / "network-snapshot-000010.keras")
    assert cli.main(["info", str(run / "network-snapshot-000010.keras")]) == 0
    out = capsys.readouterr().out
    assert "Keras .keras, stylegan1, 32x32" in out
    assert cli.main(["generate", "--network", str(run), "--seeds", "4", "--noise-mode",
                     "const", "--outdir", str(tmp_path / "out")]) == 0
    png = np.asarray(Image.open(tmp_path / "out" / "seed0004.png"))
    z = latents_from_seeds([4], G.z_dim)
    assert_uint8_close(png, to_uint8(G(z, noise_mode="const"))[0])
    assert cli.main(["generate", "--network", str(tmp_path / "out"), "--outdir",
                     str(tmp_path)]) == 2
    assert "holds no network-snapshot" in capsys.readouterr().err


def test_png_files_get_the_umask_mode(tmp_path):
    from keras_stylegan.generate import save_png
    umask = os.umask(0o022)
    try:
        save_png(np.zeros((4, 4, 3), np.uint8), tmp_path / "a.png")
    finally:
        os.umask(umask)
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o644
    assert os.listdir(tmp_path) == ["a.png"]  # no temp file left

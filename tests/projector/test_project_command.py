"""`keras-stylegan project` and `generate --ws`, as a user runs them: the files
written (checked against the target read independently and against each
other), projected_w.npz drawn again by `generate --ws` to the same PNG, the
distance named in the output (LPIPS from weight files, or the fallback), and
user mistakes ending as one clear error (exit status 2)."""

import os
import shutil

import numpy as np
import PIL.Image
import pytest

from keras_stylegan import cli
from keras_stylegan.ws_file import load_ws
from helpers import paths

DATA = os.path.join(paths.DATA, "metrics")
FAST = ["--w-avg-samples", "200"]


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """Tiny StyleGAN2, StyleGAN and conditional StyleGAN2, saved once (a preset draws
    new random weights on every load)."""
    import keras

    from keras_stylegan.loading import load_generator
    keras.utils.set_random_seed(0)
    d = tmp_path_factory.mktemp("nets")
    out = {}
    for family, preset in (("sg2", "stylegan2-tiny-32"), ("sg1", "stylegan-tiny-32"),
                           ("cond", "stylegan2-tiny-cond-32")):
        out[family] = str(d / f"{family}.keras")
        load_generator(f"preset:{preset}").save(out[family])
    return out


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    """A 50x40 (not square) photo-like PNG."""
    path = tmp_path_factory.mktemp("target") / "photo.png"
    yy, xx = np.mgrid[0:40, 0:50]
    rgb = np.stack([xx * 5, yy * 6, (xx + yy) * 3], -1) % 256
    PIL.Image.fromarray(rgb.astype(np.uint8)).save(path)
    return str(path)


def png(path):
    return np.asarray(PIL.Image.open(path))


def expected_target(path, size):
    """NVIDIA's preprocessing: centre square crop (here by slicing), Lanczos resize."""
    a = np.asarray(PIL.Image.open(path).convert("RGB"))
    h, w = a.shape[:2]
    s = min(h, w)
    a = a[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return np.asarray(PIL.Image.fromarray(a).resize((size, size), PIL.Image.LANCZOS))


def test_project_writes_its_files_and_generate_ws_draws_the_projection(
        nets, target, tmp_path, capsys):
    out = tmp_path / "proj"
    assert cli.main(["project", "--network", nets["sg2"], "--target", target, "--steps", "8",
                     "--distance", "pixel", "--save-video", "--outdir", str(out)] + FAST) == 0
    captured = capsys.readouterr()
    assert "distance: pixel-mse-multiscale (fallback" in captured.err
    assert "step 8/8" in captured.err and "ETA" in captured.err and "dist" in captured.err
    assert "fallback" in captured.out
    tgt, proj = png(out / "target.png"), png(out / "proj.png")
    np.testing.assert_array_equal(tgt, expected_target(target, 32))
    np.testing.assert_array_equal(png(out / "target_proj.png"), np.concatenate([tgt, proj], 1))
    assert proj.shape == (32, 32, 3) and not np.array_equal(proj, tgt)
    with PIL.Image.open(out / "proj.gif") as gif:
        assert gif.n_frames == 8 and gif.size == (64, 32)
        gif.seek(7)
        last = np.asarray(gif.convert("RGB")).astype(int)
    # target | the last step's image (with that step's w noise), in GIF's 256 colours
    assert np.abs(last[:, :32] - tgt).mean() < 10
    assert np.abs(last[:, 32:] - proj).mean() < np.abs(tgt.astype(int) - proj).mean() / 2
    ws = load_ws(out / "projected_w.npz", num_ws=8, w_dim=64)
    assert ws.shape == (1, 8, 64) and np.all(ws == ws[:, :1])

    assert cli.main(["generate", "--network", nets["sg2"], "--ws",
                     str(out / "projected_w.npz"), "--outdir", str(tmp_path / "gen")]) == 0
    np.testing.assert_array_equal(png(tmp_path / "gen" / "ws0000.png"), proj)
    # the tiny network's noise strengths are 0 (as initialised): noise off draws it too
    assert cli.main(["generate", "--network", nets["sg2"], "--ws",
                     str(out / "projected_w.npz"), "--noise-mode", "none",
                     "--outdir", str(tmp_path / "gen_none")]) == 0
    np.testing.assert_array_equal(png(tmp_path / "gen_none" / "ws0000.png"), proj)


def test_project_stylegan1_with_lpips_weights(nets, target, tmp_path, capsys):
    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(os.path.join(DATA, "vgg16_random.pth"), weights / "vgg16-397923af.pth")
    shutil.copy(os.path.join(DATA, "lpips_random_lin.pth"), weights / "vgg.pth")
    out = tmp_path / "proj"
    assert cli.main(["project", "--network", nets["sg1"], "--target", target, "--steps", "3",
                     "--feature-weights", str(weights), "--outdir", str(out)] + FAST) == 0
    err = capsys.readouterr().err
    assert "distance: lpips-vgg16" in err and "fallback" not in err.lower()
    assert not (out / "proj.gif").exists()
    assert cli.main(["generate", "--network", nets["sg1"], "--ws",
                     str(out / "projected_w.npz"), "--outdir", str(tmp_path / "gen")]) == 0
    np.testing.assert_array_equal(png(tmp_path / "gen" / "ws0000.png"), png(out / "proj.png"))


def test_missing_lpips_weights_fall_back_loudly(nets, target, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KERAS_STYLEGAN_WEIGHTS", raising=False)
    assert cli.main(["project", "--network", nets["sg2"], "--target", target, "--steps", "1",
                     "--outdir", str(tmp_path / "p")] + FAST) == 0
    err = capsys.readouterr().err
    assert "warning: LPIPS weights not found" in err and "FALLBACK" in err
    assert "vgg16-397923af.pth" in err


def _bad_files(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    PIL.Image.new("RGB", (8, 8)).save(tmp_path / "anim.gif")
    (tmp_path / "m.tflite").write_bytes(b"x")
    return tmp_path


@pytest.mark.parametrize("extra,message", [
    (["--network", "{d}/m.tflite"], "exported model"),
    (["--target", "{d}/text.png"], "not a readable image"),
    (["--target", "{d}/anim.gif"], "GIF data"),
    (["--target", "{d}/none.png"], "No such image file"),
    (["--steps", "0"], "--steps must be >= 1"),
    (["--class", "1"], "unconditional"),
    (["--distance", "lpips", "--feature-weights", "{d}"], "vgg16-397923af.pth"),
])
def test_project_errors(nets, target, tmp_path, capsys, extra, message):
    d = _bad_files(tmp_path)
    args = {"--network": nets["sg2"], "--target": target, "--outdir": str(tmp_path / "o")}
    for flag, value in zip(extra[::2], extra[1::2]):
        args[flag] = value.format(d=d)
    argv = ["project"] + [x for kv in args.items() for x in kv] + FAST
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_generate_ws_errors(nets, tmp_path, capsys):
    path = tmp_path / "w.npz"
    np.savez(path, w=np.zeros([1, 8, 64], np.float32))
    assert cli.main(["generate", "--network", nets["sg2"], "--ws", str(path), "--seeds", "1",
                     "--outdir", str(tmp_path)]) == 2
    assert "leave out --seeds" in capsys.readouterr().err
    np.savez(path, w=np.zeros([1, 5, 64], np.float32))
    assert cli.main(["generate", "--network", nets["sg2"], "--ws", str(path),
                     "--outdir", str(tmp_path)]) == 2
    assert "num_ws = 5 but the network has 8" in capsys.readouterr().err


@pytest.mark.parametrize("kind,name,file", [
    ("legacy", "sg2_r32_f", "network-stripped.pkl"),       # NVIDIA's TF1 StyleGAN2 pickle
    ("legacy", "sg1_r32", "network-stripped.pkl"),         # NVIDIA's TF1 StyleGAN pickle
    ("pytorch", "ada_r32_paper", "network-stripped.pkl"),  # StyleGAN2-ADA-PyTorch's
])
def test_project_nvidia_pickles(kind, name, file, target, tmp_path):
    """NVIDIA's pickles (their stored noise maps are N(0, 1) and their noise strengths
    non-zero): projected, and projected_w.npz drawn again to the same PNG."""
    from conftest import fixture_folder
    pkl = str(fixture_folder(kind, name) / file)
    out = tmp_path / "proj"
    assert cli.main(["project", "--network", pkl, "--target", target, "--steps", "2",
                     "--distance", "pixel", "--outdir", str(out)] + FAST) == 0
    assert cli.main(["generate", "--network", pkl, "--ws", str(out / "projected_w.npz"),
                     "--outdir", str(tmp_path / "gen")]) == 0
    np.testing.assert_array_equal(png(tmp_path / "gen" / "ws0000.png"), png(out / "proj.png"))


def test_project_conditional_network(nets, target, tmp_path, capsys):
    assert cli.main(["project", "--network", nets["cond"], "--target", target, "--class", "9",
                     "--outdir", str(tmp_path / "bad")] + FAST) == 2
    assert "--class: class index 9 out of range" in capsys.readouterr().err
    out = tmp_path / "proj"
    assert cli.main(["project", "--network", nets["cond"], "--target", target, "--class", "2",
                     "--steps", "1", "--distance", "pixel", "--outdir", str(out)] + FAST) == 0
    assert load_ws(out / "projected_w.npz").shape == (1, 8, 64)

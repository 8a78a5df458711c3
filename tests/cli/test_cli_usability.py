"""`info` on a training run directory; progress of `generate` and `export` on stderr."""

import os

import numpy as np
import pytest
from PIL import Image

from keras_stylegan import cli, presets


def _progress_lines(err, command):
    return [line for line in err.splitlines() if line.startswith(f"keras-stylegan {command}: ")]


def test_info_reads_the_newest_snapshot_of_a_run_directory(tmp_path, capsys):
    """Before: `info RUN_DIR` was an error (a folder is not a pickle)."""
    run = tmp_path / "run"
    run.mkdir()
    presets.generator("stylegan-tiny-32").save(run / "network-snapshot-000005.keras")
    presets.generator("stylegan2-tiny-32").save(run / "network-snapshot-000010.keras")
    assert cli.main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{run / 'network-snapshot-000010.keras'}: Keras .keras, stylegan2, "
                          "32x32")
    # The same report as for the file itself.
    assert cli.main(["info", str(run / "network-snapshot-000010.keras")]) == 0
    assert capsys.readouterr().out == out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["info", str(empty)]) == 2
    assert "holds no network-snapshot" in capsys.readouterr().err


def test_generate_reports_images_done_and_draws_the_same_images(tmp_path, capsys):
    """Before: nothing until the end. Drawing in chunks must not change the images
    (compared with one batch holding every seed)."""
    net = tmp_path / "G.keras"   # fixed weights (a preset's are drawn on each load)
    presets.generator("stylegan-tiny-32").save(net)
    args = ["generate", "--network", str(net), "--seeds", "0-4", "--noise-mode", "const"]
    assert cli.main(args + ["--batch", "2", "--outdir", str(tmp_path / "a")]) == 0
    lines = _progress_lines(capsys.readouterr().err, "generate")
    assert lines[0] == "keras-stylegan generate: 2/5 images"
    assert lines[-1] == "keras-stylegan generate: 5/5 images"
    assert set(lines) <= {f"keras-stylegan generate: {n}/5 images" for n in (2, 4, 5)}
    assert cli.main(args + ["--batch", "8", "--outdir", str(tmp_path / "b")]) == 0
    assert _progress_lines(capsys.readouterr().err, "generate") == [
        "keras-stylegan generate: 5/5 images"]
    for name in sorted(os.listdir(tmp_path / "b")):
        a = np.asarray(Image.open(tmp_path / "a" / name)).astype(int)
        b = np.asarray(Image.open(tmp_path / "b" / name)).astype(int)
        assert np.abs(a - b).max() <= 1, name  # batch sizes may differ by 1 LSB


@pytest.mark.slow  # ~20 s: a full export
def test_export_reports_its_steps_before_each(tmp_path, capsys, monkeypatch):
    """The step lines come before the (slow) work they announce."""
    from keras_stylegan.export import savedmodel
    seen = []
    real = savedmodel.export_savedmodel

    def recording(*args, **kwargs):
        seen.append(_progress_lines(capsys.readouterr().err, "export"))
        return real(*args, **kwargs)
    monkeypatch.setattr(savedmodel, "export_savedmodel", recording)
    assert cli.main(["export", "--network", "preset:stylegan-tiny-32",
                     "--out", str(tmp_path)]) == 0
    assert seen == [["keras-stylegan export: [1/2] loading preset:stylegan-tiny-32",
                     "keras-stylegan export: [2/2] tracing and writing the SavedModel"]]
    assert os.path.isdir(tmp_path / "stylegan" / "1")


@pytest.mark.parametrize("tty", [False, True])
def test_progress_redraws_on_a_terminal_only(tty):
    import io

    from keras_stylegan.cli.progress import Progress

    class Stream(io.StringIO):
        def isatty(self):
            return tty
    out = Stream()
    p = Progress("generate", 3, "images", stream=out, min_interval=0)
    for n in (1, 2, 3):
        p.update(n)
    texts = [f"keras-stylegan generate: {n}/3 images" for n in (1, 2, 3)]
    expected = "".join("\r" + t for t in texts) + "\n" if tty else "".join(
        t + "\n" for t in texts)
    assert out.getvalue() == expected

"""How the console script reports errors: a user mistake is one line (exit 2),
a library bug is a traceback with a line asking to report it (exit 1)."""

import errno
import subprocess
import sys

import pytest

from keras_stylegan import cli, loading
from keras_stylegan.errors import ConfigError


def _lines(text):
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("bug", [ValueError("a library bug"), OSError(errno.EIO, "a bug"),
                                 KeyError("a library bug")])
def test_a_library_bug_is_a_traceback_not_a_usage_error(bug, monkeypatch, tmp_path, capsys):
    """The old CLI turned any ValueError/OSError into `error: ...` (exit 2)."""
    def broken(*args, **kwargs):
        raise bug
    monkeypatch.setattr(loading, "load_generator", broken)
    rc = cli.main(["generate", "--network", "preset:stylegan-tiny-32", "--seeds", "0",
                   "--outdir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "Traceback (most recent call last)" in err
    assert f"{type(bug).__name__}" in err and "in broken" in err
    assert _lines(err)[-1] == cli.BUG_LINE.format(name="generate")


def _one_line_error(capsys, command):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = _lines(err)
    assert len(lines) == 1 and lines[0].startswith(f"keras-stylegan {command}: error: "), err
    return lines[0]


def test_user_errors_stay_one_line(tmp_path, capsys):
    # A missing input file.
    assert cli.main(["info", str(tmp_path / "missing.pkl")]) == 2
    assert "missing.pkl" in _one_line_error(capsys, "info")
    # A .keras file that is not a Keras archive (NetworkFileError, named).
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip archive")
    assert cli.main(["generate", "--network", str(bad), "--outdir", str(tmp_path / "o")]) == 2
    assert "bad.keras" in _one_line_error(capsys, "generate")
    # A bad seed range, an unknown preset (ConfigError).
    assert cli.main(["generate", "--network", "preset:stylegan-tiny-32", "--seeds", "3-1",
                     "--outdir", str(tmp_path / "o")]) == 2
    assert "--seeds" in _one_line_error(capsys, "generate")
    assert cli.main(["info", "--json", "x.pkl"]) == 2
    _one_line_error(capsys, "info")
    assert cli.main(["generate", "--network", "preset:nope", "--outdir", str(tmp_path)]) == 2
    assert "nope" in _one_line_error(capsys, "generate")


def test_training_config_errors_are_config_errors(tmp_path, capsys):
    """The config checks raise ConfigError (a ValueError), reported in one line."""
    from keras_stylegan.training import configs
    with pytest.raises(ConfigError, match="Unknown config key 'r1_gama'"):
        configs.get("tiny", r1_gama=1.0)
    assert cli.main(["train", "--data", "builtin:16", "--config", "tiny", "--outdir",
                     str(tmp_path / "run"), "--dry-run", "--set", "loss=hinge"]) == 2
    assert "loss" in _one_line_error(capsys, "train")


def test_help_imports_no_tensorflow():
    """Sorting errors must not import the heavy modules it names."""
    code = ("import sys; from keras_stylegan import cli; cli.build_parser(); "
            "cli.is_user_error(ValueError()); "
            "print('tensorflow' in sys.modules, 'keras_stylegan.training.loop' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]

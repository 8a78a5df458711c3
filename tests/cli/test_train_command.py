"""`keras-stylegan train` start-up: `--set` values are checked (naming the key,
also under --dry-run), and a failed start leaves no empty run directory."""

import json

import pytest

from keras_stylegan import cli
from keras_stylegan.errors import ConfigError
from keras_stylegan.training import configs

TRAIN = ["train", "--data", "builtin:16", "--config", "tiny"]


def _error(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("keras-stylegan train: error: ")
    return lines[0]


@pytest.mark.parametrize("override, key", [
    ("r1_gamma=abc", "r1_gamma"), ("tick_kimg=abc", "tick_kimg"),
    ("minibatch_base=abc", "minibatch_base"), ("minibatch_base=8.5", "minibatch_base"),
    ("progressive=1", "progressive"), ("grid_size=3", "grid_size"),
    ("G_kwargs=abc", "G_kwargs"), ("family=abc", "family"), ("seed=true", "seed"),
])
def test_a_bad_set_value_names_its_key_under_dry_run(override, key, tmp_path, capsys):
    """Before: --dry-run printed the config and exited 0; a real start failed
    later with e.g. "could not convert string to float: 'abc'" (no key)."""
    outdir = tmp_path / "run"
    assert cli.main(TRAIN + ["--outdir", str(outdir), "--dry-run", "--set", override]) == 2
    assert f"'{key}'" in _error(capsys)
    assert not outdir.exists()


def test_good_set_values_pass_dry_run_with_their_values(tmp_path, capsys):
    assert cli.main(TRAIN + ["--outdir", str(tmp_path / "run"), "--dry-run",
                             "--set", "r1_gamma=5", "--set", "tick_kimg=null",
                             "--set", "use_labels=\"shape\"", "--set", "grid_size=[2,3]"]) == 0
    out = capsys.readouterr().out
    resolved = json.loads(out[:out.index("\nSchedule")])
    assert resolved["r1_gamma"] == 5 and resolved["grid_size"] == [2, 3]
    assert resolved["use_labels"] == "shape"
    assert resolved["tick_kimg"] > 0   # null: automatic


def test_every_shipped_config_passes_its_own_type_check():
    """The check is derived from DEFAULTS; each config's values must fit it (a
    second source of the types: the values the project ships)."""
    for name, cfg in configs.CONFIGS.items():
        for key, value in cfg.items():
            if key in configs.DEFAULTS:
                configs.check_value(key, value)
        configs.get(name, **{k: v for k, v in cfg.items() if k in configs.DEFAULTS})
    with pytest.raises(ConfigError, match="'keep_checkpoints' takes an integer"):
        configs.get("tiny", keep_checkpoints="3")


@pytest.mark.parametrize("malformed", ["=3", "r1_gamma"])
def test_set_without_a_key_is_a_usage_error(malformed, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(TRAIN + ["--outdir", str(tmp_path), "--set", malformed])
    assert e.value.code == 2
    assert f"expects KEY=VALUE; received '{malformed}'" in capsys.readouterr().err


def test_a_failed_start_removes_the_run_directory_it_created(tmp_path, capsys):
    """Before: a run that failed while building left an empty --outdir."""
    outdir = tmp_path / "new" / "run"
    args = ["--kimg", "0.01", "--set", 'G_kwargs={"no_such_option":1}']
    assert cli.main(TRAIN + ["--outdir", str(outdir)] + args) == 2
    assert "no_such_option" in _error(capsys)
    assert not outdir.exists()
    # --resume with no checkpoint fails after the folder was made: removed too.
    assert cli.main(TRAIN + ["--outdir", str(outdir), "--kimg", "0.01", "--resume"]) == 2
    assert "no checkpoint" in _error(capsys)
    assert not outdir.exists()
    # A folder the user made is kept (empty), and so is one holding anything.
    outdir.mkdir(parents=True)
    assert cli.main(TRAIN + ["--outdir", str(outdir)] + args) == 2
    capsys.readouterr()
    assert outdir.is_dir() and not any(outdir.iterdir())


def test_remove_empty_tree_keeps_folders_holding_files(tmp_path):
    from keras_stylegan.training.loop import remove_empty_tree
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "note.txt").write_text("x")
    assert not remove_empty_tree(tmp_path / "a")
    assert (tmp_path / "a" / "b" / "note.txt").exists()
    (tmp_path / "e" / "f").mkdir(parents=True)
    assert remove_empty_tree(tmp_path / "e") and not (tmp_path / "e").exists()

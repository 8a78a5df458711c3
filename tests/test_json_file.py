"""`json_file.read_json_object`: a run directory's config.json is user input. Objects
round-trip through `json.dumps`; oversized, invalid, non-object and deeply nested
files each get one error of the caller's type; the readers (resume in `train`,
`metrics` finding a run's data) use it."""

import json

import pytest
from keras_stylegan.errors import NetworkFileError
from keras_stylegan.json_file import MAX_JSON_OBJECT_BYTES, read_json_object

from keras_stylegan.cli.metrics import run_config


def test_an_object_round_trips(tmp_path):
    value = {"family": "stylegan2", "G_kwargs": {"latent_size": 512}, "kimg": 1.5,
             "labels": [1, None, "é"]}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(value), encoding="utf-8")
    assert read_json_object(str(path)) == value


@pytest.mark.parametrize("data,expected", [
    (b"[1, 2]", "holds a JSON list, not an object"),
    (b'"text"', "holds a JSON string, not an object"),
    (b"3.5", "holds a JSON number, not an object"),
    (b"null", "holds a JSON null, not an object"),
    (b"{not json", "is not UTF-8 JSON"),
    (b'{"a": "\xff"}', "is not UTF-8 JSON"),
    (b"[" * 200_000, "nested too deeply"),
    (b" " * MAX_JSON_OBJECT_BYTES + b"{}", "is 1,048,578 bytes, too large for a run's config "
                                           "(the limit is 1,048,576 bytes)"),
], ids=["list", "string", "number", "null", "invalid", "latin1", "nested", "large"])
def test_bad_files_get_one_error_of_the_callers_type(tmp_path, data, expected):
    path = tmp_path / "config.json"
    path.write_bytes(data)
    with pytest.raises(NetworkFileError) as info:
        read_json_object(str(path), "a run's config", error=NetworkFileError)
    assert str(info.value).startswith(f"{path} ") and expected in str(info.value)


def test_the_limit_and_a_missing_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b" " * (MAX_JSON_OBJECT_BYTES - 2) + b"{}")  # exactly the limit
    assert read_json_object(str(path)) == {}
    path.write_bytes(b" " * (MAX_JSON_OBJECT_BYTES - 1) + b"{}")
    with pytest.raises(ValueError, match="too large"):
        read_json_object(str(path))
    path.write_bytes(b"{}     ")
    assert read_json_object(str(path), max_bytes=7) == {}
    with pytest.raises(ValueError, match="is 7 bytes, too large for a JSON object"):
        read_json_object(str(path), max_bytes=6)
    with pytest.raises(ValueError, match=r"^Cannot read .*missing.json"):
        read_json_object(str(tmp_path / "missing.json"))


def test_metrics_ignores_a_bad_run_config(tmp_path):
    """`metrics` falls back to --data when the run's config.json is not usable."""
    snapshot = str(tmp_path / "network-snapshot-000010.keras")
    (tmp_path / "config.json").write_text(json.dumps({"data": "builtin:16", "seed": 0}))
    assert run_config(snapshot) == {"data": "builtin:16", "seed": 0}
    for text in ("[1]", "{", " " * MAX_JSON_OBJECT_BYTES + '{"data": "builtin"}'):
        (tmp_path / "config.json").write_text(text)
        assert run_config(snapshot) is None


def test_resuming_a_run_with_a_bad_config_json(tmp_path):
    """`train` in a run directory with a checkpoint and a hostile config.json: one
    ResumeError naming the file (before: a raw JSONDecodeError or TypeError)."""
    import keras

    from keras_stylegan.training import configs, loop
    from tests.training.test_training_init import stub_dataset
    cfg = configs.get("tiny", data="builtin:16")
    run = loop.prepare(cfg, str(tmp_path / "run"), dataset=stub_dataset(16),
                       print_fn=lambda *a: None).build()
    run.manager.save(checkpoint_number=1)
    stored = tmp_path / "run" / "config.json"
    for text, expected in (("[1]", "holds a JSON list"), ("{", "is not UTF-8 JSON"),
                           (" " * MAX_JSON_OBJECT_BYTES + "{}", "too large")):
        stored.write_text(text)
        with pytest.raises(loop.ResumeError, match=expected) as info:
            run.restore()
        assert "config.json of a keras-stylegan training run" in str(info.value)
    keras.config.set_dtype_policy("float32")


def test_a_savedmodels_metadata(tmp_path):
    """`figures --network SAVEDMODEL` reads the export's keras_stylegan.json: a
    hostile one is one NetworkFileError (before: a raw JSONDecodeError, or an
    AttributeError for a list)."""
    from keras_stylegan.export import savedmodel
    meta = tmp_path / savedmodel.METADATA_FILE
    assert savedmodel.read_metadata(str(tmp_path)) is None
    meta.parent.mkdir()
    meta.write_text(json.dumps({"format": "keras_stylegan", "z_dim": 512}))
    assert savedmodel.read_metadata(str(tmp_path)) == {"format": "keras_stylegan", "z_dim": 512}
    for text in ("[1]", "{", " " * MAX_JSON_OBJECT_BYTES + "{}"):
        meta.write_text(text)
        with pytest.raises(NetworkFileError, match="keras_stylegan.json is .*the metadata of "
                                                   "a SavedModel written by keras-stylegan"):
            savedmodel.read_metadata(str(tmp_path))

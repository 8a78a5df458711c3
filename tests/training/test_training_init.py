"""`train --init NET`: a run's networks start as NVIDIA's pickles (TF1 and PyTorch
fixtures), `.keras` snapshots, presets and run directories, compared with the
legacy importer's networks (a second code path) before any step; a short run;
the mismatch, data and resume errors."""

import json
import types

import keras
import numpy as np
import pytest
from PIL import Image
from keras_stylegan.errors import ConfigError, NetworkFileError
from keras_stylegan.training import configs, loop, pretrained
from keras_stylegan.training.configs import schedule_kwargs
from keras_stylegan.training.schedule import Schedule

from keras_stylegan import cli, legacy, presets
from keras_stylegan.json_file import MAX_JSON_OBJECT_BYTES
from tests.conftest import fixture_folder

FIXTURES = [("legacy", "sg1_r32"), ("legacy", "sg2_r32_f"), ("pytorch", "ada_r32_cond")]


def pickle_path(kind, name):
    return str(fixture_folder(kind, name) / "network-stripped.pkl")


def stub_dataset(resolution=32, num_channels=3, label_size=0):
    """What `loop.prepare` reads of a dataset (building a run reads no images)."""
    return types.SimpleNamespace(resolution=resolution, num_channels=num_channels,
                                 label_size=label_size, name="stub", num_images=0)


def built_run(cfg, tmp_path, net, **data):
    run = loop.prepare(cfg, str(tmp_path / "run"), dataset=stub_dataset(**data),
                       print_fn=lambda *a: None, pretrained=net)
    return run.build()


def inputs(G, D, n=4, seed=0):
    rs = np.random.RandomState(seed)
    z = rs.randn(n, G.z_dim).astype(np.float32)
    labels = (np.eye(G.label_size, dtype=np.float32)[np.arange(n) % G.label_size]
              if G.label_size else None)
    images = rs.uniform(-1, 1, (n, D.resolution, D.resolution, D.num_channels))
    return z, labels, images.astype(np.float32)


def assert_same_outputs(G, D, Gs, ref_G, ref_D, ref_Gs):
    z, labels, images = inputs(ref_Gs, ref_D if ref_D is not None else D)
    for mine, ref in ((G, ref_G), (Gs, ref_Gs)):
        np.testing.assert_array_equal(mine.w_avg.numpy(), ref.w_avg.numpy())
        for psi in (1.0, 0.5):  # psi 0.5 reads w_avg
            np.testing.assert_array_equal(
                mine(z, labels=labels, truncation_psi=psi, noise_mode="const").numpy(),
                ref(z, labels=labels, truncation_psi=psi, noise_mode="const").numpy())
    if ref_D is not None:
        np.testing.assert_array_equal(D(images, labels=labels).numpy(),
                                      ref_D(images, labels=labels).numpy())


@pytest.mark.parametrize("kind,name", FIXTURES, ids=[n for _, n in FIXTURES])
def test_networks_start_as_the_importers(kind, name, tmp_path):
    path = pickle_path(kind, name)
    ref = legacy.load_network_pkl(path)  # the importer, on its own
    net = pretrained.load(path)
    cfg = pretrained.configure(configs.get("paper"), net)
    run = built_run(cfg, tmp_path, net, label_size=ref["Gs"].label_size)
    gan = run.gan
    assert np.abs(ref["G"].w_avg.numpy()).max() > 0  # the fixture's w_avg is not zeros
    assert_same_outputs(gan.G, gan.D, gan.Gs, ref["G"], ref["D"], ref["Gs"])
    # The config records NET and its architecture; a StyleGAN1 network does not
    # grow again: the whole run is at 32 px, lod 0, from kimg 0.
    assert run.cfg["init"] == path and run.cfg["family"] == ref["meta"]["family"]
    assert run.cfg["resolution"] == 32 and run.cfg["progressive"] is False
    segments = Schedule(**schedule_kwargs(run.cfg)).segments(1000)
    assert [s.resolution for s in segments] == [32] and float(gan.lod.numpy()) == 0.0
    assert int(gan.cur_nimg.numpy()) == 0 and int(gan.G_opt.iterations.numpy()) == 0
    assert any("D: " in line and "weights copied" in line for line in run.init_log)
    keras.config.set_dtype_policy("float32")


def test_named_networks_get_the_weights_whose_names_and_shapes_agree(tmp_path):
    """A config that names a G with 4 mapping layers instead of NET's 8: every
    other weight is copied (synthesis equal to NET's), the last four mapping
    layers of NET are reported unused."""
    path = pickle_path("legacy", "sg2_r32_f")
    net = pretrained.load(path)
    G_kwargs = net.arch()["G_kwargs"]
    G_kwargs["mapping_kwargs"]["mapping_layers"] = 4
    cfg = pretrained.configure(configs.get("stylegan2", G_kwargs=G_kwargs), net,
                               keep={"G_kwargs"})
    run = built_run(cfg, tmp_path, net)
    ws = np.random.RandomState(1).randn(2, net.Gs.num_ws, net.Gs.w_dim).astype(np.float32)
    np.testing.assert_array_equal(run.gan.Gs.synthesis(ws, noise_mode="const").numpy(),
                                  net.Gs.synthesis(ws, noise_mode="const").numpy())
    np.testing.assert_array_equal(run.gan.Gs.w_avg.numpy(), net.Gs.w_avg.numpy())
    gs_line = next(line for line in run.init_log if line.startswith("  Gs:"))
    unused = [f"mapping/dense{i}/kernel" for i in range(4, 8)]
    assert all(name in gs_line for name in unused) and "dense3/kernel" not in gs_line
    keras.config.set_dtype_policy("float32")


def test_mismatching_networks_name_every_layer_that_does_not_fit(tmp_path):
    path = pickle_path("legacy", "sg1_r32")
    net = pretrained.load(path)
    tiny = configs.get("tiny")
    cfg = pretrained.configure(tiny, net, keep={"G_kwargs", "D_kwargs"})
    with pytest.raises(ConfigError) as e:
        built_run(cfg, tmp_path, net)
    # The expected names, found independently: same path, other shape.
    mine = presets.Generator(family="stylegan1", resolution=32, **tiny["G_kwargs"])
    theirs = {v.path.split("/", 1)[1]: tuple(v.shape) for v in net.Gs.weights}
    differ = [(v.path.split("/", 1)[1], tuple(v.shape)) for v in mine.weights
              if theirs.get(v.path.split("/", 1)[1], tuple(v.shape)) != tuple(v.shape)]
    assert len(differ) > 5
    message = str(e.value)
    for name, shape in differ:
        assert f"{name} is {list(theirs[name])} in NET, {list(shape)} here" in message
    assert "D: " in message and "drop --set G_kwargs" in message
    keras.config.set_dtype_policy("float32")


def test_a_generator_alone_gets_a_fresh_discriminator(tmp_path):
    G = presets.generator("stylegan2-tiny-32")
    rs = np.random.RandomState(3)
    for v in G.weights:  # distinct values everywhere (w_avg included)
        if v.dtype == "float32" and v.shape:
            v.assign(np.asarray(rs.randn(*v.shape) * 0.1, np.float32))
    path = str(tmp_path / "net.keras")
    G.save(path)
    net = pretrained.load(path)
    assert net.D is None
    cfg = pretrained.configure(configs.get("stylegan2"), net)
    run = built_run(cfg, tmp_path, net)
    assert_same_outputs(run.gan.G, run.gan.D, run.gan.Gs, G, None, G)
    D = run.gan.D
    assert (D.fmap_base, D.fmap_max) == (512, 64)  # the generator's channels
    assert any("D starts from random weights" in line for line in run.init_log)
    keras.config.set_dtype_policy("float32")


def test_dataset_must_match_the_network():
    net = pretrained.load("preset:stylegan-tiny-cond-32")
    pretrained.check_data(net, 32, 3, 4)
    with pytest.raises(ConfigError, match=r"32x32 network, but the dataset is 64x64: pass "
                                          r"--resolution 32"):
        pretrained.check_data(net, 64, 3, 4)
    with pytest.raises(ConfigError, match="at least 32x32"):
        pretrained.check_data(net, 16, 3, 4)
    with pytest.raises(ConfigError, match="1 channel"):
        pretrained.check_data(net, 32, 1, 4)
    with pytest.raises(ConfigError, match="conditional with 4 labels, but the dataset gives "
                                          "no labels"):
        pretrained.check_data(net, 32, 3, 0)


def test_cli_resizes_the_dataset_only_when_asked(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    rs = np.random.RandomState(0)
    for i in range(4):
        Image.fromarray(rs.randint(0, 256, (64, 64, 3), np.uint8)).save(folder / f"{i}.png")
    path = pickle_path("legacy", "sg1_r32")
    base = ["train", "--data", str(folder), "--init", path, "--outdir", str(tmp_path / "x"),
            "--dry-run"]
    assert cli.main(base) == 2
    assert ("32x32 network, but the dataset is 64x64: pass --resolution 32"
            in capsys.readouterr().err)
    assert cli.main(base + ["--resolution", "32", "--freezed", "4"]) == 2
    assert "has 3 blocks above 4x4 (b32, b16, b8)" in capsys.readouterr().err
    assert cli.main(base + ["--resolution", "32", "--freezed", "3"]) == 0
    cfg = json.loads(capsys.readouterr().out.split("\nSchedule")[0])
    assert (cfg["resolution"], cfg["init"], cfg["progressive"]) == (32, path, False)
    assert cfg["config"] == "paper" and cfg["G_kwargs"]["latent_size"] == 64


def test_stylegan2_config_a_to_d_is_refused():
    net = pretrained.load(pickle_path("legacy", "sg2_r32_d_revised"))
    with pytest.raises(ConfigError, match="config a-d network"):
        pretrained.configure(configs.get("stylegan2"), net)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """One step (with both lazy regularizers) from a PyTorch pickle (StyleGAN2-ADA),
    Freeze-D on b32."""
    path = pickle_path("pytorch", "ada_r32_paper")
    outdir = str(tmp_path_factory.mktemp("init") / "run")
    args = ["train", "--data", "builtin:16", "--init", path, "--outdir", outdir,
            "--batch", "8", "--kimg", "0.008", "--snap", "1", "--freezed", "1",
            "--set", "grid_size=[2,1]"]
    assert cli.main(args) == 0
    return path, outdir, args


@pytest.mark.slow  # the short run: about 40 s of CPU
def test_short_run_from_a_pickle(short_run):
    path, outdir, _ = short_run
    log = open(f"{outdir}/log.txt").read()
    assert "Initialised from NVIDIA PyTorch pickle" in log and "Freeze-D: D's blocks b32" in log
    cfg = json.load(open(f"{outdir}/config.json"))
    assert cfg["config"] == "stylegan2" and cfg["init"] == path and cfg["freezed"] == 1
    net = legacy.load_network_pkl(path)
    stored = checkpoint(f"{outdir}/checkpoints/ckpt-8")
    import tensorflow as tf
    counters = tf.train.load_checkpoint(f"{outdir}/checkpoints/ckpt-8")
    assert [int(counters.get_tensor(f"{k}/.ATTRIBUTES/VARIABLE_VALUE"))
            for k in ("cur_nimg", "num_steps")] == [8, 1]
    assert "images 0-8" in log  # from kimg 0, with fresh optimizers
    # Trained from NET: D's frozen b32 is NET's, bit for bit; its other kernels
    # moved; G's w_avg moved from NET's.
    for v in net["D"].weights:
        value = stored("D", v.path)
        if v.path.startswith("D/b32/"):
            np.testing.assert_array_equal(value, v.numpy(), err_msg=v.path)
        elif v.path.endswith("kernel"):
            assert not np.array_equal(value, v.numpy()), v.path
    w_avg = stored("G", "G/w_avg")
    assert np.abs(w_avg - net["G"].w_avg.numpy()).max() > 0


@pytest.mark.slow  # the short run: about 40 s of CPU
def test_the_same_command_resumes_and_another_init_is_refused(short_run, capsys):
    path, outdir, args = short_run
    assert cli.main(args) == 0  # finished: resumes, no step
    assert "Resuming from" in open(f"{outdir}/log.txt").read()
    other = pickle_path("pytorch", "ada_r32_orig")
    assert cli.main([a if a != path else other for a in args]) == 2
    err = capsys.readouterr().err
    assert "init:" in err and "ada_r32_orig" in err
    i = args.index("--freezed") + 1
    assert cli.main(args[:i] + ["0"] + args[i + 1:]) == 2
    assert "freezed: 1 -> 0" in capsys.readouterr().err


@pytest.mark.slow  # the short run: about 40 s of CPU
def test_init_from_a_run_directory(short_run, tmp_path):
    """NET = a run directory: G, D and Gs from its newest checkpoint."""
    _, outdir, _ = short_run
    net = pretrained.load(outdir)
    assert net.D is not None and "ckpt-8" in net.what
    run = built_run(pretrained.configure(configs.get("stylegan2"), net), tmp_path, net)
    stored = checkpoint(f"{outdir}/checkpoints/ckpt-8")
    for prefix, model in (("G", run.gan.G), ("D", run.gan.D), ("Gs", run.gan.Gs)):
        for v in model.weights:
            np.testing.assert_array_equal(v.numpy(), stored(prefix, v.path), err_msg=v.path)
    keras.config.set_dtype_policy("float32")


def checkpoint(prefix):
    """stored(part, variable path) -> the value a run's checkpoint holds."""
    import tensorflow as tf
    reader = tf.train.load_checkpoint(prefix)
    return lambda part, path: reader.get_tensor(
        f"{part}/" + path.replace("/", "..") + "/.ATTRIBUTES/VARIABLE_VALUE")


def fake_run_dir(tmp_path, seed=4):
    """A run directory as `train` leaves it (config.json, checkpoints/ckpt-8) with
    random weights, written without training; returns (dir, {part: {path: value}})."""
    import tensorflow as tf
    run_dir = tmp_path / "old"
    (run_dir / "checkpoints").mkdir(parents=True)
    cfg = configs.resolve(configs.get("tiny"), 16, 3, 0, 1)
    (run_dir / "config.json").write_text(json.dumps(cfg))
    nets = dict(zip("G D Gs".split(), loop.build_networks(cfg, "float32")))
    rs = np.random.RandomState(seed)
    for net in nets.values():
        for v in net.weights:
            if v.dtype == "float32" and v.shape:
                v.assign(np.asarray(rs.randn(*v.shape), np.float32))
    ckpt = tf.train.Checkpoint(**{k: loop._variables_by_path(n) for k, n in nets.items()})
    tf.train.CheckpointManager(ckpt, str(run_dir / "checkpoints"), 1,
                               checkpoint_name="ckpt").save(checkpoint_number=8)
    values = {k: {v.path: v.numpy() for v in n.weights} for k, n in nets.items()}
    return run_dir, values


def test_init_from_a_run_directory_and_its_hostile_variants(tmp_path):
    run_dir, values = fake_run_dir(tmp_path)
    for spec in (str(run_dir), str(run_dir / "checkpoints" / "ckpt-8")):
        net = pretrained.load(spec)
        assert net.D is not None and "ckpt-8" in net.what
        for part, model in (("G", net.G), ("D", net.D), ("Gs", net.Gs)):
            for v in model.weights:
                np.testing.assert_array_equal(v.numpy(), values[part][v.path], err_msg=v.path)
    config = json.loads((run_dir / "config.json").read_text())
    config["G_kwargs"]["latent_size"] = 32  # not the checkpoint's networks
    (run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(NetworkFileError, match="ckpt-8 does not hold the networks"):
        pretrained.load(str(run_dir))
    config["G_kwargs"]["synthesis_kwargs"] = {"fmap_base": "x"}
    (run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(NetworkFileError, match="config.json: Cannot build the networks"):
        pretrained.load(str(run_dir))
    for text in ("{not json", "[1, 2]", '{"family": "stylegan1"}'):
        (run_dir / "config.json").write_text(text)
        with pytest.raises(NetworkFileError, match="config.json"):
            pretrained.load(str(run_dir))
    (run_dir / "config.json").write_text(" " * MAX_JSON_OBJECT_BYTES + "{}")
    with pytest.raises(NetworkFileError, match=r"^--init: .*config.json is 1,048,578 bytes, "
                                               "too large for the config.json of a"):
        pretrained.load(str(run_dir))
    keras.config.set_dtype_policy("float32")


def test_the_configs_resolution_is_honoured_as_without_init(tmp_path, capsys):
    """A config that names a resolution (cpu-demo: 16 px) resizes the dataset under
    --init as it does without; one that does not fit NET is the config's error."""
    run_dir, _ = fake_run_dir(tmp_path)  # a 16x16 network
    base = ["train", "--data", "builtin:16", "--outdir", str(tmp_path / "x"), "--dry-run"]

    def dry_run(*options):
        assert cli.main(base + list(options)) == 0
        return json.loads(capsys.readouterr().out.split("\nSchedule")[0])

    without_init = dry_run("--config", "cpu-demo")
    cfg = dry_run("--config", "cpu-demo", "--init", str(run_dir))
    assert cfg["resolution"] == without_init["resolution"] == 16
    assert (cfg["init"], cfg["config"]) == (str(run_dir), "cpu-demo")
    assert dry_run("--init", str(run_dir), "--resolution", "16")["resolution"] == 16
    assert cli.main(base + ["--init", str(run_dir)]) == 2  # paper: the data's own 32 px
    assert ("16x16 network, but the dataset is 32x32: pass --resolution 16"
            in capsys.readouterr().err)
    for options in (["--config", "paper-32"], ["--config", "cpu-demo", "--resolution", "32"]):
        assert cli.main(base + ["--init", str(run_dir)] + options) == 2
        err = capsys.readouterr().err
        assert ("16x16 network, but the run trains at 32x32 (resolution 32 of the config or "
                "--resolution): pass --resolution 16" in err), err
    assert not (tmp_path / "x").exists()
    keras.config.set_dtype_policy("float32")


def test_cli_errors_for_a_bad_init(tmp_path, capsys):
    base = ["train", "--data", "builtin:16", "--outdir", str(tmp_path / "x"), "--dry-run"]
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"not a pickle at all")
    for init, expected in ((str(tmp_path / "missing.pkl"), "no such network file"),
                           ("preset:nope", "Unknown preset 'nope'"),
                           (str(junk), "junk.pkl")):
        assert cli.main(base + ["--init", init]) == 2
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err
    assert cli.main(base + ["--set", "init=5"]) == 2
    assert "'init' takes a string" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

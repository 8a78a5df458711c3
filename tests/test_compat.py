"""Files written by earlier versions still load and give the same outputs.

`tests/data/compat/` holds `.keras` generators and training runs (checkpoints,
config, snapshot) written by the code before the #17 restructure, with that
code's outputs for fixed inputs (see `tests/data/compat/make_files.py`).
"""

import pathlib
import shutil
import sys

import numpy as np
import pytest

DATA = pathlib.Path(__file__).parent / "data" / "compat"
sys.path.insert(0, str(DATA))
import make_files  # noqa: E402  (the script that wrote the files: same inputs)

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow

REF = np.load(DATA / "ref.npz")


@pytest.mark.parametrize("name", ["sg1_G", "sg2_cond_G"])
def test_old_keras_generator_loads_and_matches(name):
    from keras_stylegan.loading import load_generator
    G = load_generator(DATA / f"{name}.keras")
    np.testing.assert_allclose(make_files._gen(G), REF[name], rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["run_sg1", "run_sg2"])
def test_old_run_checkpoint_restores_and_matches(name, tmp_path):
    run = tmp_path / name
    shutil.copytree(DATA / name, run)
    from keras_stylegan.training import loop
    got = make_files.run_outputs(str(run), name, loop)
    for key, want in got.items():
        np.testing.assert_allclose(want, REF[key], rtol=0, atol=1e-5, err_msg=key)


@pytest.mark.parametrize("name", ["run_sg1", "run_sg2"])
def test_old_run_snapshot_loads(name):
    from keras_stylegan.loading import load_generator
    G = load_generator(DATA / name)
    np.testing.assert_allclose(make_files._gen(G), REF[f"{name}_Gs"], rtol=0, atol=1e-5)

"""The cases of the PyTorch-pickle fixtures (`fixtures/pytorch/NAME`), on any backend.

Each fixture's `manifest.json` lists NVIDIA's calls (`G_ema.mapping`,
`G_ema`, `G_ema.synthesis`, `G`, `D`), their inputs and kwargs and the
`ref.npz` array each returned; `run_case` makes the same call through our
API. All references are float32 (`force_fp32=True`), so the networks are
loaded with `force_fp32=True`.

Subprocess entry point (another Keras backend), all fixtures in one process:

    python -m helpers.pytorch_cases OUT.npz FIXTURE [FIXTURE ...]
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import FIXTURES, REPO, fixture_folder, nchw_to_nhwc
from keras_stylegan import legacy, to_uint8

PYTORCH = FIXTURES / "pytorch"
NAMES = ("ada_r32_paper", "ada_r32_cond", "ada_r32_orig", "sg3repo_r32_sg2")


def pytorch_fixture(name):
    """(folder, manifest, ref) of `fixtures/pytorch/NAME` (see conftest.fixture_folder)."""
    path = fixture_folder("pytorch", name)
    return path, json.loads((path / "manifest.json").read_text()), np.load(path / "ref.npz")


def load(folder, pkl="network-stripped.pkl"):
    return legacy.load_network_pkl(folder / pkl, force_fp32=True)


def _labels(c):
    return c if c.shape[1] else None


def run_case(nets, ref, case):
    """Our output (NumPy; images NHWC) for one manifest case."""
    net, kw = case["network"], case.get("kwargs", {})
    inputs = [ref[k] for k in case["inputs"]]
    G = nets["G" if net == "G" else "Gs"]
    if net == "D":
        return np.asarray(nets["D"](nchw_to_nhwc(inputs[0]), labels=_labels(inputs[1])))
    if net == "G_ema.synthesis":
        return np.asarray(G.synthesis(inputs[0], noise_mode=kw["noise_mode"]))
    ws = G.mapping(inputs[0], labels=_labels(inputs[1]))
    ws = G.truncate(ws, kw.get("truncation_psi", 1), kw.get("truncation_cutoff"))
    if net == "G_ema.mapping":
        return np.asarray(ws)
    assert net in ("G", "G_ema"), net
    img = G.synthesis(ws, noise_mode=kw["noise_mode"],
                      fused_modconv=kw.get("fused_modconv", True))
    return to_uint8(img) if case["output"].endswith("uint8") else np.asarray(img)


def expected(ref, case):
    out = ref[case["output"]]
    return nchw_to_nhwc(out) if out.ndim == 4 and out.dtype != np.uint8 else out


def assert_matches(ours, want):
    assert ours.shape == want.shape
    if want.dtype == np.uint8:
        assert ours.dtype == np.uint8
        assert np.abs(ours.astype(int) - want.astype(int)).max() <= 1
    else:
        np.testing.assert_allclose(ours, want, rtol=1e-4, atol=1e-4)


def run_all(names):
    """{'fixture/case': ours} for every case of every named fixture."""
    out = {}
    for name in names:
        folder = PYTORCH / name
        manifest = json.loads((folder / "manifest.json").read_text())
        ref = np.load(folder / "ref.npz")
        nets = load(folder)
        for case in manifest["cases"]:
            out[f"{name}/{case['name']}"] = run_case(nets, ref, case)
    return out


def run_in_subprocess(names, backend, out_dir):
    """{'fixture/case': ours} from a subprocess on Keras backend `backend`."""
    pytest.importorskip(backend)
    for name in names:
        pytorch_fixture(name)
    out = os.path.join(out_dir, f"pytorch-{backend}.npz")
    env = dict(os.environ, KERAS_BACKEND=backend, KERAS_STYLEGAN_FIXTURES=str(FIXTURES),
               PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]))
    proc = subprocess.run([sys.executable, "-m", "helpers.pytorch_cases", out, *names],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as ours:
        return dict(ours)


def main(out, *names):
    import keras
    assert keras.backend.backend() == os.environ["KERAS_BACKEND"]
    np.savez(out, **run_all(names))


if __name__ == "__main__":
    main(*sys.argv[1:])

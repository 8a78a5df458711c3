"""The networks run on the JAX backend too (keras_stylegan/ uses keras.ops only).

Runs in a subprocess with KERAS_BACKEND=jax, because a process's Keras backend
is fixed at import time, and compares with NVIDIA's fixture outputs.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO, legacy_fixture

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    from keras_stylegan import legacy, to_uint8
    assert keras.backend.backend() == "jax", keras.backend.backend()
    folder = sys.argv[1]
    ref = np.load(folder + "/ref.npz")
    nets = legacy.load_network_pkl(folder + "/network-stripped.pkl")
    nhwc = lambda x: np.transpose(x, (0, 2, 3, 1))
    G, D = nets["Gs"], nets["D"]
    out = {
        "gs_psi0.7": G(ref["latents"], truncation_psi=0.7, noise_mode="const"),
        "gs_psi1_lod1.5_linear": G(ref["latents"], noise_mode="const", lod=1.5),
        "D_random_images": D(nhwc(ref["D_images"])),
        "D_lod1.5_linear": D(nhwc(ref["D_images"]), lod=1.5),
    }
    err = {k: float(np.abs(np.asarray(v) - (nhwc(ref[k]) if ref[k].ndim == 4 else ref[k])).max())
           for k, v in out.items()}
    u8 = to_uint8(out["gs_psi0.7"]).astype(int) - ref["gs_psi0.7_uint8"]
    err["uint8"] = float(np.abs(u8).max())
    print(json.dumps(err))
""")


def test_sg1_parity_on_jax():
    pytest.importorskip("jax")
    folder = legacy_fixture("sg1_r32")
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(folder)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    errors = json.loads(proc.stdout.strip().splitlines()[-1])
    assert errors.pop("uint8") <= 1
    assert max(errors.values()) <= 1e-4, errors

"""Runs our feature networks on the committed random-weight fixtures and reports
their outputs next to the reference implementations' (tests/data/metrics).

Used in-process (TensorFlow) and as `python -m helpers.feature_parity OUT.npz
NAMES...` in a subprocess with KERAS_BACKEND=jax (a process's backend is fixed).
"""

import pathlib
import sys

import numpy as np

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "metrics"
FILES = {"inception": "inception_random.pth", "vgg16": "vgg16_random.pth",
         "lpips": ("vgg16_random.pth", "lpips_random_lin.pth")}


def weights(name):
    f = FILES[name]
    return tuple(DATA / p for p in f) if isinstance(f, tuple) else DATA / f


def run(name):
    """{case: (ours, reference)} for one network."""
    from keras_stylegan.metrics import feature_network
    ref = np.load(DATA / "reference.npz")
    net = feature_network(name, weights=weights(name))
    if name == "lpips":
        return {"lpips": (np.asarray(net(ref["lpips_a"], ref["lpips_b"])), ref["lpips_out"])}
    prefix = "vgg" if name == "vgg16" else name
    cases = sorted(k[len(prefix) + 3:] for k in ref.files if k.startswith(prefix + "_in"))
    return {f"{name}{i}": (np.asarray(net(ref[f"{prefix}_in{i}"])), ref[f"{prefix}_out{i}"])
            for i in cases}


def main(out, *names):
    results = {}
    for name in names:
        for case, (ours, theirs) in run(name).items():
            results[case + "_ours"], results[case + "_ref"] = ours, theirs
    np.savez(out, **results)


if __name__ == "__main__":
    main(*sys.argv[1:])

"""One test harness for every layer and network of both families.

A `Case` says how to build an object (seeded), what to call it with, and
what it is: the harness then checks, for every case, the same contract
(keras-hub's `run_layer_test` / `run_serialization_test` /
`run_model_saving_test` idea):

* `check_config_round_trip`: `from_config(get_config())` is a fixed point
  *and*, given the same weights, computes the same output (a key missing
  from `get_config` changes the rebuilt object and fails here);
* `check_keras_file_round_trip`: `.keras` save + `keras.saving.load_model`
  gives the same class, config and output;
* `check_mixed_precision`: built under a mixed policy with the float32
  object's weights, the output stays finite and within bfloat16's precision
  of the float32 output, and networks return float32;
* `jax_outputs`: every case's output on the JAX backend (one subprocess for
  all cases, with the weights the TensorFlow objects hold), compared with
  the TensorFlow output.

The cases themselves are in `tests/cases.py`.
"""

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
EXACT = dict(rtol=0, atol=0)
# TF vs JAX kernels: float32 summation order only; float16 blocks (num_fp16_res)
# round to 11 significant bits, so the backends' different float16 kernels
# differ by a few units of float16's 1e-3 precision on values of order 1.
BACKENDS = dict(rtol=1e-4, atol=1e-5)
BACKENDS_FP16 = dict(rtol=1e-2, atol=1e-2)
# bfloat16 keeps 8 bits of mantissa (~0.4% per rounding); through a network's
# dozen layers (and instance norms) the error stays a few percent of the signal.
BFLOAT16_RELATIVE_RMS = 0.05


@dataclasses.dataclass
class Case:
    """How to build and call one layer or network.

    make: () -> the object (called after `keras.utils.set_random_seed(0)`).
    inputs: () -> list of NumPy arrays, the positional call arguments.
    kwargs: keyword call arguments.
    network: a `keras.Model` that pins its own output dtype to float32.
    fp16: computes some blocks in float16 (num_fp16_res).
    """

    name: str
    make: object
    inputs: object
    kwargs: dict = dataclasses.field(default_factory=dict)
    network: bool = False
    fp16: bool = False

    def build(self):
        """The object, built by a first call, with every weight set to seeded
        random values (initial zeros, e.g. noise strengths or biases, would
        hide a mis-wired weight)."""
        import keras
        keras.utils.set_random_seed(0)
        obj = self.make()
        self.run(obj)
        rng = np.random.RandomState(1)
        obj.set_weights([np.asarray(rng.randn(*np.shape(w)) * 0.5, np.float32)
                         for w in obj.get_weights()])
        return obj

    def run(self, obj):
        return _numpy(obj(*self.inputs(), **self.kwargs))


def _numpy(y):
    import keras
    if isinstance(y, (list, tuple)):
        return [_numpy(t) for t in y]
    return keras.ops.convert_to_numpy(y)


def _assert_close(a, b, tol):
    if isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_close(x, y, tol)
        return
    np.testing.assert_allclose(np.asarray(a, np.float32), np.asarray(b, np.float32), **tol)


def check_config_round_trip(case):
    obj = case.build()
    want = case.run(obj)
    config = obj.get_config()
    clone = type(obj).from_config(config)
    assert clone.get_config() == config
    case.run(clone)  # builds whatever the first call builds
    clone.set_weights(obj.get_weights())
    _assert_close(case.run(clone), want, EXACT)


def check_keras_file_round_trip(case, path):
    import keras
    obj = case.build()
    want = case.run(obj)
    obj.save(path) if case.network else keras.saving.save_model(obj, path)
    loaded = keras.saving.load_model(path, compile=False)
    assert type(loaded) is type(obj)
    assert loaded.get_config() == obj.get_config()
    _assert_close(case.run(loaded), want, EXACT)


def check_mixed_precision(case, policy="mixed_bfloat16"):
    """The object built and run under the global `policy`, as users set it."""
    import keras
    obj = case.build()
    want = case.run(obj)
    keras.config.set_dtype_policy(policy)
    try:
        mixed = case.build()
        case.run(mixed)
        mixed.set_weights(obj.get_weights())
        got = case.run(mixed)
    finally:
        keras.config.set_dtype_policy("float32")
    for y in (got if isinstance(got, list) else [got]):
        assert np.all(np.isfinite(np.asarray(y, np.float32)))
        if case.network:
            assert y.dtype == np.float32, f"{case.name} returns {y.dtype} under {policy}"
    for g, w in zip(*[t if isinstance(t, list) else [t] for t in (got, want)]):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        rel = np.sqrt(np.mean((g - w) ** 2)) / max(np.sqrt(np.mean(w ** 2)), 1e-12)
        assert rel < BFLOAT16_RELATIVE_RMS, f"{case.name}: relative RMS error {rel:.3f}"


def tf_outputs_and_weights(cases, folder):
    """Runs every case on this (TensorFlow) process; saves each one's weights
    to `folder/NAME.npz`; returns {name: output}."""
    out = {}
    for case in cases:
        obj = case.build()
        out[case.name] = case.run(obj)
        np.savez(folder / f"{case.name}.npz", *obj.get_weights())
    return out


def jax_outputs(names, folder):
    """{name: output} of the cases `names` on the JAX backend, each built
    with the weights saved by `tf_outputs_and_weights` (one subprocess)."""
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
               PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "harness", str(folder), json.dumps(list(names))]
    subprocess.run(cmd, check=True, cwd=HERE, env=env, timeout=900)
    with np.load(folder / "jax_outputs.npz") as f:
        return {name: [f[k] for k in sorted(f) if k.startswith(name + "/")] or f[name]
                for name in names}


def _jax_main(folder, names):
    import keras

    import cases as case_table
    assert keras.backend.backend() == "jax"
    folder = pathlib.Path(folder)
    out = {}
    for case in case_table.by_name(names):
        obj = case.build()
        case.run(obj)
        with np.load(folder / f"{case.name}.npz") as f:
            obj.set_weights([f[f"arr_{i}"] for i in range(len(f.files))])
        y = case.run(obj)
        if isinstance(y, list):
            out.update({f"{case.name}/{i:02d}": t for i, t in enumerate(y)})
        else:
            out[case.name] = y
    np.savez(folder / "jax_outputs.npz", **out)


def assert_backends_agree(case, got, want):
    _assert_close(got, want, BACKENDS_FP16 if case.fp16 else BACKENDS)


if __name__ == "__main__":
    _jax_main(sys.argv[1], json.loads(sys.argv[2]))

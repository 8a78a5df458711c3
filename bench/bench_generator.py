"""Generator benchmark: images/s, peak memory and achieved GFLOP/s.

Runs each (preset, batch, mode) in its own subprocess, so the peak resident
memory reported is that configuration's alone. Modes: 'eager' (plain Keras
call), 'function' (tf.function, traced once), 'xla' (tf.function with
jit_compile) and 'jax' (Keras' JAX backend, `jax.jit` of `stateless_call`, on
a GPU when JAX sees one: the same command measures a lent GPU). FLOPs per image come from TensorFlow's own graph profiler.

Usage:
  python bench/bench_generator.py                       # the full table
  python bench/bench_generator.py --presets stylegan-tiny-32 --iters 3   # quick look
  python bench/bench_generator.py --json out.json       # also write JSON
  python bench/bench_generator.py --presets stylegan2-ffhq-1024:nonfused   # StyleGAN2, non-fused modconv
  python bench/bench_generator.py --modes function jax   # TensorFlow beside the JAX backend

Results and the machine they were taken on go in docs/BENCHMARKS.md.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tables  # noqa: E402  (bench/tables.py)
from tables import Column  # noqa: E402

DEFAULT_PRESETS = ("stylegan-bedrooms-256", "stylegan-ffhq-1024", "stylegan2-ffhq-1024",
                   "stylegan2-ffhq-1024:nonfused")


def graph_flops(fn, spec):
    """Float operations of one call of `fn`, counted by TF's graph profiler."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)
    concrete = tf.function(fn).get_concrete_function(*spec)
    frozen = convert_variables_to_constants_v2(concrete)
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    prof = tf.compat.v1.profiler.profile(graph=frozen.graph, options=opts)
    return int(prof.total_float_ops)


def jax_function(G):
    """The generator call as one `jax.jit` function of (variables, z)."""
    import jax
    trainable = [v.value for v in G.trainable_variables]
    fixed = [v.value for v in G.non_trainable_variables]

    @jax.jit
    def call(trainable, fixed, z):
        out, _ = G.stateless_call(trainable, fixed, z, truncation_psi=0.7, noise_mode="const")
        return out
    return lambda z: call(trainable, fixed, z)


def run_one(preset, batch, mode, iters, warmup):
    """Measures one configuration in this process; returns a dict."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if mode == "jax":
        return run_one_jax(preset, batch, iters, warmup)
    import numpy as np
    import tensorflow as tf

    G = build_generator(preset)
    z = tf.constant(np.random.RandomState(0).randn(batch, G.z_dim).astype(np.float32))

    def gen(z):
        return G(z, truncation_psi=0.7, noise_mode="const")

    def gen_for_flops(z):  # TF's profiler does not count grouped convs: count the
        if G.family != "stylegan2":  # numerically equal non-fused form instead
            return gen(z)
        ws = G.truncate(G.mapping(z), psi=0.7)
        return G.synthesis(ws, noise_mode="const", fused_modconv=False)

    spec = [tf.TensorSpec([batch, G.z_dim], tf.float32)]
    flops = graph_flops(gen_for_flops, spec) / batch
    fn = {"eager": gen,
          "function": tf.function(gen, input_signature=spec),
          "xla": tf.function(gen, input_signature=spec, jit_compile=True)}[mode]
    t0 = time.perf_counter()
    fn(z).numpy()  # first call: tracing / compilation
    first_call_s = time.perf_counter() - t0
    for _ in range(warmup):
        fn(z).numpy()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn(z).numpy()
        times.append(time.perf_counter() - t0)
    traces = fn.experimental_get_tracing_count() if mode != "eager" else None
    sec = float(np.median(times))
    return dict(preset=preset, batch=batch, mode=mode, iters=iters,
                sec_per_batch=sec, images_per_s=batch / sec, first_call_s=first_call_s,
                gflop_per_image=flops / 1e9, achieved_gflops=flops * batch / sec / 1e9,
                traces=traces, params=int(sum(np.prod(w.shape) for w in G.trainable_weights)))


def build_generator(preset):
    """The Generator of `preset` ("NAME" or "NAME:nonfused")."""
    from keras_stylegan import Generator, presets
    name, _, variant = preset.partition(":")  # "NAME:nonfused": StyleGAN2 non-fused modconv
    config = presets.get(name)["generator"]
    if variant == "nonfused":
        config["synthesis_kwargs"] = dict(config.get("synthesis_kwargs", {}), fused_modconv=False)
    elif variant:
        raise SystemExit(f"unknown preset variant {variant!r}; known: nonfused")
    return Generator(**config)


def run_one_jax(preset, batch, iters, warmup):
    """`run_one` on the JAX backend (KERAS_BACKEND=jax in this process): jit-compiled."""
    import keras
    import numpy as np
    assert keras.backend.backend() == "jax", keras.backend.backend()
    G = build_generator(preset)
    fn = jax_function(G)
    z = np.random.RandomState(0).randn(batch, G.z_dim).astype(np.float32)
    t0 = time.perf_counter()
    np.asarray(fn(z))
    first_call_s = time.perf_counter() - t0
    for _ in range(warmup):
        np.asarray(fn(z))
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        np.asarray(fn(z))
        times.append(time.perf_counter() - t0)
    sec = float(np.median(times))
    return dict(preset=preset, batch=batch, mode="jax", iters=iters, sec_per_batch=sec,
                images_per_s=batch / sec, first_call_s=first_call_s, traces=None,
                params=int(sum(np.prod(w.shape) for w in G.trainable_weights)))


def measure(preset, batch, mode, iters, warmup):
    """Runs `run_one` in a child process; adds its peak RSS (MiB)."""
    cmd = [sys.executable, __file__, "--one", preset, str(batch), mode,
           "--iters", str(iters), "--warmup", str(warmup)]
    env = dict(os.environ, KERAS_BACKEND="jax" if mode == "jax" else "tensorflow")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    if status != 0:
        last = (err.strip().splitlines() or ["exit status %d" % status])[-1]
        return dict(preset=preset, batch=batch, mode=mode, error=f"failed: {last}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def machine():
    info = dict(platform=platform.platform(), python=platform.python_version(),
                cpus=os.cpu_count())
    try:
        import tensorflow as tf
        import keras
        info.update(tensorflow=tf.__version__, keras=keras.__version__,
                    backend=keras.backend.backend())
    except ImportError:
        pass
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


COLUMNS = [
    Column("preset", "preset"), Column("batch", "batch"), Column("mode", "mode"),
    Column("img/s", "images_per_s", ".3g"), Column("s/batch", "sec_per_batch", ".3g"),
    Column("first call s", "first_call_s", ".3g"), Column("GFLOP/img", "gflop_per_image", ".3g"),
    Column("GFLOP/s", "achieved_gflops", ".3g"), Column("peak RSS MiB", "peak_rss_mib", ".0f"),
    Column("traces", "traces")]


def table(rows):
    return tables.markdown(COLUMNS, rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=list(DEFAULT_PRESETS))
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    p.add_argument("--modes", nargs="+", default=["eager", "function", "xla"],
                   choices=["eager", "function", "xla", "jax"],
                   help="'jax': the Keras JAX backend, jax.jit-compiled (a GPU when JAX sees one)")
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--json", help="also write the results as JSON here")
    p.add_argument("--one", nargs=3, metavar=("PRESET", "BATCH", "MODE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        preset, batch, mode = args.one
        print(json.dumps(run_one(preset, int(batch), mode, args.iters, args.warmup)))
        return
    rows = []
    for preset in args.presets:
        for batch in args.batches:
            for mode in args.modes:
                rows.append(measure(preset, batch, mode, args.iters, args.warmup))
                print(tables.line(COLUMNS, rows[-1]), flush=True)
    print("\nMachine:", json.dumps(machine()))
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=machine(), results=rows), f, indent=2)


if __name__ == "__main__":
    main()

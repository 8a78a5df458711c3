"""Where the time goes: one generator call or one training step, from TF's profiler.

Traces the call (`generate`) or the real compiled training step (`train`, built
by the project's own code path as in `bench_train.py`) with
`tf.profiler.experimental`, reads the trace (XSpace protobuf) and sums the
duration of every TensorFlow op run by the executor, grouped:

* by phase and pass (training): G_main / D_main / D_reg (R1) / G_reg (path
  length), the optimizers and the EMA update, each split into forward,
  backward and second-order backward (R1's double backward);
* by network: mapping, synthesis, D, augmentation, losses;
* by layer kind: convolutions (incl. the resampling convs), blur/FIR,
  noise, AdaIN / modulation, toRGB/fromRGB and fades, minibatch stddev,
  the mapping's dense layers, the remaining elementwise ops;
* by block (b4 ... bR of G and D);
* the op types, and the gap between the wall time and the ops' sum
  (executor, Python and host overhead).

Ops run one at a time (`--inter-op 1`, default) so each op's duration is its
own; oneDNN still uses every core inside an op.

Usage:
  python bench/profile_step.py generate --preset stylegan-bedrooms-256 --batch 8
  python bench/profile_step.py train --config paper --resolution 32 --batch 16 \\
      --fmap-base 2048 --fmap-max 256             # the issue's StyleGAN1 step
  python bench/profile_step.py train --config stylegan2 --resolution 32 --batch 16 \\
      --fmap-base 2048 --fmap-max 256 --set D_reg_interval=1 --set G_reg_interval=1

Results go in docs/BENCHMARKS.md ("Profile").
"""

import argparse
import collections
import glob
import json
import os
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PASSES = (("2nd-order backward", "gradient_tape/gradient_tape/"), ("backward", "gradient_tape/"))
PHASES = ("G_main", "G_reg", "D_main", "D_reg")
CONV_OPS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "FusedConv2D",
            "DepthwiseConv2dNative", "DepthwiseConv2dNativeBackpropInput",
            "DepthwiseConv2dNativeBackpropFilter", "Conv3D")
KINDS = (  # (kind, pattern on the normalized scope path), first match wins
    ("optimizer", r"(^|/)optimizer/"),
    ("EMA update", r"(^|/)ema/"),
    ("blur / FIR", r"/(blur|fir|upfirdn\w*|resample\w*)/"),
    ("noise", r"/noise/"),
    ("toRGB / fromRGB / fades", r"/(torgb\w*|fromrgb\w*|fade\d+|skip)/"),
    ("minibatch stddev", r"/mbstd/"),
    ("AdaIN / modulation", r"/(epilogue|style|affine|modulat\w*|demod\w*)/"),
    ("mapping", r"(^|/)mapping/"),
    ("augmentation", r"(^|/)augment\w*/"),
)


def normalize(name):
    """'a_1/b32_1/conv0_1/x:Conv2D' -> ('a/b32/conv0/x', 'Conv2D'): Keras' call
    counters dropped, TF's oneDNN prefixes removed from the op type."""
    path, _, op = name.rpartition(":")
    path = re.sub(r"_\d+(?=/|$)", "", path)
    path = re.sub(r"^(StatefulPartitionedCall/)+", "", path)
    op = re.sub(r"^_Mkl(Native)?", "", op)
    return path, op


def pass_of(path):
    for label, marker in PASSES:
        if marker in path:
            return label
    return "forward"


def phase_of(path):
    for kind in ("optimizer", "ema"):
        if re.search(rf"(^|/){kind}/", path):
            return "optimizers" if kind == "optimizer" else "EMA update"
    for phase in PHASES:
        if re.search(rf"(^|/){phase}/", path):
            return phase
    return "other"


def network_of(path):
    if re.search(r"(^|/)mapping/", path):
        return "mapping"
    if re.search(r"(^|/)synthesis/", path):
        return "synthesis"
    if re.search(r"(^|/)D/", path):
        return "D"
    if re.search(r"(^|/)augment\w*/", path):
        return "augmentation"
    return "losses and the rest"


def kind_of(path, op):
    for kind, pattern in KINDS:
        if re.search(pattern, "/" + path + "/"):
            return kind
    if op in CONV_OPS or op.startswith("Conv2D"):
        return "convolutions"
    if op.startswith("MatMul") or op == "FusedMatMul":
        return "dense (matmul)"
    return "other elementwise (bias, activation, losses, ...)"


def block_of(path):
    m = re.search(r"(^|/)(synthesis|D)/(b\d+)/", path)
    return f"{'G' if m.group(2) == 'synthesis' else 'D'} {m.group(3)}" if m else None


def read_ops(logdir):
    """[(name, thread, ms)] of every TF op the executor ran in the newest trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    paths = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    space = xplane_pb2.XSpace()
    with open(max(paths, key=os.path.getmtime), "rb") as f:
        space.ParseFromString(f.read())
    ops = []
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            data = line.name.startswith("tf_data")
            if not (line.name.startswith("tf_Compute") or data):
                continue
            for ev in line.events:
                name = plane.event_metadata[ev.metadata_id].name
                if data or (":" in name and "::" not in name):
                    ops.append((name, "data" if data else "compute", ev.duration_ps / 1e9))
    return ops


def summarize(ops, calls, wall_s):
    """The tables (lists of (label, ms per call)) of `ops` traced over `calls` calls."""
    groups = {key: collections.Counter() for key in
              ("phase and pass", "network", "layer kind", "block", "op type")}
    data_ms = 0.0
    for name, thread, ms in ops:
        ms /= calls
        if thread == "data":
            data_ms += ms
            continue
        path, op = normalize(name)
        groups["phase and pass"][f"{phase_of(path)}, {pass_of(path)}"] += ms
        groups["network"][network_of(path)] += ms
        groups["layer kind"][kind_of(path, op)] += ms
        groups["op type"][op] += ms
        block = block_of(path)
        if block:
            groups["block"][block] += ms
    total = sum(groups["network"].values())
    groups["overhead"] = collections.Counter({
        "ops (sum of the above)": total,
        "wall time - ops (executor, host, Python)": max(wall_s * 1000 - total, 0.0),
        "input pipeline threads (overlapping)": data_ms})
    return groups, total


def print_tables(groups, total, title):
    print(f"\n### {title}\n")
    for key, counter in groups.items():
        print(f"| {key} | ms per call | share of op time |\n|---|---|---|")
        rows = counter.most_common() if key != "block" else sorted(
            counter.items(), key=lambda kv: (kv[0][0], int(kv[0][3:])))
        for label, ms in rows[:15]:
            print(f"| {label} | {ms:.1f} | {100 * ms / max(total, 1e-9):.1f}% |")
        print()


def trace(fn, calls, logdir):
    """Runs `fn` `calls` times under the profiler; returns the wall time per call."""
    import tensorflow as tf
    tf.profiler.experimental.start(logdir)
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    wall = (time.perf_counter() - t0) / calls
    tf.profiler.experimental.stop()
    return wall


def profile_generate(args, logdir):
    import numpy as np
    import tensorflow as tf
    from keras_stylegan import Generator, presets
    config = presets.get(args.preset)["generator"]
    if args.fused_modconv is not None:
        config["synthesis_kwargs"] = dict(config.get("synthesis_kwargs", {}),
                                          fused_modconv=args.fused_modconv == "yes")
    G = Generator(**config)
    z = tf.constant(np.random.RandomState(0).randn(args.batch, G.z_dim).astype(np.float32))
    fn = tf.function(lambda z: G(z, truncation_psi=1.0, noise_mode="const"))
    for _ in range(1 + args.warmup):
        fn(z).numpy()
    wall = trace(lambda: fn(z).numpy(), args.calls, logdir)
    return wall, f"generator {args.preset}, batch {args.batch} (psi 1, stored noise)"


def profile_train(args, logdir):
    import keras
    from bench_train import _enter_segment
    from keras_stylegan.training import configs, loop
    overrides = dict(args.overrides)
    if args.fmap_base or args.fmap_max:
        fmaps = {k: v for k, v in (("fmap_base", args.fmap_base), ("fmap_max", args.fmap_max)) if v}
        base = dict(configs.get(args.config), **overrides)
        g = dict(base["G_kwargs"])
        g["synthesis_kwargs"] = dict(g.get("synthesis_kwargs", {}), **fmaps)
        overrides.update(G_kwargs=g, D_kwargs=dict(base["D_kwargs"], **fmaps))
    steps = 1 + args.warmup + args.calls
    cfg = configs.get(args.config, data="builtin", resolution=args.resolution,
                      progressive=False, minibatch_base=args.batch, minibatch_dict={},
                      minibatch_by_replicas=None, total_kimg=steps * args.batch / 1000.0,
                      mixed_precision=args.mixed_precision, **overrides)
    first = 1 + args.warmup
    marks = {}

    class Tracer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == first:
                import tensorflow as tf
                tf.profiler.experimental.start(logdir)
                marks["t0"] = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if batch == steps - 1:
                import tensorflow as tf
                marks["t1"] = time.perf_counter()
                tf.profiler.experimental.stop()

    with tempfile.TemporaryDirectory(prefix="profile-train-") as run_dir:
        run = loop.prepare(cfg, run_dir, gpus=0, print_fn=lambda *a: None)
        run.build()
        seg = run.segments[0]
        _enter_segment(run, seg)
        run.gan.fit(run._stream(seg, 0), epochs=1, steps_per_epoch=steps, verbose=0,
                    callbacks=[Tracer()], shuffle=False)
    wall = (marks["t1"] - marks["t0"]) / args.calls
    return wall, (f"training step {args.config}, {args.resolution} px, batch {seg.minibatch}"
                  f"{', mixed precision' if args.mixed_precision else ''}, overrides "
                  f"{json.dumps(overrides, sort_keys=True)}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    g = sub.add_parser("generate", help="one generator call")
    g.add_argument("--preset", default="stylegan-bedrooms-256")
    g.add_argument("--fused-modconv", choices=("yes", "no"), default=None,
                   help="StyleGAN2: force a modulated-conv form (default: the network's 'auto')")
    t = sub.add_parser("train", help="one training step")
    t.add_argument("--config", default="paper")
    t.add_argument("--resolution", type=int, default=32)
    t.add_argument("--fmap-base", type=int, default=None)
    t.add_argument("--fmap-max", type=int, default=None)
    t.add_argument("--mixed-precision", action="store_true")
    from keras_stylegan.cli.train import _kv  # `train --set`'s own KEY=VALUE parser
    t.add_argument("--set", dest="overrides", action="append", type=_kv, default=[],
                   metavar="KEY=VALUE", help="training config override (JSON value)")
    for q in (g, t):
        q.add_argument("--batch", type=int, default=8 if q is g else 16)
        q.add_argument("--calls", type=int, default=2, help="traced calls (averaged)")
        q.add_argument("--warmup", type=int, default=2)
        q.add_argument("--inter-op", type=int, default=1, help="TF inter-op threads")
        q.add_argument("--json", help="also write the tables here")
    args = p.parse_args()
    import tensorflow as tf
    tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    with tempfile.TemporaryDirectory(prefix="profile-") as logdir:
        wall, title = (profile_generate if args.what == "generate" else profile_train)(args, logdir)
        groups, total = summarize(read_ops(logdir), args.calls, wall)
    print_tables(groups, total, f"{title}: {wall:.3f} s per call")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(title=title, wall_s=wall, tables={k: dict(v) for k, v in groups.items()}),
                      f, indent=2)


if __name__ == "__main__":
    main()

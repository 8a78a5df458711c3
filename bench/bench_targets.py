"""The performance targets: issue 18's networks and calls, before/after in one run.

Measures the calls of NVIDIA's side-by-side table (issue 18) with our code,
for one or more source trees (`--trees`: checkouts with their own `.venv`,
e.g. the commit before a change and the working tree), alternating trees
within each round so that both see the same machine load:

* training steps (D + G, R1 every step, no lazy regularization, minibatch
  16, fmap_base 2048, fmap_max 256, latent 512, NVIDIA's losses, Adam and
  EMA) of StyleGAN1 (`paper` config) and StyleGAN2 (`stylegan2` config with
  `D_reg_interval=1`, `G_reg_interval=1`), at `--train-px` (32 64);
* generator calls (psi 1, stored noise) of StyleGAN1 `G_style` (fmap_base
  8192, the `stylegan-bedrooms-256` / `stylegan-ffhq-1024` presets) and
  StyleGAN2 config-f (`stylegan2-cat-256` / `stylegan2-ffhq-1024`), batch 1
  and 8.

Each measurement runs in its own process (peak RSS is that call's alone).
Prints img/s per tree and round, the median per tree, the ratio of the last
tree to the first, and NVIDIA's img/s from the issue's table with our ratio
to it (the issue measured NVIDIA's code on an AVX2-only machine of this
kind; on another CPU that ratio is only indicative). With two trees, the
first being the issue's code (commit 94dadc1), "est. vs NVIDIA" carries the
comparison over: the new/old ratio measured here times the issue's
ours/NVIDIA ratio for the same call.

With `--nvidia DIR` (DIR holding the user's clones `stylegan/` of
github.com/NVlabs/stylegan and `stylegan2/` of github.com/NVlabs/stylegan2;
nothing of NVIDIA's is in this repository), NVIDIA's TensorFlow 1 code is one
more column, measured in the same rounds, alternating with the trees: each of
its measurements is `bench/nvidia_tf1.py` run by the last tree's Python in its
own process (peak RSS measured the same way), NVIDIA's networks under
`tf.compat.v1` (see that file for what is NVIDIA's and what is the harness').
The report then adds NVIDIA's measured img/s and peak MiB and "ours / NVIDIA
(measured)" = the last tree's median / NVIDIA's median. bfloat16 rows are not
measured on NVIDIA's side (its code runs float32 here).

Usage:
  python bench/bench_targets.py --trees /work/wt-base . --rounds 2
  python bench/bench_targets.py --only train --train-px 32      # a subset
  python bench/bench_targets.py --only generate --gen-px 1024 --rounds 1
  python bench/bench_targets.py --nvidia ~/nvidia --rounds 2   # side by side
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FMAPS = dict(fmap_base=2048, fmap_max=256)
TRAIN_CONFIGS = {"stylegan1": ("paper", {}),
                 "stylegan2": ("stylegan2", dict(D_reg_interval=1, G_reg_interval=1))}
GEN_PRESETS = {("stylegan1", 256): "stylegan-bedrooms-256",
               ("stylegan1", 1024): "stylegan-ffhq-1024",
               ("stylegan2", 256): "stylegan2-cat-256",
               ("stylegan2", 1024): "stylegan2-ffhq-1024"}
# NVIDIA's img/s from issue 18's table (two rounds each; None: not measured there).
NVIDIA = {("train", "stylegan1", 32, 16): (2.38, 2.49),
          ("train", "stylegan2", 32, 16): (2.46, 2.39),
          ("generate", "stylegan1", 256, 1): (0.46, 0.87),
          ("generate", "stylegan1", 256, 8): (1.32, 1.33),
          ("generate", "stylegan2", 256, 1): (0.20, 0.31),
          ("generate", "stylegan2", 256, 8): (0.52, 0.52)}

# Our img/s in the same table (the code of commit 94dadc1, on the issue's machine).
ISSUE_OURS = {("train", "stylegan1", 32, 16): (2.28, 2.34),
              ("train", "stylegan2", 32, 16): (3.57, 3.58),
              ("generate", "stylegan1", 256, 1): (1.11, 1.17),
              ("generate", "stylegan1", 256, 8): (1.05, 1.22),
              ("generate", "stylegan2", 256, 1): (0.56, 0.60),
              ("generate", "stylegan2", 256, 8): (0.62, 0.63)}


# --------------------------------------------------------------------------- child
def train_one(spec):
    """img/s of the training step of `spec` with this process' keras_stylegan."""
    import keras
    from keras_stylegan.training import configs, loop
    name, extra = TRAIN_CONFIGS[spec["family"]]
    base = configs.get(name)
    g = dict(base["G_kwargs"])
    g["synthesis_kwargs"] = dict(g.get("synthesis_kwargs", {}), **FMAPS)
    if spec["family"] == "stylegan2":  # the issue's "non-fused modconv both sides"
        g["synthesis_kwargs"]["fused_modconv"] = False
    steps = 1 + spec["warmup"] + spec["steps"]
    cfg = configs.get(name, data="builtin", resolution=spec["px"], progressive=False,
                      minibatch_base=spec["batch"], minibatch_dict={},
                      minibatch_by_replicas=None, total_kimg=steps * spec["batch"] / 1000.0,
                      G_kwargs=g, D_kwargs=dict(base["D_kwargs"], **FMAPS),
                      mixed_precision=spec.get("mixed_precision", False), **extra)
    ends = []

    class Timer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            ends.append(time.perf_counter())

    with tempfile.TemporaryDirectory(prefix="bench-targets-") as run_dir:
        run = loop.prepare(cfg, run_dir, gpus=0, print_fn=lambda *a: None)
        run.build()
        seg = run.segments[0]
        run.gan.set_resolution(seg.resolution)
        run.gan.set_learning_rates(seg.G_lrate, seg.D_lrate)
        run.gan.set_lod(run.schedule.lod(seg.start_nimg))
        run.gan.fit(run._stream(seg, 0), epochs=1, steps_per_epoch=steps, verbose=0,
                    callbacks=[Timer()], shuffle=False)
    sec = (ends[-1] - ends[spec["warmup"]]) / spec["steps"]
    return dict(images_per_s=seg.minibatch / sec, sec=sec)


def generate_one(spec):
    """img/s of one generator call of `spec` with this process' keras_stylegan."""
    import numpy as np
    import tensorflow as tf
    from keras_stylegan import Generator, presets
    G = Generator(**presets.get(GEN_PRESETS[spec["family"], spec["px"]])["generator"])
    z = tf.constant(np.random.RandomState(0).randn(spec["batch"], G.z_dim).astype("float32"))
    fn = tf.function(lambda z: G(z, truncation_psi=1.0, noise_mode="const"))
    for _ in range(1 + spec["warmup"]):
        fn(z).numpy()
    times = []
    for _ in range(spec["steps"]):
        t0 = time.perf_counter()
        fn(z).numpy()
        times.append(time.perf_counter() - t0)
    sec = statistics.median(times)
    return dict(images_per_s=spec["batch"] / sec, sec=sec)


# --------------------------------------------------------------------------- parent
def measure(tree, spec, timeout):
    """Runs one measurement with `tree`'s Python and library; adds peak RSS (MiB)."""
    python = os.path.join(tree, ".venv", "bin", "python")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.path.abspath(tree))
    cmd = [python, os.path.abspath(__file__), "--one", json.dumps(spec)]
    return _child(cmd, env, tree, timeout)


def measure_nvidia(nvidia, tree, spec, timeout):
    """Runs one measurement with NVIDIA's code (bench/nvidia_tf1.py, `tree`'s Python)."""
    if spec.get("mixed_precision"):
        return dict(error="not measured (NVIDIA's code runs float32)")
    python = os.path.join(os.path.abspath(tree), ".venv", "bin", "python")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [python, os.path.join(HERE, "nvidia_tf1.py"), "--nvidia", os.path.abspath(nvidia),
           "--spec", json.dumps(spec)]
    return _child(cmd, env, HERE, timeout)


def _child(cmd, env, cwd, timeout):
    """The JSON row the child `cmd` prints last, with its peak RSS (MiB), or {"error": ...}."""
    from bench_train import _wait  # here, not at the top: it puts this tree on sys.path
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        status, usage = _wait(proc, timeout)
        if status is None:
            return dict(error=f"timed out after {timeout} s")
        out.seek(0)
        err.seek(0)
        if status:
            lines = err.read().decode(errors="replace").strip().splitlines()
            return dict(error=(lines or ["exit status %d" % status])[-1][:200])
        row = json.loads(out.read().decode().strip().splitlines()[-1])
    row["peak_rss_mib"] = usage.ru_maxrss / 1024
    return row


def plan(args):
    specs = []
    if args.only in (None, "train"):
        for px in args.train_px:
            for family in args.families:
                specs.append(dict(kind="train", family=family, px=px, batch=16,
                                  warmup=2, steps=args.train_steps,
                                  mixed_precision=args.mixed_precision))
    if args.only in (None, "generate"):
        for px in args.gen_px:
            for family in args.families:
                for batch in args.batches:
                    specs.append(dict(kind="generate", family=family, px=px, batch=batch,
                                      warmup=1, steps=args.gen_calls))
    return specs


def label(spec):
    mixed = ", bfloat16" if spec.get("mixed_precision") else ""
    return f"{spec['kind']} {spec['family']} {spec['px']} px, batch {spec['batch']}{mixed}"


def estimate(spec, base, new):
    """Our speed relative to NVIDIA's, carried over from the issue's machine: the
    new/base ratio measured here times the issue's ours/NVIDIA ratio (valid when
    the first tree is the issue's code, commit 94dadc1)."""
    key = (spec["kind"], spec["family"], spec["px"], spec["batch"])
    return new / base * statistics.median(ISSUE_OURS[key]) / statistics.median(NVIDIA[key])


def _summary(rows):
    """(median img/s or None, peak MiB or None, the img/s cell) of one column's rounds."""
    ok = [r["images_per_s"] for r in rows if "images_per_s" in r]
    errs = [r["error"] for r in rows if "error" in r]
    mem = max((r["peak_rss_mib"] for r in rows if "peak_rss_mib" in r), default=None)
    cell = ", ".join(f"{x:.3g}" for x in ok) or (f"n/a: {errs[0]}" if errs else "")
    return (statistics.median(ok) if ok else None), mem, cell


def report(specs, results, trees, nvidia_results=None):
    """The markdown table; `nvidia_results[i]`: NVIDIA's rounds of spec i (--nvidia)."""
    names = [os.path.basename(os.path.abspath(t)) or t for t in trees]
    head = ["what"] + [f"{n} img/s" for n in names] + [f"{n} peak MiB" for n in names]
    if len(trees) > 1:
        head.append(f"{names[-1]} / {names[0]}")
    if nvidia_results is not None:
        head += ["NVIDIA img/s (measured)", "NVIDIA peak MiB",
                 f"{names[-1]} / NVIDIA (measured)"]
    head += ["NVIDIA img/s (issue)", f"{names[-1]} / NVIDIA (indicative)"]
    if len(trees) > 1:
        head.append("est. vs NVIDIA")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, spec in enumerate(specs):
        rates, mems, cells = [], [], [label(spec)]
        for t in range(len(trees)):
            rate, mem, cell = _summary(results[i][t])
            rates.append(rate)
            mems.append(mem)
            cells.append(cell)
        cells += [f"{m:.0f}" if m else "" for m in mems]
        if len(trees) > 1:
            cells.append(f"{rates[-1] / rates[0]:.2f}x" if rates[0] and rates[-1] else "")
        if nvidia_results is not None:
            nv_rate, nv_mem, nv_cell = _summary(nvidia_results[i])
            cells += [nv_cell, f"{nv_mem:.0f}" if nv_mem else "",
                      f"{rates[-1] / nv_rate:.2f}x" if nv_rate and rates[-1] else ""]
        nv = None if spec.get("mixed_precision") else NVIDIA.get(
            (spec["kind"], spec["family"], spec["px"], spec["batch"]))
        cells.append(", ".join(map(str, nv)) if nv else "not measured")
        cells.append(f"{rates[-1] / statistics.median(nv):.2f}x" if nv and rates[-1] else "")
        if len(trees) > 1:
            cells.append(f"{estimate(spec, rates[0], rates[-1]):.2f}x"
                         if nv and rates[0] and rates[-1] else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trees", nargs="+", default=["."],
                   help="checkouts to compare, each with its own .venv (last: the new one)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--only", choices=("train", "generate"))
    p.add_argument("--families", nargs="+", default=["stylegan1", "stylegan2"])
    p.add_argument("--train-px", nargs="+", type=int, default=[32, 64])
    p.add_argument("--gen-px", nargs="+", type=int, default=[256])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    p.add_argument("--train-steps", type=int, default=3)
    p.add_argument("--mixed-precision", action="store_true",
                   help="train with --mixed-precision (bfloat16 on CPU; StyleGAN1 only)")
    p.add_argument("--gen-calls", type=int, default=3)
    p.add_argument("--timeout", type=int, default=1800)
    p.add_argument("--json", help="also write every measurement here")
    p.add_argument("--nvidia", metavar="DIR",
                   help="also measure NVIDIA's TF1 code: DIR holds clones stylegan/ "
                        "(github.com/NVlabs/stylegan) and stylegan2/ (github.com/NVlabs/stylegan2)")
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        spec = json.loads(args.one)
        print(json.dumps((train_one if spec["kind"] == "train" else generate_one)(spec)))
        return
    specs = plan(args)
    if args.nvidia:
        _check_nvidia(args.nvidia, specs)
    results = [[[] for _ in args.trees] for _ in specs]
    nvidia_results = [[] for _ in specs] if args.nvidia else None
    columns = len(args.trees) + (1 if args.nvidia else 0)  # NVIDIA's: the last column
    load_before = os.getloadavg()
    for i, spec in enumerate(specs):
        for r in range(args.rounds):
            order = range(columns) if r % 2 == 0 else reversed(range(columns))
            for t in order:
                if t == len(args.trees):
                    row = measure_nvidia(args.nvidia, args.trees[-1], spec, args.timeout)
                    nvidia_results[i].append(row)
                    who = f"NVIDIA ({args.nvidia})"
                else:
                    row = measure(args.trees[t], spec, args.timeout)
                    results[i][t].append(row)
                    who = args.trees[t]
                print(f"{label(spec)} | {who} | round {r + 1}: {row}", flush=True)
    print(f"\nLoad average before {load_before}, after {os.getloadavg()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print(report(specs, results, args.trees, nvidia_results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(trees=args.trees, specs=specs, results=results,
                           nvidia=args.nvidia, nvidia_results=nvidia_results), f, indent=1)


def _check_nvidia(nvidia, specs):
    """Exits with nvidia_tf1's one clear message if a clone or file a spec needs is missing."""
    import nvidia_tf1
    try:
        for family in sorted({spec["family"] for spec in specs}):
            nvidia_tf1.nvidia_paths(nvidia, family)
    except nvidia_tf1.NvidiaCodeError as e:
        raise SystemExit(f"bench_targets: {e}")


if __name__ == "__main__":
    main()

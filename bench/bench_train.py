"""Training benchmark: images/s of the real training step, beside the data pipeline's.

Each configuration (config, resolution, replicas, mode, batch) runs in its own
subprocess: logical CPU devices must be split before TensorFlow starts, and
the peak resident memory reported is that configuration's alone. A run is
built by the project's own code path (`training.configs.get`,
`training.loop.prepare(..., gpus=0, cpu_replicas=N)`, `Run.build()`), trains
at full resolution without growing (`progressive=False`) on the built-in
dataset's real `tf.data` stream, and is timed step by step inside one
`gan.fit(stream, epochs=1, steps_per_epoch=1 + warmup + steps)` call:

* first step s: from the `fit` call to the end of the first step (tracing,
  compilation and one step);
* s/step and img/s: over the `--steps` steps after `--warmup` more steps.

Channels: "small" is the `cpu-small` config's networks, "paper" the `paper`
config's full-size ones; `--configs` measures any other training config
(e.g. `stylegan2-small`, `stylegan2`) with its own networks. Modes: "eager"
(`run_eagerly`, for comparison only: the training loop never runs eagerly),
"function" (the default `tf.function` step) and "xla" (`jit_compile=True`);
a configuration that fails is reported as "n/a: reason". The batch is
NVIDIA's StyleGAN minibatch for one GPU (64, 32, 8 at 32, 64, 256 px) for
every config and replica count, unless `--batch`. The default grid (36
configurations) takes about an hour on 2 CPU cores: full-size networks take
15-80 s per step there, 1.5-5 minutes per configuration.

The data pipeline is measured alone, in its own subprocess, for the same
`Run._stream` at each resolution and batch: from the built-in dataset (what
the training rows read) and from a ZIP of PNGs written by
`keras-stylegan dataset`'s `write_zip` into a temporary folder. The training
table shows both rates and their ratio to the training rate; a ratio below 2
is flagged, since the pipeline shares the CPU with the step.

Usage:
  python bench/bench_train.py                       # the default grid (~1 h on 2 cores)
  python bench/bench_train.py --quick               # small channels, 32 px, a few steps
  python bench/bench_train.py --resolutions 64 --channels paper --replicas 1 --modes function
  python bench/bench_train.py --configs stylegan2-small stylegan2   # only these configs
  python bench/bench_train.py --json out.json       # also write JSON

Results and the machine they were taken on go in docs/BENCHMARKS.md.
"""

import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)
import tables  # noqa: E402  (bench/tables.py)
from tables import Column, sig  # noqa: E402

CHANNEL_CONFIGS = {"small": "cpu-small", "paper": "paper"}
MODES = ("eager", "function", "xla")


# --------------------------------------------------------------------------- child: training
def _config(name, resolution, batch, mode, total_steps):
    """The config of one training measurement (full resolution, fixed batch)."""
    from keras_stylegan.training import configs
    return configs.get(
        name, data="builtin", resolution=resolution, progressive=False,
        minibatch_base=batch, minibatch_dict={}, minibatch_by_replicas=None,
        jit_compile=mode == "xla", total_kimg=total_steps * batch / 1000.0)


def _step_timer():
    import keras

    class StepTimer(keras.callbacks.Callback):
        """perf_counter() at the end of every step (logs are read, so the step is done)."""

        def __init__(self):
            super().__init__()
            self.ends = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())
    return StepTimer()


def _enter_segment(run, seg):
    """What `Run._fit_segments` does before each `fit` call."""
    gan = run.gan
    gan.set_resolution(seg.resolution)
    gan.set_learning_rates(seg.G_lrate, seg.D_lrate)
    gan.set_lod(run.schedule.lod(seg.start_nimg))


def _num_params(model):
    import numpy as np
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def train_one(spec):
    """Builds and times one training configuration in this process; returns a dict."""
    from keras_stylegan.training import loop
    warmup, steps = spec["warmup"], spec["steps"]
    cfg = _config(spec["config"], spec["resolution"], spec["batch"], spec["mode"],
                  1 + warmup + steps)
    with tempfile.TemporaryDirectory(prefix="bench-train-") as run_dir:
        run = loop.prepare(cfg, run_dir, gpus=0, cpu_replicas=spec["replicas"],
                           print_fn=lambda *a: None)
        run.build()
        if spec["mode"] == "eager":
            run.gan.run_eagerly = True
        seg = run.segments[0]
        _enter_segment(run, seg)
        timer = _step_timer()
        t0 = time.perf_counter()
        run.gan.fit(run._stream(seg, 0), epochs=1, steps_per_epoch=seg.steps, verbose=0,
                    callbacks=[timer], shuffle=False)
    ends = timer.ends
    step_s = [b - a for a, b in zip(ends[warmup:], ends[warmup + 1:])]
    sec = (ends[-1] - ends[warmup]) / steps
    return dict(first_step_s=ends[0] - t0, sec_per_step=sec, images_per_s=seg.minibatch / sec,
                step_s=step_s, strategy=run.cfg["strategy"], batch=seg.minibatch,
                G_params=_num_params(run.gan.G), D_params=_num_params(run.gan.D))


# --------------------------------------------------------------------------- child: data
def _open_data(source, resolution, batch, tmp):
    """The dataset of a data measurement: the built-in set, or a ZIP written from it."""
    from keras_stylegan.training.data import open_dataset
    if source == "builtin":
        return open_dataset("builtin", resolution=resolution), None
    from keras_stylegan.cli.dataset import write_zip
    path = os.path.join(tmp, f"builtin-{resolution}.zip")
    t0 = time.perf_counter()
    write_zip(open_dataset(f"builtin:{max(1024, 8 * batch)}", resolution=resolution), path)
    return open_dataset(path), time.perf_counter() - t0


def data_one(spec):
    """Times `Run._stream` alone (no training) for one source, resolution and batch."""
    from keras_stylegan.training import loop
    from keras_stylegan.training.configs import schedule_kwargs
    from keras_stylegan.training.schedule import Schedule
    res, batch = spec["resolution"], spec["batch"]
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        ds, write_s = _open_data(spec["source"], res, batch, tmp)
        run = loop.prepare(_config(CHANNEL_CONFIGS["small"], res, batch, "function", 1), tmp,
                           dataset=ds, gpus=0, print_fn=lambda *a: None)
        seg = Schedule(**schedule_kwargs(run.cfg)).segments(batch)[0]
        n = max(20, math.ceil(spec["images"] / batch))
        t0 = time.perf_counter()
        it = iter(run._stream(seg, 0))
        next(it)
        first = time.perf_counter() - t0
        for _ in range(spec["warmup"]):
            next(it)
        t0 = time.perf_counter()
        for _ in range(n):
            images, _ = next(it)
        sec = time.perf_counter() - t0
        assert images.shape[1] == res, images.shape
        ds.close()
    return dict(images_per_s=n * batch / sec, first_batch_s=first, batches=n,
                num_images=ds.num_images, write_s=write_s)


# --------------------------------------------------------------------------- parent
def _error_text(err, status, limit=200):
    """A one-line reason from a child's stderr: its last exception, and for TF's
    "Graph execution error:" the first line of the op error after the traceback."""
    lines = err.rstrip().splitlines()
    found = [i for i, ln in enumerate(lines) if re.match(r"[\w.]+(Error|Exception)\b", ln)]
    if not found:
        tail = [ln.strip() for ln in lines if ln.strip()]
        return (tail[-1] if tail else f"exit status {status}")[:limit]
    i = found[-1]
    name, _, text = lines[i].partition(":")
    text = text.strip()
    if text.endswith(":"):  # the reason follows the traceback of the graph node
        rest = [ln for ln in lines[i + 1:] if ln.strip() and not ln.startswith((" ", "\t"))
                and not ln.startswith("Detected at node")]
        text = rest[0] if rest else text
    text = re.sub(r" \(defined @ [^)]*\)", "", text).replace("/job:localhost/replica:0/task:0/", "")
    return f"{name.rsplit('.', 1)[-1]}: {text}"[:limit]


def measure(kind, spec, timeout):
    """Runs one measurement in a child process; adds its peak RSS (MiB) and wall time."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
    cmd = [sys.executable, os.path.abspath(__file__), "--one", kind, json.dumps(spec)]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        status, usage = _wait(proc, timeout)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    row = dict(spec, wall_s=time.perf_counter() - t0)
    if status is None:
        row["error"] = f"n/a: timed out after {timeout} s"
    elif status != 0:
        row["error"] = "n/a: " + _error_text(stderr, status)
    else:
        row.update(json.loads(stdout.strip().splitlines()[-1]))
    if usage is not None:
        row["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return row


def _wait(proc, timeout):
    """(exit status or None on timeout, rusage) of `proc`, killed after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage
        if time.monotonic() > deadline:
            proc.kill()
            _, _, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return None, usage
        time.sleep(0.2)


# --------------------------------------------------------------------------- the grid
def _describe_config(name):
    """(channels label, full_size, lazy-regularization period) of a training config;
    raises ValueError for an unknown one."""
    from keras_stylegan.training import configs
    cfg, small = configs.get(name), configs.get(CHANNEL_CONFIGS["small"])
    period = math.lcm(int(cfg.get("D_reg_interval", 1)), int(cfg.get("G_reg_interval", 1)))
    if not cfg["G_kwargs"] and not cfg["D_kwargs"]:
        return "paper", True, period
    same = cfg["G_kwargs"] == small["G_kwargs"] and cfg["D_kwargs"] == small["D_kwargs"]
    return ("small" if same else "own"), False, period


def _steps(args, full, period):
    """(warmup, timed steps): the defaults cover whole lazy-regularization periods."""
    warmup = args.warmup if args.warmup is not None else (0 if full else 2)
    if args.steps is not None:
        return warmup, args.steps
    steps = 2 if full else 8
    return warmup, -(-steps // period) * period


def paper_batch(resolution):
    """NVIDIA's 1-GPU StyleGAN minibatch at `resolution` (8 at 256 px)."""
    from keras_stylegan.training.configs import PAPER_MINIBATCH
    base, table = PAPER_MINIBATCH[1]
    return table.get(resolution, base)


def config_names(args):
    channels = args.channels if args.channels is not None else (
        [] if args.configs else list(CHANNEL_CONFIGS))
    names = [CHANNEL_CONFIGS[c] for c in channels] + list(args.configs or [])
    return list(dict.fromkeys(names))


def plan(args):
    """(training specs, rows of unknown configs) of the requested grid."""
    specs, unknown = [], []
    for name in config_names(args):
        try:
            label, full, period = _describe_config(name)
        except ValueError as e:
            unknown.append(dict(config=name, error=f"n/a: {e}"))
            continue
        warmup, steps = _steps(args, full, period)
        for res in args.resolutions:
            for replicas in args.replicas:
                for mode in args.modes:
                    specs.append(dict(config=name, channels=label, resolution=res,
                                      replicas=replicas, mode=mode,
                                      batch=args.batch or paper_batch(res),
                                      warmup=warmup, steps=steps))
    return specs, unknown


def data_specs(specs, args):
    pairs = sorted({(s["resolution"], s["batch"]) for s in specs})
    return [dict(source=src, resolution=res, batch=batch, warmup=3, images=args.data_images)
            for src in args.data_sources for res, batch in pairs]


# --------------------------------------------------------------------------- output
def _rate(source):
    return lambda r: r.get(f"data_{source}")


def _ratio(source):
    def ratio(r):
        data, train = r.get(f"data_{source}"), r.get("images_per_s")
        return None if data is None or not train else data / train
    return ratio


TRAIN_COLUMNS = [
    Column("config", "config"), Column("channels", "channels"),
    Column("px", "resolution", "", True), Column("replicas", "replicas", "", True),
    Column("mode", "mode"), Column("batch", "batch", "", True),
    Column("img/s", "images_per_s", sig, True), Column("s/step", "sec_per_step", sig, True),
    Column("first step s", "first_step_s", sig, True),
    Column("peak RSS MiB", "peak_rss_mib", ".0f", True),
    Column("data img/s builtin", _rate("builtin"), sig, True),
    Column("x train", _ratio("builtin"), sig, True),
    Column("data img/s ZIP", _rate("zip"), sig, True),
    Column("x train", _ratio("zip"), sig, True)]

DATA_COLUMNS = [
    Column("source", "source"), Column("px", "resolution", "", True),
    Column("batch", "batch", "", True), Column("img/s", "images_per_s", sig, True),
    Column("first batch s", "first_batch_s", sig, True),
    Column("batches timed", "batches", "", True), Column("images in set", "num_images", "", True),
    Column("peak RSS MiB", "peak_rss_mib", ".0f", True)]


def attach_data(row, data_rows):
    for d in data_rows:
        if (d["resolution"], d["batch"]) == (row.get("resolution"), row.get("batch")):
            row[f"data_{d['source']}"] = d.get("images_per_s")
    return row


def bottlenecks(rows):
    """Lines naming the rows whose data pipeline is under 2x the training rate."""
    out = []
    for r in rows:
        for src in ("builtin", "zip"):
            ratio = _ratio(src)(r)
            if ratio is not None and ratio < 2:
                out.append(f"WARNING: {r['config']} {r['resolution']} px {r['mode']} "
                           f"x{r['replicas']}: the {src} pipeline is only {ratio:.2g}x "
                           "the training rate")
    return out


def machine():
    from importlib import metadata
    info = dict(platform=platform.platform(), python=platform.python_version(),
                cpus=os.cpu_count())
    for pkg in ("tensorflow", "keras"):
        try:
            info[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(ln.split(":", 1)[1].strip() for ln in f
                               if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info


# --------------------------------------------------------------------------- main
def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--configs", nargs="+", metavar="NAME",
                   help="training configs to measure with their own networks (alone "
                        "unless --channels is also given)")
    p.add_argument("--channels", nargs="*", choices=sorted(CHANNEL_CONFIGS),
                   help="small (cpu-small networks) and/or paper (full size); default both")
    p.add_argument("--resolutions", nargs="+", type=int, default=[32, 64, 256])
    p.add_argument("--replicas", nargs="+", type=int, default=[1, 2],
                   help="logical CPU devices (1: default strategy, N: MirroredStrategy)")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    p.add_argument("--batch", type=int, default=None,
                   help="global batch (default: NVIDIA's, 64/32/8 at 32/64/256 px)")
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps (default: 8 small networks, 2 full size, rounded up "
                        "to whole lazy-regularization periods, e.g. 16 for StyleGAN2)")
    p.add_argument("--warmup", type=int, default=None,
                   help="steps after the first, untimed (default: 2 small, 0 full size)")
    p.add_argument("--data-sources", nargs="*", choices=("builtin", "zip"),
                   default=["builtin", "zip"])
    p.add_argument("--data-images", type=int, default=2048,
                   help="images timed per data pipeline measurement (at least 20 batches)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per configuration")
    p.add_argument("--quick", action="store_true",
                   help="small channels at 32 px, 3 steps, 512 data images")
    p.add_argument("--json", help="also write the results as JSON here")
    p.add_argument("--list", action="store_true", help="print the configurations and exit")
    p.add_argument("--one", nargs=2, metavar=("KIND", "SPEC"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.resolutions, args.data_images = [32], 512
        args.channels = ["small"] if args.channels is None and not args.configs else args.channels
        args.steps = 3 if args.steps is None else args.steps
        args.warmup = 1 if args.warmup is None else args.warmup
    return args


def run_child(kind, spec):
    """Runs one measurement and exits at once: a process whose mirrored XLA step
    failed can hang in interpreter shutdown (TF 2.21), so no clean-up at exit."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        result = (train_one if kind == "train" else data_one)(json.loads(spec))
        print(json.dumps(result), flush=True)
        code = 0
    except BaseException:  # noqa: B036 - reported on stderr, the parent reads it
        traceback.print_exc()
        code = 1
    sys.stderr.flush()
    os._exit(code)


def main(argv=None):
    args = parse_args(argv)
    if args.one:
        return run_child(*args.one)
    load_before = os.getloadavg()
    specs, unknown = plan(args)
    if args.list:
        for row in specs + unknown:
            print(json.dumps(row))
        return None
    data_rows = []
    for spec in data_specs(specs, args):
        data_rows.append(measure("data", spec, args.timeout))
        print(tables.line(DATA_COLUMNS, data_rows[-1]), flush=True)
    rows = []
    for spec in specs:
        rows.append(attach_data(measure("train", spec, args.timeout), data_rows))
        print(tables.line(TRAIN_COLUMNS, rows[-1]), flush=True)
    rows += unknown
    load_after = os.getloadavg()
    print(f"\nMachine: {json.dumps(machine())}")
    print(f"Load average (1/5/15 min) before: {load_before}, after: {load_after}\n")
    print(tables.markdown(TRAIN_COLUMNS, rows) + "\n")
    print(tables.markdown(DATA_COLUMNS, data_rows))
    for line in bottlenecks(rows):
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=machine(), command=sys.argv, load_before=load_before,
                           load_after=load_after, rows=rows, data=data_rows), f, indent=1)


if __name__ == "__main__":
    main()

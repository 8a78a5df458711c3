"""Export benchmark: SavedModel and TFLite (float32 / float16 / dynamic range).

For each preset (random weights) and batch size: median and p90 latency of
one call, images/s, model size, export / conversion time, and the PSNR of
each TFLite variant against the SavedModel (same inputs, stored noise).
SavedModel rows time the `generate_const` (stored noise) and `generate`
(noise from per-sample seeds, computed in the graph) signatures; TFLite rows
time `Interpreter` calls on the model's fixed batch.

Usage:
  python bench/bench_export.py                                   # tiny presets, batch 1 and 8
  python bench/bench_export.py --presets stylegan2-ffhq-1024 --batches 1 --iters 5
  python bench/bench_export.py --json out.json                   # also write JSON

Results and the machine they were taken on go in docs/BENCHMARKS.md.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tables  # noqa: E402  (bench/tables.py)
from tables import Column  # noqa: E402

DEFAULT_PRESETS = ("stylegan-tiny-32", "stylegan2-tiny-32")
QUANTIZE = (None, "float16", "dynamic")


def dir_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def timed(fn, iters, warmup):
    """(median s, p90 s, first-call s) of `fn()`."""
    import numpy as np
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), float(np.percentile(times, 90)), first


def bench_preset(name, batches, iters, warmup, threads, tmp):
    import numpy as np
    import tensorflow as tf

    from keras_stylegan.export.savedmodel import export_savedmodel
    from keras_stylegan.export.tflite import TFLiteGenerator, convert
    from keras_stylegan import presets

    G = presets.generator(name)
    rows = []
    t0 = time.perf_counter()
    path = export_savedmodel(G, tmp, name=name.replace(":", "_"))
    export_s = time.perf_counter() - t0
    size = dir_size(path)
    loaded = tf.saved_model.load(path)
    rng = np.random.RandomState(0)
    reference = {}
    for batch in batches:
        z = tf.constant(rng.randn(batch, G.z_dim).astype(np.float32))
        psi = tf.constant(np.full(batch, 0.7, np.float32))
        seed = tf.constant(np.arange(batch, dtype=np.int64))
        feeds = {"generate_const": dict(z=z, truncation_psi=psi),
                 "generate": dict(z=z, truncation_psi=psi, seed=seed)}
        if G.label_size:
            labels = tf.constant(np.eye(G.label_size, dtype=np.float32)[
                np.arange(batch) % G.label_size])
            for f in feeds.values():
                f["labels"] = labels
        for sig, feed in feeds.items():
            fn = loaded.signatures[sig]
            med, p90, first = timed(lambda: fn(**feed)["images"].numpy(), iters, warmup)
            rows.append(dict(preset=name, format=f"SavedModel {sig}", batch=batch,
                             median_ms=med * 1e3, p90_ms=p90 * 1e3, images_per_s=batch / med,
                             first_call_s=first, size_mb=size / 2 ** 20,
                             build_s=export_s, psnr_db=None))
        reference[batch] = (feeds["generate_const"],
                            loaded.signatures["generate_const"](**feeds["generate_const"])
                            ["images_float"].numpy())
    for quant in QUANTIZE:
        for batch in batches:
            t0 = time.perf_counter()
            model = convert(G, batch=batch, quantize=quant)
            convert_s = time.perf_counter() - t0
            gen = TFLiteGenerator(model_content=model, num_threads=threads)
            feed, ref = reference[batch]
            z = feed["z"].numpy()
            psi = feed["truncation_psi"].numpy()
            labels = feed["labels"].numpy() if "labels" in feed else None
            med, p90, first = timed(lambda: gen(z, psi, labels), iters, warmup)
            floats, _ = gen(z, psi, labels)
            mse = float(np.mean((floats.astype(np.float64) - ref) ** 2))
            rows.append(dict(preset=name, format=f"TFLite {quant or 'float32'}", batch=batch,
                             median_ms=med * 1e3, p90_ms=p90 * 1e3, images_per_s=batch / med,
                             first_call_s=first, size_mb=len(model) / 2 ** 20,
                             build_s=convert_s,
                             psnr_db=(float("inf") if mse == 0 else 10 * np.log10(4 / mse))))
    return rows


COLUMNS = [
    Column("preset", "preset"), Column("format", "format"), Column("batch", "batch", "", True),
    Column("median ms", "median_ms", ".2f", True), Column("p90 ms", "p90_ms", ".2f", True),
    Column("images/s", "images_per_s", ".1f", True), Column("size MB", "size_mb", ".2f", True),
    Column("export s", "build_s", ".1f", True),
    Column("PSNR vs SavedModel dB", "psnr_db", ".1f", True)]


def table(rows):
    return tables.markdown(COLUMNS, rows)


def machine():
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"{'GPU: ' + str(len(gpus)) if gpus else 'no GPU'}, Python "
            f"{platform.python_version()}, TF {tf.__version__}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--presets", nargs="+", default=list(DEFAULT_PRESETS))
    p.add_argument("--batches", default="1,8", help="comma-separated (default 1,8)")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=None,
                   help="TFLite interpreter threads (default: LiteRT's)")
    p.add_argument("--json", default=None, help="also write the rows as JSON")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    batches = [int(b) for b in args.batches.split(",")]
    tmp = tempfile.mkdtemp(prefix="bench-export-")
    rows = []
    try:
        for name in args.presets:
            rows += bench_preset(name, batches, args.iters, args.warmup, args.threads, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"Machine: {machine()}\n")
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=machine(), rows=rows), f, indent=1)


if __name__ == "__main__":
    main()

"""Why XLA is slower on CPU: the step's op kinds timed with and without `jit_compile`.

The training step with `jit_compile=True` is several times slower than the
plain `tf.function` step on CPU (docs/BENCHMARKS.md). The plain graph runs
TensorFlow's oneDNN kernels; an XLA cluster runs XLA:CPU's own kernels. This
times each kind of op the StyleGAN step is made of (forward and gradients),
alone, at the step's shapes, in both forms, so the table shows which kernels
XLA:CPU runs slower.

Usage:
  python bench/bench_xla_ops.py                   # 32 px step shapes, batch 16
  python bench/bench_xla_ops.py --batch 8 --px 64 --channels 256
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def cases(n, px, c):
    """{name: (fn, args)} of the step's op kinds at NHWC [n, px, px, c]."""
    import tensorflow as tf
    x = tf.random.normal([n, px, px, c])
    half = tf.random.normal([n, px // 2, px // 2, c])
    w3 = tf.random.normal([3, 3, c, c])
    w4 = tf.random.normal([4, 4, c, c])
    blur = tf.random.normal([3, 3, c, 1])
    wg = tf.random.normal([3, 3, c, n * c])  # grouped conv: one weight per sample

    def grads(f, *args):
        def g(*a):
            with tf.GradientTape() as tape:
                tape.watch(a)
                loss = tf.reduce_sum(tf.square(f(*a)))
            return tape.gradient(loss, a)
        return g, args

    conv = lambda x, w: tf.nn.conv2d(x, w, 1, "SAME")  # noqa: E731
    up = lambda h, w: tf.nn.conv2d_transpose(  # noqa: E731
        h, w, [n, px, px, c], 2, "SAME")
    down = lambda x, w: tf.nn.conv2d(x, w, 2, "SAME")  # noqa: E731
    dw = lambda x, k: tf.nn.depthwise_conv2d(x, k, [1, 1, 1, 1], "SAME")  # noqa: E731

    def grouped(x, w):
        xs = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, px, px, n * c])
        return tf.nn.conv2d(xs, w, 1, "SAME")  # n groups of c channels
    return {
        "conv 3x3": (conv, (x, w3)),
        "conv 3x3, gradients": grads(conv, x, w3),
        "up: transposed conv 4x4 stride 2": (up, (half, w4)),
        "up, gradients": grads(up, half, w4),
        "down: conv 4x4 stride 2": (down, (x, w4)),
        "down, gradients": grads(down, x, w4),
        "blur: depthwise 3x3": (dw, (x, blur)),
        "blur, gradients": grads(dw, x, blur),
        "grouped conv (fused modconv)": (grouped, (x, wg)),
        "lrelu + bias + instance norm": (
            lambda x: tf.nn.leaky_relu(x + 1.0, 0.2) * tf.math.rsqrt(
                tf.reduce_mean(tf.square(x), axis=[1, 2], keepdims=True) + 1e-8), (x,)),
    }


def timed(fn, args, iters):
    out = fn(*args)
    _ = [t.numpy() for t in (out if isinstance(out, (list, tuple)) else [out])]
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        out = fn(*args)
        _ = [t.numpy() for t in (out if isinstance(out, (list, tuple)) else [out])]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--px", type=int, default=32)
    p.add_argument("--channels", type=int, default=128)
    p.add_argument("--iters", type=int, default=5)
    args = p.parse_args()
    import tensorflow as tf
    print(f"| op kind (NHWC {args.batch}x{args.px}x{args.px}x{args.channels}) | "
          "tf.function ms | jit_compile ms | XLA / plain |\n|---|---|---|---|")
    for name, (fn, fargs) in cases(args.batch, args.px, args.channels).items():
        plain = timed(tf.function(fn), fargs, args.iters)
        xla = timed(tf.function(fn, jit_compile=True), fargs, args.iters)
        print(f"| {name} | {plain * 1e3:.1f} | {xla * 1e3:.1f} | {xla / plain:.2f}x |", flush=True)


if __name__ == "__main__":
    main()

"""How close to the CPU's peak do the networks' convolutions run? GFLOP/s per conv kind.

Times, with plain `tf.function` (oneDNN), the convolution kinds of the
StyleGAN networks at their real shapes: 3x3 convs forward and both gradients
(the training step's 32 px shapes, minibatch 16), StyleGAN1's stride-2
resampling convs (4x4 down conv and its gradients, 4x4 transposed up conv)
and the 256 px generator's up convs at batch 8, beside the same work as an
ordinary 3x3 conv. If every kind runs near one figure, the convolutions are
at the machine's throughput and what is left to gain is in the other ops or
in the number of multiplies (docs/BENCHMARKS.md, "Side by side with NVIDIA's
code").

Usage:
  python bench/bench_conv_peak.py            # median of --iters calls per row
"""

import argparse

import tensorflow as tf
from bench_xla_ops import timed  # bench/ is on sys.path when run as a script


def conv_rows(n, h, c, d):
    """3x3 stride-1 and 4x4 stride-2 convs at [n, h, h, c] -> d: forward and gradients."""
    x, w3, w4 = tf.random.normal([n, h, h, c]), tf.random.normal([3, 3, c, d]), \
        tf.random.normal([4, 4, c, d])
    dy, dy2 = tf.random.normal([n, h, h, d]), tf.random.normal([n, h // 2, h // 2, d])
    raw = tf.raw_ops
    f3 = n * h * h * 9 * c * d * 2 / 1e9
    f4 = n * (h // 2) ** 2 * 16 * c * d * 2 / 1e9
    s1, s2 = [1, 1, 1, 1], [1, 2, 2, 1]
    yield f"3x3 conv {n}x{h}x{h}x{c}->{d}", f3, lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"), (x, w3)
    yield "  gradient wrt input", f3, lambda dy, w: raw.Conv2DBackpropInput(
        input_sizes=[n, h, h, c], filter=w, out_backprop=dy, strides=s1, padding="SAME"), (dy, w3)
    yield "  gradient wrt filter", f3, lambda x, dy: raw.Conv2DBackpropFilter(
        input=x, filter_sizes=[3, 3, c, d], out_backprop=dy, strides=s1, padding="SAME"), (x, dy)
    yield "4x4 stride-2 down conv", f4, lambda x, w: tf.nn.conv2d(x, w, 2, "SAME"), (x, w4)
    yield "  gradient wrt input", f4, lambda dy, w: raw.Conv2DBackpropInput(
        input_sizes=[n, h, h, c], filter=w, out_backprop=dy, strides=s2, padding="SAME"), (dy2, w4)
    yield "  gradient wrt filter", f4, lambda x, dy: raw.Conv2DBackpropFilter(
        input=x, filter_sizes=[4, 4, c, d], out_backprop=dy, strides=s2, padding="SAME"), (x, dy2)


def up_rows(n, h, c, d):
    """The generator's 4x4 stride-2 transposed up conv [n, h, h, c] -> [n, 2h, 2h, d]."""
    x, w = tf.random.normal([n, h, h, c]), tf.random.normal([4, 4, d, c])
    flops = n * h * h * 16 * c * d * 2 / 1e9
    yield (f"4x4 transposed up conv {n}x{h}x{h}x{c}->{d}", flops,
           lambda x, w: tf.nn.conv2d_transpose(x, w, [n, 2 * h, 2 * h, d], 2, "SAME"), (x, w))
    x2, w3 = tf.random.normal([n, 2 * h, 2 * h, d]), tf.random.normal([3, 3, d, d])
    yield (f"  3x3 conv at the output, {d}->{d}", n * 4 * h * h * 9 * d * d * 2 / 1e9,
           lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"), (x2, w3))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iters", type=int, default=7)
    args = p.parse_args()
    rows = [r for shape in ((16, 32, 128, 128), (16, 16, 256, 256), (16, 8, 256, 256))
            for r in conv_rows(*shape)]
    rows += [r for shape in ((8, 128, 128, 64), (8, 64, 256, 128), (8, 32, 512, 256))
             for r in up_rows(*shape)]
    print("| conv | GFLOP | ms | GFLOP/s |\n|---|---|---|---|")
    for name, gflop, fn, fn_args in rows:
        ms = timed(tf.function(fn), fn_args, args.iters) * 1e3
        print(f"| {name} | {gflop:.2f} | {ms:.1f} | {gflop / ms * 1e3:.0f} |", flush=True)


if __name__ == "__main__":
    main()

"""ADA on small data: Fréchet distance over kimg, p and r_t of `cpu-demo` runs.

Evaluates every `network-snapshot-*.keras` of the given run directories with
`demo_shapes.Judge` (a shape classifier's 64 features as the feature space):
the Fréchet distance to the first `--train-images` (1000) images of the
training set (built-in seed 0: for `builtin:1000` the whole set) and to
1000 held-out images of the same distribution (seed 2), plus the
TensorBoard values of `Progress/augment` (p) and `Loss/signs/real` (r_t) at
the snapshot. Copying: "nearer training" is the fraction of the 1000 generated
images whose nearest real image (L2 in pixels) among the N training images and
N held-out images is a training image: 0.5 for a generator that does not copy
its training set (its images are as close to unseen images as to seen ones),
1.0 for one that reproduces it. Prints the floors (the two FDs of 1000 other
real images, seed 3, which a perfect generator would score) and one markdown
table per run.

Usage (the runs of docs/RESULTS.md, ADA section):

    .venv/bin/python bench/ada_small_data.py runs/ada-bench/b1000-noaug runs/ada-bench/b1000-ada ...
    .venv/bin/python bench/ada_small_data.py runs/ada-long/b100-noaug runs/ada-long/b100-ada \
        runs/ada-long/b100-fixed04 --train-images 100 --d-outputs
"""

import argparse
import glob
import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from demo_shapes import Judge  # noqa: E402  (bench/demo_shapes.py)
from tables import Column, markdown  # noqa: E402  (bench/tables.py)
import numpy as np  # noqa: E402
from keras_stylegan import metrics  # noqa: E402
from keras_stylegan.loading import load_generator  # noqa: E402

HELD_OUT_SEED = 2
FLOOR_SEED = 3  # real images that are neither training nor held-out ones


def scalars(run_dir, tag):
    """{nimg: value} of a TensorBoard scalar of the run (empty if never logged)."""
    import tensorflow as tf
    from tensorboard.backend.event_processing import event_accumulator
    acc = event_accumulator.EventAccumulator(os.path.join(run_dir, "logs"), size_guidance={
        event_accumulator.TENSORS: 0})
    acc.Reload()
    if tag not in acc.Tags()["tensors"]:
        return {}
    return {e.step: float(tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)}


def at(series, nimg):
    """The last value logged at or before `nimg` (None if none)."""
    steps = [s for s in series if s <= nimg]
    return series[max(steps)] if steps else None


def frechet(features, real_features):
    return metrics.frechet_distance(*metrics.feature_statistics(features),
                                    *metrics.feature_statistics(real_features))


def nearer_training(fakes, train, held_out):
    """The fraction of `fakes` whose nearest image (L2 in pixels) among `train` and
    `held_out` (as many) is in `train`: 0.5 without copying, 1 when G copies."""
    def nearest(a, b):  # [len(a)] squared distance of each a to its nearest b
        a = a.reshape(len(a), -1).astype(np.float64)
        b = b.reshape(len(b), -1).astype(np.float64)
        d = (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None]
        return d.min(axis=1)
    assert len(train) == len(held_out)
    return float(np.mean(nearest(fakes, train) < nearest(fakes, held_out)))


def evaluate(run_dir, judge, reals):
    p, r_t = scalars(run_dir, "Progress/augment"), scalars(run_dir, "Loss/signs/real")
    rows = []
    for path in sorted(glob.glob(os.path.join(run_dir, "network-snapshot-*.keras"))):
        kimg = int(re.search(r"(\d+)\.keras$", path).group(1))
        images = judge.fake_images(load_generator(path))
        features = judge.judge(images)[0]
        rows.append(dict(kimg=kimg, fd_train=frechet(features, reals["train_features"]),
                         fd_held=frechet(features, reals["held_out_features"]),
                         nearer=nearer_training(images, reals["train"], reals["held_out_nn"]),
                         p=at(p, kimg * 1000), r_t=at(r_t, kimg * 1000)))
    return rows


def d_outputs(run_dir, judge, reals):
    """D of each checkpoint the run kept on the training images, as many held-out
    images and 1000 images of its Gs: the mean of D(x) and of sign(D(x)) (on the
    training images: r_t without augmentation). A D that overfits scores the
    training images above the held-out ones (ADA paper, Figure 1b)."""
    from keras_stylegan.training import builtin, pretrained
    fake_labels = np.eye(len(builtin.SHAPES), dtype=np.float32)[np.arange(1000) % 5]
    n = len(reals["train"])
    rows = []
    for index in sorted(glob.glob(os.path.join(run_dir, "checkpoints", "ckpt-*.index")),
                        key=lambda path: int(re.search(r"ckpt-(\d+)", path).group(1))):
        net = pretrained.load(index[:-len(".index")])
        conditional = bool(net.D.label_size)

        def shape_labels(seed):
            shapes = builtin.BuiltinShapes(seed=seed, fixed=CENTRED)
            return shapes.labels(np.arange(n), "shape") if conditional else None

        row = dict(kimg=int(re.search(r"ckpt-(\d+)", index).group(1)) / 1000)
        for key, images, labels in (
                ("train", reals["train"], shape_labels(0)),
                ("held", reals["held_out_nn"], shape_labels(HELD_OUT_SEED)),
                ("fake", judge.fake_images(net.Gs), fake_labels if conditional else None)):
            out = np.ravel(np.asarray(net.D(images.astype(np.float32) / 127.5 - 1,
                                            labels=labels)))
            row.update({f"mean_{key}": float(out.mean()),
                        f"sign_{key}": float(np.sign(out).mean())})
        rows.append(row)
    return rows


D_COLUMNS = [Column("checkpoint kimg", "kimg", ".0f", True)] + [
    Column(f"{stat} {name}", f"{key}_{part}", ".3f", True)
    for key, stat in (("mean", "D(x)"), ("sign", "sign D(x)"))
    for part, name in (("train", "training"), ("held", "held-out"), ("fake", "Gs"))]
CENTRED = {"x": 0.5, "y": 0.5}  # cpu-demo's builtin_fixed


COLUMNS = [Column("kimg", "kimg", "d", True),
           Column("FD to training images", "fd_train", ".2f", True),
           Column("FD to held-out images", "fd_held", ".2f", True),
           Column("nearer training", "nearer", ".3f", True),
           Column("p", "p", ".3f", True), Column("r_t", "r_t", ".3f", True)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="training run directories")
    parser.add_argument("--resolution", type=int, default=16)
    parser.add_argument("--train-images", type=int, default=1000,
                        help="the training images to compare with: the first N of the set")
    parser.add_argument("--d-outputs", action="store_true",
                        help="also D of each run's newest checkpoint on training, held-out "
                        "and generated images")
    args = parser.parse_args(argv)
    judge = Judge(args.resolution)
    print(f"Judge: held-out real accuracy {judge.real_accuracy:.3f}")
    judge.num_images = args.train_images
    reals = dict(train=judge.real_images(seed=0))
    judge.num_images = 1000  # fakes and held-out reals
    held_out = judge.real_images(seed=HELD_OUT_SEED)
    reals.update(train_features=judge.judge(reals["train"])[0],
                 held_out_features=judge.judge(held_out)[0],
                 held_out_nn=held_out[:args.train_images])
    other = judge.real_images(seed=FLOOR_SEED)
    other_features = judge.judge(other)[0]
    print(f"Floors (1000 real images of seed {FLOOR_SEED}): FD to training images "
          f"{frechet(other_features, reals['train_features']):.2f}, to held-out images "
          f"{frechet(other_features, reals['held_out_features']):.2f}; nearer training "
          f"{nearer_training(other, reals['train'], reals['held_out_nn']):.3f}")
    for run_dir in args.runs:
        print(f"\n{run_dir}\n")
        print(markdown(COLUMNS, evaluate(run_dir, judge, reals)))
        if args.d_outputs:
            print("\nD of the checkpoints (means of D(x) and of sign(D(x))):\n")
            print(markdown(D_COLUMNS, d_outputs(run_dir, judge, reals)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

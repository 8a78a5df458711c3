"""Writes the compatibility test data: files produced by keras-stylegan itself.

The files in this folder were written by the code at commit b32122a (the last
commit before the #17 restructure); `tests/test_compat.py` checks that the
current code still loads them and reproduces the outputs the old code gave.
Regenerating them with newer code defeats their purpose: run this script only
on the commit named above, in a checkout of it, with the same tiny settings:

    git checkout b32122a
    python tests/data/compat/make_files.py tests/data/compat

What it writes (all from tiny networks, a few hundred KB in all):
  sg1_G.keras, sg2_cond_G.keras     Generators saved with `Model.save`
  run_sg1/, run_sg2/                training runs (`keras-stylegan train`, a
                                    couple of steps): config.json, checkpoints/,
                                    the Gs snapshot
  ref.npz                           the old code's outputs for fixed inputs
"""

import os
import shutil
import subprocess
import sys

import numpy as np

SEED_Z = 123


def _inputs(G):
    rs = np.random.RandomState(SEED_Z)
    z = rs.randn(4, G.z_dim).astype(np.float32)
    labels = np.eye(max(G.label_size, 1), dtype=np.float32)[np.arange(4) % max(G.label_size, 1)]
    return z, labels[:, :G.label_size]


def _gen(G):
    z, labels = _inputs(G)
    kw = {"labels": labels} if G.label_size else {}
    return np.asarray(G(z, noise_mode="const", **kw))


def save_generators(out, ref):
    import keras

    from keras_stylegan.networks.generator import Generator
    kw = dict(latent_size=16, dlatent_size=16,
              mapping_kwargs=dict(mapping_fmaps=16, mapping_layers=2),
              synthesis_kwargs=dict(fmap_base=64, fmap_max=16))
    for name, family, label_size in (("sg1_G", "stylegan1", 0), ("sg2_cond_G", "stylegan2", 3)):
        keras.utils.set_random_seed(7)
        G = Generator(resolution=16, family=family, label_size=label_size, **kw)
        ref[name] = _gen(G)
        G.save(os.path.join(out, name + ".keras"))


def train_runs(out, ref):
    from training import loop
    exe = os.path.join(os.path.dirname(sys.executable), "keras-stylegan")
    for name, config in (("run_sg1", "tiny"), ("run_sg2", "stylegan2-tiny")):
        run = os.path.join(out, name)
        shutil.rmtree(run, ignore_errors=True)
        subprocess.run([exe, "train", "--data", "builtin:64", "--config", config,
                        "--resolution", "16", "--outdir", run, "--kimg", "0.016",
                        "--set", "snap_kimg=0.016"], check=True)
        for extra in ("logs", "log.txt"):
            p = os.path.join(run, extra)
            shutil.rmtree(p) if os.path.isdir(p) else os.path.exists(p) and os.remove(p)
        for f in os.listdir(run):
            if f.endswith(".png"):
                os.remove(os.path.join(run, f))
        ref.update(run_outputs(run, name, loop))


def run_outputs(run, name, loop):
    """Outputs of the restored G, Gs and D of a run; `loop` is the training
    loop module of the code under test (`training.loop` at b32122a)."""
    import json

    with open(os.path.join(run, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    r = loop.prepare(cfg, run, print_fn=lambda *a: None)
    r.build()
    r.restore(resume=True)
    gan = r.gan
    z, labels = _inputs(gan.Gs)
    images = np.random.RandomState(5).uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32)
    d_kw = {"labels": labels} if gan.Gs.label_size else {}
    return {f"{name}_Gs": _gen(gan.Gs), f"{name}_G": _gen(gan.G),
            f"{name}_D": np.asarray(gan.D(images, **d_kw)),
            f"{name}_nimg": np.asarray(int(gan.cur_nimg.numpy()))}


if __name__ == "__main__":
    out = sys.argv[1]
    ref = {}
    save_generators(out, ref)
    train_runs(out, ref)
    np.savez(os.path.join(out, "ref.npz"), **ref)
    print("wrote", sorted(ref))

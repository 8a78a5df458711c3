"""One worker of a two-process MultiWorkerMirroredStrategy run (TF_CONFIG in the
environment): trains a tiny run and saves its final weights.

    TF_CONFIG=... python tests/helpers/mw_worker.py OUTDIR WEIGHTS.npz [stylegan1|stylegan2]
        [METRICS FEATURE_WEIGHTS_DIR]

With METRICS (`train --metrics` names), the run computes them at each snapshot.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from keras_stylegan.training import configs, loop  # noqa: E402
from keras_stylegan.training.data import open_dataset  # noqa: E402


def main(outdir, weights_path, family="stylegan1", metrics=None, feature_weights=None):
    common = dict(total_kimg=0.064, snap_kimg=0.032, tick_kimg=0.032)
    if metrics:
        common["metrics"] = metrics.split(",")
    if family == "stylegan2":  # lazy R1 and path length at steps 0 and 4 of 8
        cfg = configs.get("stylegan2-tiny", D_reg_interval=4, **common)
    else:
        cfg = configs.get("tiny", lod_training_kimg=0.032, lod_transition_kimg=0.032, **common)
    run = loop.prepare(cfg, outdir, dataset=open_dataset("builtin:64", resolution=16),
                       metric_options=dict(feature_weights=feature_weights, ppl_crop=False))
    os.makedirs(outdir, exist_ok=True)
    run.build()
    run.restore("auto")
    run.write_config()
    result = run.fit()
    gan = run.gan
    arrays = {v.path: np.asarray(v.numpy()) for m in (gan.G, gan.D, gan.Gs) for v in m.weights}
    arrays["cur_nimg"] = np.asarray(gan.cur_nimg.numpy())
    arrays["strategy"] = np.asarray(run.cfg["strategy"])
    arrays["is_chief"] = np.asarray(run.is_chief)
    arrays["end_nimg"] = np.asarray(result["end_nimg"])
    np.savez(weights_path, **arrays)


if __name__ == "__main__":
    main(*sys.argv[1:])

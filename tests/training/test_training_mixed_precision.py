"""Mixed precision (mixed_bfloat16 on CPU): loss-scaled optimizers for G and D,
float32 outputs, float32 variables and a float32 Gs snapshot."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_stylegan.training import configs, loop
from keras_stylegan.training.data import open_dataset

# Minutes on 2 CPU cores: `make test` runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow


def test_mixed_bfloat16_run(tmp_path):
    cfg = configs.get("tiny", mixed_precision=True, progressive=False, total_kimg=0.024,
                      snap_kimg=1, log_steps=1, tick_kimg=1)
    ds = open_dataset("builtin:32", resolution=8)
    run = loop.prepare(cfg, str(tmp_path / "run"), dataset=ds, print_fn=lambda *a: None)
    os.makedirs(run.run_dir)
    try:
        run.build()
        assert run.policy == "mixed_bfloat16"
        gan = run.gan
        for opt in (gan.G_opt, gan.D_opt):
            assert isinstance(opt, keras.optimizers.LossScaleOptimizer)
        conv = gan.G.synthesis.blocks[-1].conv1.conv
        assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"
        assert gan.G.synthesis.blocks[-1].torgb.compute_dtype == "float32"
        assert gan.D.epilogue.out.compute_dtype == "float32"
        assert all(layer.compute_dtype == "float32" for layer in gan.Gs._flatten_layers())
        z = np.random.RandomState(0).randn(4, gan.G.z_dim).astype(np.float32)
        assert gan.G(z, noise_mode="const").dtype == "float32"
        assert gan.D(np.zeros((4, 8, 8, 3), np.float32)).dtype == "float32"
        g_before = [v.numpy().copy() for v in gan.G.trainable_variables]
        result = run.fit()
    finally:
        keras.config.set_dtype_policy("float32")
    assert result["end_nimg"] == 24
    changed = [not np.array_equal(a, v.numpy()) for a, v in zip(g_before, gan.G.trainable_variables)]
    assert sum(changed) > len(changed) // 2  # the steps were applied, not skipped
    assert np.isfinite(gan.G.w_avg.numpy()).all()

    # The loss scales were logged; G and D each have their own.
    tags = {}
    logdir = os.path.join(run.run_dir, "logs")
    for name in os.listdir(logdir):
        for record in tf.data.TFRecordDataset(os.path.join(logdir, name)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    tags.setdefault(value.tag, []).append(float(tf.make_ndarray(value.tensor)))
    assert tags["LossScale/G"] and tags["LossScale/D"]
    assert all(s == 32768.0 for s in tags["LossScale/G"])  # initial scale, no overflow
    assert all(np.isfinite(tags["Loss/D"]))

    G = keras.saving.load_model(os.path.join(run.run_dir, "network-snapshot-000000.keras"))
    assert G.dtype_policy.name == "float32"
    assert all(layer.compute_dtype == "float32" for layer in G._flatten_layers())

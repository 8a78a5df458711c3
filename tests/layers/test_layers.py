"""Each StyleGAN1 layer and op against a NumPy/SciPy reference or a second code path."""

import numpy as np
import pytest
import scipy.signal

from keras_stylegan.layers import common, sg1
from keras_stylegan.ops import basic as sgops
from keras_stylegan.ops import fir

rng = np.random.RandomState(1234)


def randn(*shape):
    return rng.randn(*shape).astype(np.float32)


def np_conv_same(x, w):
    """NHWC x, HWIO w, stride 1, zero 'SAME' padding (odd kernels)."""
    kh, kw = w.shape[:2]
    xp = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    h, wd = x.shape[1:3]
    out = np.zeros(x.shape[:3] + (w.shape[3],), np.float64)
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nhwc,co->nhwo", xp[:, i:i + h, j:j + wd], w[i, j])
    return out


def np_lrelu(x):
    return np.where(x > 0, x, 0.2 * x)


def test_equalized_dense_matches_numpy():
    layer = common.EqualizedDense(5, gain=np.sqrt(2), lrmul=0.01, activation="lrelu")
    x = randn(3, 7)
    out = layer(x)
    w, b = layer.kernel.numpy(), layer.bias.numpy()
    ref = np_lrelu(x @ (w * np.sqrt(2) * 0.01 / np.sqrt(7)) + b * 0.01)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    # The stored weight is NVIDIA's: N(0, 1/lrmul) at init, scale applied at run time.
    assert abs(np.std(layer.kernel.numpy()) - 100) < 40


def test_equalized_dense_stylegan2_gain_after_activation():
    layer = common.EqualizedDense(4, gain=1.0, activation="lrelu", act_gain=np.sqrt(2))
    layer.build((None, 6))
    layer.bias.assign(randn(4))
    x = randn(2, 6)
    ref = np_lrelu(x @ (layer.kernel.numpy() / np.sqrt(6)) + layer.bias.numpy()) * np.sqrt(2)
    np.testing.assert_allclose(layer(x), ref, atol=1e-5)


def test_equalized_conv_matches_numpy():
    layer = sg1.EqualizedConv2D(4, 3, activation="lrelu")
    x = randn(2, 6, 6, 3)
    layer.build(x.shape)
    layer.bias.assign(randn(4))
    w = layer.kernel.numpy() * np.sqrt(2) / np.sqrt(27)
    np.testing.assert_allclose(layer(x), np_lrelu(np_conv_same(x, w) + layer.bias.numpy()),
                               atol=1e-5)


def test_nearest_up_conv_matches_numpy():
    layer = sg1.EqualizedConv2D(4, 3, up=True, use_bias=False)
    x = randn(2, 4, 4, 3)
    out = layer(x)
    w = layer.kernel.numpy() * np.sqrt(2) / np.sqrt(27)
    up = np.repeat(np.repeat(x, 2, 1), 2, 2)
    np.testing.assert_allclose(out, np_conv_same(up, w), atol=1e-5)


def test_down_conv_matches_numpy():
    layer = sg1.EqualizedConv2D(4, 3, down=True, use_bias=False)
    x = randn(2, 8, 8, 3)
    out = layer(x)
    conv = np_conv_same(x, layer.kernel.numpy() * np.sqrt(2) / np.sqrt(27))
    ref = conv.reshape(2, 4, 2, 4, 2, 4).mean(axis=(2, 4))
    np.testing.assert_allclose(out, ref, atol=1e-5)


@pytest.mark.parametrize("up", [True, False])
def test_fused_resampling_equals_separate_resampling(up):
    """NVIDIA's fused strided conv is exactly conv + 2x2 average; its fused
    transposed conv is nearest upscale + conv with the kernel flipped
    spatially (a transposed conv applies the adjoint). Parity with the sg1_r128
    fixture pins which of the two NVIDIA's models use."""
    kw = dict(up=up, down=not up, use_bias=False, name="c")
    plain, fused = sg1.EqualizedConv2D(5, 3, **kw), sg1.EqualizedConv2D(5, 3, fused_scale=True, **kw)
    x = randn(2, 8, 8, 3)
    plain.build(x.shape)
    fused.build(x.shape)
    fused.kernel.assign(plain.kernel.numpy()[::-1, ::-1] if up else plain.kernel.numpy())
    np.testing.assert_allclose(fused(x), plain(x), atol=1e-5)


def test_blur_matches_scipy():
    x = randn(2, 7, 6, 3)
    out = sg1.Blur([1, 2, 1])(x).numpy()
    k = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    for n in range(2):
        for c in range(3):
            ref = scipy.signal.correlate2d(x[n, :, :, c], k, mode="same", boundary="fill")
            np.testing.assert_allclose(out[n, :, :, c], ref, atol=1e-6)


def test_general_fir_filter_matches_scipy():
    taps = [1, 3, 3, 1]
    x = randn(1, 9, 9, 2)
    k = fir.fir_kernel(taps)
    out = fir.depthwise_filter_2d(x, k, padding="valid").numpy()
    for c in range(2):
        ref = scipy.signal.correlate2d(x[0, :, :, c], k, mode="valid")
        np.testing.assert_allclose(out[0, :, :, c], ref, atol=1e-6)


def test_pixel_norm_and_instance_norm():
    x = randn(3, 4, 4, 8)
    np.testing.assert_allclose(
        sg1.PixelNorm()(x), x / np.sqrt(np.mean(x ** 2, axis=-1, keepdims=True) + 1e-8), atol=1e-5)
    c = x - x.mean(axis=(1, 2), keepdims=True)
    ref = c / np.sqrt(np.mean(c ** 2, axis=(1, 2), keepdims=True) + 1e-8)
    np.testing.assert_allclose(sgops.instance_norm(x), ref, atol=1e-5)
    scale, shift = randn(3, 1, 1, 8) + 1.0, randn(3, 1, 1, 8)  # AdaIN: the folded form
    np.testing.assert_allclose(sgops.instance_norm(x, scale=scale, shift=shift),
                               ref * scale + shift, atol=1e-5)


def test_adain_epilogue_equals_instance_norm_then_style_mod():
    """LayerEpilogue folds StyleMod into instance norm; StyleMod alone is the other path."""
    x, w = randn(2, 4, 4, 8), randn(2, 16)
    epi = sg1.LayerEpilogue(use_noise=False)
    epi.build(x.shape, w.shape)
    epi.bias.assign(randn(8))
    epi.style.dense.kernel.assign(randn(16, 16))
    unfolded = epi.style(sgops.instance_norm(sgops.lrelu(x + epi.bias.numpy())), w)
    np.testing.assert_allclose(epi(x, w), unfolded, atol=1e-5)


def test_noise_injection_modes():
    layer = common.NoiseInjection(seed=3)
    x = randn(2, 4, 4, 3)
    layer.build(x.shape)
    layer.weight.assign(np.array([1.0, 2.0, 0.0], np.float32))
    const = layer.const.numpy()
    np.testing.assert_allclose(layer(x, noise_mode="const"), x + const * [1.0, 2.0, 0.0],
                               atol=1e-6)
    np.testing.assert_array_equal(layer(x, noise_mode="none"), x)
    explicit = randn(2, 4, 4, 1)
    np.testing.assert_allclose(layer(x, noise=explicit), x + explicit * [1.0, 2.0, 0.0], atol=1e-6)
    r1, r2 = layer(x, noise_mode="random").numpy(), layer(x, noise_mode="random").numpy()
    assert not np.allclose(r1, r2)  # fresh noise per call
    assert not np.allclose(r1[0], r1[1])  # and per sample
    np.testing.assert_array_equal(r1[..., 2], x[..., 2])  # per-channel weight 0 -> unchanged
    with pytest.raises(ValueError, match="noise_mode must be one of"):
        layer(x, noise_mode="fresh")


def test_style_mod_is_adain_affine():
    x, w = randn(2, 4, 4, 3), randn(2, 5)
    layer = sg1.StyleMod()
    out = layer(x, w).numpy()
    s = w @ (layer.dense.kernel.numpy() / np.sqrt(5)) + layer.dense.bias.numpy()
    ref = x * (s[:, None, None, :3] + 1) + s[:, None, None, 3:]
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_layer_epilogue_order():
    x, w = randn(2, 4, 4, 3), randn(2, 5)
    epi = sg1.LayerEpilogue()
    epi.build(x.shape, w.shape)
    epi.noise.weight.assign(randn(3))
    epi.bias.assign(randn(3))
    y = x + epi.noise.const.numpy() * epi.noise.weight.numpy() + epi.bias.numpy()
    y = np_lrelu(y)
    y = y - y.mean(axis=(1, 2), keepdims=True)
    y = y / np.sqrt(np.mean(y ** 2, axis=(1, 2), keepdims=True) + 1e-8)
    ref = epi.style(y.astype(np.float32), w)
    np.testing.assert_allclose(epi(x, w, noise_mode="const"), ref, atol=1e-5)


def test_constant_input_tiles_over_batch():
    layer = common.ConstantInput(6)
    out = layer(np.zeros((3, 10), np.float32)).numpy()
    assert out.shape == (3, 4, 4, 6)
    np.testing.assert_array_equal(out[2], layer.const.numpy()[0])


def np_minibatch_stddev(x, group_size=4, num_new=1):
    """Loop reference: sample i is in group i mod (N / G), as NVIDIA's reshape does."""
    n, h, w, c = x.shape
    g = min(group_size, n)
    m = n // g
    out = np.zeros((n, h, w, num_new))
    for i in range(n):
        members = [j for j in range(n) if j % m == i % m]
        for f in range(num_new):
            sl = x[members][..., f * c // num_new:(f + 1) * c // num_new].astype(np.float64)
            std = np.sqrt(sl.var(axis=0) + 1e-8)
            out[i, :, :, f] = std.mean()
    return np.concatenate([x, out], axis=-1)


@pytest.mark.parametrize("n,group,num_new", [(8, 4, 1), (2, 4, 1), (6, 2, 2), (4, 4, 1)])
def test_minibatch_stddev_matches_loop(n, group, num_new):
    x = randn(n, 4, 4, 6)
    out = common.MinibatchStddev(group, num_new)(x)
    np.testing.assert_allclose(out, np_minibatch_stddev(x, group, num_new), atol=1e-5)


def test_minibatch_stddev_rejects_bad_batch():
    with pytest.raises(ValueError, match="multiple of 4"):
        common.MinibatchStddev(4)(randn(6, 4, 4, 2))


def test_lod_fade_in_and_resampling_ops():
    hi, lo = randn(2, 4, 4, 3), randn(2, 4, 4, 3)
    fade = sg1.LodFadeIn(level=1)
    for lod, t in [(0.5, 0.0), (1.25, 0.25), (3.0, 1.0)]:
        np.testing.assert_allclose(fade(hi, lo, lod=lod), hi + (lo - hi) * t, atol=1e-6)
    x = randn(1, 4, 4, 2)
    up = sgops.upscale2d(x).numpy()
    np.testing.assert_array_equal(up[:, ::2, ::2], x)
    np.testing.assert_array_equal(up[:, 1::2, 1::2], x)
    np.testing.assert_allclose(sgops.downscale2d(up), x, atol=1e-6)


def test_to_uint8_matches_nvidia_rounding():
    x = np.array([-1.2, -1.0, -0.0039, 0.0, 0.00393, 0.5, 1.0, 1.3], np.float32)
    ref = np.clip(np.floor(x * np.float32(127.5) + np.float32(128.0)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(sgops.to_uint8(x), ref)
    np.testing.assert_array_equal(sgops.to_uint8_tensor(x), ref)
    assert sgops.to_uint8(np.array([0.0])).tolist() == [128]


def test_stored_noise_maps_are_standard_normal_as_nvidia_draws_them():
    """NVIDIA draws each layer's stored noise from N(0, 1) (TF1 `random_normal`,
    PyTorch `torch.randn`); Keras's default initializer has std 0.05."""
    from keras_stylegan import presets
    for name in ("stylegan-tiny-32", "stylegan2-tiny-32"):
        G = presets.generator(name)
        maps = np.concatenate([np.ravel(v.numpy()) for v in G.weights
                               if v.path.endswith("noise/const")])
        assert maps.size >= 2048, name
        # Sample mean/std of >= 2048 N(0, 1) draws: within 0.1 by many standard errors.
        assert abs(maps.std() - 1.0) < 0.1 and abs(maps.mean()) < 0.1, (name, maps.std())

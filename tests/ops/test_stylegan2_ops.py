"""StyleGAN2 ops: upfirdn2d and its helpers vs SciPy/NumPy, modulated conv forms vs a loop."""

import numpy as np
import pytest
import scipy.signal

from keras_stylegan.ops import fir, modconv

RNG = np.random.RandomState(2020)


def _x(*shape):
    return RNG.randn(*shape).astype("float32")


def scipy_upfirdn2d(x, taps, up, down, pad):
    """Separable upfirdn2d with `scipy.signal.upfirdn` (full convolution) per axis.

    SciPy convolves the zero-inserted signal (length (L-1)*up + 1) with full
    padding (len(taps) - 1 each side); `pad` here is NVIDIA's padding of the
    length L*up signal, so the difference is cropped or zero-padded.
    """
    taps = np.asarray(taps, np.float64)
    full = len(taps) - 1

    def along(a, axis, p0, p1):
        y = np.apply_along_axis(lambda v: scipy.signal.upfirdn(taps, v, up=up), axis, a)
        # SciPy's output starts `full` samples before the signal and ends `full`
        # after (L-1)*up; NVIDIA's starts p0 before and ends p1 after L*up - 1.
        start = full - p0
        length = (a.shape[axis] * up + p0 + p1 - len(taps)) + 1
        y = np.moveaxis(y, axis, 0)
        if start < 0:
            y = np.concatenate([np.zeros((-start,) + y.shape[1:]), y])
            start = 0
        if start + length > y.shape[0]:
            y = np.concatenate([y, np.zeros((start + length - y.shape[0],) + y.shape[1:])])
        return np.moveaxis(y[start:start + length][::down], 0, axis)

    py0, py1, px0, px1 = pad
    return along(along(x.astype(np.float64), 1, py0, py1), 2, px0, px1)


@pytest.mark.parametrize("taps,up,down,pad", [
    ([1, 3, 3, 1], 1, 1, (2, 1, 2, 1)),
    ([1, 3, 3, 1], 2, 1, (2, 1, 2, 1)),
    ([1, 3, 3, 1], 1, 2, (1, 1, 1, 1)),
    ([1.0, -2.0, 5.0], 2, 1, (1, 2, 0, 3)),   # asymmetric: catches a missing flip
    ([0.5, 1.0, 2.0, -1.0], 3, 2, (3, 0, 1, 2)),
    ([1, 2, 1], 2, 2, (0, 0, 0, 0)),
])
def test_upfirdn2d_matches_scipy(taps, up, down, pad):
    x = _x(2, 7, 6, 3)
    ours = np.asarray(fir.upfirdn2d(x, np.outer(taps, taps), up=up, down=down, pad=pad))
    ref = scipy_upfirdn2d(x, taps, up, down, pad)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=2e-5, rtol=1e-5)


def test_upfirdn2d_nonseparable_kernel_and_cropping():
    """A 2-D kernel is convolved (flipped), and negative padding crops."""
    x, k = _x(1, 6, 5, 2), _x(3, 2)
    up, pad = 2, (-1, 2, 1, -2)
    u = np.zeros((1, 12, 10, 2))
    u[:, ::2, ::2] = x
    u = np.pad(u, ((0, 0), (0, 2), (1, 0), (0, 0)))[:, 1:, :-2]
    ref = np.stack([scipy.signal.convolve2d(u[0, :, :, c], k, mode="valid") for c in range(2)],
                   -1)[None]
    ours = np.asarray(fir.upfirdn2d(x, k, up=up, pad=pad))
    np.testing.assert_allclose(ours, ref, atol=2e-5)


def test_setup_kernel():
    k = fir.setup_kernel([1, 3, 3, 1])
    np.testing.assert_allclose(k, np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0)
    np.testing.assert_allclose(fir.setup_kernel(None), np.full((2, 2), 0.25))
    with pytest.raises(ValueError, match="square"):
        fir.setup_kernel(np.ones((2, 3)))
    with pytest.raises(ValueError, match="sum to 0"):
        fir.setup_kernel([1, -1])


# NVIDIA's padding choices, written out for the [1,3,3,1] filter (LEGACY_FORMAT 4.6/4.7).
K = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0


def test_upsample_2d_is_gain4_fir_with_padding_2_1():
    x = _x(2, 5, 5, 3)
    ref = scipy_upfirdn2d(x, [1, 3, 3, 1], 2, 1, (2, 1, 2, 1)) * 4 / 64.0
    np.testing.assert_allclose(np.asarray(fir.upsample_2d(x)), ref, atol=2e-5)


def test_downsample_2d_and_filter_2d():
    x = _x(2, 8, 8, 3)
    ref = scipy_upfirdn2d(x, [1, 3, 3, 1], 1, 2, (1, 1, 1, 1)) / 64.0
    np.testing.assert_allclose(np.asarray(fir.downsample_2d(x)), ref, atol=2e-5)
    ref = scipy_upfirdn2d(x, [1, 3, 3, 1], 1, 1, (2, 1, 2, 1)) / 64.0
    np.testing.assert_allclose(np.asarray(fir.filter_2d(x)), ref, atol=2e-5)
    # k=None is the box filter: average pooling.
    box = x.reshape(2, 4, 2, 4, 2, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(np.asarray(fir.downsample_2d(x, k=None)), box, atol=1e-6)


def np_conv_transpose(x, w, stride=2):
    """NumPy transposed conv, 'valid': out[s*y + i] += x[y] * w_flipped[i] (NHWC, w HWIO)."""
    n, h, wd, _ = x.shape
    kh = w.shape[0]
    wf = w[::-1, ::-1]
    out = np.zeros((n, (h - 1) * stride + kh, (wd - 1) * stride + kh, w.shape[3]))
    for i in range(kh):
        for j in range(kh):
            contrib = np.einsum("nhwc,co->nhwo", x, wf[i, j])
            out[:, i:i + (h - 1) * stride + 1:stride, j:j + (wd - 1) * stride + 1:stride] += contrib
    return out


def np_conv_valid(x, w, stride=1):
    """NumPy 'valid' correlation (what TF/Keras conv computes), NHWC / HWIO."""
    kh = w.shape[0]
    ho, wo = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kh) // stride + 1
    out = np.zeros((x.shape[0], ho, wo, w.shape[3]))
    for i in range(kh):
        for j in range(kh):
            patch = x[:, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
            out += np.einsum("nhwc,co->nhwo", patch, w[i, j])
    return out


@pytest.mark.parametrize("kernel,fir_pad", [(3, (1, 1, 1, 1)), (1, (2, 2, 2, 2))])
def test_upsample_conv_2d_matches_numpy(kernel, fir_pad):
    """Transposed conv ((H-1)*2+k), then the x4 FIR padded once to 2H."""
    x, w = _x(2, 4, 5, 3), _x(kernel, kernel, 3, 4)
    t = np_conv_transpose(x.astype(np.float64), w.astype(np.float64))
    ref = scipy_upfirdn2d(t, [1, 3, 3, 1], 1, 1, fir_pad) * 4 / 64.0
    ours = np.asarray(fir.upsample_conv_2d(x, w))
    assert ours.shape == (2, 8, 10, 4)
    np.testing.assert_allclose(ours, ref, atol=5e-5)


@pytest.mark.parametrize("kernel,fir_pad", [(3, (2, 2, 2, 2)), (1, (1, 1, 1, 1))])
def test_conv_downsample_2d_matches_numpy(kernel, fir_pad):
    """FIR padded by 2 (3x3) or 1 (1x1), then a stride-2 'valid' conv."""
    x, w = _x(2, 8, 6, 3), _x(kernel, kernel, 3, 4)
    f = scipy_upfirdn2d(x, [1, 3, 3, 1], 1, 1, fir_pad) / 64.0
    ref = np_conv_valid(f, w.astype(np.float64), stride=2)
    ours = np.asarray(fir.conv_downsample_2d(x, w))
    assert ours.shape == (2, 4, 3, 4)
    np.testing.assert_allclose(ours, ref, atol=5e-5)


@pytest.mark.parametrize("fn", [fir.upsample_conv_2d, fir.conv_downsample_2d])
def test_grouped_resampling_convs_match_per_group(fn):
    x, w = _x(2, 6, 6, 8), _x(3, 3, 4, 10)  # 2 groups: 4 -> 5 channels each
    grouped = np.asarray(fn(x, w))
    parts = [np.asarray(fn(x[..., 4 * g:4 * g + 4], w[..., 5 * g:5 * g + 5])) for g in range(2)]
    np.testing.assert_allclose(grouped, np.concatenate(parts, -1), atol=1e-4)
    with pytest.raises(ValueError, match="multiple"):
        fn(x[..., :6], w)


# Modulated convolution -------------------------------------------------------

def np_modulated_conv(x, weight, styles, demodulate, up, down):
    """One sample at a time: modulate, demodulate, then NVIDIA's conv (float64)."""
    outs = []
    for n in range(x.shape[0]):
        w = weight.astype(np.float64) * styles[n].astype(np.float64)[None, None, :, None]
        if demodulate:
            w = w / np.sqrt(np.sum(w ** 2, axis=(0, 1, 2), keepdims=True) + 1e-8)
        xn = x[n:n + 1].astype(np.float64)
        if up:
            t = np_conv_transpose(xn, w)
            p = (4 - 2) - (w.shape[0] - 1)
            y = scipy_upfirdn2d(t, [1, 3, 3, 1], 1, 1, ((p + 1) // 2 + 1, p // 2 + 1) * 2)
            y = y * 4 / 64.0
        elif down:
            p = 2 + w.shape[0] - 1
            f = scipy_upfirdn2d(xn, [1, 3, 3, 1], 1, 1, ((p + 1) // 2, p // 2) * 2) / 64.0
            y = np_conv_valid(f, w, stride=2)
        else:
            k = w.shape[0] // 2
            y = np_conv_valid(np.pad(xn, ((0, 0), (k, k), (k, k), (0, 0))), w)
        outs.append(y)
    return np.concatenate(outs)


MODCONV_CASES = [
    pytest.param(3, True, False, False, id="3x3"),
    pytest.param(3, True, True, False, id="3x3-up"),
    pytest.param(3, True, False, True, id="3x3-down"),
    pytest.param(1, False, False, False, id="1x1-no-demod"),
    pytest.param(3, False, True, False, id="3x3-up-no-demod"),
]


@pytest.mark.parametrize("kernel,demodulate,up,down", MODCONV_CASES)
def test_modulated_conv_fused_and_nonfused_match_numpy_loop(kernel, demodulate, up, down):
    x = _x(3, 6, 6, 5)
    weight = _x(kernel, kernel, 5, 7) / np.sqrt(kernel * kernel * 5)
    styles = (RNG.randn(3, 5) * 0.5 + 1).astype("float32")
    ref = np_modulated_conv(x, weight, styles, demodulate, up, down)
    kw = dict(demodulate=demodulate, up=up, down=down)
    fused = np.asarray(modconv.modulated_conv2d(x, weight, styles, fused=True, **kw))
    plain = np.asarray(modconv.modulated_conv2d(x, weight, styles, fused=False, **kw))
    assert fused.shape == plain.shape == ref.shape
    np.testing.assert_allclose(fused, ref, atol=2e-5, rtol=1e-5)
    np.testing.assert_allclose(plain, ref, atol=2e-5, rtol=1e-5)
    np.testing.assert_allclose(fused, plain, atol=2e-5, rtol=1e-5)


def test_demodulation_coefficients_match_per_sample_weights():
    weight, styles = _x(3, 3, 4, 6), _x(2, 4)
    d = np.asarray(modconv.demodulation_coefficients(weight, styles))
    ww = weight[None] * styles[:, None, None, :, None]
    np.testing.assert_allclose(d, 1 / np.sqrt((ww ** 2).sum(axis=(1, 2, 3)) + 1e-8), rtol=1e-5)
    demod = np.asarray(modconv.modulated_weights(weight, styles))
    np.testing.assert_allclose((demod ** 2).sum(axis=(1, 2, 3)), 1.0, rtol=1e-5)


def test_fp16_prenormalization_does_not_change_a_demodulated_result():
    x, weight, styles = _x(2, 5, 5, 4), _x(3, 3, 4, 3) * 100, _x(2, 4) * 50
    w2, s2 = modconv.prenormalize_fp16(weight, styles)
    assert float(np.max(np.abs(np.asarray(s2)))) == pytest.approx(1.0)
    a = np.asarray(modconv.modulated_conv2d(x, weight, styles, fused=False))
    b = np.asarray(modconv.modulated_conv2d(x, w2, s2, fused=False))
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)

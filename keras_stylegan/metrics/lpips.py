"""LPIPS (VGG16, v0.1) in Keras 3: the `lpips` package's `LPIPS(net='vgg')`.

distance(a, b) = sum over the five VGG16 stages l of
mean_hw( w_l . (n(f_l(a)) - n(f_l(b)))^2 ), where f_l is the stage's last ReLU,
n() divides by the channel-wise L2 norm (+1e-10) and w_l >= 0 are the learned
linear weights. Inputs are first shifted/scaled by the package's ScalingLayer.
Reference: Zhang et al. 2018, https://github.com/richzhang/PerceptualSimilarity.
"""

import numpy as np
from keras import ops

from keras_stylegan.metrics import nn_ops, vgg

SHIFT = np.array([-0.030, -0.088, -0.188], np.float32)
SCALE = np.array([0.458, 0.448, 0.450], np.float32)
EPS = 1e-10


def required_linear():
    """{name: shape} of the lpips v0.1 linear-layer file (`weights/v0.1/vgg.pth`)."""
    chans = [stage[-1] for stage in vgg.STAGES]
    return {f"lin{i}.model.1.weight": (1, c, 1, 1) for i, c in enumerate(chans)}


def convert_linear(state):
    return {f"lin{i}": state[name].reshape(-1) for i, name in enumerate(required_linear())}


class LPIPSDistance(nn_ops.StateLayer):
    """`net(a, b)`: float NHWC batches in [-1, 1] (same shape) -> [N] LPIPS distances.

    >>> net = feature_network("lpips", weights=("vgg16-397923af.pth", "vgg.pth"))  # doctest: +SKIP
    >>> net(a, b).shape  # doctest: +SKIP
    (8,)
    """

    def call(self, a, b):
        a, b = ops.convert_to_tensor(a, "float32"), ops.convert_to_tensor(b, "float32")
        if tuple(a.shape) != tuple(b.shape) or len(a.shape) != 4 or a.shape[-1] != 3:
            raise ValueError("LPIPS takes two NHWC batches of the same shape with 3 "
                             f"channels; got {tuple(a.shape)} and {tuple(b.shape)}.")
        n = a.shape[0]
        x = (ops.concatenate([a, b], axis=0) - SHIFT) / SCALE
        total = 0.0
        for i, f in enumerate(vgg.run_stages(self, x)):
            f = f / (ops.sqrt(ops.sum(f * f, axis=-1, keepdims=True)) + EPS)
            d = (f[:n] - f[n:]) ** 2
            total = total + ops.mean(ops.matmul(d, self.w[f"lin{i}"]), axis=(1, 2))
        return total

    def features(self, x):
        """[N, D] features of NHWC `x` in [-1, 1] whose squared distance is LPIPS:
        `sum((features(a) - features(b)) ** 2, axis=1) == self(a, b)` (for the
        package's linear weights, which are >= 0). This is NVIDIA's `vgg16.pt`
        with `return_lpips=True`, which StyleGAN2's projector compares with a
        target's features computed once.

        >>> files = ("vgg16-397923af.pth", "vgg.pth")
        >>> net = feature_network("lpips", weights=files)  # doctest: +SKIP
        >>> net.features(images).shape  # doctest: +SKIP
        (1, 1344)
        """
        x = (ops.convert_to_tensor(x, "float32") - SHIFT) / SCALE
        out = []
        for i, f in enumerate(vgg.run_stages(self, x)):
            f = f / (ops.sqrt(ops.sum(f * f, axis=-1, keepdims=True)) + EPS)
            scale = ops.sqrt(ops.maximum(self.w[f"lin{i}"], 0.0) / (f.shape[1] * f.shape[2]))
            out.append(ops.reshape(f * scale, (ops.shape(f)[0], -1)))
        return ops.concatenate(out, axis=1)

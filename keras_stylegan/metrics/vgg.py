"""torchvision's VGG16 in Keras 3: fc2 features for precision/recall, and the
five ReLU stages LPIPS compares.

Layout of torchvision's `vgg16` (configuration "D"): `features.{i}` are 3x3
convs (padding 1) + ReLU with 2x2 max pools between stages; `classifier.0` and
`classifier.3` are fc1 and fc2 (4096 each, ReLU after each).
Reference: Simonyan & Zisserman 2015; Kynkäänniemi et al. 2019 (P/R uses fc2).
"""

import numpy as np
from keras import ops

from keras_stylegan.metrics import nn_ops

# Channels per stage; a max pool follows every stage.
STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def feature_convs():
    """[(torchvision index, cin, cout)] per stage, following `features.{i}` numbering."""
    stages, idx, cin = [], 0, 3
    for stage in STAGES:
        convs = []
        for cout in stage:
            convs.append((idx, cin, cout))
            idx, cin = idx + 2, cout  # conv, relu
        stages.append(convs)
        idx += 1  # max pool
    return stages


def required_tensors(classifier=True):
    """{state-dict name: shape} of torchvision's vgg16 file used here."""
    out = {}
    for stage in feature_convs():
        for i, cin, cout in stage:
            out[f"features.{i}.weight"] = (cout, cin, 3, 3)
            out[f"features.{i}.bias"] = (cout,)
    if classifier:
        out.update({"classifier.0.weight": (4096, 512 * 7 * 7), "classifier.0.bias": (4096,),
                    "classifier.3.weight": (4096, 4096), "classifier.3.bias": (4096,)})
    return out


def convert(state, classifier=True):
    """torchvision state dict -> Keras conv kernels; fc weights stay [out, in] (no
    400 MB transpose copy; `call` flattens in torchvision's CHW order)."""
    out = {}
    for stage in feature_convs():
        for i, _, _ in stage:
            out[f"features.{i}.kernel"] = nn_ops.torch_conv_kernel(state[f"features.{i}.weight"])
            out[f"features.{i}.bias"] = state[f"features.{i}.bias"]
    if classifier:
        for i, fc in ((0, "fc1"), (3, "fc2")):
            out[f"{fc}.weight"] = state[f"classifier.{i}.weight"]  # [out, in]
            out[f"{fc}.bias"] = state[f"classifier.{i}.bias"]
    return out


def run_stages(layer, x):
    """The five stages' last ReLU outputs (relu1_2 ... relu5_3) of NHWC `x`."""
    outs = []
    for s, stage in enumerate(feature_convs()):
        if s:
            x = nn_ops.max_pool(x, 2, 2)
        for i, _, _ in stage:
            x = ops.relu(nn_ops.conv2d(x, layer.w[f"features.{i}.kernel"],
                                       layer.w[f"features.{i}.bias"], padding=(1, 1)))
        outs.append(x)
    return outs


def _adaptive_avg_pool_7(x):
    """`nn.AdaptiveAvgPool2d((7, 7))` for sizes divisible by 7 (224 in gives 7 already)."""
    h, w = int(x.shape[1]), int(x.shape[2])
    if (h, w) == (7, 7):
        return x
    if h % 7 or w % 7:
        raise ValueError(f"VGG16 features of size {h}x{w} cannot be pooled to 7x7 exactly.")
    return ops.average_pool(x, (h // 7, w // 7), (h // 7, w // 7), padding="valid")


class VGG16Features(nn_ops.StateLayer):
    """uint8 NHWC images (any size) -> [N, 4096] fc2 features after ReLU.

    Images are resized to 224x224 (bilinear, as `F.interpolate`), scaled to
    [0, 1] and normalised with ImageNet's mean and std, as torchvision expects.

    >>> net = feature_network("vgg16", weights="vgg16-397923af.pth")  # doctest: +SKIP
    >>> net(np.zeros([2, 64, 64, 3], np.uint8)).shape  # doctest: +SKIP
    (2, 4096)
    """

    def call(self, images):
        x = nn_ops.resize_bilinear(nn_ops.to_float_images(images), (224, 224))
        x = (x - IMAGENET_MEAN) / IMAGENET_STD
        x = nn_ops.max_pool(run_stages(self, x)[-1], 2, 2)
        x = ops.transpose(_adaptive_avg_pool_7(x), (0, 3, 1, 2))  # NCHW, as torch flattens
        x = ops.reshape(x, (-1, 512 * 7 * 7))
        for fc in ("fc1", "fc2"):
            x = ops.relu(ops.einsum("nk,ok->no", x, self.w[f"{fc}.weight"])
                         + self.w[f"{fc}.bias"])
        return x

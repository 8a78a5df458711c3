"""The FID Inception-v3 ("2015-12-05" graph) in Keras 3, from pytorch-fid's weights.

Same architecture as pytorch-fid's `InceptionV3([3])` with `use_fid_inception`:
torchvision's Inception3 whose Mixed_5b-5d / 6b-6e / 7b / 7c are pytorch-fid's
FIDInceptionA / C / E_1 / E_2 (average pools that do not count padding; a max
pool in the last block), images resized to 299x299 bilinearly and scaled to
[-1, 1], pool3 = global average of Mixed_7c -> 2048 features.
Reference: Heusel et al. 2017, https://github.com/mseitzer/pytorch-fid.
"""

from keras import ops

from keras_stylegan.metrics import nn_ops

BN_EPS = 1e-3
STEM = (  # name, cin, cout, kernel, stride, padding
    ("Conv2d_1a_3x3", 3, 32, (3, 3), 2, (0, 0)),
    ("Conv2d_2a_3x3", 32, 32, (3, 3), 1, (0, 0)),
    ("Conv2d_2b_3x3", 32, 64, (3, 3), 1, (1, 1)),
    ("Conv2d_3b_1x1", 64, 80, (1, 1), 1, (0, 0)),
    ("Conv2d_4a_3x3", 80, 192, (3, 3), 1, (0, 0)),
)
# name, kind, in channels, extra (pool features / 7x7 channels)
BLOCKS = (
    ("Mixed_5b", "A", 192, 32), ("Mixed_5c", "A", 256, 64), ("Mixed_5d", "A", 288, 64),
    ("Mixed_6a", "B", 288, None),
    ("Mixed_6b", "C", 768, 128), ("Mixed_6c", "C", 768, 160), ("Mixed_6d", "C", 768, 160),
    ("Mixed_6e", "C", 768, 192),
    ("Mixed_7a", "D", 768, None), ("Mixed_7b", "E1", 1280, None),
    ("Mixed_7c", "E2", 2048, None),
)


def _block_convs(kind, cin, extra):
    """[(child, cin, cout, kernel, stride)] of one Mixed block (stride-1 convs: 'same')."""
    k1, k3, r17, r71 = (1, 1), (3, 3), (1, 7), (7, 1)
    if kind == "A":
        return [("branch1x1", cin, 64, k1, 1), ("branch5x5_1", cin, 48, k1, 1),
                ("branch5x5_2", 48, 64, (5, 5), 1), ("branch3x3dbl_1", cin, 64, k1, 1),
                ("branch3x3dbl_2", 64, 96, k3, 1), ("branch3x3dbl_3", 96, 96, k3, 1),
                ("branch_pool", cin, extra, k1, 1)]
    if kind == "B":
        return [("branch3x3", cin, 384, k3, 2), ("branch3x3dbl_1", cin, 64, k1, 1),
                ("branch3x3dbl_2", 64, 96, k3, 1), ("branch3x3dbl_3", 96, 96, k3, 2)]
    if kind == "C":
        c7 = extra
        return [("branch1x1", cin, 192, k1, 1), ("branch7x7_1", cin, c7, k1, 1),
                ("branch7x7_2", c7, c7, r17, 1), ("branch7x7_3", c7, 192, r71, 1),
                ("branch7x7dbl_1", cin, c7, k1, 1), ("branch7x7dbl_2", c7, c7, r71, 1),
                ("branch7x7dbl_3", c7, c7, r17, 1), ("branch7x7dbl_4", c7, c7, r71, 1),
                ("branch7x7dbl_5", c7, 192, r17, 1), ("branch_pool", cin, 192, k1, 1)]
    if kind == "D":
        return [("branch3x3_1", cin, 192, k1, 1), ("branch3x3_2", 192, 320, k3, 2),
                ("branch7x7x3_1", cin, 192, k1, 1), ("branch7x7x3_2", 192, 192, r17, 1),
                ("branch7x7x3_3", 192, 192, r71, 1), ("branch7x7x3_4", 192, 192, k3, 2)]
    return [("branch1x1", cin, 320, k1, 1), ("branch3x3_1", cin, 384, k1, 1),
            ("branch3x3_2a", 384, 384, (1, 3), 1), ("branch3x3_2b", 384, 384, (3, 1), 1),
            ("branch3x3dbl_1", cin, 448, k1, 1), ("branch3x3dbl_2", 448, 384, k3, 1),
            ("branch3x3dbl_3a", 384, 384, (1, 3), 1),
            ("branch3x3dbl_3b", 384, 384, (3, 1), 1), ("branch_pool", cin, 192, k1, 1)]


def conv_table():
    """{BasicConv2d name: (cin, cout, kernel, stride, padding)} of the whole network."""
    table = {name: (cin, cout, k, s, p) for name, cin, cout, k, s, p in STEM}
    for block, kind, cin, extra in BLOCKS:
        for child, ci, co, k, s in _block_convs(kind, cin, extra):
            pad = ((k[0] - 1) // 2, (k[1] - 1) // 2) if s == 1 else (0, 0)
            table[f"{block}.{child}"] = (ci, co, k, s, pad)
    return table


def required_tensors():
    """{state-dict name: shape} that pytorch-fid's weight file must hold."""
    out = {}
    for name, (cin, cout, k, _, _) in conv_table().items():
        out[f"{name}.conv.weight"] = (cout, cin) + k
        for p in ("weight", "bias", "running_mean", "running_var"):
            out[f"{name}.bn.{p}"] = (cout,)
    return out


def convert(state):
    """pytorch-fid state dict -> {name.kernel, name.scale, name.shift} (BN folded into
    a per-channel scale and shift, evaluated in float32 like PyTorch's eval BN)."""
    out = {}
    for name in conv_table():
        g = state[f"{name}.bn.weight"]
        scale = g / (state[f"{name}.bn.running_var"] + BN_EPS) ** 0.5
        out[f"{name}.kernel"] = nn_ops.torch_conv_kernel(state[f"{name}.conv.weight"])
        out[f"{name}.scale"] = scale.astype("float32")
        out[f"{name}.shift"] = (state[f"{name}.bn.bias"]
                                - state[f"{name}.bn.running_mean"] * scale).astype("float32")
    return out


class InceptionFeatures(nn_ops.StateLayer):
    """uint8 NHWC images (any size) -> [N, 2048] pool3 features, as pytorch-fid.

    Build it with `keras_stylegan.metrics.feature_network("inception", weights=...)`.

    >>> w = "pt_inception-2015-12-05-6726825d.pth"
    >>> net = feature_network("inception", weights=w)  # doctest: +SKIP
    >>> net(np.zeros([4, 64, 64, 3], np.uint8)).shape  # doctest: +SKIP
    (4, 2048)
    """

    def __init__(self, arrays, **kwargs):
        super().__init__(arrays, **kwargs)
        self.table = conv_table()

    def conv(self, x, name):
        _, _, _, stride, pad = self.table[name]
        x = nn_ops.conv2d(x, self.w[f"{name}.kernel"], stride=stride, padding=pad)
        return ops.relu(x * self.w[f"{name}.scale"] + self.w[f"{name}.shift"])

    def call(self, images):
        x = nn_ops.resize_bilinear(nn_ops.to_float_images(images), (299, 299))
        x = 2.0 * x - 1.0
        for name, *_ in STEM:
            x = self.conv(x, name)
            if name in ("Conv2d_2b_3x3", "Conv2d_4a_3x3"):
                x = nn_ops.max_pool(x, 3, 2)
        for block, kind, _, _ in BLOCKS:
            x = self.block(x, block, kind)
        return ops.mean(x, axis=(1, 2))

    def block(self, x, b, kind):
        c = lambda name, t: self.conv(t, f"{b}.{name}")  # noqa: E731
        if kind == "A":
            return ops.concatenate([
                c("branch1x1", x), c("branch5x5_2", c("branch5x5_1", x)),
                c("branch3x3dbl_3", c("branch3x3dbl_2", c("branch3x3dbl_1", x))),
                c("branch_pool", nn_ops.avg_pool3_exclude_pad(x))], axis=-1)
        if kind == "B":
            return ops.concatenate([
                c("branch3x3", x),
                c("branch3x3dbl_3", c("branch3x3dbl_2", c("branch3x3dbl_1", x))),
                nn_ops.max_pool(x, 3, 2)], axis=-1)
        if kind == "C":
            b7 = c("branch7x7_3", c("branch7x7_2", c("branch7x7_1", x)))
            d = x
            for i in range(1, 6):
                d = c(f"branch7x7dbl_{i}", d)
            return ops.concatenate([c("branch1x1", x), b7, d,
                                    c("branch_pool", nn_ops.avg_pool3_exclude_pad(x))],
                                   axis=-1)
        if kind == "D":
            d = x
            for i in range(1, 5):
                d = c(f"branch7x7x3_{i}", d)
            return ops.concatenate([c("branch3x3_2", c("branch3x3_1", x)), d,
                                    nn_ops.max_pool(x, 3, 2)], axis=-1)
        t = c("branch3x3_1", x)
        u = c("branch3x3dbl_2", c("branch3x3dbl_1", x))
        pooled = (nn_ops.avg_pool3_exclude_pad(x) if kind == "E1"
                  else nn_ops.max_pool(x, 3, 1, padding="same"))
        return ops.concatenate([
            c("branch1x1", x),
            ops.concatenate([c("branch3x3_2a", t), c("branch3x3_2b", t)], axis=-1),
            ops.concatenate([c("branch3x3dbl_3a", u), c("branch3x3dbl_3b", u)], axis=-1),
            c("branch_pool", pooled)], axis=-1)

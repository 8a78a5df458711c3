"""`feature_network(name, weights=...)`: the FID Inception, VGG16 and LPIPS."""

from keras_stylegan.metrics import inception, lpips, vgg
from keras_stylegan.metrics.weights import WeightsFileError, find_weights, load_state

NAMES = ("inception", "vgg16", "lpips")


def feature_network(name, weights=None, folder=None):
    """Builds a feature network from the public weight files (never downloads).

    Args:
        name: "inception" (uint8 NHWC images of any size -> [N, 2048] pool3
            features, resized to 299 inside, as pytorch-fid), "vgg16" (uint8 NHWC
            -> [N, 4096] fc2 features after ReLU, resized to 224 and
            ImageNet-normalised) or "lpips" (`net(a, b)` on float NHWC batches in
            [-1, 1] -> [N] LPIPS distances).
        weights: path of the weight file (a folder holding it under its public
            name also works); for "lpips" a pair `(vgg16_file, lpips_linear_file)`.
            None: look in `folder`, else `$KERAS_STYLEGAN_WEIGHTS`.
        folder: the `--feature-weights DIR` folder.

    Raises:
        WeightsFileError: a file is missing or is not the expected one; the
            message says which file, where to download it and where to put it.

    Example:

    >>> w = "pt_inception-2015-12-05-6726825d.pth"
    >>> net = feature_network("inception", weights=w)  # doctest: +SKIP
    >>> feats = net(uint8_images)  # [N, 2048]  # doctest: +SKIP
    """
    if name == "inception":
        path = find_weights("inception", weights, folder)
        state = load_state("inception", path, inception.required_tensors())
        return inception.InceptionFeatures(inception.convert(state), name="fid_inception")
    if name == "vgg16":
        path = find_weights("vgg16", weights, folder)
        state = load_state("vgg16", path, vgg.required_tensors())
        return vgg.VGG16Features(vgg.convert(state), name="vgg16_fc2")
    if name == "lpips":
        if weights is None:
            weights = (None, None)
        if not isinstance(weights, (tuple, list)) or len(weights) != 2:
            raise WeightsFileError("weights for 'lpips' are a pair (vgg16_file, "
                                   "lpips_linear_file), e.g. ('vgg16-397923af.pth', "
                                   "'vgg.pth').")
        vpath = find_weights("vgg16", weights[0], folder)
        lpath = find_weights("lpips", weights[1], folder)
        arrays = vgg.convert(load_state("vgg16", vpath, vgg.required_tensors(False)), False)
        arrays.update(lpips.convert_linear(load_state("lpips", lpath,
                                                      lpips.required_linear())))
        return lpips.LPIPSDistance(arrays, name="lpips_vgg")
    raise ValueError(f"unknown feature network {name!r}; choose one of {NAMES}.")

"""`force_fp32` for imported networks: rebuild float16 blocks in float32.

NVIDIA's StyleGAN2-ADA and stylegan3 networks run their highest
`num_fp16_res` resolutions in float16 on GPUs, but in float32 when called
with `force_fp32=True` or (stylegan3) on a CPU. Our networks follow their
`num_fp16_res` config; `apply_force_fp32` rebuilds them with 0 and the same
weights (mixed-precision layers keep float32 variables, so the weights copy
one to one).
"""


def num_fp16_res(model):
    """The `num_fp16_res` of a Generator (its synthesis) or discriminator (0 if none)."""
    if hasattr(model, "synthesis"):
        return int(model.synthesis_kwargs.get("num_fp16_res", 0))
    return int(getattr(model, "num_fp16_res", 0))


def as_fp32(model):
    """A copy of `model` built with `num_fp16_res=0`, holding the same weights.

    Example:

    >>> from keras_stylegan.networks.discriminator_sg2 import DiscriminatorSG2
    >>> d = DiscriminatorSG2(resolution=8, fmap_base=16, fmap_max=8, num_fp16_res=1)
    >>> as_fp32(d).num_fp16_res
    0
    """
    config = model.get_config()
    if hasattr(model, "synthesis"):
        config["synthesis_kwargs"] = {**config["synthesis_kwargs"], "num_fp16_res": 0}
    else:
        config["num_fp16_res"] = 0
    copy = type(model).from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def apply_force_fp32(nets, force_fp32):
    """With `force_fp32`, rebuilds the networks of `nets` in float32, recording
    each one's stored `num_fp16_res` in `nets['meta']['num_fp16_res']`."""
    if not force_fp32:
        return nets
    stored = {k: num_fp16_res(v) for k, v in nets.items() if k != "meta"}
    for key, n in stored.items():
        if n:
            nets[key] = as_fp32(nets[key])
    nets.setdefault("meta", {})["num_fp16_res"] = stored
    return nets

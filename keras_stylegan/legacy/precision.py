"""`force_fp32` for imported networks: rebuild float16 blocks in float32.

NVIDIA's StyleGAN2-ADA and stylegan3 networks run their highest
`num_fp16_res` resolutions in float16 on GPUs, but in float32 when called
with `force_fp32=True` or (stylegan3) on a CPU. Our networks follow their
`num_fp16_res` config; `apply_force_fp32` rebuilds them with 0 and the same
weights (mixed-precision layers keep float32 variables, so the weights copy
one to one).
"""

from keras_stylegan.networks.common import as_fp32, num_fp16_res


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

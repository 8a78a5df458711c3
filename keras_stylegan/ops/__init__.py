"""Tensor ops of the StyleGAN networks, in `keras.ops` (any Keras backend), NHWC.

- `basic`: activations and NVIDIA's fused bias + activation, pixel and
  instance norm, nearest/average resampling, lerp, minibatch stddev, uint8
  conversion of images;
- `fir`: FIR kernels and filtering: StyleGAN2's `upfirdn2d` resampling and
  StyleGAN1's blur;
- `modconv`: StyleGAN2's modulated convolution (fused and non-fused forms).
"""

"""Keras layers of the StyleGAN networks, NHWC, math in `keras.ops`.

- `common`: layers both families use (equalized dense, noise injection, the
  learned constant, minibatch stddev) and `register`, which makes a layer
  loadable from `.keras` files;
- `sg1`: StyleGAN (1) layers: equalized convolution, ToRGB/FromRGB, blur,
  AdaIN epilogue and style modulation, progressive-growing fade-in;
- `sg2`: StyleGAN2 layers: modulated / styled convolution, modulated ToRGB,
  FIR-resampling convolution.
"""

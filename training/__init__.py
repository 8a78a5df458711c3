"""Training StyleGAN with `model.fit` (TensorFlow): data, the GAN model, callbacks."""

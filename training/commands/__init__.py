"""Subcommands of `keras-stylegan` that need TensorFlow (see `keras_stylegan.cli`)."""

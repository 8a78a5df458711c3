"""Subcommands of the `keras-stylegan` console script (see `keras_stylegan.cli`)."""

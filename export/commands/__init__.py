"""Subcommands `export` and `serve` (see `keras_stylegan.cli`)."""

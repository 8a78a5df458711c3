"""The `keras-stylegan` console script: one entry point, several subcommands.

Each subcommand lives in its own module exposing `add_arguments(parser)` and
`run(args)`; heavy imports (TensorFlow, Keras) happen inside `run`, so
`keras-stylegan --help` is instant.
"""

import argparse
import importlib
import os
import sys

from keras_stylegan.cli.errors import CommandError

# Keep TensorFlow's C++ start-up chatter out of the console (users can override).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# name -> (module, one-line help)
COMMANDS = {
    "generate": ("keras_stylegan.cli.generate", "generate images from a network"),
    "info": ("keras_stylegan.cli.info", "describe a network file"),
    "dataset": ("keras_stylegan.cli.dataset", "convert a folder of images to ZIP/TFRecords"),
    "train": ("keras_stylegan.cli.train", "train a StyleGAN with model.fit"),
    "metrics": ("keras_stylegan.cli.metrics", "compute FID, KID, precision/recall and PPL"),
    "export": ("keras_stylegan.cli.export", "export a generator to SavedModel or TFLite"),
    "serve": ("keras_stylegan.cli.serve", "serve SavedModels over TF Serving's REST protocol"),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-stylegan",
        description="StyleGAN / StyleGAN2 for TensorFlow 2 and Keras 3.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or "").strip(),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run, _name=name)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args._run(args) or 0
    except KeyboardInterrupt:
        print(f"keras-stylegan {args._name}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, FileNotFoundError, OSError) as e:
        print(f"keras-stylegan {args._name}: error: {e}", file=sys.stderr)
        return 2

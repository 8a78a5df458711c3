"""The `keras-stylegan` console script: one entry point, several subcommands.

Each subcommand lives in its own module exposing `add_arguments(parser)` and
`run(args)`; heavy imports (TensorFlow, Keras) happen inside `run`, so
`keras-stylegan --help` is instant.
"""

import argparse
import importlib
import os
import sys

# Keep TensorFlow's C++ start-up chatter out of the console (users can override).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# name -> (module, one-line help)
COMMANDS = {
    "generate": ("keras_stylegan.commands.generate", "generate images from a network"),
    "info": ("keras_stylegan.commands.info", "describe a network file"),
    "dataset": ("training.commands.dataset", "convert a folder of images to ZIP/TFRecords"),
    "train": ("training.commands.train", "train a StyleGAN with model.fit"),
    "metrics": ("training.commands.metrics", "compute FID, KID, precision/recall and PPL"),
    "export": ("export.commands.export", "export a generator to SavedModel or TFLite"),
    "serve": ("export.commands.serve", "serve SavedModels over TF Serving's REST protocol"),
}


class CommandError(Exception):
    """A user error a subcommand reports as `keras-stylegan CMD: error: ...` (exit 2)."""


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


if __name__ == "__main__":
    sys.exit(main())

"""The `keras-stylegan` console script: one entry point, several subcommands.

Each subcommand lives in its own module exposing `add_arguments(parser)` and
`run(args)`; heavy imports (TensorFlow, Keras) happen inside `run`, so
`keras-stylegan --help` is instant.

User mistakes (the project's own error types, see `USER_ERRORS`) end as one line
`keras-stylegan CMD: error: ...` with exit status 2; anything else is a bug: its
traceback is printed with a line asking to report it (exit status 1).
"""

import argparse
import importlib
import os
import sys
import traceback

# Keep TensorFlow's C++ start-up chatter out of the console (users can override).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# name -> (module, one-line help)
COMMANDS = {
    "generate": ("keras_stylegan.cli.generate", "generate images from a network"),
    "info": ("keras_stylegan.cli.info", "describe a network file"),
    "figures": ("keras_stylegan.cli.figures", "draw the papers' figures of a network"),
    "dataset": ("keras_stylegan.cli.dataset", "convert a folder of images to ZIP/TFRecords"),
    "train": ("keras_stylegan.cli.train", "train a StyleGAN with model.fit"),
    "metrics": ("keras_stylegan.cli.metrics",
                "compute FID, KID, precision/recall, PPL, linear separability and fd_shapes"),
    "export": ("keras_stylegan.cli.export", "export a generator to SavedModel or TFLite"),
    "serve": ("keras_stylegan.cli.serve", "serve SavedModels over TF Serving's REST protocol"),
    "explore": ("keras_stylegan.cli.explore", "explore a network in the browser (no export)"),
    "project": ("keras_stylegan.cli.project", "project an image into W (StyleGAN2's projector)"),
}


# (module, class) of every user-facing error type. A type whose module was never
# imported cannot have been raised, so the check imports nothing (keeps start-up fast).
USER_ERRORS = (
    ("keras_stylegan.cli.errors", "CommandError"),
    ("keras_stylegan.errors", "ConfigError"),
    ("keras_stylegan.errors", "NetworkFileError"),
    ("keras_stylegan.errors", "ImageFileError"),
    ("keras_stylegan.files", "WriteError"),
    ("keras_stylegan.legacy.unpickler", "LegacyFormatError"),  # and UnsafePickleError
    ("keras_stylegan.training.data.sources", "DatasetError"),
    ("keras_stylegan.training.loop", "ResumeError"),
    ("keras_stylegan.metrics.weights", "WeightsFileError"),
    ("keras_stylegan.metrics.torch_checkpoint", "CheckpointError"),
    ("builtins", "FileNotFoundError"),   # a missing input file or folder
    ("builtins", "FileExistsError"),     # e.g. an export version that exists
    ("builtins", "NotADirectoryError"),
    ("builtins", "IsADirectoryError"),
    ("builtins", "PermissionError"),
)
BUG_LINE = ("keras-stylegan {name}: internal error: this is a bug in keras-stylegan; please "
            "report it with the command line and the traceback above.")


def is_user_error(exc):
    """True if `exc` is one of the project's user-facing error types (`USER_ERRORS`)."""
    for module, name in USER_ERRORS:
        mod = sys.modules.get(module)
        cls = getattr(mod, name, None) if mod is not None else None
        if cls is not None and isinstance(exc, cls):
            return True
    return False


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
    except Exception as e:  # noqa: BLE001 - sorted into user errors and bugs below
        if is_user_error(e):
            print(f"keras-stylegan {args._name}: error: {e}", file=sys.stderr)
            return 2
        traceback.print_exc()
        print(BUG_LINE.format(name=args._name), file=sys.stderr)
        return 1

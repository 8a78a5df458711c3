"""Error types for invalid settings, shared by the library and the console script.

The console script (`keras_stylegan.cli`) reports these as one-line usage errors;
any other exception is a bug and is shown with its traceback.

Example:

>>> from keras_stylegan.errors import ConfigError
>>> issubclass(ConfigError, ValueError)
True
"""


class ConfigError(ValueError):
    """A setting (training config key, command-line flag) has an invalid value.

    The message names the setting and says what to use instead.
    """


class NetworkFileError(ValueError):
    """A network or model file (`.keras`, `.tflite`) cannot be used; the message names it."""


class ImageFileError(ValueError):
    """An input image (e.g. the projector's target) cannot be used; the message
    names the file and says what is expected."""

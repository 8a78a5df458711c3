"""The error every subcommand raises for a user mistake."""


class CommandError(Exception):
    """A user error a subcommand reports as `keras-stylegan CMD: error: ...` (exit 2)."""


def require_tensorflow_backend(command):
    """Raises `CommandError` unless Keras runs on TensorFlow (`train` and `export`
    build TensorFlow graphs, checkpoints and SavedModels)."""
    import keras
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise CommandError(
            f"{command} needs the TensorFlow backend, but Keras is using {backend!r} "
            "(KERAS_BACKEND or ~/.keras/keras.json): run it with KERAS_BACKEND=tensorflow "
            "(generate and info work on any backend)")

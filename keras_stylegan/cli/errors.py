"""The error every subcommand raises for a user mistake."""


class CommandError(Exception):
    """A user error a subcommand reports as `keras-stylegan CMD: error: ...` (exit 2)."""

"""The one exception type for bad input: its message is a single plain sentence."""


class InputError(ValueError):
    """Invalid user input (a matrix, a parameter, a file); ``str(err)`` is one sentence."""


class SetupError(RuntimeError):
    """The environment cannot run the engine safely (a missing library); one sentence."""

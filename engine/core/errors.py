"""The one exception type for bad input: its message is a single plain sentence."""

from __future__ import annotations


class InputError(ValueError):
    """Invalid user input (a matrix, a parameter, a file); ``str(err)`` is one sentence."""


class SetupError(RuntimeError):
    """The environment cannot run the engine safely (a missing library); one sentence."""


#: The extra (pyproject.toml's optional-dependencies) that installs each optional package.
EXTRAS = {"pyarrow": "studies", "pandas": "studies", "dask": "studies", "distributed": "studies",
          "tqdm": "studies", "matplotlib": "handouts", "panel": "app", "bokeh": "app",
          "holoviews": "app"}


def missing_extra(err: ModuleNotFoundError) -> str | None:
    """One sentence naming the extra to install for a missing optional package, or None
    when the missing module is not one of them."""
    top = (err.name or "").partition(".")[0]
    if top not in EXTRAS:
        return None
    extra = EXTRAS[top]
    return (f"This needs {top}, which comes with the '{extra}' extra: "
            f"pip install 'real-ensemble-lab[{extra}]'.")

"""The one folder the app writes to: study results, exports, classroom rooms.

``REAL_ENSEMBLE_LAB_DATA`` names it; without it, the per-user data folder of the XDG base
directory spec: ``$XDG_DATA_HOME/real-ensemble-lab``, ``$XDG_DATA_HOME`` defaulting to
``~/.local/share``. The app reads and writes only inside it: a path a person types on a
page goes through :func:`resolve_inside`, which refuses anything that lands outside
(``..``, an absolute path elsewhere, a symbolic link that leads out). The command line is
not restricted: whoever runs it owns the machine.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import InputError

#: Environment variable naming the data folder.
ENV = "REAL_ENSEMBLE_LAB_DATA"
#: Name of the folder under the XDG data home.
APP_DIR = "real-ensemble-lab"
#: Sub-folder of the data folder holding sweep results (one folder per sweep).
STUDIES = "studies"
#: How deep under the data folder :func:`result_dirs` looks for sweep results.
MAX_DEPTH = 3


def data_dir(create: bool = False) -> Path:
    """The app's data folder, absolute and with symbolic links resolved.

    Parameters
    ----------
    create : bool
        Create the folder (and its parents) when it does not exist.

    Returns
    -------
    Path
        ``$REAL_ENSEMBLE_LAB_DATA``, else ``$XDG_DATA_HOME/real-ensemble-lab``, else
        ``~/.local/share/real-ensemble-lab``.
    """
    env = os.environ.get(ENV, "").strip()
    if env:
        base = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "").strip()
        # the XDG spec: a relative XDG_DATA_HOME is invalid and ignored
        home = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
        base = home / APP_DIR
    base = base.resolve()
    if create:
        try:
            base.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"The data folder {str(base)!r} cannot be created "
                             f"({err.strerror or err}); set {ENV} to a writable folder.") from None
    if base.exists() and not base.is_dir():
        raise InputError(f"The data folder {str(base)!r} is not a folder; set {ENV} to a folder.")
    return base


def resolve_inside(user_text: str | os.PathLike[str], root: Path | None = None) -> Path:
    """The absolute path that ``user_text`` names inside the data folder, or one sentence.

    A relative path is taken from the data folder (``root``, default :func:`data_dir`); an
    absolute one must lie inside it. Symbolic links are followed before the check, so a link
    inside that leads outside is refused like ``../elsewhere``.

    Raises
    ------
    InputError
        The path is empty, holds a NUL character, or resolves outside the data folder.
    """
    text = os.fspath(user_text)
    base = (root if root is not None else data_dir()).resolve()
    if not text.strip():
        raise InputError("Give a folder inside the data folder.")
    if "\x00" in text:
        raise InputError("A folder name cannot hold a NUL character.")
    # no ~ expansion: the text is a name inside the data folder, not the server's home
    path = (base / text.strip()).resolve()
    if path != base and base not in path.parents:
        raise InputError(f"The folder {text.strip()!r} is outside the data folder "
                         f"{str(base)!r}; choose a folder inside it.")
    return path


def result_dirs(root: Path | None = None) -> list[str]:
    """Sweep results folders (holding a ``summary/`` folder) inside the data folder.

    Returns their paths relative to ``root`` (default :func:`data_dir`), sorted; a folder
    reached through a symbolic link that leads outside ``root`` is left out.
    """
    base = (root if root is not None else data_dir()).resolve()
    if not base.is_dir():
        return []
    found = set()
    for depth in range(1, MAX_DEPTH + 1):
        for summary in base.glob("/".join(["*"] * depth) + "/summary"):
            rel = summary.parent.relative_to(base).as_posix()
            try:
                inside = resolve_inside(rel, base)
            except InputError:
                continue
            if (inside / "summary").is_dir():
                found.add(rel)
    return sorted(found)

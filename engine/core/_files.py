"""Reading and writing files with every problem as one sentence, checked before any work."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from .errors import InputError


def read_bytes(path: str | Path, what: str, max_bytes: int) -> bytes:
    """The bytes of ``path``, refused before reading when larger than ``max_bytes``."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"The {what} {str(path)!r} is {size / 2**20:.1f} MiB, more than "
                             f"the {max_bytes / 2**20:.0f} MiB allowed.")
        return path.read_bytes()
    except OSError as err:
        raise InputError(f"Cannot read the {what} {str(path)!r}: {err.strerror}.") from None


def read_text(path: str | Path, what: str, max_bytes: int) -> str:
    """The UTF-8 text of ``path``, refused before reading when larger than ``max_bytes``."""
    data = read_bytes(path, what, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"The {what} {str(path)!r} is not UTF-8 text (byte {err.start}).") \
            from None


def read_json(path: str | Path, what: str, max_bytes: int) -> Any:
    """The parsed JSON of ``path`` (size-capped UTF-8, as :func:`read_text`); one sentence
    naming the file and the line when it is not valid JSON."""
    text = read_text(path, what, max_bytes)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"The {what} {str(path)!r} is not valid JSON (line {err.lineno}: "
                         f"{err.msg}).") from None


def check_writable_folder(folder: str | Path, what: str = "output folder") -> None:
    """Refuse, before any work, a folder that is missing, not a folder or not writable."""
    folder = Path(folder)
    if not folder.exists():
        raise InputError(f"The {what} {str(folder)!r} does not exist.")
    if not folder.is_dir():
        raise InputError(f"The {what} {str(folder)!r} is not a folder.")
    try:  # the only reliable test (root, ACLs, read-only mounts): write a file there
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise InputError(f"Cannot write to the {what} {str(folder)!r}: {err.strerror}.") \
            from None


def check_out_file(path: str | Path, suffixes: tuple[str, ...]) -> Path:
    """Check an output file's name and folder before the run that will fill it."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise InputError(f"The output file must end in {' or '.join(suffixes)}, not "
                         f"{path.name!r}.")
    if path.is_dir():
        raise InputError(f"The output file {str(path)!r} is an existing folder.")
    check_writable_folder(path.parent)
    return path


class atomic:
    """Write to a temporary file beside ``path`` and rename it into place on success.

    The project's one atomic writer (run files, sweep tables and manifests)::

        with atomic(path) as tmp:
            write_something(tmp)

    The temporary file, ``.<name>.<random>.tmp`` in the target's folder, is created with
    the permissions of any new file (0666 less the umask, not mkstemp's 0600), and never
    outlives the block: it is removed whether the writing or the rename fails (a rename
    onto an existing folder, say), the rename's failure being one :class:`InputError`.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __enter__(self) -> str:
        for _ in range(100):
            tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
            try:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            self.tmp = str(tmp)
            return self.tmp
        raise FileExistsError(f"No free temporary name beside {str(self.path)!r}.")

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                try:
                    os.replace(self.tmp, self.path)
                except OSError as err:
                    raise InputError(f"Cannot write {str(self.path)!r}: {err.strerror}.") \
                        from None
        finally:
            Path(self.tmp).unlink(missing_ok=True)

"""The one error type users see for bad input.

Every check of a scenario, bundle or data file raises :class:`InputError` naming the file, the
field and what is allowed, so the command line can print one line instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad user input: names where (file and field) and what is allowed."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


def output_dir(path: str | Path) -> Path:
    """Create the ``--out`` directory (or accept an existing one), or fail with one line why."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError("--out", f"{out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("--out", f"cannot create {out}: {exc.strerror}") from None
    return out

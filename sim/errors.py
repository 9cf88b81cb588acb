"""The one error type users see for bad input.

Every check of a scenario, bundle or data file raises :class:`InputError` naming the file, the
field and what is allowed, so the command line can print one line instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad user input: names where (file and field) and what is allowed."""

    def __init__(self, where: str, message: str) -> None:
        self.where = _one_line(where)
        self.message = _one_line(message)
        super().__init__(f"{self.where}: {self.message}" if where else self.message)


#: What ``str.splitlines`` breaks at: a message quoting a user's key or value with one of these
#: would print as several lines, so they are written as escapes instead.
_BREAKS = {c: repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def _one_line(text: str) -> str:
    return "".join(_BREAKS.get(c, c) for c in text) if any(c in _BREAKS for c in text) \
        else text


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

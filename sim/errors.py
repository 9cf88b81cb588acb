"""The one error type users see for bad input.

Every check of a scenario, bundle or data file raises :class:`InputError` naming the file, the
field and what is allowed, so the command line can print one line instead of a traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: names where (file and field) and what is allowed."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)

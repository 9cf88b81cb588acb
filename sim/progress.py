"""A small progress bar for long work (runs done / total, rate, ETA) on standard error."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Text progress bar; silent when ``quiet``.

    Redraws in place on a terminal, else prints a line at most every few seconds so logs stay short.
    """

    def __init__(self, total: int, label: str = "runs", quiet: bool = False,
                 stream: TextIO | None = None) -> None:
        self.total, self.label, self.quiet = total, label, quiet
        self.stream = stream or sys.stderr
        self.done = 0
        self.start = time.monotonic()
        self._first: tuple[float, int] | None = None  # (time, count) at the first advance
        self._last = 0.0
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def advance(self, n: int = 1) -> None:
        """Record ``n`` finished items and redraw."""
        self.done += n
        now = time.monotonic()
        if self._first is None:
            self._first = (now, self.done)
        if self.quiet:
            return
        if self._tty or now - self._last >= 5.0 or self.done >= self.total:
            self._last = now
            self.stream.write(("\r" if self._tty else "") + self.line(now))
            if not self._tty or self.done >= self.total:
                self.stream.write("\n")
            self.stream.flush()

    def line(self, now: float | None = None) -> str:
        """The current progress line."""
        now = now or time.monotonic()
        # The rate counts from the first item on: the first one often carries set-up (building
        # a world, starting a cluster) that the others do not.
        if self._first is not None and self.done > self._first[1] and now > self._first[0]:
            rate = (self.done - self._first[1]) / (now - self._first[0])
        else:
            elapsed = now - self.start
            rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        eta = f"{left:,.0f}s" if left == left else "?"
        return (f"[{bar}] {self.done}/{self.total} {self.label} "
                f"{rate:,.2f}/s ETA {eta}")

"""A test that would hang fails instead: SIGALRM after ``seconds`` (shared by the input tests)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def deadline(seconds: int, what: str = "the case") -> Iterator[None]:
    """Raise TimeoutError if the block is still running after ``seconds`` (a hang is a failure)."""
    def expired(signum, frame):
        raise TimeoutError(f"{what} still running after {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)

"""The progress bar: counts, rate from the first item on, quiet and log-friendly output."""

from __future__ import annotations

import io

import pytest

from sim import progress
from sim.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(progress.time, "monotonic", c)
    return c


def test_rate_and_eta_count_from_the_first_item(clock: Clock) -> None:
    out = io.StringIO()
    bar = Progress(10, "weeks", stream=out)
    clock.now += 30.0  # set-up before the first item (a world build)
    bar.advance()
    assert "1/10 weeks" in bar.line()
    clock.now += 4.0
    bar.advance(2)  # two more items in 4 s: 0.5 per second
    line = bar.line()
    assert "3/10 weeks 0.50/s ETA 14s" in line, line
    assert line.startswith("[" + "#" * 9 + "-" * 21 + "]")


def test_log_output_is_sparse_and_ends_with_the_total(clock: Clock) -> None:
    out = io.StringIO()  # not a terminal: full lines, at most every 5 s
    bar = Progress(4, stream=out)
    for _ in range(3):
        clock.now += 1.0
        bar.advance()
    assert len(out.getvalue().splitlines()) == 1  # the first line only
    clock.now += 1.0
    bar.advance()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[-1].startswith("[" + "#" * 30 + "] 4/4 runs")


def test_quiet_writes_nothing(clock: Clock) -> None:
    out = io.StringIO()
    bar = Progress(2, quiet=True, stream=out)
    bar.advance(2)
    assert out.getvalue() == "" and bar.done == 2

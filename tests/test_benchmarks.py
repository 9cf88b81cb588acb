"""The benchmark scripts users run (benchmarks/) work end to end on the small scenario."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(*args: str) -> str:
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                         check=True)
    return out.stdout


def test_run_quick_prints_the_table_and_the_reference_ratio():
    out = _run(str(BENCH / "run.py"), "--quick", "--repeats", "1", "--reference-weeks", "4")
    row = re.search(r"default catchment\s+([\d,]+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)", out)
    assert row, out
    assert int(row.group(1).replace(",", "")) > 4000 and int(row.group(2)) == 156
    assert float(row.group(4)) > 0  # run seconds
    ratio = re.search(r"catchment \(([\d,]+) staff\), 4 weeks, median of 1: .*?([\d.]+)× "
                      r"faster in all", out)
    assert ratio and float(ratio.group(2)) > 1, out
    plain = re.search(r"catchment: plain numpy float32, 4 bundle\(s\)\s+1\.00\s+([\d.]+)", out)
    ours = re.search(r"catchment: implsim, 4 bundle\(s\)\s+([\d.]+)\s+([\d.]+)", out)
    assert plain and ours, out  # the ratio is the plain model's CPU ms over implsim's
    assert float(ours.group(1)) == pytest.approx(float(plain.group(1)) / float(ours.group(2)),
                                                 abs=0.01)
    assert re.search(r"gather [\d.]+ ms \([\d.]+ CPU\)", out), out
    for target in ("≥ 100×", "≤ 1.5×", "≥ 1.00×", "< 30 s", "< 20 ms", "< 30 min"):
        assert re.search(rf"{re.escape(target)}\s+(yes|NO|--)$", out, re.M), target


def test_plain_numpy_baseline_runs_the_scenario_horizon():
    out = _run(str(BENCH / "plain_numpy.py"), "--bundles", "1", "--weeks", "8")
    assert re.search(r"plain numpy float32, [\d,]+ staff × 1 bundles, 8 weeks: .*"
                     r"[\d.]+ CPU ms per step per 1M staff·bundle", out), out


def test_profile_step_lists_the_model_step():
    out = _run(str(BENCH / "profile_step.py"), "--warmup", "2", "--weeks", "3", "--top", "40")
    assert re.search(r"[\d.]+ ms/step", out), out
    assert "model.py:step" in out and "mechanisms/" in out

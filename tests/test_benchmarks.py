"""The benchmark scripts users run (benchmarks/) work end to end on the small scenario."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
    ratio = re.search(r"catchment \(([\d,]+) staff\), 4 weeks: .*?([\d.]+)× faster in all", out)
    assert ratio and float(ratio.group(2)) > 1, out


def test_profile_step_lists_the_model_step():
    out = _run(str(BENCH / "profile_step.py"), "--warmup", "2", "--weeks", "3", "--top", "40")
    assert re.search(r"[\d.]+ ms/step", out), out
    assert "model.py:step" in out and "mechanisms/" in out

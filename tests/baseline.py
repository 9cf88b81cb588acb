"""The pinned regression baseline: seeded summary figures of the shipped scenarios.

Every behaviour change shows in the diff of ``tests/baseline.json``; a refactor leaves it
unchanged. ``tests/test_baseline.py`` recomputes the figures and compares them exactly;
``python scripts/update_baseline.py`` rewrites the file (do it only deliberately, and put the old
→ new figures in the commit message; the script prints them).

For each case: one replicate at the scenario's root seed (replicate 0's seed), every strategy.
``timeseries`` and ``measurement`` are content hashes (column names, dtypes and every value, bit
for bit: the same hash means the same ``timeseries.parquet`` content); ``summary`` holds the
Proctor outcomes per strategy × bundle, written as exact floats so a change is legible.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.rng import replicate_seeds
from sim.scenario import Scenario, load_scenario
from sim.simulate import run

ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(__file__).with_name("baseline.json")

#: case name → scenario file (None: the built-in default); national is checked in the slow job.
CASES: dict[str, str | None] = {
    "default": None,
    "antibiotics_first": "experiments/antibiotics_first.toml",
    "measurement": "experiments/measurement.toml",
    "medical_innovation": "experiments/medical_innovation.toml",
    "medication_review_learning_network":
        "calibration/scenarios/medication_review_learning_network.toml",
}
SLOW_CASES: dict[str, str | None] = {"national": "experiments/national.toml"}

LABELS = ("strategy", "replicate", "seed", "bundle")  # summary columns that are not figures


def frame_hash(df: pd.DataFrame) -> str:
    """Hash of a table's columns, dtypes and values (bit for bit, independent of file format)."""
    h = hashlib.sha256()
    for col in df.columns:
        s = df[col]
        h.update(f"{col}:{s.dtype}\n".encode())
        if isinstance(s.dtype, pd.CategoricalDtype):
            h.update("\x1f".join(map(str, s.cat.categories)).encode())
            h.update(np.ascontiguousarray(s.cat.codes.to_numpy()).tobytes())
        elif pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            h.update(np.ascontiguousarray(s.to_numpy()).tobytes())
        else:  # text (object or string dtype): the values, not the pointers
            h.update("\x1f".join(map(str, s.tolist())).encode())
    return h.hexdigest()[:20]


def _number(x: Any) -> float | str | None:
    if isinstance(x, str):  # a descriptor such as why sustainability is undefined
        return x
    x = float(x)
    return None if math.isnan(x) else x


def figures(scenario: Scenario) -> dict[str, Any]:
    """The pinned figures of one scenario: one replicate at its root seed."""
    seed = replicate_seeds(scenario.seed, 1)[0]
    result = run(scenario, seed)
    summary: dict[str, dict[str, float | None]] = {}
    for row in result.summary.to_dict("records"):
        key = f"{row['strategy']} | {row['bundle']}"
        summary[key] = {c: _number(v) for c, v in row.items() if c not in LABELS}
    out: dict[str, Any] = {
        "seed": seed,
        "timeseries_rows": len(result.timeseries),
        "timeseries": frame_hash(result.timeseries),
        "summary_hash": frame_hash(result.summary),
        "summary": summary,
    }
    if result.measurement:
        out["measurement"] = {k: frame_hash(v) for k, v in sorted(result.measurement.items())}
    return out


def case_figures(name: str) -> dict[str, Any]:
    """Figures of one named case."""
    path = {**CASES, **SLOW_CASES}[name]
    return figures(load_scenario(None if path is None else ROOT / path))


def load() -> dict[str, Any]:
    """The committed baseline."""
    return json.loads(BASELINE.read_text())


def write(data: dict[str, Any]) -> None:
    """Write the baseline (sorted keys, one figure a line, so diffs are legible)."""
    BASELINE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")

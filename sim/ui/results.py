"""A finished experiment or sensitivity directory, read for the dashboard.

The dashboard opens what ``implsim experiment`` (a results store: ``experiment.json`` with
Parquet parts) or a sensitivity analysis (``indices.csv``, its runs in ``store/``) wrote. All
numbers are computed here from the stored runs by :mod:`sim.outcomes.statistics`, as
``implsim report`` computes them, at an interval level the user chooses; the page only draws
them. Anything missing or unreadable becomes an :class:`~sim.errors.InputError` the page shows
instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import InputError
from sim.experiment.store import ResultStore
from sim.outcomes import statistics
from sim.params import P
from sim.plots.published import manifest_types

#: The interval level the dashboard's intervals use (typed in the page, checked like any Param).
LEVEL = P("interval_level", 0.95, "Confidence level of the intervals shown.", unit="share",
          low=0.5, high=0.999)

INDICES_COLUMNS = ("output", "factor", "index", "value")


@dataclass
class Results:
    """What a results directory holds (either part may be missing, not both)."""

    root: Path
    name: str
    arms: list[str] = field(default_factory=list)
    points: list[dict[str, Any]] = field(default_factory=list)
    baseline: str = ""  # the comparator arm (the experiment's baseline, default the first)
    paired: bool = True
    runs_done: int = 0
    runs_total: int = 0
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    timeseries: pd.DataFrame = field(default_factory=pd.DataFrame)
    indices: pd.DataFrame | None = None
    #: per arm and bundle, its intervention types (to match published figures to arms)
    types: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def has_arms(self) -> bool:
        """Whether there are finished runs to compare arms on."""
        return not self.summary.empty

    @property
    def bundles(self) -> list[str]:
        """Bundles in the stored runs, in stored order."""
        return list(dict.fromkeys(self.summary["bundle"])) if self.has_arms else []

    def point_labels(self) -> dict[str, int]:
        """Design-point labels for a picker: ``"0: base"``, ``"1: turnover_annual=0.3"``."""
        out = {}
        for i, point in enumerate(self.points or [{}]):
            text = ", ".join(f"{k.split('.')[-1]}={v:g}" if isinstance(v, float) else
                             f"{k.split('.')[-1]}={v}" for k, v in point.items()) or "base"
            out[f"{i}: {text}"] = i
        return out


def open_results(path: str | Path) -> Results:
    """Read an experiment store or a sensitivity directory (clear errors otherwise)."""
    root = Path(str(path).strip()).expanduser()
    if not str(path).strip():
        raise InputError("results directory", "give a directory")
    if not root.exists():
        raise InputError(str(root), "no such directory")
    if not root.is_dir():
        raise InputError(str(root), "is a file; give the directory `implsim experiment "
                         "--out` or a sensitivity analysis wrote")
    has_store = (root / "experiment.json").exists()
    indices_path = root / "indices.csv"
    if not has_store and not indices_path.exists():
        raise InputError(str(root), "neither an experiment results store (no experiment.json) "
                         "nor a sensitivity analysis (no indices.csv); run `implsim experiment "
                         "FILE --out DIR` first")
    res = Results(root=root, name=root.name)
    if has_store:
        _read_store(res, ResultStore(root))
    if indices_path.exists():
        res.indices = read_indices(indices_path)
        if (root / "store" / "experiment.json").exists():
            res.notes.append(f"the analysis' model runs are in {root / 'store'} (open that "
                             "directory to see them as arms)")
    return res


def _read_store(res: Results, store: ResultStore) -> None:
    manifest = store.manifest()
    exp = manifest.get("experiment", {})
    res.name = exp.get("name", res.name)
    res.arms = list(manifest.get("arms", []))
    res.points = list(manifest.get("design_points", [{}])) or [{}]
    res.baseline = exp.get("baseline") or (res.arms[0] if res.arms else "")
    res.paired = bool(exp.get("common_random_numbers", True))
    res.types = manifest_types(exp)
    res.runs_total = int(manifest.get("n_runs", 0))
    res.summary = store.read("summary")
    if res.summary.empty:
        res.notes.append("the store has no finished runs yet; run or resume the experiment")
        return
    res.runs_done = int(res.summary["run_id"].nunique())
    res.timeseries = store.read("timeseries")
    if res.timeseries.empty or not (res.timeseries["level"] == "system").any():
        res.notes.append("the store keeps no system time series (timeseries = \"none\"): no "
                         "uptake curves")


def read_indices(path: Path) -> pd.DataFrame:
    """Sensitivity indices as the analysis wrote them (``indices.csv``)."""
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(str(path), f"unreadable CSV ({exc})") from None
    missing = [c for c in INDICES_COLUMNS if c not in df]
    if missing:
        raise InputError(str(path), f"not a sensitivity indices table: no column "
                         f"{missing[0]!r} (expected {', '.join(INDICES_COLUMNS)})")
    if "factor_2" in df:
        df["factor_2"] = df["factor_2"].fillna("")
    return df


def _at_point(df: pd.DataFrame, point: int) -> pd.DataFrame:
    return df[df["point"] == point] if "point" in df else df


def arm_table(res: Results, point: int, level: float) -> pd.DataFrame:
    """Per arm × bundle: mean and interval of each outcome (``<outcome>_mean/_lo/_hi``)."""
    return statistics.arm_table(_at_point(res.summary, point), ("arm", "bundle"), level=level)


def arm_totals(res: Results, point: int, level: float) -> pd.DataFrame:
    """Per arm: cost and harm summed over bundles per run, mean and interval."""
    return statistics.total_table(_at_point(res.summary, point), ("arm", "point"), level)


def incremental(res: Results, point: int, level: float) -> pd.DataFrame:
    """Each arm against the comparator (the baseline arm), per bundle and for all bundles.

    Paired (or Welch) differences, harm averted and cost per harm averted, as
    ``incremental.csv`` of ``implsim report``.
    """
    return statistics.incremental_table(_at_point(res.summary, point), res.baseline,
                                        res.paired, level=level)


def uptake_bands(res: Results, point: int, level: float) -> pd.DataFrame:
    """System compliance per arm × bundle × week: mean and interval over replicates."""
    return statistics.uptake_bands(_at_point(res.timeseries, point), level)


def fmt_interval(mean: float, lo: float, hi: float, scale: float = 1.0, digits: int = 3) -> str:
    """``0.412 [0.398, 0.427]`` (``–`` for a missing value, no bracket without an interval)."""
    if mean is None or not np.isfinite(mean):
        return "–"
    text = f"{mean / scale:.{digits}g}"
    if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
        text += f" [{lo / scale:.{digits}g}, {hi / scale:.{digits}g}]"
    return text

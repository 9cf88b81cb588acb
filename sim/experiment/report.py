"""Reports computed from a results store, never from memory.

Arm tables, paired differences, programme totals, incremental outcomes against the comparator
(the experiment's ``baseline`` arm, default the first), uptake curves with intervals, and harm
averted against extra cost. The statistics are those of :mod:`sim.outcomes.statistics` and the
figures those of :mod:`sim.plots.arms`, which ``implsim dashboard`` uses too: one store, one set
of numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import InputError
from sim.experiment.contrast import FILES as CONTRAST_FILES
from sim.experiment.contrast import write_contrast
from sim.experiment.store import ResultStore
from sim.outcomes.icc import icc_table
from sim.outcomes.statistics import (
    all_pairs,
    arm_table,
    incremental_table,
    pair_table,
    total_table,
    uptake_bands,
)
from sim.plots.arms import DPI, effect_cost_figure, uptake_figure
from sim.plots.published import manifest_types

#: Why a store has no icc.csv (its chunks were written before the store kept cluster sums).
ICC_NEEDS_RERUN = ("no icc.csv: this store was written before experiments kept the ICC's "
                   "cluster sums; run the experiment again into a new --out directory for it")
#: The interval level of every report table and figure.
LEVEL = 0.95
#: What ``implsim report`` writes into ``DIR/report/``.
FILES = ("arms.csv", "pairs.csv", "totals.csv", "incremental.csv", "icc.csv", "uptake.png",
         "effect_vs_cost.png", *CONTRAST_FILES, "README.txt")


def write_report(root: str | Path) -> Path:
    """Write ``DIR/report/`` from the store at ``root``; returns the report directory."""
    store = ResultStore(root)
    manifest = store.manifest()
    summary = store.read("summary")
    if summary.empty:
        raise InputError(str(root), "the store has no finished runs yet; run or resume the "
                         "experiment first")
    store.check_membership(summary)  # refuse a store mixing two experiments' runs
    ts = store.read("timeseries")
    clusters = store.read("clusters") if store.has_table("clusters") else None
    if clusters is None:
        print(f"implsim: note: {root}: {ICC_NEEDS_RERUN}", file=sys.stderr)
    out = Path(root) / "report"
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "is a file where the report directory belongs; move it away")
    try:
        return _write(out, manifest, summary, ts, clusters)
    except OSError as exc:  # a read-only store, a full disk
        raise InputError(str(exc.filename or out), f"cannot write the report "
                         f"({exc.strerror or exc}); the report goes into the store's report/: "
                         "make it writable, or copy the store somewhere writable and report "
                         "the copy") from None


def experiment_icc(clusters: pd.DataFrame, seed: int) -> pd.DataFrame:
    """``icc.csv`` of an experiment: :func:`icc_table` per design point, the arm as strategy.

    Why the arm in the strategy column: the columns stay those of ``implsim run``'s icc.csv
    (after ``point``), and an experiment whose arms are a scenario's strategies, with the
    scenario's seed, gives the same rows (its replicates have the same seeds).
    """
    tables = []
    for point, part in clusters.groupby("point", sort=True):
        table = icc_table(part.drop(columns=["strategy"], errors="ignore")
                          .rename(columns={"arm": "strategy"}), seed)
        table.insert(0, "point", point)
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else icc_table(pd.DataFrame(), seed)


def _write(out: Path, manifest: dict[str, Any], summary: pd.DataFrame,
           ts: pd.DataFrame, clusters: pd.DataFrame | None) -> Path:
    """The report's files (why apart: every write failure becomes one line above)."""
    arms = manifest["arms"]
    exp = manifest["experiment"]
    name = exp.get("name", "")
    paired = bool(exp.get("common_random_numbers", True))
    out.mkdir(exist_ok=True)
    arm_table(summary, ("arm", "point", "bundle"), level=LEVEL).to_csv(out / "arms.csv",
                                                                       index=False)
    pair_table(summary, all_pairs(arms), paired, level=LEVEL).to_csv(out / "pairs.csv",
                                                                     index=False)
    totals = total_table(summary, ("arm", "point"), LEVEL)
    totals.to_csv(out / "totals.csv", index=False)
    comparator = exp.get("baseline") or arms[0]
    incremental = incremental_table(summary, comparator, paired, level=LEVEL)
    incremental.to_csv(out / "incremental.csv", index=False)
    if clusters is not None:
        experiment_icc(clusters, int(exp["seed"])).to_csv(out / "icc.csv", index=False)
    first = summary["point"].min()
    if not ts.empty and (ts["level"] == "system").any():
        at_first = ts[ts["point"] == ts["point"].min()]
        bundles = list(dict.fromkeys(at_first.loc[at_first["level"] == "system", "bundle"]))
        fig = uptake_figure(uptake_bands(at_first, LEVEL), arms, bundles, LEVEL, name,
                            manifest_types(exp), comparator)
        fig.savefig(out / "uptake.png", dpi=DPI)
    fig = effect_cost_figure(incremental[incremental["point"] == first], arms, LEVEL, name)
    fig.savefig(out / "effect_vs_cost.png", dpi=DPI)
    contrast = exp.get("contrast")
    written = write_contrast(out, ts, contrast, exp["design_points"], paired, name) \
        if contrast else []
    done = summary["run_id"].nunique()
    method = "paired: common random numbers" if paired else "Welch: independent runs"
    (out / "README.txt").write_text(
        f"Report of {exp.get('name')} from {done} of {manifest['n_runs']} runs.\n"
        "arms.csv: per arm x design point x bundle, mean and 95% interval of each outcome.\n"
        f"pairs.csv: per pair of arms, difference (second - first) with 95% interval "
        f"({method}).\n"
        "totals.csv: per arm x design point, cost and harm summed over the bundles of each "
        "run, mean and 95% interval over replicates.\n"
        f"incremental.csv: per arm x design point x bundle (and all bundles), against the "
        f"comparator {comparator!r}: differences (arm - comparator) with 95% interval "
        f"({method}), harm averted (comparator - arm harm_expected) and cost per harm averted "
        "= mean delta_cost / mean harm averted, NaN with the reason in "
        "cost_per_harm_averted_undefined (effect_vs_cost.png shows all bundles at the first "
        "point).\n"
        + ("icc.csv: per design point x arm (column strategy) x bundle x level x kind x metric "
           "x week, the between-municipality and between-trust ICC of unit outcomes, mean over "
           "replicates, with a cluster-bootstrap interval (sim/outcomes/icc.py, as implsim run's "
           "icc.csv).\n" if clusters is not None else f"{ICC_NEEDS_RERUN}.\n")
        + (f"{', '.join(written)}: the contrast {contrast['treatment']!r} minus "
           f"{contrast['control']!r} per design point, {contrast['level']:.0%} interval "
           "(sim/experiment/contrast.py).\n" if written else ""))
    return out

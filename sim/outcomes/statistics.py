"""Arm statistics: means with intervals per arm, differences between arms, programme totals.

One home for the numbers ``implsim run`` (comparison.csv), ``implsim report`` (arms.csv,
pairs.csv, totals.csv and its figures) and ``implsim dashboard`` show, so the same store gives
the same intervals everywhere.

- An arm's outcome: the mean over replicates and the Student t-interval of that mean.
- A difference between two arms: with common random numbers replicate *k* of both arms shares
  its seed, so the difference is taken replicate by replicate and its interval is a paired
  t-interval; without them it is Welch's interval for two independent samples.
- A programme total (cost, harm events: the outcomes the catalogue marks ``summed``): the sum
  over bundles is formed *per run* first, then treated like any outcome, see
  :func:`programme_totals`.
- Incremental outcomes against a named comparator arm (:func:`incremental_table`): each arm's
  paired differences from the comparator, harm averted (comparator's harm − the arm's) and the
  incremental cost per harm averted, the ratio of the two *mean* differences (a mean of
  per-replicate ratios is no estimator of it, and explodes where a replicate averts ≈ 0).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.special import stdtrit  # the t quantile t.ppf computes; scipy.stats is slow to import

from sim.outcomes.catalogue import COMPARED, INCREMENTAL, PAIRED, REACHED, SUMMED

#: The ``bundle`` of a programme-total row.
ALL_BUNDLES = "all bundles"


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean, lower and upper bound of its t-interval, and n (NaNs dropped)."""
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    n = len(v)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    m = float(v.mean())
    if n == 1:
        return m, float("nan"), float("nan"), 1
    half = stdtrit(n - 1, 0.5 + level / 2) * v.std(ddof=1) / np.sqrt(n)
    return m, m - half, m + half, n


def diff_interval(a: np.ndarray, b: np.ndarray, paired: bool,
                  level: float = 0.95) -> tuple[float, float, float]:
    """Mean of b − a and its interval (paired t, or Welch when the runs are independent)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if paired:
        d = b - a
        d = d[~np.isnan(d)]
        m, lo, hi, _ = mean_ci(d, level)
        return m, lo, hi
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return float(b.mean() - a.mean()) if len(a) and len(b) else float("nan"), \
            float("nan"), float("nan")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se > 0 else 1.0
    half = stdtrit(df, 0.5 + level / 2) * se
    m = float(b.mean() - a.mean())
    return m, m - half, m + half


def arm_table(summary: pd.DataFrame, by: Sequence[str], outcomes: Iterable[str] = COMPARED,
              level: float = 0.95, reached: bool = False) -> pd.DataFrame:
    """One row per group of ``by``: ``replicates`` and ``<outcome>_mean``, ``_lo``, ``_hi``.

    Outcomes missing from ``summary`` are skipped. With ``reached``, the share of replicates
    that reached 50% / 80% compliance is added beside the mean times (which average only the
    replicates that did: "never reached" is not a number of weeks).
    """
    outcomes = tuple(outcomes)
    rows = []
    for key, grp in summary.groupby(list(by), sort=False, observed=True):
        row: dict[str, object] = dict(zip(by, key, strict=True))
        row["replicates"] = len(grp)
        for col in outcomes:
            if col in grp:
                m, lo, hi, _ = mean_ci(grp[col].to_numpy(), level)
                row[f"{col}_mean"], row[f"{col}_lo"], row[f"{col}_hi"] = m, lo, hi
        if reached:
            for col, share in REACHED.items():
                if col in grp:
                    row[share] = float(grp[col].notna().mean())
        rows.append(row)
    return pd.DataFrame(rows)


def compare_arms(summary: pd.DataFrame, comparator: str | None = None,
                 paired: bool = True) -> pd.DataFrame:
    """The comparison table of ``implsim run`` (comparison.csv).

    Per strategy × bundle, and per strategy for the programme total (``bundle = "all
    bundles"``, summed outcomes only): each outcome's mean and interval, the reach shares, and
    the incremental columns against ``comparator`` (default: the first strategy) of
    :func:`incremental_table`. The replicates of ``implsim run`` share their seeds across
    strategies (common random numbers), so the differences are paired.
    """
    arms = arm_table(summary, ("strategy", "bundle"), COMPARED, reached=True)
    totals = arm_table(programme_totals(summary, ("strategy", "replicate")),
                       ("strategy", "bundle"), SUMMED)
    table = pd.concat([arms, totals], ignore_index=True)
    if comparator is None:
        comparator = str(summary["strategy"].iloc[0])
    runs = summary.rename(columns={"strategy": "arm"}).assign(point=0)
    inc = incremental_table(runs, comparator, paired).drop(columns=["point", "replicates"])
    inc = inc.rename(columns={"arm": "strategy"})
    return table.merge(inc, on=["strategy", "bundle"], how="left")


def programme_totals(summary: pd.DataFrame, run: Sequence[str] = ("arm", "point", "replicate")
                     ) -> pd.DataFrame:
    """Per run (``run`` columns), the summed outcomes added over its bundles.

    One row per run, in the shape of the summary, with ``bundle = "all bundles"``.
    This is the one definition of a total's interval: the bundles of a run share its seed,
    staff and interventions, so their outcomes are correlated, and the spread of a sum is not
    a function of the bundles' spreads alone. Adding the bundles' interval half-widths assumes
    perfect correlation (and gives an interval of no estimator); adding variances assumes
    none. Summing per run first and then taking the t-interval over replicates
    (:func:`arm_table`) or the paired difference per replicate (:func:`pair_table`) is right
    whatever the correlation.
    """
    cols = [c for c in SUMMED if c in summary]
    totals = summary.groupby(list(run), sort=False, observed=True)[cols].sum().reset_index()
    totals.insert(len(run), "bundle", ALL_BUNDLES)
    return totals


def total_table(summary: pd.DataFrame, by: Sequence[str] = ("arm", "point"),
                level: float = 0.95) -> pd.DataFrame:
    """Per group of ``by``: mean and interval of each programme total (see above)."""
    return arm_table(programme_totals(summary), by, SUMMED, level)


def pair_table(summary: pd.DataFrame, pairs: Iterable[tuple[str, str]], paired: bool,
               outcomes: Iterable[str] = PAIRED, level: float = 0.95) -> pd.DataFrame:
    """Per pair of arms × point × bundle × outcome: difference (second − first) with interval.

    Replicates are matched on ``point``, ``replicate`` and ``bundle``.
    """
    outcomes = tuple(outcomes)
    rows = []
    for first, second in pairs:
        a = summary[summary["arm"] == first]
        b = summary[summary["arm"] == second]
        merged = a.merge(b, on=["point", "replicate", "bundle"], suffixes=("_a", "_b"))
        for (point, bundle), grp in merged.groupby(["point", "bundle"], sort=False):
            for col in outcomes:
                m, lo, hi = diff_interval(grp[f"{col}_a"].to_numpy(), grp[f"{col}_b"].to_numpy(),
                                          paired, level)
                rows.append({"first": first, "second": second, "point": point,
                             "bundle": bundle, "outcome": col, "difference": m,
                             "lo": lo, "hi": hi, "paired": paired, "n": len(grp)})
    return pd.DataFrame(rows)


def all_pairs(arms: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair of arms, in order: (a, b), (a, c), (b, c)."""
    return list(itertools.combinations(arms, 2))


def against(baseline: str, arms: Sequence[str]) -> list[tuple[str, str]]:
    """Each arm paired with the baseline arm: (baseline, arm)."""
    return [(baseline, arm) for arm in arms if arm != baseline]


#: Why an incremental cost per harm averted is undefined (``cost_per_harm_averted_undefined``).
COMPARATOR = "comparator"
NO_INTERVAL = "no interval for harm averted (fewer than 2 replicates)"
INCLUDES_ZERO = "harm averted interval includes 0"
NO_HARM_AVERTED = "no harm averted: every pair has the comparator's harm"
DOMINATED = "dominated: more harm, no less cost"
MORE_HARM = "more harm at less cost"
DOMINANT = "dominant: less harm at less cost"


def cost_per_harm_averted(delta_cost: float, averted: tuple[float, float, float],
                          is_comparator: bool = False) -> tuple[float, str]:
    """Incremental cost per harm averted and why it is undefined ('' when it is defined).

    ``delta_cost`` is the mean cost difference (arm − comparator), ``averted`` the mean harm
    averted (comparator − arm) with its interval. The ratio Δcost / Δharm averted is reported
    only where the harm averted is positive with an interval that excludes 0 and the arm does
    not also save cost; otherwise it is NaN with the reason: the comparator itself, no
    interval, no harm averted in any pair (an arm that changes nothing), an interval that
    includes 0 (the ratio's denominator may be 0 or negative: no
    finite ratio means anything), more harm than the comparator (dominated when it costs no
    less), or less harm at less cost (dominant: a negative ratio would rank below a cheap
    effective arm, so it is named instead).
    """
    mean, lo, hi = averted
    if is_comparator:
        return float("nan"), COMPARATOR
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return float("nan"), NO_INTERVAL
    if mean == lo == hi == 0.0:
        return float("nan"), NO_HARM_AVERTED
    if lo <= 0.0 <= hi:
        return float("nan"), INCLUDES_ZERO
    if hi < 0.0:
        return float("nan"), DOMINATED if delta_cost >= 0.0 else MORE_HARM
    if delta_cost < 0.0:
        return float("nan"), DOMINANT
    return delta_cost / mean, ""


def incremental_table(summary: pd.DataFrame, comparator: str, paired: bool,
                      outcomes: Iterable[str] = INCREMENTAL, level: float = 0.95
                      ) -> pd.DataFrame:
    """Each arm against the comparator, per design point × bundle and for all bundles.

    ``summary`` has the columns ``arm``, ``point``, ``replicate``, ``bundle`` and the outcomes.
    One row per arm × point × bundle (the comparator's own rows included, with differences 0
    and no ratio), then the programme-total rows (``bundle = "all bundles"``, summed outcomes
    per run first, see :func:`programme_totals`). Columns: ``comparator``, ``replicates``
    (pairs, or the arm's runs without common random numbers), ``paired``,
    ``delta_<outcome>_mean/_lo/_hi`` (arm − comparator, paired t or Welch interval as
    :func:`diff_interval`), ``harm_averted_mean/_lo/_hi`` (comparator's ``harm_expected`` −
    the arm's: the negated Δharm events, computed the same way), ``cost_per_harm_averted``
    (mean Δcost / mean harm averted, :func:`cost_per_harm_averted`) and
    ``cost_per_harm_averted_undefined`` (the reason it is NaN, '' when defined).
    """
    outcomes = tuple(outcomes)
    arms = list(dict.fromkeys(summary["arm"]))
    if comparator not in arms:
        raise ValueError(f"comparator {comparator!r} is not an arm; arms: {', '.join(arms)}")
    per_run = ["arm", "point", "replicate", "bundle"]
    rows = []
    for frame in (summary, programme_totals(summary)):
        cols = [c for c in outcomes if c in frame]
        base = frame[frame["arm"] == comparator][per_run + cols]
        for arm in arms:
            other = frame[frame["arm"] == arm][per_run + cols]
            merged = base.merge(other, on=["point", "replicate", "bundle"], how="outer",
                                suffixes=("_c", "_a"))
            for (point, bundle), grp in merged.groupby(["point", "bundle"], sort=False):
                row: dict[str, object] = {"arm": arm, "comparator": comparator,
                                          "point": point, "bundle": bundle}
                a_run = grp["arm_a"].notna()
                both = a_run & grp["arm_c"].notna()
                pair = paired or arm == comparator  # the comparator's runs are its own pairs
                row["replicates"] = int(both.sum() if pair else a_run.sum())
                row["paired"] = paired
                for col in cols:
                    c, a = grp[f"{col}_c"].to_numpy(float), grp[f"{col}_a"].to_numpy(float)
                    if pair:
                        c, a = c[both.to_numpy()], a[both.to_numpy()]
                    row[f"delta_{col}_mean"], row[f"delta_{col}_lo"], row[f"delta_{col}_hi"] = \
                        diff_interval(c, a, pair, level)
                    if col == "harm_expected":  # comparator − arm: the same differences
                        row["harm_averted_mean"], row["harm_averted_lo"], \
                            row["harm_averted_hi"] = diff_interval(a, c, pair, level)
                if "cost" in cols and "harm_expected" in cols:
                    row["cost_per_harm_averted"], row["cost_per_harm_averted_undefined"] = \
                        cost_per_harm_averted(row["delta_cost_mean"], (
                            row["harm_averted_mean"], row["harm_averted_lo"],
                            row["harm_averted_hi"]), arm == comparator)
                rows.append(row)
    table = pd.DataFrame(rows)
    order = {b: i for i, b in enumerate(dict.fromkeys([*summary["bundle"], ALL_BUNDLES]))}
    table["_b"] = table["bundle"].map(order)
    table["_a"] = table["arm"].map({a: i for i, a in enumerate(arms)})
    return (table.sort_values(["point", "_b", "_a"], kind="stable")
            .drop(columns=["_b", "_a"]).reset_index(drop=True))


def uptake_bands(timeseries: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """System compliance per arm × bundle × week: mean and interval over replicates.

    A single replicate has no interval; its band is the line itself.
    """
    columns = ["arm", "bundle", "week", "mean", "lo", "hi"]
    if timeseries.empty:
        return pd.DataFrame(columns=columns)
    rows = timeseries[timeseries["level"] == "system"]
    out = []
    for (arm, bundle, week), grp in rows.groupby(["arm", "bundle", "week"], sort=False,
                                                 observed=True):
        m, lo, hi, n = mean_ci(grp["compliance"].to_numpy(float), level)
        if n == 1:
            lo = hi = m
        out.append({"arm": arm, "bundle": str(bundle), "week": int(week), "mean": m,
                    "lo": lo, "hi": hi})
    if not out:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(out).sort_values(["arm", "bundle", "week"], kind="stable")

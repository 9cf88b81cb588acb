"""Detection: when the programme's own charts would have shown the change.

Two questions planners ask of a strategy: *when would our SPC charts show the improvement in
compliance*, and *would our GTT sample detect the harm reduction at all*. Both are answered on
the **observed** series (:mod:`sim.outcomes.audit`, :mod:`sim.outcomes.gtt`), never on
the model's true state, with the p-chart and Shewhart rules of :mod:`sim.outcomes.spc`.

Charts
------
- **Compliance** (per charted unit × bundle): the unit audits ``sample`` patients per period.
  Before the programme it audits ``baseline_periods`` periods at its week-0 compliance (a
  baseline measurement, as improvement teams are taught to collect); the chart's centre line is
  frozen on those baseline points, and an *upward* signal after the baseline is detection.
- **Harm** (per trust): a p-chart of the monthly GTT share (records with ≥ 1 harm / records)
  with the centre frozen on the ``baseline_months`` pre-programme months; a *downward* signal
  after the baseline is detection. A p-chart was chosen over a CUSUM because it is what the
  programme showed on its charts (so planners see what they would have seen) and because the
  same rules and the same false-signal arithmetic then apply to both measures. A CUSUM would be
  more sensitive to the small, sustained shift that bundles give; with ~20 records a month even a
  CUSUM cannot see a change of a few tenths of a percentage point.
- ``centre = "known"`` instead uses the true baseline proportion as the centre (Montgomery's
  "standard given"), an idealisation useful for checking the rules' false-signal rate exactly.

Rules (``rules``): any of ``outside`` (a point beyond the 3σ limit), ``shift`` (8 in a row on
one side), ``trend`` (6 rising or falling); see :mod:`sim.outcomes.spc`. Detection time is the
week at the end of the period whose point first *satisfies* a rule in the wanted direction
(the 8th point of a run, not the first), counted from the start of the programme (week 0).
Charts without a signal within the horizon have NaN.

Even with no change at all a chart signals sometimes (false signals). Their expected share for a
chart of the same length, sample size and baseline is :func:`null_signal_share` (by simulating
in-control binomial series through the same chart code); the summary reports it beside the
share detected, so that a "detection" rate near it means the chart cannot tell.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.outcomes.spc import Direction, PChart, detection_flags, first_signal, p_chart

RULES = ("outside", "shift", "trend")


@dataclass(frozen=True)
class ChartSpec:
    """How a chart is drawn and read: rules, limits, run lengths, source of the centre."""

    rules: tuple[str, ...] = RULES
    sigma: float = 3.0
    shift_length: int = 8
    trend_length: int = 6
    centre: str = "baseline"  # or "known"

    @classmethod
    def from_measurement(cls, m: dict) -> ChartSpec:
        """The spec declared in a scenario's ``[measurement]`` section."""
        return cls(tuple(m["spc_rules"]), m["spc_sigma"], m["spc_shift_length"],
                   m["spc_trend_length"], m["spc_centre"])


def chart(numerators: Sequence[int] | np.ndarray, denominators: Sequence[int] | np.ndarray,
          baseline_points: int, spec: ChartSpec, known_centre: float | None = None,
          periods: Sequence[object] | np.ndarray | None = None) -> PChart:
    """A p-chart with its centre frozen on the first ``baseline_points`` points (or known).

    The rules not in ``spec.rules`` are switched off.
    """
    known = spec.centre == "known"
    if known and known_centre is None:
        raise ValueError("centre = 'known' needs the true baseline proportion")
    c = p_chart(numerators, denominators, baseline_points=None if known else baseline_points,
                centre=float(known_centre) if known else None, sigma=spec.sigma,
                shift_length=spec.shift_length, trend_length=spec.trend_length, periods=periods)
    off: dict[str, object] = {}
    never = max(len(c) + 1, 2)  # a run that long cannot happen
    zeros = np.zeros(len(c), bool)
    zeros.setflags(write=False)
    if "outside" not in spec.rules:
        off.update(outside_up=zeros, outside_down=zeros)
    if "shift" not in spec.rules:
        off.update(shift_up=zeros, shift_down=zeros, shift_length=never)
    if "trend" not in spec.rules:
        off.update(trend_up=zeros, trend_down=zeros, trend_length=never)
    return dataclasses.replace(c, **off) if off else c


def _only(c: PChart, rule: str) -> PChart:
    """The same chart read with one rule only (to say which rule fired)."""
    never = max(len(c) + 1, 2)
    zeros = np.zeros(len(c), bool)
    return dataclasses.replace(
        c, outside_up=c.outside_up if rule == "outside" else zeros,
        outside_down=c.outside_down if rule == "outside" else zeros,
        shift_length=c.shift_length if rule == "shift" else never,
        trend_length=c.trend_length if rule == "trend" else never)


def first_detection(c: PChart, start: int, direction: Direction) -> tuple[int | None, str]:
    """Index of the first point at or after ``start`` where a rule is satisfied, and the rule(s)."""
    i = first_signal(c, direction, start)
    if i is None:
        return None, ""
    return i, "+".join(r for r in RULES if detection_flags(_only(c, r), direction)[i])


def detect(numerators: Sequence[int] | np.ndarray, denominators: Sequence[int] | np.ndarray,
           weeks: Sequence[int] | np.ndarray, baseline_points: int, spec: ChartSpec,
           direction: Direction, known_centre: float | None = None) -> dict[str, object]:
    """Weeks to the first signal after the baseline (NaN if none), with the centre and rule."""
    c = chart(numerators, denominators, baseline_points, spec, known_centre)
    i, rule = first_detection(c, baseline_points, direction)
    return {"centre": c.centre, "weeks_to_signal": float(weeks[i]) if i is not None else np.nan,
            "rule": rule}


def null_signal_share(p: float, n: int, baseline_points: int, points: int, spec: ChartSpec,
                      direction: Direction, reps: int, rng: np.random.Generator) -> float:
    """Share of in-control charts (constant true ``p``) that signal after the baseline.

    Each replicate draws ``baseline_points + points`` binomial(``n``, ``p``) counts and reads
    them exactly as the model's charts are read (same centre, rules and start).
    """
    x = rng.binomial(n, p, size=(reps, baseline_points + points))
    den = np.full(baseline_points + points, n)
    hits = 0
    for row in x:
        c = chart(row, den, baseline_points, spec, known_centre=p)
        hits += first_signal(c, direction, baseline_points) is not None
    return hits / reps


def censored_quantile(times: np.ndarray, q: float) -> float:
    """Quantile of detection times where NaN means "not within the horizon" (counted as +∞).

    NaN when the quantile falls among the undetected (more than ``1 − q`` never signalled).
    """
    t = np.where(np.isnan(times), np.inf, times)
    if len(t) == 0:
        return np.nan
    v = float(np.quantile(t, q, method="inverted_cdf"))
    return v if np.isfinite(v) else np.nan


SUMMARY_COLUMNS = ("strategy", "measure", "bundle", "charts", "replicates", "detected_share",
                   "detected_share_q10", "detected_share_q90", "median_weeks", "q25_weeks",
                   "q75_weeks", "mean_weeks_if_detected", "null_signal_share", "horizon_weeks")


def summarise(detection: pd.DataFrame, horizon: int,
              null_shares: dict[tuple[str, str], float] | None = None) -> pd.DataFrame:
    """Per strategy × measure × bundle: detection over charts and replicates.

    ``detected_share`` is the share of charts (unit × replicate, or trust × replicate) that
    signalled within the horizon; ``detected_share_q10``/``q90`` its spread over replicates.
    Quantiles of weeks to signal count the undetected as later than the horizon (NaN when the
    quantile is among them). ``null_signal_share`` is the share expected with no change at all
    (see :func:`null_signal_share`), keyed by (measure, bundle).
    """
    rows = []
    if detection.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    for (strategy, measure, bundle), g in detection.groupby(["strategy", "measure", "bundle"],
                                                            sort=False, observed=True):
        t = g["weeks_to_signal"].to_numpy(float)
        per_rep = g.groupby("replicate")["weeks_to_signal"].apply(lambda s: s.notna().mean())
        rows.append({
            "strategy": strategy, "measure": measure, "bundle": bundle, "charts": len(g),
            "replicates": g["replicate"].nunique(),
            "detected_share": float(np.mean(~np.isnan(t))),
            "detected_share_q10": float(per_rep.quantile(0.1)),
            "detected_share_q90": float(per_rep.quantile(0.9)),
            "median_weeks": censored_quantile(t, 0.5),
            "q25_weeks": censored_quantile(t, 0.25),
            "q75_weeks": censored_quantile(t, 0.75),
            "mean_weeks_if_detected": float(np.nanmean(t)) if (~np.isnan(t)).any() else np.nan,
            "null_signal_share": (null_shares or {}).get((measure, bundle), np.nan),
            "horizon_weeks": horizon,
        })
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))

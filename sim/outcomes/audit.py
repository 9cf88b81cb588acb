"""Audits: what a unit sees when it reviews a sample of its patients for one bundle.

One definition serves every reader of an audit: audit & feedback (the unit reacts to it during
the run), ``implsim run --spc-units`` (``spc.csv``, ``spc/*.png``), the ``[measurement]`` charts
(``compliance_observed.csv``, detection) and the explorer's SPC view. The same unit, bundle and
settings therefore give the same audited series whichever path asks for it.

- **Periods.** Audit period *k* covers weeks ``(k − 1)P + 1 … kP`` (``P`` = period weeks,
  counted from week 0); its row carries ``week = kP``. Periods ``k ≤ 0`` are the baseline,
  measured before the programme at the week-0 compliance (``baseline_periods`` of them for a
  chart; audit & feedback starting in week 1 feeds back period 0).
- **What an audit sees.** A monthly audit reviews patients treated over the month, so period
  *k*'s true compliance is the mean of the unit's weekly compliance over its weeks
  (:func:`true_compliance`; weeks with none defined are skipped). After a run the weekly values
  come from the recorder (linear between recorded weeks when ``[output] every_weeks > 1``);
  during a run from the model, week by week (:class:`PeriodWeeks`).
- **The sample.** ``n`` patients; the compliant count is Binomial(n, p), drawn by inversion from
  one uniform per period (:func:`compliant`). A period's draw is thus fixed by the seed, unit,
  bundle and period alone: the same whatever the strategy (common random numbers), the sample
  size or the other periods, and whether it is read during or after the run.
- **Streams.** ``audit:<unit>:<bundle>`` gives the uniforms of periods 1, 2, …;
  ``audit:<unit>:<bundle>:baseline`` those of periods 0, −1, … (counted back from the start, so
  the number of baseline periods shifts no other draw).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.params import MEASUREMENT
from sim.rng import named_key, uniform_at

#: Columns of every audit table (compliance_observed.csv, spc.csv, audit & feedback).
COLUMNS = ("unit", "bundle", "period", "week", "true_compliance", "audited", "compliant",
           "baseline", "observed_compliance")


@dataclass(frozen=True)
class AuditSpec:
    """How a unit audits: patients per period, weeks per period, baseline periods charted."""

    sample_size: int
    period_weeks: int
    baseline_periods: int = 0

    @classmethod
    def of(cls, measurement: Mapping[str, Any] | None) -> AuditSpec:
        """The ``[measurement]`` audit settings (the declared defaults without the table)."""
        m = settings(measurement)
        return cls(m["audit_sample_size"], m["audit_period_weeks"], m["audit_baseline_periods"])


def settings(measurement: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A scenario's ``[measurement]`` values, or the declared defaults when it has none.

    ``--spc-units`` charts under these, so a scenario without the table still has one audit.
    """
    return MEASUREMENT.defaults() if measurement is None else measurement


def true_compliance(weekly: np.ndarray) -> np.ndarray:
    """(W, ...) weekly compliance over one period's weeks -> (...) what its audit sees.

    The mean over the weeks, NaN weeks skipped (NaN when none is defined). Summed week by week
    in float64, so the same weeks give the same float whether stacked per period during a run
    or for all periods at once after it.
    """
    weekly = np.asarray(weekly)
    total = np.zeros(weekly.shape[1:])
    count = np.zeros(weekly.shape[1:])
    for week in weekly:
        ok = ~np.isnan(week)
        total += np.where(ok, week, 0.0)
        count += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def uniforms(seed: int, pairs: Sequence[tuple[str, str]], periods: np.ndarray) -> np.ndarray:
    """(len(pairs), len(periods)) uniforms of the audits of each (unit, bundle) in ``periods``.

    Counter-based (:func:`sim.rng.named_key`, :func:`sim.rng.uniform_at`): the audit of a
    (unit, bundle) in period *p* draws entry *p* of that pair's own stream (baseline periods
    *p* ≤ 0 their own), so it is the same draw whichever path asks, in any strategy and
    whatever the baseline length.
    """
    periods = np.asarray(periods, np.int64)
    out = np.empty((len(pairs), len(periods)))
    run, base = periods >= 1, periods <= 0
    if run.any():
        keys = np.array([named_key(seed, f"audit:{u}:{b}") for u, b in pairs], np.uint64)
        out[:, run] = uniform_at(keys[:, None], periods[run][None, :] - 1)
    if base.any():
        keys = np.array([named_key(seed, f"audit:{u}:{b}:baseline") for u, b in pairs],
                        np.uint64)
        out[:, base] = uniform_at(keys[:, None], -periods[base][None, :])
    return out


def compliant(u: np.ndarray, n: int, p: np.ndarray) -> np.ndarray:
    """Compliant counts of audits of ``n`` patients at true compliance ``p``, by inversion.

    Binomial(n, p) exactly; a larger ``p`` never gives fewer compliant patients for the same
    uniform, so strategies compare pairwise.
    """
    from scipy.stats import binom  # slow to import: only when auditing

    p = np.clip(np.asarray(p, float), 0.0, 1.0)
    x = binom.ppf(1.0 - np.asarray(u), n, p)  # 1 − u in (0, 1]: never below the support
    return np.where(p > 0.0, x, 0.0).astype(np.int64)


def frame(units: np.ndarray, bundles: np.ndarray, periods: np.ndarray, period_weeks: int,
          true: np.ndarray, n: int, counts: np.ndarray) -> pd.DataFrame:
    """The audit table (:data:`COLUMNS`) from flat per-audit arrays."""
    return pd.DataFrame({
        "unit": units, "bundle": bundles, "period": periods, "week": periods * period_weeks,
        "true_compliance": true, "audited": np.full(len(periods), n, np.int64),
        "compliant": counts, "baseline": periods <= 0, "observed_compliance": counts / n,
    }, columns=list(COLUMNS))


def audits(compliance: np.ndarray, weeks: Sequence[int], units: Sequence[int],
           unit_names: Sequence[str], bundle_names: Sequence[str], spec: AuditSpec, seed: int
           ) -> pd.DataFrame:
    """The audits of ``units`` × bundles after a run: baseline periods, then every whole period.

    ``compliance`` is the recorder's (T, U, B) unit compliance at ``weeks`` (week 0 first).
    Bundles that do not apply to a unit at week 0 are not audited there.
    """
    from sim.outcomes.gtt import weekly as every_week

    last = int(weeks[-1]) if len(weeks) else 0
    P, k0 = spec.period_weeks, spec.baseline_periods
    n_run = last // P
    periods = np.arange(1 - k0, n_run + 1)
    comp = np.asarray(compliance)[:, list(units), :]  # (T, U', B)
    u_n, b_n = comp.shape[1], comp.shape[2]
    c0 = comp[0].astype(float)
    true = np.empty((len(periods), u_n, b_n))
    true[:k0] = c0
    if n_run:
        flat = every_week(comp.reshape(len(weeks), -1), weeks, last)  # (last + 1, U' B)
        by_period = flat[1:n_run * P + 1].reshape(n_run, P, -1).swapaxes(0, 1)
        true[k0:] = true_compliance(by_period).reshape(n_run, u_n, b_n)
    cells = [(i, b) for i in range(u_n) for b in range(b_n) if not np.isnan(c0[i, b])]
    if not cells:
        return pd.DataFrame(columns=list(COLUMNS))
    ii, bb = (np.array(v, np.intp) for v in zip(*cells, strict=True))
    names = [(unit_names[units[i]], bundle_names[b]) for i, b in cells]
    p = true[:, ii, bb].T  # (pairs, periods)
    counts = compliant(uniforms(seed, names, periods), spec.sample_size, p)
    keep = ~np.isnan(p)  # periods with no defined compliance are not audited
    reps = len(periods)
    return frame(np.repeat([u for u, _ in names], reps)[keep.ravel()],
                 np.repeat([b for _, b in names], reps)[keep.ravel()],
                 np.tile(periods, len(names))[keep.ravel()], P, p[keep], spec.sample_size,
                 counts[keep])


class PeriodWeeks:
    """The weeks of the current audit period, kept during a run (audit & feedback).

    Fed the unit compliance at the end of each week, it returns, when a period ends, the period
    and what its audit sees — by :func:`true_compliance`, the same arithmetic as after the run.
    """

    def __init__(self, period_weeks: int) -> None:
        self.period_weeks = period_weeks
        self._weeks: list[np.ndarray] = []

    def add(self, week: int, compliance: np.ndarray) -> tuple[int, np.ndarray] | None:
        """Week ``week``'s compliance; (period, true compliance) if the period ends with it."""
        if week >= 1:
            self._weeks.append(np.array(compliance))
        if week % self.period_weeks:
            return None
        period = week // self.period_weeks
        true = (np.asarray(compliance, float) if week == 0  # baseline: the week-0 compliance
                else true_compliance(np.stack(self._weeks)))
        self._weeks = []
        return period, true

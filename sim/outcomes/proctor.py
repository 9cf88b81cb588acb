"""Implementation outcomes of a run, after Proctor et al. (2011), one row per bundle.

- *adoption*: share of eligible staff using the bundle at the end;
- *fidelity*: mean element fidelity in the units where the bundle applies, at the end;
- *compliance*: all-or-none compliance (every element done for a patient), at the end;
- *penetration*: share of applicable units whose compliance reached the threshold, at the end;
- *sustainability*: the share of the gain in system compliance (since week 0) still there some
  weeks after support for the bundle ended, in [0, 1] (``sustainability`` at
  ``sustainability_weeks``, plus fixed 6 and 12 months); NaN when undefined, with the reason in
  ``sustainability_undefined`` (no support, run too short, gain too small to share out), beside
  the raw compliance when support ended and ``sustainability_weeks`` later, and the share of
  improved units that kept ≥ ``sustained_share_of_peak`` of their peak (:class:`Sustained`);
- *cost*: intervention cost booked to the bundle (NOK);
- *harm*: expected harm events over the run with the compliance reached, and the events averted
  against staying at week-0 compliance (``harm_averted_vs_baseline``). Harm averted against the
  comparator strategy and the cost per harm averted are incremental: they need the comparator's
  paired run and are computed over replicates from mean differences
  (:func:`sim.outcomes.statistics.incremental_table`), never as a per-run ratio;
- *weeks to 50% / 80%*: first week system compliance (and adoption) reached that level;
- *harm rate indicator*: expected events per 1,000 exposure units (catheter-days, patient-days)
  in the last recorded week, with its unit (:func:`sim.outcomes.harm.run_indicator`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.outcomes import harm

if TYPE_CHECKING:
    from sim.model import ImplementationModel

SIX_MONTHS, TWELVE_MONTHS = 26, 52


def support_end(model: ImplementationModel, bundle: int | None = None) -> int | None:
    """Last week an intervention supporting ``bundle`` (any launched bundle if None) runs.

    A bundle the strategy never launches has no support, whatever interventions name it.
    """
    launched = [b for b, w in enumerate(model.launch_week) if w is not None]
    ends = [iv.end_week for iv in model.interventions
            if any(b in iv.bundle_idx for b in (launched if bundle is None else [bundle]))
            and (bundle is None or model.launch_week[bundle] is not None)]
    return max(ends, default=None)


def sustainability_weeks(model: ImplementationModel) -> list[int]:
    """Weeks the recorder must keep for the sustainability measures."""
    out = set()
    for b in range(len(model.scenario.bundles)):
        end = support_end(model, b)
        if end is None:
            continue
        for lag in (0, SIX_MONTHS, TWELVE_MONTHS, model.par["sustainability_weeks"]):
            if end + lag <= model.scenario.weeks:
                out.add(end + lag)
    return sorted(out)


def first_week_at(series: np.ndarray, weeks: list[int], level: float) -> float:
    """First recorded week the series reaches ``level`` (NaN if never)."""
    hit = np.flatnonzero(np.nan_to_num(series, nan=-1.0) >= level)
    return float(weeks[hit[0]]) if len(hit) else float("nan")


@dataclass
class Sustained:
    """What is left of a bundle's gain some weeks after its support ended (SPEC §5).

    Sustainability is the *retained share of the gain*: with system compliance ``c``, support
    ending in week ``end`` and ``c(0)`` the compliance before anything happened,
    ``(c(end + L) − c(0)) / (c(end) − c(0))``, clipped to [0, 1]: 1 when all the gain (or more)
    is kept, 0 when compliance fell back to where it started (or below). A ratio of compliances
    (the old definition) exceeds 1 whenever uptake keeps rising and is unstable when compliance
    at the end is small; this one is bounded by construction. It is undefined (NaN, with the
    reason) without support, when the run stops before ``end + L``, or when the gain is below
    ``sustainability_min_gain``, where a share of it means nothing.
    """

    compliance: np.ndarray  # (W,) recorded system compliance of the bundle
    unit_compliance: np.ndarray  # (W, U) recorded unit compliance of the bundle (NaN: n/a)
    weeks: list[int]
    end: int | None  # last week of support (None: no support)
    min_gain: float
    share_of_peak: float

    def _row(self, week: int) -> int | None:
        return self.weeks.index(week) if week in self.weeks else None

    def why_undefined(self, lag: int) -> str:
        """Why the retained share is undefined at ``lag`` ('' when it is defined)."""
        if self.end is None:
            return "no support"
        if self._row(self.end) is None or self._row(self.end + lag) is None:
            return "run ends too early"
        if not self.compliance[self._row(self.end)] - self.compliance[0] >= self.min_gain:
            return "gain below sustainability_min_gain"
        return ""

    def at(self, lag: int) -> float:
        """System compliance ``lag`` weeks after support ended (NaN if not recorded)."""
        row = None if self.end is None else self._row(self.end + lag)
        return float("nan") if row is None else float(self.compliance[row])

    def gain_kept(self, lag: int) -> float:
        """The retained share of the gain ``lag`` weeks after support ended, in [0, 1]."""
        if self.why_undefined(lag):
            return float("nan")
        c0, c_end = self.compliance[0], self.compliance[self._row(self.end)]
        c_later = self.compliance[self._row(self.end + lag)]
        return float(np.clip((c_later - c0) / (c_end - c0), 0.0, 1.0))

    def units_kept(self, lag: int) -> float:
        """Share of improved units whose compliance ``lag`` weeks on is ≥ share_of_peak × peak.

        A unit improved when its peak compliance during support rose at least ``min_gain``
        above its week-0 compliance; NaN when no unit did or the share is undefined for a
        reason other than a small system gain.
        """
        why = self.why_undefined(lag)
        if why and why != "gain below sustainability_min_gain":
            return float("nan")
        during = np.asarray(self.weeks) <= self.end
        u = self.unit_compliance
        applies = ~np.isnan(u[0])
        peak = np.nanmax(np.where(during[:, None], u, np.nan)[:, applies], axis=0)
        improved = peak - u[0, applies] >= self.min_gain
        if not improved.any():
            return float("nan")
        later = u[self._row(self.end + lag), applies]
        return float(np.mean(later[improved] >= self.share_of_peak * peak[improved]))


def sustained(model: ImplementationModel, compliance: np.ndarray, b: int,
              end: int | None) -> Sustained:
    """The sustainability measures of bundle ``b`` of a finished run."""
    return Sustained(compliance, model.recorder.compliance[:, :, b], model.recorder.weeks, end,
                     model.par["sustainability_min_gain"], model.par["sustained_share_of_peak"])


def summarise(model: ImplementationModel) -> pd.DataFrame:
    """One row per bundle with the Proctor outcomes of a finished run."""
    w = model.world
    rec = model.recorder
    series = rec.system_series(w.eligible_per_unit, model.par["penetration_threshold"])
    comp = series["compliance"]
    lag = model.par["sustainability_weeks"]
    rows = []
    for b, name in enumerate(model.scenario.bundle_names):
        end = support_end(model, b)
        kept = sustained(model, comp[:, b], b, end)
        averted = float(model.harm_averted[b])
        rows.append({
            "bundle": name,
            "adoption": float(series["adoption"][-1, b]),
            "fidelity": float(series["fidelity"][-1, b]),
            "compliance": float(comp[-1, b]),
            "penetration": float(series["penetration"][-1, b]),
            "sustainability": kept.gain_kept(lag),
            "sustainability_6m": kept.gain_kept(SIX_MONTHS),
            "sustainability_12m": kept.gain_kept(TWELVE_MONTHS),
            "sustainability_undefined": kept.why_undefined(lag),
            "compliance_support_end": kept.at(0),
            "compliance_sustained": kept.at(lag),
            "sustained_units": kept.units_kept(lag),
            "support_end_week": float("nan") if end is None else float(end),
            "launch_week": (float("nan") if model.launch_week[b] is None
                            else float(model.launch_week[b])),
            "weeks_to_50pct_compliance": first_week_at(comp[:, b], rec.weeks, 0.5),
            "weeks_to_80pct_compliance": first_week_at(comp[:, b], rec.weeks, 0.8),
            "weeks_to_50pct_adoption": first_week_at(series["adoption"][:, b], rec.weeks, 0.5),
            "weeks_to_80pct_adoption": first_week_at(series["adoption"][:, b], rec.weeks, 0.8),
            "cost": float(model.cost[b]),
            "harm_expected": float(model.harm_expected[b]),
            "harm_averted_vs_baseline": averted,
        })
    out = pd.DataFrame(rows)
    # --- harm rate in the literature's units (issue 14; computed in sim.outcomes.harm) ---
    out["harm_rate_indicator"], out["harm_rate_indicator_unit"] = harm.run_indicator(model)
    return out

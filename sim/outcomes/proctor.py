"""Implementation outcomes of a run, after Proctor et al. (2011), one row per bundle.

- *adoption*: share of eligible staff using the bundle at the end;
- *fidelity*: mean element fidelity in the units where the bundle applies, at the end;
- *compliance*: all-or-none compliance (every element done for a patient), at the end;
- *penetration*: share of applicable units whose compliance reached the threshold, at the end;
- *sustainability*: system compliance some weeks after support for the bundle ended, as a share
  of compliance when it ended (``sustainability`` at ``sustainability_weeks``, plus fixed 6 and
  12 months); NaN when the bundle had no support or the run stops too early;
- *cost*: intervention cost booked to the bundle (NOK);
- *harm*: expected harm events over the run with the compliance reached, events averted against
  staying at week-0 compliance, and cost per event averted;
- *weeks to 50% / 80%*: first week system compliance (and adoption) reached that level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

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


def summarise(model: ImplementationModel) -> pd.DataFrame:
    """One row per bundle with the Proctor outcomes of a finished run."""
    w = model.world
    rec = model.recorder
    series = rec.system_series(w.eligible_per_unit, model.par["penetration_threshold"])
    comp = series["compliance"]
    rows = []
    for b, name in enumerate(model.scenario.bundle_names):
        end = support_end(model, b)

        def retained(lag: int, b: int = b, end: int | None = end) -> float:
            if end is None or not (rec.wants(end) and rec.wants(end + lag)):
                return float("nan")
            c0 = comp[rec.weeks.index(end), b]
            c1 = comp[rec.weeks.index(end + lag), b]
            return float(c1 / c0) if c0 > 0 else float("nan")

        averted = float(model.harm_averted[b])
        rows.append({
            "bundle": name,
            "adoption": float(series["adoption"][-1, b]),
            "fidelity": float(series["fidelity"][-1, b]),
            "compliance": float(comp[-1, b]),
            "penetration": float(series["penetration"][-1, b]),
            "sustainability": retained(model.par["sustainability_weeks"]),
            "sustainability_6m": retained(SIX_MONTHS),
            "sustainability_12m": retained(TWELVE_MONTHS),
            "support_end_week": float("nan") if end is None else float(end),
            "launch_week": (float("nan") if model.launch_week[b] is None
                            else float(model.launch_week[b])),
            "weeks_to_50pct_compliance": first_week_at(comp[:, b], rec.weeks, 0.5),
            "weeks_to_80pct_compliance": first_week_at(comp[:, b], rec.weeks, 0.8),
            "weeks_to_50pct_adoption": first_week_at(series["adoption"][:, b], rec.weeks, 0.5),
            "weeks_to_80pct_adoption": first_week_at(series["adoption"][:, b], rec.weeks, 0.8),
            "cost": float(model.cost[b]),
            "harm_expected": float(model.harm_expected[b]),
            "harm_averted": averted,
            "cost_per_harm_averted": (float(model.cost[b]) / averted if averted > 0
                                      else float("nan")),
        })
    return pd.DataFrame(rows)

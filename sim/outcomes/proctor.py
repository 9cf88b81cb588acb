"""Implementation outcomes of a run, after Proctor et al. (2011), one row per bundle.

- *adoption*: share of eligible staff using the bundle at the end;
- *fidelity*: mean element fidelity in the units where the bundle applies, at the end;
- *compliance*: all-or-none compliance (every element done for a patient), at the end;
- *penetration*: share of applicable units whose compliance reached the threshold, at the end;
- *sustainability*: system compliance ``sustainability_weeks`` after support ended, as a share
  of compliance when it ended (NaN when there was no support or the run stops too early);
- *cost*: intervention cost booked to the bundle (NOK).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sim.model import ImplementationModel


def support_end(model: ImplementationModel) -> int | None:
    """Last week any intervention of the strategy runs (None without interventions)."""
    return max((iv.end_week for iv in model.interventions), default=None)


def sustainability_weeks(model: ImplementationModel) -> list[int]:
    """Weeks the recorder must keep for the sustainability measure."""
    end = support_end(model)
    if end is None:
        return []
    return [w for w in (end, end + model.par["sustainability_weeks"]) if w <= model.scenario.weeks]


def summarise(model: ImplementationModel) -> pd.DataFrame:
    """One row per bundle with the Proctor outcomes of a finished run."""
    w = model.world
    rec = model.recorder
    series = rec.system_series(w.eligible_per_unit, model.par["penetration_threshold"])
    end = support_end(model)
    sustain = np.full(len(w.bundles), np.nan)
    later = None if end is None else end + model.par["sustainability_weeks"]
    if end is not None and later is not None and rec.wants(end) and rec.wants(later):
        i0, i1 = rec.weeks.index(end), rec.weeks.index(later)
        with np.errstate(invalid="ignore", divide="ignore"):
            sustain = series["compliance"][i1] / series["compliance"][i0]
    return pd.DataFrame({
        "bundle": model.scenario.bundle_names,
        "adoption": series["adoption"][-1],
        "fidelity": series["fidelity"][-1],
        "compliance": series["compliance"][-1],
        "penetration": series["penetration"][-1],
        "sustainability": sustain,
        "support_end_week": np.nan if end is None else float(end),
        "cost": model.cost.copy(),
    })

"""Measurement: what a unit would see when it audits compliance on a sample of patients.

Every ``period_weeks`` (4 = monthly) a unit reviews ``sample_size`` patients; the compliant
count is binomial with the unit's mean true compliance over the period. SPC charts are drawn from
these observed counts, not from the model's true state, so they carry the sampling noise a real
unit's chart has.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def audit_series(true_weekly: np.ndarray, weeks: list[int], sample_size: int,
                 period_weeks: int, rng: np.random.Generator) -> pd.DataFrame:
    """Observed audit counts per period from a unit's weekly true compliance.

    ``true_weekly[i]`` is the compliance at ``weeks[i]``; week 0 (the start) is not audited.
    Periods with no applicable compliance (NaN) are skipped.
    """
    weeks_arr = np.asarray(weeks)
    rows = []
    last = int(weeks_arr.max()) if len(weeks_arr) else 0
    for k, end in enumerate(range(period_weeks, last + 1, period_weeks)):
        in_period = (weeks_arr > end - period_weeks) & (weeks_arr <= end)
        vals = np.asarray(true_weekly)[in_period]
        vals = vals[~np.isnan(vals)]
        if len(vals) == 0:
            continue
        p = float(np.clip(vals.mean(), 0.0, 1.0))
        rows.append({"period": k + 1, "week": end, "true_compliance": p,
                     "audited": sample_size, "compliant": int(rng.binomial(sample_size, p))})
    return pd.DataFrame(rows, columns=["period", "week", "true_compliance", "audited",
                                       "compliant"])

"""Comparing strategies (arms) per arm × bundle.

Each outcome's mean over replicates with a 95% confidence interval of that mean (Student t), and how
often thresholds were reached. Times to 50% / 80% compliance are averaged over the replicates that
reached the level; the share that did is reported beside them, since "never reached" is not a number
of weeks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

OUTCOMES = ("weeks_to_50pct_compliance", "weeks_to_80pct_compliance", "compliance",
            "adoption", "fidelity", "penetration", "sustainability_6m", "sustainability_12m",
            "cost", "harm_averted", "cost_per_harm_averted")


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
    half = stats.t.ppf(0.5 + level / 2, n - 1) * v.std(ddof=1) / np.sqrt(n)
    return m, m - half, m + half, n


def compare_arms(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per strategy × bundle: ``<outcome>_mean``, ``_lo``, ``_hi`` and reach shares."""
    rows = []
    for (strategy, bundle), grp in summary.groupby(["strategy", "bundle"], sort=False,
                                                    observed=True):
        row: dict[str, object] = {"strategy": strategy, "bundle": bundle,
                                  "replicates": len(grp)}
        for col in OUTCOMES:
            if col not in grp:
                continue
            m, lo, hi, _ = mean_ci(grp[col].to_numpy())
            row[f"{col}_mean"], row[f"{col}_lo"], row[f"{col}_hi"] = m, lo, hi
        for level in (50, 80):
            col = f"weeks_to_{level}pct_compliance"
            if col in grp:
                row[f"reached_{level}pct_share"] = float(grp[col].notna().mean())
        rows.append(row)
    return pd.DataFrame(rows)

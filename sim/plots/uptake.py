"""Uptake curves: adoption and compliance over time per bundle.

One line per strategy with the band across replicates (5th–95th percentile; min–max when
there are fewer than 20).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from sim.outcomes.catalogue import OUTCOMES


def plot_uptake(timeseries: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Draw system-level adoption (top row) and compliance (bottom row) per bundle."""
    sys_rows = timeseries[timeseries["level"] == "system"]
    bundles = [b for b in sys_rows["bundle"].cat.categories if (sys_rows["bundle"] == b).any()]
    strategies = [s for s in sys_rows["strategy"].cat.categories
                  if (sys_rows["strategy"] == s).any()]
    fig = Figure(figsize=(3.6 * len(bundles), 6.2))
    axes = fig.subplots(2, len(bundles), sharex=True, squeeze=False)
    colours = colormaps["tab10"]
    for col, bundle in enumerate(bundles):
        rows = sys_rows[sys_rows["bundle"] == bundle]
        for r, metric in enumerate(("adoption", "compliance")):
            ax = axes[r, col]
            for k, strategy in enumerate(strategies):
                wide = rows[rows["strategy"] == strategy].pivot_table(
                    index="week", columns="replicate", values=metric, observed=True)
                weeks = wide.index.to_numpy()
                vals = wide.to_numpy()
                lo_q, hi_q = (5, 95) if vals.shape[1] >= 20 else (0, 100)
                mean = np.nanmean(vals, axis=1)
                ax.plot(weeks, mean, color=colours(k), label=strategy, lw=1.8)
                if vals.shape[1] > 1:
                    ax.fill_between(weeks, np.nanpercentile(vals, lo_q, axis=1),
                                    np.nanpercentile(vals, hi_q, axis=1), color=colours(k),
                                    alpha=0.2, lw=0)
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
            if r == 0:
                ax.set_title(bundle.replace("_", " "), fontsize=10)
            if col == 0:
                ax.set_ylabel(OUTCOMES[metric].axis_label)
            if r == 1:
                ax.set_xlabel("week")
    n_rep = sys_rows["replicate"].nunique()
    band = "5–95%" if n_rep >= 20 else "min–max"
    axes[0, 0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"{title}  (mean of {n_rep} replicates, band = {band})".strip(), fontsize=11)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path

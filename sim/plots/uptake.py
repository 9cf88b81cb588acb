"""Uptake curves: adoption and compliance over time per bundle.

One line per strategy with the band across replicates (5th–95th percentile; min–max when
there are fewer than 20). Verified published figures that match a strategy's interventions
exactly (:mod:`sim.plots.published`) are drawn on the compliance row: a bundle's published
level (baseline at week 0, level at follow-up), and a review's effect on top of the
comparator's curve.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from sim.outcomes.catalogue import OUTCOMES
from sim.plots import published


def plot_uptake(timeseries: pd.DataFrame, path: str | Path, title: str = "",
                types: published.ArmTypes | None = None, comparator: str = "") -> Path:
    """Draw system-level adoption (top row) and compliance (bottom row) per bundle.

    ``types`` (per strategy and bundle, its intervention types) and the ``comparator``
    strategy select the published figures to draw; without them the plot has none.
    """
    sys_rows = timeseries[timeseries["level"] == "system"]
    bundles = [b for b in sys_rows["bundle"].cat.categories if (sys_rows["bundle"] == b).any()]
    strategies = [s for s in sys_rows["strategy"].cat.categories
                  if (sys_rows["strategy"] == s).any()]
    fig = Figure(figsize=(3.6 * len(bundles), 6.2))
    axes = fig.subplots(2, len(bundles), sharex=True, squeeze=False)
    colours = colormaps["tab10"]
    for col, bundle in enumerate(bundles):
        rows = sys_rows[sys_rows["bundle"] == bundle]
        means: dict[str, tuple[np.ndarray, np.ndarray]] = {}
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
                if metric == "compliance":
                    means[strategy] = weeks, mean
                if vals.shape[1] > 1:
                    ax.fill_between(weeks, np.nanpercentile(vals, lo_q, axis=1),
                                    np.nanpercentile(vals, hi_q, axis=1), color=colours(k),
                                    alpha=0.2, lw=0)
            if metric == "compliance" and types:
                _published(ax, bundle, strategies, means, types, comparator)
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
    published.tight_layout(fig, f"◇ = {comparator}'s compliance + a published effect; "
                           "□ = a published level (curves: bundle all-or-none compliance)")
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


def _published(ax, bundle: str, strategies: list[str],
               means: dict[str, tuple[np.ndarray, np.ndarray]], types: published.ArmTypes,
               comparator: str) -> None:
    """The published levels and effects that match each strategy, in its colour."""
    colours = colormaps["tab10"]
    effects = published.effects_by_arm(strategies, bundle, types, comparator, unit="share")
    drawn = 0  # the second and later effect markers move 2 weeks right each, to stay apart
    for k, strategy in enumerate(strategies):
        for r in published.ranges_for(bundle=bundle, kind="level", unit="share",
                                      interventions=types.get(strategy, {}).get(bundle, ())):
            published.draw_level(ax, r, colour=colours(k))
        weeks, mean = means.get(comparator, (np.array([]), np.array([])))
        for r in effects.get(strategy, []):
            if len(weeks) and weeks.max() >= r.week:
                base = float(mean[weeks <= r.week][-1])
                published.draw_effect(ax, r, at=r.week + 2 * drawn, base=base,
                                      colour=colours(k))
                drawn += 1

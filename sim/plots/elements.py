"""Element curves: each element's system-level performance over time beside bundle compliance.

Why: all-or-none compliance is limited by its weakest elements (and, across the boundary, by the
weaker side of a pathway); this figure shows which element holds a bundle back. One row per
bundle, one column per strategy (at most four); a line per element (mean over replicates), the
bundle's all-or-none compliance as a dashed black line. Elements mapped to a process indicator
say so in the legend, with the indicator's unit (the value is 100 × performance). A verified
published level naming the bundle and element, for a strategy with exactly its interventions,
is drawn in the element's colour (:mod:`sim.plots.published`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from sim.plots import published

MAX_STRATEGIES = 4


def _mean_curve(rows: pd.DataFrame, value: str) -> tuple[np.ndarray, np.ndarray]:
    wide = rows.pivot_table(index="week", columns="replicate", values=value, observed=True)
    return wide.index.to_numpy(), np.nanmean(wide.to_numpy(), axis=1)


def element_label(name: str, indicator_unit: str) -> str:
    """Legend text: the element's name, and its indicator's unit where it maps to one."""
    label = name.replace("_", " ")
    return f"{label} [{indicator_unit}]" if indicator_unit.strip() else label


def plot_elements(elements: pd.DataFrame, timeseries: pd.DataFrame, path: str | Path,
                  title: str = "", types: published.ArmTypes | None = None) -> Path:
    """Draw the system-level element performance per bundle and strategy into ``path``.

    ``types`` (per strategy and bundle, its intervention types) selects published levels.
    """
    el = elements[elements["level"] == "system"]
    ts = timeseries[timeseries["level"] == "system"]
    bundles = [b for b in el["bundle"].cat.categories if (el["bundle"] == b).any()]
    strategies = [s for s in el["strategy"].cat.categories
                  if (el["strategy"] == s).any()][:MAX_STRATEGIES]
    fig = Figure(figsize=(3.4 * len(strategies) + 3.2, 2.6 * len(bundles)))
    axes = fig.subplots(len(bundles), len(strategies), sharex=True, sharey=True, squeeze=False)
    colours = colormaps["tab10"]
    for r, bundle in enumerate(bundles):
        b_el = el[el["bundle"] == bundle]
        names = [e for e in b_el["element"].cat.categories if (b_el["element"] == e).any()]
        for c, strategy in enumerate(strategies):
            ax = axes[r, c]
            rows = b_el[b_el["strategy"] == strategy]
            for k, name in enumerate(names):
                one = rows[rows["element"] == name]
                weeks, mean = _mean_curve(one, "performance")
                units = one["indicator_unit"].dropna().astype(str)
                label = element_label(name, units.iloc[0] if len(units) else "")
                ax.plot(weeks, mean, color=colours(k % 10), lw=1.4, label=label)
                for p in published.ranges_for(
                        bundle=bundle, element=name, kind="level", unit="share",
                        interventions=(types or {}).get(strategy, {}).get(bundle, ())):
                    published.draw_level(ax, p, colour=colours(k % 10))
            comp = ts[(ts["bundle"] == bundle) & (ts["strategy"] == strategy)]
            if len(comp):
                weeks, mean = _mean_curve(comp, "compliance")
                ax.plot(weeks, mean, color="black", lw=1.8, ls="--",
                        label="all-or-none compliance")
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
            if r == 0:
                ax.set_title(strategy, fontsize=10)
            if c == 0:
                ax.set_ylabel(f"{bundle.replace('_', ' ')}\nshare done", fontsize=9)
            if r == len(bundles) - 1:
                ax.set_xlabel("week")
        published.model_legend(axes[r, -1], fontsize=7, loc="center left",
                               bbox_to_anchor=(1.02, 0.5))
    n_rep = el["replicate"].nunique()
    fig.suptitle(f"{title}  element performance, system level (mean of {n_rep} replicates)"
                 .strip(), fontsize=11)
    published.tight_layout(fig, "□ = a published level: baseline at week 0, after-level at "
                           "follow-up (the element's colour)")
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path

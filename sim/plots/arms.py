"""Arms of an experiment side by side: uptake bands and harm averted against extra cost.

``implsim report`` saves these figures and ``implsim dashboard`` shows them, from the same
tables of :mod:`sim.outcomes.statistics`, so a store gives the same picture in both. Figures
are :class:`matplotlib.figure.Figure` objects (no pyplot state): the caller saves or renders
them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from sim.outcomes.catalogue import INCREMENTAL_OUTCOMES, OUTCOMES
from sim.outcomes.statistics import ALL_BUNDLES
from sim.plots import published

#: Resolution of these figures, in the report's files and the dashboard's images alike.
DPI = 100
TAB10 = colormaps["tab10"]


def uptake_figure(bands: pd.DataFrame, arms: Sequence[str], bundles: Sequence[str],
                  level: float, title: str, types: published.ArmTypes | None = None,
                  comparator: str = "") -> Figure:
    """System compliance over time per arm: mean and interval band, one panel per bundle.

    ``bands`` is :func:`sim.outcomes.statistics.uptake_bands` (arm, bundle, week, mean, lo, hi).
    With ``types`` (per arm and bundle, its intervention types) and the ``comparator`` arm, a
    published effect matching an arm exactly is drawn at its follow-up week on top of the
    comparator's curve, in the arm's colour: where the arm's curve would be if it did what the
    review reports.
    """
    n = max(len(bundles), 1)
    fig = Figure(figsize=(3.9 * n, 3.6))
    axes = fig.subplots(1, n, squeeze=False, sharey=True)
    for c, bundle in enumerate(bundles):
        ax = axes[0, c]
        for k, arm in enumerate(arms):
            rows = bands[(bands["arm"] == arm) & (bands["bundle"] == bundle)]
            if rows.empty:
                continue
            ax.plot(rows["week"], rows["mean"], color=TAB10(k % 10), lw=1.6, label=arm)
            ax.fill_between(rows["week"], rows["lo"], rows["hi"], color=TAB10(k % 10),
                            alpha=0.2, lw=0)
        _published_effects(ax, bands, arms, bundle, types, comparator)
        ax.set_title(bundle.replace("_", " "), fontsize=9)
        ax.set_xlabel("week")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(OUTCOMES["compliance"].label)
    published.model_legend(axes[0, 0], fontsize=7, loc="upper left")
    fig.suptitle(f"{title}: compliance per arm (mean, {level:.0%} interval)", fontsize=10)
    published.tight_layout(fig, f"◇ = {comparator}'s curve + the published effect (the "
                           "curves are bundle all-or-none compliance)")
    return fig


def _published_effects(ax, bands: pd.DataFrame, arms: Sequence[str], bundle: str,
                       types: published.ArmTypes | None, comparator: str) -> None:
    """Each matching published effect, on the comparator's mean at the figure's week."""
    effects = published.effects_by_arm(arms, bundle, types, comparator, unit="share")
    base = bands[(bands["arm"] == comparator) & (bands["bundle"] == bundle)]
    drawn = 0  # the second and later markers move 2 weeks right each, to stay apart
    for k, arm in enumerate(arms):
        for r in effects.get(arm, []):
            at = base[base["week"] <= r.week]
            if at.empty or base["week"].max() < r.week:  # the run ends before follow-up
                continue
            published.draw_effect(ax, r, at=r.week + 2 * drawn, colour=TAB10(k % 10),
                                  base=float(at["mean"].iloc[-1]))
            drawn += 1


def effect_cost_figure(incremental: pd.DataFrame, arms: Sequence[str], level: float,
                       title: str) -> Figure:
    """The cost-effectiveness plane, all bundles: harm averted against extra cost per arm.

    ``incremental`` is :func:`sim.outcomes.statistics.incremental_table` at one design point;
    its programme-total rows (``bundle = "all bundles"``) give each arm's mean paired
    difference from the comparator (Δcost; harm averted = the comparator's harm − the arm's)
    with their intervals. The comparator sits at the origin.
    """
    cost, harm = OUTCOMES["cost"], INCREMENTAL_OUTCOMES["harm_averted"]
    totals = incremental[incremental["bundle"] == ALL_BUNDLES]
    comparator = str(totals["comparator"].iloc[0]) if len(totals) else "the comparator"
    fig = Figure(figsize=(6.4, 4.6))
    ax = fig.subplots()
    for k, arm in enumerate(arms):
        rows = totals[totals["arm"] == arm]
        if rows.empty:
            continue
        r = rows.iloc[0]
        x, y = cost.shown(r["delta_cost_mean"]), harm.shown(r["harm_averted_mean"])
        xerr = [[x - cost.shown(r["delta_cost_lo"])], [cost.shown(r["delta_cost_hi"]) - x]]
        yerr = [[y - harm.shown(r["harm_averted_lo"])], [harm.shown(r["harm_averted_hi"]) - y]]
        ax.errorbar(x, y, xerr=np.nan_to_num(xerr), yerr=np.nan_to_num(yerr), fmt="o",
                    color=TAB10(k % 10), capsize=4, label=arm)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel(f"Δ{cost.heading} vs {comparator}")
    ax.set_ylabel(f"{harm.heading} vs {comparator}, all bundles")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    how = "paired" if len(totals) and totals["paired"].all() else "Welch"
    ax.set_title(f"{title}: harm averted vs extra cost ({level:.0%} {how} intervals)",
                 fontsize=10)
    fig.tight_layout()
    return fig

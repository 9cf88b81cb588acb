"""Strategy comparison.

Per bundle (and for all bundles), each arm's final compliance, expected harm and cost with 95%
intervals, and the cost-effectiveness plane against the comparator: harm averted (the
comparator's harm − the arm's) against the extra cost, both paired mean differences — what a
planner weighs. Where a verified published effect matches an arm's interventions exactly
(:mod:`sim.plots.published`), an extra column shows the arm's Δ compliance against the
comparator in percentage points beside the review's median and spread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from sim.outcomes.catalogue import INCREMENTAL_OUTCOMES, OUTCOMES
from sim.plots import published

PANELS = tuple(OUTCOMES[name] for name in ("compliance", "harm_expected", "cost"))


def plot_comparison(comparison: pd.DataFrame, path: str | Path, title: str = "",
                    types: published.ArmTypes | None = None) -> Path:
    """One row per bundle; columns: compliance, harm expected, cost, harm averted vs Δcost.

    ``comparison`` is :func:`sim.outcomes.statistics.compare_arms`; the programme-total row
    (``all bundles``) has no compliance (a share does not add up over bundles). ``types``
    (per strategy and bundle, its intervention types: :func:`published.scenario_types`) lets
    published effects be matched to arms; without it, or with no match, there is no extra
    column.
    """
    bundles = list(dict.fromkeys(comparison["bundle"]))
    arms = list(dict.fromkeys(comparison["strategy"]))
    colours = colormaps["tab10"]
    comparator = (str(comparison["comparator"].dropna().iloc[0])
                  if "comparator" in comparison and comparison["comparator"].notna().any()
                  else arms[0])
    effects = {b: published.effects_by_arm(arms, b, types, comparator, unit="percent")
               for b in bundles} if types else {}
    extra = any(effects.values())
    n_cols = len(PANELS) + 1 + extra
    fig = Figure(figsize=(4.0 * n_cols, 0.6 + 2.1 * len(bundles)))
    axes = fig.subplots(len(bundles), n_cols, squeeze=False)
    cost, harm = OUTCOMES["cost"], INCREMENTAL_OUTCOMES["harm_averted"]
    for r, bundle in enumerate(bundles):
        rows = comparison[comparison["bundle"] == bundle].set_index("strategy").reindex(arms)
        for c, o in enumerate(PANELS):
            ax = axes[r, c]
            m, lo, hi = (o.shown(rows.get(f"{o.name}_{s}", pd.Series(np.nan, rows.index))
                                 .to_numpy(float)) for s in ("mean", "lo", "hi"))
            y = np.arange(len(arms))
            err = np.vstack([np.nan_to_num(m - lo), np.nan_to_num(hi - m)])
            for k in range(len(arms)):
                ax.errorbar(m[k], y[k], xerr=err[:, k:k + 1], fmt="o", color=colours(k),
                            capsize=3)
            ax.set_yticks(y, arms if c == 0 else [""] * len(arms), fontsize=8)
            ax.invert_yaxis()
            ax.grid(axis="x", alpha=0.3)
            if np.isnan(m).all():  # the programme total of a share
                ax.set_xticks([])
                ax.text(0.5, 0.5, "no total over bundles", transform=ax.transAxes,
                        ha="center", va="center", fontsize=8, color="grey")
            if r == 0:
                ax.set_title(f"final {o.heading}" if o.is_share else o.heading, fontsize=10)
            if c == 0:
                ax.set_ylabel(bundle.replace("_", " "), fontsize=9)
        ax = axes[r, len(PANELS)]
        for k, arm in enumerate(arms):
            row = rows.loc[arm]
            x, y = cost.shown(row["delta_cost_mean"]), harm.shown(row["harm_averted_mean"])
            ax.errorbar(x, y,
                        xerr=[[np.nan_to_num(x - cost.shown(row["delta_cost_lo"]))],
                              [np.nan_to_num(cost.shown(row["delta_cost_hi"]) - x)]],
                        yerr=[[np.nan_to_num(y - harm.shown(row["harm_averted_lo"]))],
                              [np.nan_to_num(harm.shown(row["harm_averted_hi"]) - y)]],
                        fmt="o", color=colours(k), capsize=3, label=arm)
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(0, color="grey", lw=0.8)
        ax.grid(alpha=0.3)
        if r == 0:
            comparator = rows["comparator"].dropna().iloc[0] if rows["comparator"].notna().any() \
                else "comparator"
            ax.set_title(f"{harm.label} vs Δ{cost.heading}\n(against {comparator})", fontsize=10)
            ax.legend(fontsize=7)
        if extra:
            _effect_panel(axes[r, -1], rows, arms, effects.get(bundle, {}), comparator,
                          first=r == 0)
    fig.suptitle(f"{title}  (mean and 95% interval over replicates)".strip(), fontsize=11)
    published.tight_layout(fig, "beside each arm's Δ (●: the model's bundle all-or-none "
                           "compliance at the end of the run):" if extra else "")
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path


def _effect_panel(ax, rows: pd.DataFrame, arms: list[str],
                  effects: dict[str, list[published.PublishedRange]], comparator: str,
                  first: bool) -> None:
    """Δ final compliance vs the comparator (pts) per arm, a published effect beside it.

    The model's figure is the bundle's all-or-none compliance at the end of the run; the
    review's is the effect on one desired practice: the legend says so, as the two differ.
    """
    colours = colormaps["tab10"]
    y = np.arange(len(arms))
    if "delta_compliance_mean" not in rows:
        ax.set_xticks([])
        ax.text(0.5, 0.5, "no total over bundles", transform=ax.transAxes, ha="center",
                va="center", fontsize=8, color="grey")
        return
    m, lo, hi = (100 * rows[f"delta_compliance_{s}"].to_numpy(float)
                 for s in ("mean", "lo", "hi"))
    if np.isnan(m).all():
        ax.set_xticks([])
        ax.text(0.5, 0.5, "no total over bundles", transform=ax.transAxes, ha="center",
                va="center", fontsize=8, color="grey")
    for k, arm in enumerate(arms):
        if arm != comparator and np.isfinite(m[k]):
            ax.errorbar(m[k], y[k], xerr=[[np.nan_to_num(m[k] - lo[k])],
                                          [np.nan_to_num(hi[k] - m[k])]],
                        fmt="o", color=colours(k), capsize=3)
        for j, r in enumerate(effects.get(arm, [])):
            published.draw_effect(ax, r, at=y[k] + 0.3 + 0.15 * j, colour=colours(k),
                                  horizontal=True)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, [""] * len(arms))
    ax.set_ylim(len(arms) - 0.4, -0.6)
    ax.grid(axis="x", alpha=0.3)
    if first:
        ax.set_title(f"Δ final compliance vs {comparator} (pts)\nwith published effects (◇)",
                     fontsize=10)

"""Strategy comparison.

Per bundle, each arm's final compliance, harm averted and cost with 95% intervals, and effect
against cost — what a planner weighs.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

PANELS = (("compliance", "final compliance"), ("harm_averted", "harm events averted"),
          ("cost", "cost (M NOK)"))


def plot_comparison(comparison: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """One row per bundle; columns: compliance, harm averted, cost, harm averted vs cost."""
    bundles = list(dict.fromkeys(comparison["bundle"]))
    arms = list(dict.fromkeys(comparison["strategy"]))
    colours = plt.get_cmap("tab10")
    fig, axes = plt.subplots(len(bundles), len(PANELS) + 1,
                             figsize=(4.0 * (len(PANELS) + 1), 0.6 + 2.1 * len(bundles)),
                             squeeze=False)
    for r, bundle in enumerate(bundles):
        rows = comparison[comparison["bundle"] == bundle].set_index("strategy").reindex(arms)
        for c, (metric, label) in enumerate(PANELS):
            ax = axes[r, c]
            scale = 1e6 if metric == "cost" else 1.0
            m = rows[f"{metric}_mean"].to_numpy() / scale
            lo = rows[f"{metric}_lo"].to_numpy() / scale
            hi = rows[f"{metric}_hi"].to_numpy() / scale
            y = np.arange(len(arms))
            err = np.vstack([np.nan_to_num(m - lo), np.nan_to_num(hi - m)])
            for k in range(len(arms)):
                ax.errorbar(m[k], y[k], xerr=err[:, k:k + 1], fmt="o", color=colours(k),
                            capsize=3)
            ax.set_yticks(y, arms if c == 0 else [""] * len(arms), fontsize=8)
            ax.invert_yaxis()
            ax.grid(axis="x", alpha=0.3)
            if r == 0:
                ax.set_title(label, fontsize=10)
            if c == 0:
                ax.set_ylabel(bundle.replace("_", " "), fontsize=9)
        ax = axes[r, len(PANELS)]
        for k, arm in enumerate(arms):
            row = rows.loc[arm]
            ax.errorbar(row["cost_mean"] / 1e6, row["harm_averted_mean"],
                        xerr=[[np.nan_to_num(row["cost_mean"] - row["cost_lo"]) / 1e6],
                              [np.nan_to_num(row["cost_hi"] - row["cost_mean"]) / 1e6]],
                        yerr=[[np.nan_to_num(row["harm_averted_mean"] - row["harm_averted_lo"])],
                              [np.nan_to_num(row["harm_averted_hi"]
                                             - row["harm_averted_mean"])]],
                        fmt="o", color=colours(k), capsize=3, label=arm)
        ax.grid(alpha=0.3)
        if r == 0:
            ax.set_title("harm averted vs cost (M NOK)", fontsize=10)
            ax.legend(fontsize=7)
    fig.suptitle(f"{title}  (mean and 95% interval over replicates)".strip(), fontsize=11)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

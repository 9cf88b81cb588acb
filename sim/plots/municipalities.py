"""Compliance across real municipalities: by size class and by regional health authority.

A map-free view of :func:`sim.outcomes.municipalities.municipality_results`: one row of panels
per bundle; on the left the municipalities grouped by size class (inhabitants), on the right by
health authority (by trust when all are in one authority); per group and strategy a box
(quartiles, whiskers 1.5 IQR) over the municipalities' points. Points are spread sideways by
their rank in the group (no random jitter), so the same results give the same picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from sim.outcomes.catalogue import OUTCOMES


def plot_municipalities(results: pd.DataFrame, path: str | Path, title: str = "",
                        metric: str = "compliance") -> Path:
    """Draw ``metric`` per municipality by size class and by authority (or trust), per bundle."""
    bundles = list(dict.fromkeys(results["bundle"].astype(str)))
    strategies = list(dict.fromkeys(results["strategy"].astype(str)))
    fig = Figure(figsize=(13.5, 2.9 * len(bundles) + 0.8))
    axes = fig.subplots(len(bundles), 2, squeeze=False, sharey=True,
                        gridspec_kw={"width_ratios": [5, 4]})
    colours = colormaps["tab10"]
    authorities = _authorities(results)
    right = (("regional_health_authority", authorities, "regional health authority")
             if len(authorities) > 1 else
             ("trust", list(dict.fromkeys(results["trust"].astype(str))), "hospital trust"))
    groupings = (("size_class", list(results["size_class"].cat.categories), "inhabitants"), right)
    for r, bundle in enumerate(bundles):
        rows = results[results["bundle"].astype(str) == bundle]
        for c, (column, groups, label) in enumerate(groupings):
            ax = axes[r, c]
            width = min(0.8 / max(len(strategies), 1), 0.3)
            for k, strategy in enumerate(strategies):
                mine = rows[rows["strategy"].astype(str) == strategy]
                for g, group in enumerate(groups):
                    y = np.sort(mine.loc[mine[column].astype(str) == group, metric]
                                .dropna().to_numpy())
                    if not len(y):
                        continue
                    x = g - 0.4 + width * (k + 0.5)
                    ax.boxplot([y], positions=[x], widths=width * 0.8, showfliers=False,
                               patch_artist=True, manage_ticks=False,
                               boxprops={"facecolor": (*colours(k)[:3], 0.25),
                                         "edgecolor": colours(k)},
                               medianprops={"color": colours(k), "lw": 1.6},
                               whiskerprops={"color": colours(k)},
                               capprops={"color": colours(k)})
                    spread = (np.arange(len(y)) / max(len(y) - 1, 1) - 0.5) * width * 0.6
                    ax.scatter(x + spread, y, s=6, color=colours(k), alpha=0.6, lw=0,
                               label=strategy if g == 0 else None)
            counts = rows.drop_duplicates("municipality")[column].astype(str).value_counts()
            ax.set_xticks(range(len(groups)),
                          [f"{g}\n({counts.get(g, 0)})" for g in groups], fontsize=8)
            ax.set_xlim(-0.6, len(groups) - 0.4)
            ax.set_ylim(-0.02, 1.02)
            ax.grid(axis="y", alpha=0.3)
            if c == 0:
                ax.set_ylabel(f"{bundle.replace('_', ' ')}\n{OUTCOMES[metric].axis_label}",
                              fontsize=8)
            if r == len(bundles) - 1:
                ax.set_xlabel(f"{label} (municipalities)", fontsize=9)
    axes[0, 0].legend(fontsize=8, loc="upper left", markerscale=2)
    n = 0 if results.empty else int(results["replicates"].max())
    last = f", mean of {n} replicates" if n > 1 else ""
    fig.suptitle(f"{title}: {OUTCOMES[metric].label.lower()} per municipality at the last week"
                 f" (municipal services{last})".strip(": "), fontsize=11)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path


def _authorities(results: pd.DataFrame) -> list[str]:
    """The authorities present, in the order of :data:`sim.structure_data.AUTHORITIES`."""
    from sim.structure_data import AUTHORITIES

    present = set(results["regional_health_authority"])
    return [a for a in AUTHORITIES if a in present] + sorted(present - set(AUTHORITIES))

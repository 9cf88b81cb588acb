"""The pages' figures, drawn with matplotlib and returned as PNG bytes.

PNG bytes are what a page shows (an image widget) and what its download button hands over, so a
figure is drawn once and the same bytes serve both. Matplotlib renders on the server, which keeps
the pages free of JavaScript plotting libraries that would have to be fetched from a CDN.

Figures are made with :class:`matplotlib.figure.Figure`, not pyplot: a page draws from more than
one thread (a click, and "play"), and pyplot's global figure registry is not thread-safe. The one
pyplot drawing reused here (the SPC chart of ``implsim run``) is serialised by a lock.
"""

from __future__ import annotations

import io
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.outcomes.spc import PChart, plot_spc
from sim.state import STAGES
from sim.ui.network_sample import NetworkSample

DPI = 90
STAGE_COLOURS = ("#c7c7c7", "#9ecae1", "#fd8d3c", "#31a354", "#d62728")  # by STAGES
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PYPLOT = threading.Lock()  # plot_spc draws with pyplot
TAB10 = colormaps["tab10"]


def to_png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes (a pyplot-free figure is freed with its last reference)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _pretty(name: str) -> str:
    return name.replace("_", " ")


# --- explorer ------------------------------------------------------------------------------------
def compliance_png(weeks: np.ndarray, series: dict[str, np.ndarray], bundles: Sequence[str],
                   horizon: int, title: str = "") -> bytes:
    """Compliance (left) and adoption (right) per bundle over the weeks simulated so far."""
    fig = Figure(figsize=(10.5, 3.6))
    axes = fig.subplots(1, 2, sharex=True)
    colours = TAB10
    for ax, metric, ylabel in ((axes[0], "compliance", "compliance (all elements done)"),
                               (axes[1], "adoption", "adoption (share of eligible staff)")):
        for b, bundle in enumerate(bundles):
            if len(weeks):
                ax.plot(weeks, series[metric][:, b], color=colours(b % 10), lw=1.8,
                        label=_pretty(bundle))
        ax.set_xlim(0, max(horizon, 1))
        ax.set_ylim(0, 1)
        ax.set_xlabel("week")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return to_png(fig)


def network_png(sample: NetworkSample, edges: np.ndarray, stages: np.ndarray,
                bundles: Sequence[str], bundle: int | None, week: int) -> bytes:
    """The sampled network, each person coloured by their stage for one bundle.

    With ``bundle=None`` a person is coloured by how many of the bundles they use.
    """
    fig = Figure(figsize=(6.2, 5.4))
    ax = fig.subplots()
    pos = sample.positions
    if len(edges):
        seg = np.stack([pos[edges[:, 0]], pos[edges[:, 1]]], axis=1)
        ax.add_collection(LineCollection(seg, colors="#999999", linewidths=0.4, alpha=0.5))
    if bundle is None:
        using = ((stages == STAGES.index("trying")) | (stages == STAGES.index("routine"))).sum(1)
        cmap = colormaps["viridis"].resampled(len(bundles) + 1)
        sc = ax.scatter(pos[:, 0], pos[:, 1], c=using, cmap=cmap, vmin=-0.5,
                        vmax=len(bundles) + 0.5, s=22, edgecolors="white", linewidths=0.3,
                        zorder=3)
        bar = fig.colorbar(sc, ax=ax, ticks=range(len(bundles) + 1), fraction=0.04)
        bar.set_label("bundles in use")
        what = "bundles in use"
    else:
        colours = np.asarray(STAGE_COLOURS)[stages[:, bundle]]
        ax.scatter(pos[:, 0], pos[:, 1], c=colours, s=22, edgecolors="white", linewidths=0.3,
                   zorder=3)
        handles = [Line2D([], [], ls="none", marker="o", color=c, label=s)
                   for s, c in zip(STAGES, STAGE_COLOURS, strict=True)]
        ax.legend(handles=handles, fontsize=7, loc="lower left", framealpha=0.8)
        what = _pretty(bundles[bundle])
    shown = (f"{len(sample.nodes)} of {sample.n_total} staff (sampled by unit)"
             if sample.sampled else f"all {sample.n_total} staff")
    ax.set_title(f"{what}, week {week}: {shown}", fontsize=9)
    ax.set_axis_off()
    ax.autoscale_view()
    fig.tight_layout()
    return to_png(fig)


def spc_png(chart: PChart, title: str) -> bytes:
    """The p-chart as :func:`sim.outcomes.spc.plot_spc` draws it for ``implsim run``."""
    with tempfile.TemporaryDirectory() as tmp, _PYPLOT:
        path = plot_spc(chart, Path(tmp) / "spc.png", title=title)
        return path.read_bytes()


# --- dashboard -----------------------------------------------------------------------------------
def uptake_png(bands: pd.DataFrame, arms: Sequence[str], bundles: Sequence[str], level: float,
               title: str) -> bytes:
    """System compliance over time per arm: mean and interval band, one panel per bundle.

    ``bands`` has columns arm, bundle, week, mean, lo, hi (see :func:`sim.ui.results`).
    """
    n = max(len(bundles), 1)
    fig = Figure(figsize=(3.9 * n, 3.6))
    axes = fig.subplots(1, n, squeeze=False, sharey=True)
    colours = TAB10
    for c, bundle in enumerate(bundles):
        ax = axes[0, c]
        for k, arm in enumerate(arms):
            rows = bands[(bands["arm"] == arm) & (bands["bundle"] == bundle)]
            if rows.empty:
                continue
            ax.plot(rows["week"], rows["mean"], color=colours(k % 10), lw=1.6, label=arm)
            ax.fill_between(rows["week"], rows["lo"], rows["hi"], color=colours(k % 10),
                            alpha=0.2, lw=0)
        ax.set_title(_pretty(bundle), fontsize=9)
        ax.set_xlabel("week")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("compliance")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{title}: compliance per arm (mean, {level:.0%} interval)", fontsize=10)
    fig.tight_layout()
    return to_png(fig)


def effect_cost_png(totals: pd.DataFrame, level: float, title: str) -> bytes:
    """Harm averted against cost per arm (bundles summed per run), with intervals.

    ``totals`` has columns arm, cost_mean/lo/hi (NOK) and harm_averted_mean/lo/hi.
    """
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
    colours = TAB10
    for k, row in enumerate(totals.itertuples(index=False)):
        x, y = row.cost_mean / 1e6, row.harm_averted_mean
        xerr = np.array([[x - row.cost_lo / 1e6], [row.cost_hi / 1e6 - x]])
        yerr = np.array([[y - row.harm_averted_lo], [row.harm_averted_hi - y]])
        ax.errorbar(x, y, xerr=np.nan_to_num(xerr), yerr=np.nan_to_num(yerr), fmt="o",
                    color=colours(k % 10), capsize=4, label=row.arm)
    ax.set_xlabel("cost (M NOK)")
    ax.set_ylabel("harm events averted (all bundles)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{title}: effect vs cost ({level:.0%} intervals)", fontsize=10)
    fig.tight_layout()
    return to_png(fig)


def indices_png(indices: pd.DataFrame, output: str, index: str, title: str) -> bytes:
    """Horizontal bars of one sensitivity index for one output, with its interval."""
    rows = indices[(indices["output"] == output) & (indices["index"] == index)]
    if "factor_2" in rows:
        rows = rows[rows["factor_2"].fillna("") == ""]
    rows = rows.sort_values("value")
    fig = Figure(figsize=(6.4, 0.45 * max(len(rows), 3) + 1.4))
    ax = fig.subplots()
    y = np.arange(len(rows))
    conf = rows["conf"].to_numpy(float) if "conf" in rows else np.zeros(len(rows))
    ax.barh(y, rows["value"].to_numpy(float), xerr=np.nan_to_num(conf), color="tab:blue",
            alpha=0.8, capsize=3)
    ax.set_yticks(y, [_pretty(str(f)) for f in rows["factor"]], fontsize=8)
    ax.set_xlabel(index)
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(f"{title}: {index} for {output}", fontsize=10)
    fig.tight_layout()
    return to_png(fig)

"""The pages' figures, drawn with matplotlib and returned as PNG bytes.

PNG bytes are what a page shows (an image widget) and what its download button hands over, so a
figure is drawn once and the same bytes serve both. Matplotlib renders on the server, which keeps
the pages free of JavaScript plotting libraries that would have to be fetched from a CDN.

Figures are made with :class:`matplotlib.figure.Figure`, not pyplot: a page draws from more than
one thread (a click, and "play"), and pyplot's global figure registry is not thread-safe. The
dashboard's arm figures are those of ``implsim report`` (:mod:`sim.plots.arms`), rendered at the
report's resolution, so a downloaded figure is the report's file.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.outcomes.catalogue import OUTCOMES
from sim.outcomes.spc import PChart, plot_spc
from sim.plots.arms import DPI as ARMS_DPI
from sim.plots.arms import effect_cost_figure, uptake_figure
from sim.plots.published import ArmTypes
from sim.state import STAGES
from sim.ui.network_sample import NetworkSample

DPI = 90
STAGE_COLOURS = ("#c7c7c7", "#9ecae1", "#fd8d3c", "#31a354", "#d62728")  # by STAGES
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TAB10 = colormaps["tab10"]


def to_png(fig: Figure, dpi: int = DPI) -> bytes:
    """Render a figure to PNG bytes (a pyplot-free figure is freed with its last reference)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
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
    for ax, metric in zip(axes, ("compliance", "adoption"), strict=True):
        for b, bundle in enumerate(bundles):
            if len(weeks):
                ax.plot(weeks, series[metric][:, b], color=colours(b % 10), lw=1.8,
                        label=_pretty(bundle))
        ax.set_xlim(0, max(horizon, 1))
        ax.set_ylim(0, 1)
        ax.set_xlabel("week")
        ax.set_ylabel(OUTCOMES[metric].axis_label)
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
    with tempfile.TemporaryDirectory() as tmp:
        path = plot_spc(chart, Path(tmp) / "spc.png", title=title)
        return path.read_bytes()


# --- dashboard -----------------------------------------------------------------------------------
def uptake_png(bands: pd.DataFrame, arms: Sequence[str], bundles: Sequence[str], level: float,
               title: str, types: ArmTypes | None = None, comparator: str = "") -> bytes:
    """System compliance over time per arm, as ``implsim report`` draws it (uptake.png).

    ``types`` and ``comparator`` (:attr:`sim.ui.results.Results.types`, ``.baseline``) add the
    published effects that match an arm, as the report does.
    """
    return to_png(uptake_figure(bands, arms, bundles, level, title, types, comparator),
                  ARMS_DPI)


def effect_cost_png(incremental: pd.DataFrame, arms: Sequence[str], level: float,
                    title: str) -> bytes:
    """Harm averted against extra cost per arm, as ``implsim report`` draws it.

    ``incremental`` is :func:`sim.ui.results.incremental` at one design point.
    """
    return to_png(effect_cost_figure(incremental, arms, level, title), ARMS_DPI)


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

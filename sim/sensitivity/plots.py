"""Figures of a sensitivity analysis: Morris μ*–σ, index bars, S2 heatmap, convergence.

Each takes the tidy index table of :mod:`sim.sensitivity.methods` (with ``output`` and
``method`` columns added by the pipeline), draws one panel per output and writes a PNG.
Figures are :class:`matplotlib.figure.Figure` objects (no pyplot state, no backend chosen).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from sim.outcomes.catalogue import title as output_title

# Morris: σ/μ* below 0.1 reads as linear, up to 0.5 monotonic, up to 1 almost monotonic, above
# that non-linear or interacting (Garcia Sanchez et al. 2014, Energy and Buildings 68: 741-750).
RATIO_LINES = (0.1, 0.5, 1.0)


def _grid(n: int, width: float, height: float, ncols: int = 2):
    cols = min(ncols, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(width * cols, height * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def _pivot(df: pd.DataFrame, index: str) -> pd.DataFrame:
    return df[df["index"] == index].set_index("factor")


def plot_morris(indices: pd.DataFrame, path: str | Path, labels: dict[str, str],
                title: str = "") -> Path:
    """μ* (with its interval) against σ per factor, one panel per output.

    Points carry their rank by μ*; the key beside each panel names them, so that factors
    crowded near the origin stay readable.
    """
    outputs = list(dict.fromkeys(indices["output"]))
    fig, axes = _grid(len(outputs), 8.2, 5.0)
    for ax, output in zip(axes, outputs, strict=False):
        df = indices[indices["output"] == output]
        ms = _pivot(df, "mu_star").sort_values("value", ascending=False)
        x = ms["value"].to_numpy()
        y = _pivot(df, "sigma").reindex(ms.index)["value"].to_numpy()
        err = np.vstack([np.nan_to_num(x - ms["conf_low"].to_numpy()),
                         np.nan_to_num(ms["conf_high"].to_numpy() - x)]).clip(0)
        ax.errorbar(x, y, xerr=err, fmt="o", color="tab:blue", ecolor="tab:gray",
                    capsize=2, ms=5)
        reach = np.concatenate([x, x + err[1], y])
        reach = reach[np.isfinite(reach)]
        top = (reach.max() if len(reach) else 0.0) * 1.08 or 1.0
        for r in RATIO_LINES:
            ax.plot([0, top], [0, r * top], ls=":", lw=0.8, color="grey")
            ax.annotate(f"σ/μ*={r:g}", (top, r * top), fontsize=7, color="grey",
                        ha="right", va="bottom")
        key = []
        for k, (name, xi, yi) in enumerate(zip(ms.index, x, y, strict=True), 1):
            ax.annotate(str(k), (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
            key.append(f"{k:>2}  {labels.get(name, name)[:34]}  {xi:.3g}")
        ax.text(1.03, 1.0, "rank  factor  μ*\n" + "\n".join(key), transform=ax.transAxes,
                fontsize=7, va="top", ha="left", family="monospace")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel("μ* (mean |elementary effect|)")
        ax.set_ylabel("σ (spread of elementary effects)")
        ax.set_title(output_title(output), fontsize=10)
        ax.grid(alpha=0.3)
    fig.suptitle(title or "Morris screening", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return Path(path)


def plot_bars(indices: pd.DataFrame, path: str | Path, labels: dict[str, str],
              index_names: tuple[str, ...], title: str = "") -> Path:
    """Horizontal bars of the given indices with their intervals, one panel per output.

    Factors are sorted by the first index, largest on top.
    """
    outputs = list(dict.fromkeys(indices["output"]))
    n_factors = indices[indices["factor_2"] == ""]["factor"].nunique()
    fig, axes = _grid(len(outputs), 6.0, 1.0 + 0.38 * n_factors * max(1, len(index_names) / 2))
    colours = {"S1": "tab:blue", "ST": "tab:orange", "median": "tab:purple"}
    for ax, output in zip(axes, outputs, strict=False):
        df = indices[(indices["output"] == output) & (indices["factor_2"] == "")]
        order = _pivot(df, index_names[0])["value"].sort_values().index
        y = np.arange(len(order))
        h = 0.8 / len(index_names)
        for k, index in enumerate(index_names):
            rows = _pivot(df, index).reindex(order)
            v = rows["value"].to_numpy()
            err = np.vstack([np.nan_to_num(v - rows["conf_low"].to_numpy()),
                             np.nan_to_num(rows["conf_high"].to_numpy() - v)]).clip(0)
            ax.barh(y + (k - (len(index_names) - 1) / 2) * h, v, height=h, xerr=err,
                    capsize=2, label=index, color=colours.get(index, f"C{k}"),
                    error_kw={"elinewidth": 0.8})
        ax.set_yticks(y, [labels.get(f, f) for f in order], fontsize=8)
        ax.axvline(0, color="black", lw=0.6)
        ax.set_title(output_title(output), fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return Path(path)


def plot_s2(indices: pd.DataFrame, path: str | Path, labels: dict[str, str],
            title: str = "") -> Path:
    """Heatmap of second-order Sobol' indices (upper triangle), one panel per output."""
    outputs = list(dict.fromkeys(indices["output"]))
    s2 = indices[indices["index"] == "S2"]
    names = list(dict.fromkeys(indices[(indices["index"] == "ST")]["factor"]))
    n = len(names)
    fig, axes = _grid(len(outputs), max(5.0, 1.6 + 0.55 * n), max(4.0, 1.2 + 0.5 * n))
    for ax, output in zip(axes, outputs, strict=False):
        mat = np.full((n, n), np.nan)
        for row in s2[s2["output"] == output].itertuples():
            i, j = names.index(row.factor), names.index(row.factor_2)
            mat[i, j] = row.value
        vmax = max(np.nanmax(np.abs(mat)) if np.isfinite(mat).any() else 0.0, 1e-9)
        im = ax.imshow(mat, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        for i in range(n):
            for j in range(i + 1, n):
                if np.isfinite(mat[i, j]):
                    dark = abs(mat[i, j]) > 0.6 * vmax
                    ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if dark else "black")
        short = [labels.get(f, f) for f in names]
        ax.set_xticks(range(n), short, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(n), short, fontsize=7)
        ax.set_title(output_title(output), fontsize=10)
        fig.colorbar(im, ax=ax, shrink=0.8, label="S2")
    fig.suptitle(title or "Second-order Sobol' indices", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return Path(path)


def plot_convergence(conv: pd.DataFrame, path: str | Path, labels: dict[str, str],
                     index_names: tuple[str, ...], sample_label: str = "samples",
                     title: str = "") -> Path:
    """Indices (with interval bands) against the sample size, a row per output."""
    outputs = list(dict.fromkeys(conv["output"]))
    factors = list(dict.fromkeys(conv["factor"]))
    legend_in = 0.8 + 0.065 * max((len(labels.get(f, f)) for f in factors), default=10)
    width = 5.5 * len(index_names) + legend_in
    fig = Figure(figsize=(width, 3.4 * len(outputs)))
    axes = fig.subplots(len(outputs), len(index_names), squeeze=False)
    cmap = colormaps["tab10" if len(factors) <= 10 else "tab20"]
    sizes = sorted(conv["samples"].unique())
    for r, output in enumerate(outputs):
        for c, index in enumerate(index_names):
            ax = axes[r, c]
            df = conv[(conv["output"] == output) & (conv["index"] == index)]
            for k, f in enumerate(factors):
                g = df[df["factor"] == f].sort_values("samples")
                if g.empty:
                    continue
                colour = cmap(k % cmap.N)
                ax.plot(g["samples"], g["value"], "o", ms=3, color=colour,
                        ls=("-", "--", ":")[(k // cmap.N) % 3], label=labels.get(f, f))
                ax.fill_between(g["samples"], g["conf_low"], g["conf_high"], color=colour,
                                alpha=0.12, lw=0)
            ax.set_xscale("log")
            ax.set_xticks(sizes, [str(v) for v in sizes])
            ax.minorticks_off()
            ax.set_xlabel(sample_label)
            ax.set_ylabel(index)
            ax.set_title(f"{output_title(output)}: {index}", fontsize=10)
            ax.grid(alpha=0.3)
    handles, names = axes[0, 0].get_legend_handles_labels()
    right = 1 - legend_in / width
    fig.suptitle(title or "Convergence of the indices as the sample grows", fontsize=11)
    fig.tight_layout(rect=(0, 0, right, 1))
    fig.legend(handles, names, loc="center left", bbox_to_anchor=(right, 0.5), fontsize=8,
               frameon=False)
    fig.savefig(path, dpi=120)
    return Path(path)

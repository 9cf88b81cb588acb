"""Calibration figures: the pairwise posterior and the posterior predictive check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.calibrate.priors import Prior

__all__ = ["plot_pairs", "plot_ppc"]


def _label(p: Prior) -> str:
    return p.name.removeprefix("parameters.")


def plot_pairs(posterior: pd.DataFrame, priors: list[Prior], path: str | Path,
               title: str = "") -> Path:
    """Weighted marginals on the diagonal, weighted particles below it, correlations above.

    Axes span the prior (log scale for log-uniform priors), so the figure shows how much the
    data narrowed each parameter; the posterior median is a red line and a known true value
    (synthetic data) a black dashed line.
    """
    d = len(priors)
    w = posterior["weight"].to_numpy()
    w = w / w.sum()
    fig = Figure(figsize=(2.6 * d + 0.8, 2.6 * d + 0.6))
    axes = fig.subplots(d, d, squeeze=False)
    for i, pi in enumerate(priors):
        xi = posterior[pi.name].to_numpy()
        for j, pj in enumerate(priors):
            ax = axes[i, j]
            log_x = pj.kind == "loguniform"
            if i == j:
                bins = (np.geomspace(pi.low, pi.high, 31) if log_x
                        else np.linspace(pi.low, pi.high, 31))
                ax.hist(xi, bins=bins, weights=w, color="tab:blue", alpha=0.75)
                order = np.argsort(xi)
                med = xi[order][np.searchsorted(np.cumsum(w[order]), 0.5)]
                ax.axvline(med, color="tab:red", lw=1.5)
                if pi.truth is not None:
                    ax.axvline(pi.truth, color="black", ls="--", lw=1.2)
                ax.set_yticks([])
            elif i > j:
                xj = posterior[pj.name].to_numpy()
                ax.scatter(xj, xi, s=4 + 400 * w, alpha=0.35, color="tab:blue", lw=0)
                if pi.truth is not None and pj.truth is not None:
                    ax.plot(pj.truth, pi.truth, marker="x", color="black", ms=9, mew=2)
                if pi.kind == "loguniform":
                    ax.set_yscale("log")
                ax.set_ylim(pi.low, pi.high)
            else:
                xj = posterior[pj.name].to_numpy()
                a = np.log(xj) if pj.kind == "loguniform" else xj
                b = np.log(xi) if pi.kind == "loguniform" else xi
                ma, mb = np.sum(w * a), np.sum(w * b)
                cov = np.sum(w * (a - ma) * (b - mb))
                sd = np.sqrt(np.sum(w * (a - ma) ** 2) * np.sum(w * (b - mb) ** 2))
                r = cov / sd if sd > 0 else float("nan")
                ax.text(0.5, 0.5, f"r = {r:+.2f}", ha="center", va="center",
                        fontsize=12, transform=ax.transAxes)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_frame_on(False)
                continue
            if log_x:
                ax.set_xscale("log")
            ax.set_xlim(pj.low, pj.high)
            ax.tick_params(labelsize=7)
            if i == d - 1:
                ax.set_xlabel(_label(pj), fontsize=9)
            if j == 0 and i > 0:
                ax.set_ylabel(_label(pi), fontsize=9)
    ess = 1.0 / np.sum(w ** 2)
    fig.suptitle(f"{title}\nposterior: {len(w)} particles (ESS {ess:.0f}); axes span the prior; "
                 "red = median" + ("; dashed = true value"
                                   if any(p.truth is not None for p in priors) else ""),
                 fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


def plot_ppc(ppc: pd.DataFrame, path: str | Path, title: str = "", max_panels: int = 12,
             period_names: dict[str, str] | None = None) -> Path:
    """Observed points over the simulated 5–95% (light) and 25–75% (dark) bands.

    One panel per target and group; its title says how many observations the 90% band covers.

    ``ppc`` has one row per observation: target, group, bundle, period, observed, q05, q25,
    q50, q75, q95, covered. ``period_names`` labels each target's x axis (default "period").
    """
    panels = list(ppc.groupby(["target", "group", "bundle"], sort=False))
    shown = panels[:max_panels]
    cols = min(3, len(shown))
    rows = int(np.ceil(len(shown) / cols))
    fig = Figure(figsize=(max(6.4, 4.6 * cols), 3.6 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, ((target, group, bundle), df) in zip(axes.ravel(), shown, strict=False):
        df = df.sort_values("period")
        x = df["period"].to_numpy()
        if len(df) > 3:  # a curve: bands between the observed periods
            ax.fill_between(x, df["q05"], df["q95"], color="tab:blue", alpha=0.25, lw=0,
                            label="simulated 5–95%")
            ax.fill_between(x, df["q25"], df["q75"], color="tab:blue", alpha=0.35, lw=0,
                            label="simulated 25–75%")
            ax.plot(x, df["q50"], color="tab:blue", lw=1.5, label="simulated median")
        else:  # a few time points: intervals, nothing drawn between them
            ax.vlines(x, df["q05"], df["q95"], color="tab:blue", alpha=0.35, lw=12,
                      label="simulated 5–95%")
            ax.vlines(x, df["q25"], df["q75"], color="tab:blue", alpha=0.6, lw=12,
                      label="simulated 25–75%")
            ax.plot(x, df["q50"], "_", color="tab:blue", ms=18, mew=2,
                    label="simulated median")
            pad = max(1.0, 0.15 * (x.max() - x.min()))
            ax.set_xlim(x.min() - pad, x.max() + pad)
        inside = df["covered"].to_numpy(bool)
        ax.plot(x[inside], df["observed"].to_numpy()[inside], "o", color="black", ms=4,
                label="observed (inside 5–95%)")
        if (~inside).any():
            ax.plot(x[~inside], df["observed"].to_numpy()[~inside], "o", mfc="white",
                    color="tab:red", ms=5, mew=1.5, label="observed (outside)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.set_title(f"{target}: {group} — {bundle}\n{int(inside.sum())} of {len(df)} "
                     "observations inside the 90% band", fontsize=9)
        ax.set_xlabel((period_names or {}).get(target, "period"))
        ax.set_ylabel("share")
    for ax in axes.ravel()[len(shown):]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize=7, loc="upper left")
    more = f" (first {max_panels} of {len(panels)} panels)" if len(panels) > max_panels else ""
    fig.suptitle(f"{title}: posterior predictive check{more}", fontsize=11)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path

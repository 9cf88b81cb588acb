"""Plots of what the programme would have seen: GTT series, detection times, SPC examples.

- :func:`plot_gtt`: monthly share of admissions with ≥ 1 harm, observed (one replicate's sample,
  and the 10–90% band of samples over replicates) beside the true share, pooled over trusts,
  with the national GTT range of SPEC §11 as a reference band.
- :func:`plot_detection`: per chart type (each compliance bundle, and GTT harm), the cumulative
  share of charts that have signalled by each week, per strategy, with the 10–90% band over
  replicates (when a replicate has more than one such chart) and the share expected from false
  signals alone.
- :func:`plot_spc_examples`: p-charts (first replicate) of a few charted units and of the first
  trust's GTT series.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from sim.filenames import file_stem

#: SPEC §11: national GTT share of admissions with ≥ 1 harm, 2010–2022 (lowest, highest).
NATIONAL_GTT_RANGE = (0.119, 0.161)


def _strategies(df: pd.DataFrame) -> list[str]:
    col = df["strategy"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return [s for s in col.cat.categories if (col == s).any()]
    return list(dict.fromkeys(col))


def _band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.nanquantile(values, 0.1, axis=1), np.nanquantile(values, 0.9, axis=1)


def plot_gtt(gtt: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Observed vs true GTT share per strategy (pooled over trusts), months on a week axis."""
    path = Path(path)
    strategies = _strategies(gtt) if len(gtt) else []
    fig = Figure(figsize=(4.6 * max(len(strategies), 1), 4.2))
    axes = fig.subplots(1, max(len(strategies), 1), sharey=True, squeeze=False)
    if not strategies:
        axes[0, 0].text(0.5, 0.5, "no GTT (no somatic hospital units or 0 records)",
                        ha="center", va="center", transform=axes[0, 0].transAxes)
    for ax, strategy in zip(axes[0], strategies, strict=False):
        g = gtt[gtt["strategy"] == strategy].copy()
        g["true_harmed"] = g["true_share"] * g["admissions"]
        pooled = g.groupby(["replicate", "week"]).agg(
            harmed=("records_harmed", "sum"), records=("records", "sum"),
            true_harmed=("true_harmed", "sum"), admissions=("admissions", "sum"))
        pooled["observed"] = pooled["harmed"] / pooled["records"]
        pooled["true"] = pooled["true_harmed"] / pooled["admissions"]
        obs = pooled["observed"].unstack("replicate")
        true = pooled["true"].unstack("replicate")
        weeks = obs.index.to_numpy()
        ax.axhspan(*NATIONAL_GTT_RANGE, color="tab:green", alpha=0.12,
                   label="national GTT 2010–2022 (SPEC §11)")
        lo, hi = _band(obs.to_numpy())
        ax.fill_between(weeks, lo, hi, color="tab:blue", alpha=0.15, step="mid",
                        label="observed, 10–90% over replicates")
        first = obs.columns.min()
        ax.plot(weeks, obs[first], color="tab:blue", lw=0.8, marker="o", ms=3,
                label=f"observed (replicate {first})")
        tl, th = _band(true.to_numpy())
        ax.fill_between(weeks, tl, th, color="black", alpha=0.2)
        ax.plot(weeks, true.mean(axis=1), color="black", lw=2.0, label="true (mean)")
        ax.axhline(0.75 * float(true.iloc[0].mean()), color="tab:red", ls="--", lw=1.0,
                   label="programme aim: −25% from baseline")
        ax.axvspan(weeks.min(), 0, color="grey", alpha=0.1, label="pre-programme baseline")
        n_rec = int(g["records"].iloc[0])
        ax.set_title(f"{strategy}\n({n_rec} records/trust/month, "
                     f"{g['trust'].nunique()} trust{'s' * (g['trust'].nunique() != 1)})",
                     fontsize=10)
        ax.set_xlabel("week (month end)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("admissions with ≥ 1 harm (E–I)")
    axes[0, 0].yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    fig.suptitle(f"{title}: Global Trigger Tool, observed vs true".strip(": "), fontsize=12)
    fig.tight_layout()
    if strategies:
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=3, frameon=False)
        fig.subplots_adjust(bottom=0.3)
    fig.savefig(path, dpi=110)
    return path


def _cumulative(times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Share of ``times`` (NaN = never) at or before each grid week."""
    t = np.where(np.isnan(times), np.inf, times)
    return (t[None, :] <= grid[:, None]).mean(axis=1)


def plot_detection(detection: pd.DataFrame, summary: pd.DataFrame, path: str | Path,
                   title: str = "", horizon: int | None = None) -> Path:
    """Cumulative share of charts signalled by week, per chart type and strategy."""
    path = Path(path)
    if detection.empty:
        fig = Figure(figsize=(6, 3))
        ax = fig.subplots()
        ax.text(0.5, 0.5, "no charts", ha="center", va="center", transform=ax.transAxes)
        fig.savefig(path, dpi=110)
        return path
    panels = list(dict.fromkeys(zip(detection["measure"], detection["bundle"], strict=True)))
    strategies = _strategies(detection)
    horizon = int(horizon or np.nanmax(detection["weeks_to_signal"].to_numpy(float)) or 1)
    grid = np.arange(0, horizon + 1)
    fig = Figure(figsize=(4.0 * len(panels), 5.0))
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)
    colours = colormaps["tab10"]
    for ax, (measure, bundle) in zip(axes[0], panels, strict=True):
        d = detection[(detection["measure"] == measure) & (detection["bundle"] == bundle)]
        for k, strategy in enumerate(strategies):
            ds = d[d["strategy"] == strategy]
            if ds.empty:
                continue
            per_rep = np.stack([_cumulative(g["weeks_to_signal"].to_numpy(float), grid)
                                for _, g in ds.groupby("replicate")], axis=1)
            pooled = _cumulative(ds["weeks_to_signal"].to_numpy(float), grid)
            s = summary[(summary["strategy"] == strategy) & (summary["measure"] == measure)
                        & (summary["bundle"] == bundle)]
            med = s["median_weeks"].iloc[0] if len(s) else np.nan
            label = strategy + (f" (median {med:.0f} wk)" if np.isfinite(med) else
                                " (median > horizon)")
            ax.step(grid, pooled, where="post", color=colours(k), lw=1.8, label=label)
            if per_rep.shape[1] > 1 and ds.groupby("replicate").size().max() > 1:
                lo, hi = _band(per_rep)
                ax.fill_between(grid, lo, hi, step="post", color=colours(k), alpha=0.15)
        per_strategy = [np.sort(d.loc[d["strategy"] == st, "weeks_to_signal"].to_numpy(float))
                        for st in strategies]
        if len(per_strategy) > 1 and all(np.array_equal(x, per_strategy[0], equal_nan=True)
                                         for x in per_strategy[1:]):
            ax.text(0.98, 0.5, "all strategies: same signals\n(common random numbers,\n"
                    "no visible change)", transform=ax.transAxes, ha="right", fontsize=8,
                    color="dimgrey")
        null = summary[(summary["measure"] == measure) & (summary["bundle"] == bundle)]
        null = null["null_signal_share"].dropna()
        if len(null):
            ax.axhline(float(null.iloc[0]), color="grey", ls=":", lw=1.2,
                       label="false signals alone (no change)")
        what = ("compliance ↑: " + str(bundle).replace("_", " ") if measure == "compliance"
                else "harm ↓: GTT share per trust")
        n_charts = int(d.groupby(["strategy", "replicate"], observed=True).size().max())
        ax.set_title(f"{what}\n({n_charts} chart{'s' * (n_charts != 1)} per replicate, "
                     f"{d['replicate'].nunique()} replicates)", fontsize=9)
        ax.set_xlabel("weeks since start")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    axes[0, 0].set_ylabel("share of charts that have signalled")
    fig.suptitle(f"{title}: time until the SPC rules signal a change (lines: pooled; bands: "
                 "10–90% over replicates)".strip(": "), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_compliance_charts(audits: pd.DataFrame, m: dict[str, Any], folder: Path
                           ) -> list[str]:
    """One p-chart per strategy × unit × bundle of an audit table, read as ``[measurement]`` does.

    The centre is frozen on the baseline periods (or known), with the rules of ``m``; used for
    ``measurement_spc/`` and for ``--spc-units``' ``spc/``. Returns paths relative to the
    folder's parent.
    """
    from sim.outcomes.detection import ChartSpec, chart
    from sim.outcomes.spc import plot_spc

    spec = ChartSpec.from_measurement(m)
    folder.mkdir(exist_ok=True)
    written = []
    for (strategy, unit, bundle), g in audits.groupby(["strategy", "unit", "bundle"], sort=False,
                                                      observed=True):
        c = chart(g["compliant"], g["audited"], m["audit_baseline_periods"], spec,
                  known_centre=float(g["true_compliance"].iloc[0]), periods=g["week"].to_numpy())
        name = f"{file_stem(f'{strategy}__{unit}__{bundle}')}.png"
        plot_spc(c, folder / name, title=f"{unit} — {bundle.replace('_', ' ')} — {strategy}")
        written.append(f"{folder.name}/{name}")
    return written


def plot_spc_examples(tables: dict[str, pd.DataFrame], scenario: Any, out: Path) -> list[str]:
    """p-charts (first replicate) of the first ``spc_plots`` charted units and the first trust.

    Written to ``out/measurement_spc/``; returns the relative file names.
    """
    from sim.outcomes.detection import ChartSpec, chart
    from sim.outcomes.spc import plot_spc

    m = scenario.measurement
    spec = ChartSpec.from_measurement(m)
    folder = out / "measurement_spc"
    written: list[str] = []
    comp = tables.get("compliance_observed", pd.DataFrame())
    gtt = tables.get("gtt", pd.DataFrame())
    if m["spc_plots"] == 0:  # no example charts at all, the trust's GTT chart included
        return written
    folder.mkdir(exist_ok=True)
    if len(comp):
        first = comp[comp["replicate"] == comp["replicate"].min()]
        units = list(dict.fromkeys(first["unit"]))[: m["spc_plots"]]
        written += plot_compliance_charts(first[first["unit"].isin(units)], m, folder)
    if len(gtt):
        first = gtt[gtt["replicate"] == gtt["replicate"].min()]
        trust = first["trust"].iloc[0]
        for strategy, g in first[first["trust"] == trust].groupby("strategy", sort=False,
                                                                 observed=True):
            c = chart(g["records_harmed"], g["records"], m["gtt_baseline_months"], spec,
                      known_centre=float(g["true_share"].iloc[0]), periods=g["week"].to_numpy())
            name = f"{file_stem(f'{strategy}__{trust}__GTT')}.png"
            plot_spc(c, folder / name, title=f"{trust} — GTT harm share — {strategy}",
                     ylabel="admissions with ≥ 1 harm")
            written.append(f"measurement_spc/{name}")
    return written

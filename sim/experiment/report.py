"""Reports computed from a results store, never from memory.

Arm tables, paired differences, uptake curves with intervals, and effect against cost.

With common random numbers, replicate *k* of two arms shares its seed, so the difference between
arms is taken replicate by replicate and its interval is a paired t-interval; without them the
interval is Welch's for two independent samples.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from sim.errors import InputError
from sim.experiment.store import ResultStore
from sim.outcomes.compare import OUTCOMES, mean_ci

PAIR_OUTCOMES = ("compliance", "adoption", "fidelity", "penetration", "sustainability_12m",
                 "cost", "harm_averted")


def arm_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per arm × design point × bundle: mean and 95% interval of each outcome."""
    rows = []
    for (arm, point, bundle), grp in summary.groupby(["arm", "point", "bundle"], sort=False):
        row: dict[str, object] = {"arm": arm, "point": point, "bundle": bundle,
                                  "replicates": len(grp)}
        for col in OUTCOMES:
            if col in grp:
                m, lo, hi, _ = mean_ci(grp[col].to_numpy())
                row[f"{col}_mean"], row[f"{col}_lo"], row[f"{col}_hi"] = m, lo, hi
        rows.append(row)
    return pd.DataFrame(rows)


def diff_interval(a: np.ndarray, b: np.ndarray, paired: bool,
                  level: float = 0.95) -> tuple[float, float, float]:
    """Mean of b − a and its interval (paired t, or Welch when the runs are independent)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if paired:
        d = b - a
        d = d[~np.isnan(d)]
        m, lo, hi, _ = mean_ci(d, level)
        return m, lo, hi
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return float(b.mean() - a.mean()) if len(a) and len(b) else float("nan"), \
            float("nan"), float("nan")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se > 0 else 1.0
    half = stats.t.ppf(0.5 + level / 2, df) * se
    m = float(b.mean() - a.mean())
    return m, m - half, m + half


def pair_table(summary: pd.DataFrame, arms: list[str], paired: bool) -> pd.DataFrame:
    """Every pair of arms × point × bundle × outcome: difference (second − first) with interval."""
    rows = []
    for first, second in itertools.combinations(arms, 2):
        a = summary[summary["arm"] == first]
        b = summary[summary["arm"] == second]
        merged = a.merge(b, on=["point", "replicate", "bundle"], suffixes=("_a", "_b"))
        for (point, bundle), grp in merged.groupby(["point", "bundle"], sort=False):
            for col in PAIR_OUTCOMES:
                m, lo, hi = diff_interval(grp[f"{col}_a"].to_numpy(), grp[f"{col}_b"].to_numpy(),
                                          paired)
                rows.append({"first": first, "second": second, "point": point,
                             "bundle": bundle, "outcome": col, "difference": m,
                             "lo": lo, "hi": hi, "paired": paired, "n": len(grp)})
    return pd.DataFrame(rows)


def plot_uptake_arms(ts: pd.DataFrame, arms: list[str], path: Path, title: str) -> Path:
    """System compliance over time per arm: mean and 95% interval of the mean, per bundle."""
    sys_rows = ts[(ts["level"] == "system") & (ts["point"] == ts["point"].min())]
    bundles = list(dict.fromkeys(sys_rows["bundle"]))
    fig, axes = plt.subplots(1, len(bundles), figsize=(3.8 * len(bundles), 3.6), squeeze=False)
    colours = plt.get_cmap("tab10")
    for c, bundle in enumerate(bundles):
        ax = axes[0, c]
        for k, arm in enumerate(arms):
            wide = sys_rows[(sys_rows["bundle"] == bundle) & (sys_rows["arm"] == arm)].pivot_table(
                index="week", columns="replicate", values="compliance")
            if wide.empty:
                continue
            vals = wide.to_numpy()
            n = np.sum(~np.isnan(vals), axis=1)
            mean = np.nanmean(vals, axis=1)
            sd = np.nanstd(vals, axis=1, ddof=1) if vals.shape[1] > 1 else np.zeros_like(mean)
            half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(np.maximum(n, 1))
            ax.plot(wide.index, mean, color=colours(k), label=arm, lw=1.6)
            ax.fill_between(wide.index, mean - half, mean + half, color=colours(k), alpha=0.2,
                            lw=0)
        ax.set_title(bundle.replace("_", " "), fontsize=9)
        ax.set_xlabel("week")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("compliance")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{title}: compliance per arm (mean, 95% interval)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_effect_vs_cost(arms_df: pd.DataFrame, arms: list[str], path: Path, title: str) -> Path:
    """Harm averted against cost per arm (all bundles summed per run), with 95% intervals."""
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    colours = plt.get_cmap("tab10")
    first_point = arms_df[arms_df["point"] == arms_df["point"].min()]
    for k, arm in enumerate(arms):
        rows = first_point[first_point["arm"] == arm]
        if rows.empty:
            continue
        x, y = rows["cost_mean"].sum() / 1e6, rows["harm_averted_mean"].sum()
        # sum of per-bundle interval half-widths: a conservative interval for the total
        xe = np.nansum(rows["cost_hi"] - rows["cost_mean"]) / 1e6
        ye = np.nansum(rows["harm_averted_hi"] - rows["harm_averted_mean"])
        ax.errorbar(x, y, xerr=xe, yerr=ye, fmt="o", color=colours(k), capsize=4, label=arm)
    ax.set_xlabel("cost (M NOK)")
    ax.set_ylabel("harm events averted (all bundles)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{title}: effect vs cost", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(root: str | Path) -> Path:
    """Write ``DIR/report/`` from the store at ``root``; returns the report directory."""
    store = ResultStore(root)
    manifest = store.manifest()
    summary = store.read("summary")
    if summary.empty:
        raise InputError(str(root), "the store has no finished runs yet; run or resume the "
                         "experiment first")
    ts = store.read("timeseries")
    arms = manifest["arms"]
    exp = manifest["experiment"]
    out = Path(root) / "report"
    out.mkdir(exist_ok=True)
    arms_df = arm_table(summary)
    arms_df.to_csv(out / "arms.csv", index=False)
    pairs = pair_table(summary, arms, paired=bool(exp.get("common_random_numbers", True)))
    pairs.to_csv(out / "pairs.csv", index=False)
    if not ts.empty and (ts["level"] == "system").any():
        plot_uptake_arms(ts, arms, out / "uptake.png", exp.get("name", ""))
    plot_effect_vs_cost(arms_df, arms, out / "effect_vs_cost.png", exp.get("name", ""))
    done = summary["run_id"].nunique()
    method = ("paired: common random numbers" if exp.get("common_random_numbers", True)
              else "Welch: independent runs")
    (out / "README.txt").write_text(
        f"Report of {exp.get('name')} from {done} of {manifest['n_runs']} runs.\n"
        "arms.csv: per arm x design point x bundle, mean and 95% interval of each outcome.\n"
        f"pairs.csv: per pair of arms, difference (second - first) with 95% interval "
        f"({method}).\n")
    return out

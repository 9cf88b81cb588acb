"""A paired contrast of two arms across a parameter design, as an effect curve.

Some questions the model answers only through a few parameters nobody has measured: whether
learning from one implementation speeds the next is, in the model, ``beta_capacity`` and
``capacity_gain`` and nothing else. Such an answer is honest only as a curve over those
parameters. An experiment's optional ``[contrast]`` table names two arms and an outcome; crossed
with a ``[design]`` over the parameters, ``implsim report`` then writes the effect at every design
point (``contrast.csv``, ``contrast.md``) and the curve (``contrast.png``)::

    [contrast]
    treatment = "antibiotics first, then the other three"
    control = "the other three without antibiotics"
    bundles = ["medication_list_accuracy", "deteriorating_patient"]  # default: every bundle
    outcome = "compliance"        # a system time-series column
    week = 104                    # where the outcome is read (a recorded week)
    level = 0.9                   # interval level
    x = "parameters.beta_capacity"        # the figure's x axis: a design factor
    lines = "parameters.capacity_gain"    # one line per value of this factor (optional)
    note = "What data would estimate these parameters."  # printed under the table

The effect of replicate *k* at a point is treatment minus control in the outcome at ``week``,
averaged over ``bundles`` (the plain mean: each bundle counts once). With common random numbers
the interval is the paired t-interval over replicates, else Welch's
(:func:`sim.outcomes.statistics.diff_interval`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.errors import InputError
from sim.factors import SECTIONS as FACTOR_SECTIONS
from sim.factors import parse_key
from sim.outcomes.statistics import diff_interval, mean_ci
from sim.params import P, ParamSet

#: Time-series outcomes a contrast may read (system level).
OUTCOMES = ("compliance", "adoption", "fidelity", "penetration")
#: What a contrast adds to ``DIR/report/``.
FILES = ("contrast.csv", "contrast.md", "contrast.png")

CONTRAST = ParamSet("contrast", "A paired contrast of two arms across the design.", (
    P("treatment", "", "Arm whose outcome the control's is subtracted from."),
    P("control", "", "Arm subtracted (replicate by replicate with common random numbers)."),
    P("bundles", [], "Bundles the outcome is averaged over (default: every bundle).",
      kind="list[str]"),
    P("outcome", "compliance", "System time-series outcome.", choices=OUTCOMES),
    P("week", 0, "Week the outcome is read at (0: the last week).", unit="weeks", low=0,
      high=5200),
    P("level", 0.9, "Interval level.", low=0.5, high=0.999),
    P("x", "", "Design factor on the figure's x axis (default: the design's first)."),
    P("lines", "", "Design factor drawn as one line per value (optional)."),
    P("note", "", "Text written under the table (e.g. what data would estimate the factors)."),
))


def parse_contrast(raw: Any, where: str, arms: list[str], bundles: list[str],
                   points: list[dict[str, Any]], weeks: int, every: int,
                   timeseries: str) -> dict[str, Any] | None:
    """Validate a ``[contrast]`` table against the experiment (None when there is none)."""
    if raw is None:
        return None
    c = CONTRAST.resolve(raw, where)
    for role in ("treatment", "control"):
        if c[role] not in arms:
            raise InputError(f"{where}.{role}", f"must name an arm; arms: {', '.join(arms)}")
    if c["treatment"] == c["control"]:
        raise InputError(f"{where}.control", "must be another arm than treatment")
    c["bundles"] = list(c["bundles"]) or list(bundles)
    for b in c["bundles"]:
        if b not in bundles:
            raise InputError(f"{where}.bundles", f"unknown bundle {b!r}; the scenario has: "
                             f"{', '.join(bundles)}")
    if timeseries == "none":
        raise InputError(f"{where}", "a contrast reads the time series: set timeseries = "
                         "\"system\" (or finer), not \"none\"")
    c["week"] = c["week"] or weeks
    if c["week"] > weeks or (c["week"] % every and c["week"] != weeks):
        raise InputError(f"{where}.week", f"week {c['week']} is not recorded: give a multiple of "
                         f"output.every_weeks = {every} up to weeks = {weeks}")
    factors = list(dict.fromkeys(k for p in points for k in p))
    for role in ("x", "lines"):
        if c[role]:
            parse_key(c[role], f"{where}.{role}")
            if c[role] not in factors:
                raise InputError(f"{where}.{role}", f"{c[role]!r} is not a design factor; "
                                 f"factors: {', '.join(factors) or 'none (no [design])'}")
    c["x"] = c["x"] or (factors[0] if factors else "")
    if c["lines"] and c["lines"] == c["x"]:
        raise InputError(f"{where}.lines", "must be another factor than x")
    other = [f for f in factors if f not in (c["x"], c["lines"])]
    if other:
        raise InputError(f"{where}.lines", f"design factor {other[0]!r} is neither x nor lines: "
                         "the curve would mix its values; name it in lines or drop it")
    return c


def run_means(timeseries: pd.DataFrame, c: dict[str, Any]) -> pd.DataFrame:
    """Per arm × point × replicate: the outcome at the week, averaged over the bundles."""
    rows = timeseries[(timeseries["level"] == "system") & (timeseries["week"] == c["week"])
                      & timeseries["bundle"].astype(str).isin(c["bundles"])
                      & timeseries["arm"].isin([c["treatment"], c["control"]])]
    grp = rows.groupby(["arm", "point", "replicate"], observed=True)[c["outcome"]]
    counts = grp.count()
    out = grp.mean().rename("value").to_frame()
    out = out[counts == len(c["bundles"])]  # a run missing a bundle (NaN) has no mean
    return out.reset_index()


def contrast_table(timeseries: pd.DataFrame, c: dict[str, Any],
                   points: list[dict[str, Any]], paired: bool) -> pd.DataFrame:
    """Per design point: each arm's mean and the effect (treatment − control) with interval."""
    means = run_means(timeseries, c)
    out = []
    for p, point in enumerate(points):
        at = means[means["point"] == p]
        t = at[at["arm"] == c["treatment"]].set_index("replicate")["value"]
        k = at[at["arm"] == c["control"]].set_index("replicate")["value"]
        if paired:  # replicate k of both arms shares its seed: pair them
            both = t.index.intersection(k.index)
            t, k = t.loc[both], k.loc[both]
        if len(t) == 0 or len(k) == 0:
            continue  # no finished runs of this point yet
        effect, lo, hi = diff_interval(k.to_numpy(), t.to_numpy(), paired, c["level"])
        out.append({"point": p, **point, "treatment_mean": mean_ci(t.to_numpy())[0],
                    "control_mean": mean_ci(k.to_numpy())[0], "effect": effect,
                    "lo": lo, "hi": hi, "n": int(min(len(t), len(k)))})
    return pd.DataFrame(out)


def contrast_figure(table: pd.DataFrame, c: dict[str, Any], title: str) -> Figure:
    """Effect against the x factor, one line (with interval bars) per value of ``lines``."""
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    groups = table.groupby(c["lines"], sort=True) if c["lines"] else [(None, table)]
    n = max(len(groups), 1)
    for i, (value, rows) in enumerate(groups):
        rows = rows.sort_values(c["x"])
        x = rows[c["x"]].to_numpy(float)
        shift = (i - (n - 1) / 2) * 0.008 * (np.ptp(x) or 1.0)  # keep the bars apart
        err = np.vstack([rows["effect"] - rows["lo"], rows["hi"] - rows["effect"]])
        label = None if value is None else f"{c['lines'].split('.')[-1]} = {value:g}"
        ax.errorbar(x + shift, rows["effect"], yerr=np.nan_to_num(err), marker="o", ms=4,
                    capsize=3, lw=1.5, label=label)
    ax.axhline(0, color="grey", lw=0.8)
    key = parse_key(c["x"], "contrast.x")
    if key.section in FACTOR_SECTIONS and key.param in FACTOR_SECTIONS[key.section].names():
        ax.axvline(FACTOR_SECTIONS[key.section][key.param].default, color="grey", ls=":",
                   lw=1, label=f"declared default of {key.param}")
    ax.set_xlabel(c["x"].split(".")[-1])
    ax.set_ylabel(f"{c['outcome']} difference at week {c['week']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{title}: {c['treatment']}\nminus {c['control']} "
                 f"(mean over {len(c['bundles'])} bundles, {c['level']:.0%} interval)",
                 fontsize=9)
    fig.tight_layout()
    return fig


def markdown(table: pd.DataFrame, c: dict[str, Any], title: str) -> str:
    """The table in Markdown with what it measures, and the note."""
    factors = [f for f in (c["lines"], c["x"]) if f]
    head = [f.split(".")[-1] for f in factors] + ["treatment", "control", "effect",
                                                  f"{c['level']:.0%} interval", "n"]
    lines = [f"# {title}: contrast", "",
             f"Effect = {c['outcome']} at week {c['week']}, mean over "
             f"{', '.join(c['bundles'])}: *{c['treatment']}* minus *{c['control']}*, per "
             "replicate; mean and interval over replicates.", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for _, r in table.sort_values(factors or ["point"]).iterrows():
        cells = [f"{r[f]:g}" for f in factors] + [
            f"{r['treatment_mean']:.3f}", f"{r['control_mean']:.3f}", f"{r['effect']:+.3f}",
            f"[{r['lo']:+.3f}, {r['hi']:+.3f}]", f"{int(r['n'])}"]
        lines.append("| " + " | ".join(cells) + " |")
    if c["note"]:
        lines += ["", c["note"].strip()]
    return "\n".join(lines) + "\n"


def write_contrast(out: Path, timeseries: pd.DataFrame, c: dict[str, Any],
                   points: list[dict[str, Any]], paired: bool, title: str) -> list[str]:
    """Write the contrast's files into the report directory; returns their names."""
    table = contrast_table(timeseries, c, points, paired)
    if table.empty:
        return []
    table.to_csv(out / "contrast.csv", index=False)
    (out / "contrast.md").write_text(markdown(table, c, title))
    if c["x"]:
        from sim.plots.arms import DPI

        contrast_figure(table, c, title).savefig(out / "contrast.png", dpi=DPI)
    return [f for f in FILES if (out / f).exists()]

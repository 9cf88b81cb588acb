"""The results dashboard (``implsim dashboard DIR``): a Solara page.

It opens a finished experiment store or sensitivity analysis and shows the arms side by side
with intervals — uptake curves, harm averted against extra cost, a table of outcomes and the
incremental outcomes against the comparator (the baseline arm): differences, harm averted and
the cost per harm averted from the mean differences, or why it is undefined — and the
sensitivity indices when the directory has ``indices.csv``.
Every figure can be downloaded as the PNG that is shown. The interval level and the directory
are typed fields, checked like every other input: a bad value gives a message in the page.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import solara

from sim.errors import InputError
from sim.outcomes.catalogue import DASHBOARD, INCREMENTAL_OUTCOMES, OUTCOMES
from sim.outcomes.statistics import ALL_BUNDLES
from sim.ui import figures
from sim.ui.results import (
    LEVEL,
    Results,
    arm_table,
    fmt_interval,
    incremental,
    open_results,
    uptake_bands,
)
from sim.ui.security import confine
from sim.ui.serve import RESULTS_ENV
from sim.ui.widgets import Heading, ParamField, PngFigure, Table

TABLE = tuple(OUTCOMES[name] for name in DASHBOARD)  # the arm table's columns


def arms_rows(table: pd.DataFrame, bundle: str,
              rate_unit: str = "") -> tuple[list[str], list[list[str]]]:
    """Arms side by side for one bundle: header and rows of mean [interval] per outcome.

    ``rate_unit`` is the bundle's own harm-rate unit (e.g. "infections per 1,000
    catheter-days"), so the harm rate is headed as the literature reports it.
    """
    rows = []
    for _, r in table[table["bundle"] == bundle].iterrows():
        cells = [str(r["arm"]), str(int(r["replicates"]))]
        for o in TABLE:
            cells.append(fmt_interval(r.get(f"{o.name}_mean"), r.get(f"{o.name}_lo"),
                                      r.get(f"{o.name}_hi"), o.scale))
        rows.append(cells)
    headings = [f"{o.label} ({rate_unit})" if o.name == "harm_rate_indicator" and rate_unit
                else o.heading for o in TABLE]
    return ["arm", "runs", *headings], rows


def rate_unit(summary: pd.DataFrame, bundle: str) -> str:
    """The bundle's harm-rate unit from a summary (empty when the store has none)."""
    if "harm_rate_indicator_unit" not in summary:
        return ""
    units = summary.loc[summary["bundle"].astype(str) == bundle,
                        "harm_rate_indicator_unit"].dropna().astype(str)
    return units.iloc[0] if len(units) else ""


#: The incremental table's columns: (heading, column prefix, outcome giving the scale).
_AVERTED = INCREMENTAL_OUTCOMES["harm_averted"]
_INCREMENTAL = (("Δ compliance", "delta_compliance", OUTCOMES["compliance"]),
                (_AVERTED.heading, "harm_averted", _AVERTED),
                (f"Δ {OUTCOMES['cost'].heading}", "delta_cost", OUTCOMES["cost"]))
_RATIO = INCREMENTAL_OUTCOMES["cost_per_harm_averted"]


def incremental_rows(inc: pd.DataFrame, bundle: str) -> tuple[list[str], list[list[str]]]:
    """Each arm against the comparator for one bundle and all bundles: header and rows.

    The cost per harm averted is the ratio of the mean differences, or the reason it is
    undefined (the comparator itself, no harm averted, a harm interval that includes 0,
    dominance).
    """
    rows = []
    for _, r in inc[inc["bundle"].isin([bundle, ALL_BUNDLES])].iterrows():
        cells = [str(r["arm"]), str(r["bundle"]).replace("_", " "), str(int(r["replicates"]))]
        for _, col, o in _INCREMENTAL:
            cells.append(fmt_interval(r.get(f"{col}_mean"), r.get(f"{col}_lo"),
                                      r.get(f"{col}_hi"), o.scale))
        ratio = r.get("cost_per_harm_averted")
        cells.append(fmt_interval(ratio, None, None, _RATIO.scale)
                     if ratio is not None and np.isfinite(ratio)
                     else str(r.get("cost_per_harm_averted_undefined") or "–"))
        rows.append(cells)
    header = ["arm", "bundle", "pairs" if inc["paired"].all() else "runs",
              *[h for h, _, _ in _INCREMENTAL], _RATIO.heading]
    return header, rows


@solara.component
def ArmsView(res: Results, level: float) -> None:
    """Uptake curves, effect vs cost, and the arm table for one design point and bundle."""
    labels = res.point_labels()
    point_label = solara.use_reactive(next(iter(labels)))
    bundle = solara.use_reactive(res.bundles[0])
    point = labels.get(point_label.value, 0)
    which = bundle.value if bundle.value in res.bundles else res.bundles[0]

    def compute() -> dict[str, Any]:
        bands = uptake_bands(res, point, level)
        inc = incremental(res, point, level)
        out: dict[str, Any] = {
            "table": arm_table(res, point, level),
            "incremental": inc,
            "cost": figures.effect_cost_png(inc, res.arms, level, res.name),
        }
        out["uptake"] = (figures.uptake_png(bands, res.arms, res.bundles, level, res.name,
                                            res.types, res.baseline)
                         if not bands.empty else None)
        return out

    data = solara.use_memo(compute, [id(res), point, level])
    with solara.Row(gap="16px"):
        if len(labels) > 1:
            solara.Select("design point", values=list(labels), value=point_label.value,
                          on_value=point_label.set, classes=["design-point"])
        solara.Select("bundle (tables)", values=res.bundles, value=which, on_value=bundle.set,
                      classes=["table-bundle"])
    with solara.Card(f"Arms side by side — {which.replace('_', ' ')}, mean [{level:.0%} "
                     "interval]", margin=0, classes=["arms-table"]):
        Table(*arms_rows(data["table"], which, rate_unit(res.summary, which)))
    with solara.Card(f"Against the comparator {res.baseline} — arm − comparator, mean "
                     f"[{level:.0%} interval]", margin=0, classes=["incremental-table"]):
        how = "paired: common random numbers" if res.paired else "Welch: independent runs"
        solara.Text(f"Differences {how}; cost per harm averted = mean Δcost / mean harm "
                    "averted, or the reason it is undefined (e.g. the harm interval "
                    "includes 0).")
        Table(*incremental_rows(data["incremental"], which))
    if data["uptake"] is not None:
        with solara.Card("Uptake: compliance per arm", margin=0):
            PngFigure(data["uptake"], "uptake", f"{res.name}_uptake.png")
    with solara.Card("Harm averted vs extra cost", margin=0):
        PngFigure(data["cost"], "effect-vs-cost", f"{res.name}_effect_vs_cost.png")


@solara.component
def IndicesView(indices: pd.DataFrame, name: str) -> None:
    """Sensitivity indices of one output and index kind, as bars with intervals and a table."""
    outputs = list(dict.fromkeys(indices["output"].astype(str)))
    kinds = list(dict.fromkeys(indices["index"].astype(str)))
    output = solara.use_reactive(outputs[0])
    kind = solara.use_reactive(kinds[0])
    o = output.value if output.value in outputs else outputs[0]
    k = kind.value if kind.value in kinds else kinds[0]
    png = solara.use_memo(lambda: figures.indices_png(indices, o, k, name),
                          [id(indices), o, k])
    with solara.Row(gap="16px"):
        solara.Select("output", values=outputs, value=o, on_value=output.set,
                      classes=["indices-output"])
        solara.Select("index", values=kinds, value=k, on_value=kind.set,
                      classes=["indices-kind"])
    PngFigure(png, "indices", f"{name}_{o}_{k}.png")
    rows = indices[(indices["output"].astype(str) == o) & (indices["index"].astype(str) == k)]
    if "factor_2" in rows:
        rows = rows[rows["factor_2"] == ""]
    body = []
    for _, r in rows.sort_values("value", ascending=False).iterrows():
        lo, hi = r.get("conf_low"), r.get("conf_high")
        body.append([str(r["factor"]), fmt_interval(r["value"], lo, hi)])
    Table(["factor", f"{k} [interval]"], body)


@solara.component
def Page() -> None:
    """The dashboard page."""
    directory = solara.use_reactive(os.environ.get(RESULTS_ENV, ""))
    level = solara.use_reactive(LEVEL.default)
    dir_error = solara.use_reactive(None)

    def load() -> tuple[Results | None, str | None]:
        try:
            return open_results(directory.value), None
        except InputError as exc:
            return None, str(exc)

    res, load_error = solara.use_memo(load, [directory.value])

    def open_dir(path: str | None) -> None:
        # a typed directory must lie under the app's root folder; the one given on the
        # command line was typed in the shell and is trusted
        try:
            folder = str(confine(path or "", "results directory"))
            open_results(folder)
        except InputError as exc:
            dir_error.set(str(exc))
            return
        dir_error.set(None)
        directory.set(folder)

    solara.Title("implsim dashboard")
    with solara.Sidebar():
        solara.InputText("results directory", value=directory.value, on_value=open_dir,
                         error=bool(dir_error.value), message=dir_error.value,
                         classes=["results-dir"])
        if dir_error.value:
            solara.Error(dir_error.value, dense=True, classes=["input-error"])
        # keyed: the error box above it comes and goes, and must not reset this field
        ParamField(LEVEL, level.value, level.set).key("interval-level")
    with solara.Column(classes=["dashboard"]):
        Heading("implsim — results dashboard")
        if load_error:
            solara.Error(load_error, classes=["load-error"])
        if res is None:
            return
        head = f"{res.name} — {res.root}"
        if res.runs_total:
            head += (f" — {res.runs_done} of {res.runs_total} runs, {len(res.arms)} arms, "
                     f"{len(res.points)} design point{'s' if len(res.points) != 1 else ''}")
        solara.Text(head, classes=["results-head"])
        for note in res.notes:
            solara.Info(note)
        if res.has_arms:
            ArmsView(res, level.value)
        if res.indices is not None and not res.indices.empty:
            with solara.Card("Sensitivity indices", margin=0, classes=["indices"]):
                IndicesView(res.indices, res.name)
        elif res.runs_total:
            solara.Info("No sensitivity indices here (a sensitivity analysis writes "
                        "indices.csv beside its store).")

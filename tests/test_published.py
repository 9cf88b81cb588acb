"""Published figures beside the model's curves (sim.plots.published and the plots that use it).

Expectations come from the evidence files themselves (calibration/evidence/), never from model
results: which figures are verified, their interventions, bundle, element, values and units.
"""

from __future__ import annotations

import dataclasses
import io
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from tiny import TINY_STRUCTURE

from sim.bundles.bundle import shipped_bundles
from sim.calibrate.evidence import evidence_set
from sim.outcomes.statistics import compare_arms
from sim.plots import arms as arms_plot
from sim.plots import comparison, elements, published, uptake
from sim.plots.published import ranges_for
from sim.scenario import load_scenario
from sim.simulate import run_replicates

EVIDENCE = evidence_set()
SHIPPED = set(shipped_bundles())
DRAWABLE = {n: t for n, t in EVIDENCE.items() if published._drawable(t)}
OTHER_TYPES = ("training", "champions", "reminders", "audit_feedback", "facilitation",
               "collaborative")


def _args(t) -> dict:
    return {"bundle": t.bundle, "element": t.element, "interventions": t.interventions}


def _labels(fig: Figure) -> list[str]:
    """Every legend label in a figure (axes' and the figure's own legends)."""
    legends = [ax.get_legend() for ax in fig.axes] + list(fig.legends)
    return [t.get_text() for lg in legends if lg is not None for t in lg.get_texts()]


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    return buf.getvalue()


# --- selection ------------------------------------------------------------------------------------
def test_the_files_give_both_kinds_to_select_from():
    """Guard: the tests below need verified effects and levels, and unverified figures."""
    verified = [t for t in DRAWABLE.values() if t.verified and t.interventions]
    assert any(t.measure in published.EFFECT_MEASURES for t in verified)
    assert any(t.measure in published.LEVEL_MEASURES for t in verified)
    assert any(not t.verified for t in EVIDENCE.values())


@pytest.mark.parametrize("name", sorted(n for n, t in DRAWABLE.items()
                                        if t.verified and t.interventions))
def test_a_verified_figure_matches_its_own_intervention_set_exactly(name):
    t = EVIDENCE[name]
    assert name in {r.name for r in ranges_for(**_args(t))}
    own = set(t.interventions)
    extra = next(k for k in OTHER_TYPES if k not in own)
    for types in (own | {extra}, *(own - {k} for k in own)):  # a superset, each subset
        assert name not in {r.name for r in ranges_for(**{**_args(t), "interventions": types})}


@pytest.mark.parametrize("name", sorted(EVIDENCE))
def test_an_unverified_figure_is_never_shown(name):
    t = dataclasses.replace(EVIDENCE[name], verified=False)
    found = ranges_for(**_args(t), evidence={name: t}, unit="percent")
    assert found == []


def test_figures_in_other_units_are_never_selected():
    others = [t for n, t in EVIDENCE.items() if n not in DRAWABLE and t.verified]
    assert others  # e.g. a rate per 1,000 catheter-days, an SMD, fidelity points
    levels_without_bundle = [t for t in EVIDENCE.values()
                             if t.measure in published.LEVEL_MEASURES and not t.bundle]
    assert all(t.name not in DRAWABLE for t in levels_without_bundle)
    for t in others:
        assert ranges_for(**_args(t), evidence={t.name: t}) == []


@pytest.mark.parametrize("name", sorted(n for n, t in DRAWABLE.items() if t.verified))
def test_values_are_converted_to_the_plot_unit(name):
    t = EVIDENCE[name]
    pct, = ranges_for(**_args(t), evidence={name: t}, unit="percent")
    share, = ranges_for(**_args(t), evidence={name: t}, unit="share")
    assert pct.value == t.value and share.value == pytest.approx(t.value / 100)
    if t.spread is not None:
        assert (share.low, share.high) == pytest.approx((t.spread.low / 100,
                                                         t.spread.high / 100))
        assert (pct.low, pct.high) == (t.spread.low, t.spread.high)
    if t.baseline is not None:
        assert share.baseline == pytest.approx(t.baseline / 100)
    assert pct.label() == share.label()  # a legend speaks the source's units either way
    assert f"{t.value:.3g}" in share.label()
    assert published.source_label(t) in share.label()
    with pytest.raises(ValueError):
        ranges_for(**_args(t), unit="pts")


def test_bundle_and_element_must_match_where_a_figure_names_them():
    named = [t for t in DRAWABLE.values() if t.verified and t.bundle and t.element]
    assert named
    for t in named:
        assert all(r.name != t.name for r in ranges_for(  # a bundle-level curve
            bundle=t.bundle, interventions=t.interventions))
        assert all(r.name != t.name for r in ranges_for(
            bundle=t.bundle, element=t.element + "_other", interventions=t.interventions))
        assert all(r.name != t.name for r in ranges_for(
            bundle=t.bundle + "_other", element=t.element, interventions=t.interventions))


def test_a_review_naming_no_bundle_applies_to_any_bundle_and_only_as_an_effect():
    reviews = [t for t in DRAWABLE.values() if t.verified and not t.bundle
               and t.measure in published.EFFECT_MEASURES]
    assert reviews
    for t in reviews:
        for bundle in ("antibiotic_stewardship", "deteriorating_patient"):
            found = ranges_for(bundle=bundle, interventions=t.interventions, kind="effect")
            assert t.name in {r.name for r in found}
        assert t.name not in {r.name for r in ranges_for(
            bundle="x", interventions=t.interventions, kind="level")}


def test_effects_need_a_comparator_without_interventions():
    t = next(t for t in DRAWABLE.values() if t.verified and not t.bundle
             and t.measure in published.EFFECT_MEASURES)
    own = frozenset(t.interventions)
    types = {"none": {"b": frozenset()}, "arm": {"b": own}, "same": {"b": own}}
    found = published.effects_by_arm(["none", "arm"], "b", types, "none")
    assert t.name in {r.name for r in found["arm"]} and "none" not in found
    assert published.effects_by_arm(["same", "arm"], "b", types, "same") == {}
    assert published.effects_by_arm(["none", "arm"], "b", None, "none") == {}


def test_missing_follow_up_is_drawn_at_week_52_and_said_so():
    t = dataclasses.replace(next(t for t in DRAWABLE.values() if t.verified),
                            follow_up_weeks=None)
    r, = ranges_for(**_args(t), evidence={t.name: t})
    assert r.week == published.DEFAULT_WEEK
    assert "follow-up not stated" in r.label() and "wk 52" in r.label()
    assert "wk 52" not in r.label(time_axis=False)
    dated = dataclasses.replace(t, follow_up_weeks=30)
    r, = ranges_for(**_args(t), evidence={t.name: dated})
    assert r.week == 30 and "not stated" not in r.label()


# --- intervention types of arms -------------------------------------------------------------------
def test_types_of_the_default_scenarios_strategies():
    scenario = load_scenario()
    types = published.scenario_types(scenario.resolved())
    for s in scenario.strategies:
        want = frozenset(iv["type"] for iv in s.interventions)
        assert set(types[s.name]) == set(scenario.bundle_names)
        assert all(v == want for v in types[s.name].values())


def test_types_follow_an_interventions_bundles_and_the_strategys_bundles():
    strategy = {"bundles": ["a", "b"], "interventions": [
        {"type": "training", "bundles": ["a", "b", "c"]}, {"type": "reminders", "bundles": ["a"]}]}
    got = published.strategy_types(strategy, ["a", "b", "c"])
    assert got == {"a": frozenset({"training", "reminders"}), "b": frozenset({"training"}),
                   "c": frozenset()}


# --- the plots ------------------------------------------------------------------------------------
REVIEW = next(t for t in sorted(DRAWABLE.values(), key=lambda t: t.name)
              if t.verified and not t.bundle and t.measure in published.EFFECT_MEASURES
              and t.spread is not None)
LEVEL = next(t for t in sorted(DRAWABLE.values(), key=lambda t: t.name)
             if t.verified and t.bundle in SHIPPED and t.element
             and t.measure in published.LEVEL_MEASURES)
UNMATCHED = frozenset({*REVIEW.interventions, "leadership"})


def _bands(weeks: int = 80) -> pd.DataFrame:
    rows = []
    for arm, slope in (("none", 0.0), ("arm", 0.004)):
        for w in range(weeks + 1):
            m = 0.2 + slope * w
            rows.append({"arm": arm, "bundle": "b", "week": w, "mean": m, "lo": m - 0.02,
                         "hi": m + 0.02})
    return pd.DataFrame(rows)


def test_arms_uptake_figure_draws_a_matching_review_on_the_comparators_curve():
    bands = _bands()
    types = {"none": {"b": frozenset()}, "arm": {"b": frozenset(REVIEW.interventions)}}
    fig = arms_plot.uptake_figure(bands, ["none", "arm"], ["b"], 0.95, "t", types, "none")
    r, = [r for r in ranges_for(bundle="b", interventions=REVIEW.interventions, kind="effect")
          if r.name == REVIEW.name]
    assert r.label() in _labels(fig)
    ax = fig.axes[0]
    marker = next(c for c in ax.containers if c.get_label() == r.label())
    x, y = marker.lines[0].get_data()
    base = bands[(bands["arm"] == "none") & (bands["week"] == r.week)]["mean"].item()
    assert y[0] == pytest.approx(base + REVIEW.value / 100)
    assert x[0] == r.week  # the only marker sits at the figure's week
    # the model's legend keeps only the arms
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["none", "arm"]


def test_arms_uptake_figure_without_a_match_is_unchanged():
    bands = _bands()
    plain = _png(arms_plot.uptake_figure(bands, ["none", "arm"], ["b"], 0.95, "t"))
    for types in ({"none": {"b": frozenset()}, "arm": {"b": UNMATCHED}},
                  {"none": {"b": frozenset(REVIEW.interventions)},
                   "arm": {"b": frozenset(REVIEW.interventions)}}):
        fig = arms_plot.uptake_figure(bands, ["none", "arm"], ["b"], 0.95, "t", types, "none")
        assert not any(published.is_published(t) for t in _labels(fig))
        assert _png(fig) == plain
    # a run that ends before the follow-up week shows nothing either
    short = _bands(weeks=published.DEFAULT_WEEK - 1)
    types = {"none": {"b": frozenset()}, "arm": {"b": frozenset(REVIEW.interventions)}}
    fig = arms_plot.uptake_figure(short, ["none", "arm"], ["b"], 0.95, "t", types, "none")
    assert not any(published.is_published(t) for t in _labels(fig))


SMALL = """
name = "published"
weeks = 56
seed = 3
replicates = 2
bundles = ["LEVEL_BUNDLE"]

[structure]
wards_per_trust = 2
mental_health_units_per_trust = 1
municipalities_per_trust = 1
nursing_homes_per_municipality = 1
home_care_teams_per_municipality = 1
gp_practices_per_municipality = 1

[[strategies]]
name = "none"
"""


def _strategy(name: str, types) -> str:
    ivs = "".join(f'\n  [[strategies.interventions]]\n  type = "{k}"\n  start_week = 2\n'
                  f"  end_week = 30\n" for k in sorted(types))
    return f'\n[[strategies]]\nname = "{name}"{ivs}'


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A short run with an arm matching a review, one matching a level, one matching none."""
    path = tmp_path_factory.mktemp("published") / "small.toml"
    path.write_text(SMALL.replace("LEVEL_BUNDLE", LEVEL.bundle)
                    + _strategy("review", REVIEW.interventions)
                    + _strategy("level", LEVEL.interventions)
                    + _strategy("unmatched", UNMATCHED))
    scenario = load_scenario(path)
    result = run_replicates(scenario, 3, 2)
    return scenario, result, published.scenario_types(scenario.resolved())


class _Recorder(Figure):
    made: ClassVar[list[Figure]] = []

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        _Recorder.made.append(self)


def _drawn(monkeypatch, module, call) -> Figure:
    _Recorder.made = []
    monkeypatch.setattr(module, "Figure", _Recorder)
    call()
    return _Recorder.made[-1]


def test_comparison_plot_shows_the_review_beside_the_matching_arm(small_run, tmp_path,
                                                                  monkeypatch):
    scenario, result, types = small_run
    table = compare_arms(result.summary, scenario.comparator_name)
    fig = _drawn(monkeypatch, comparison, lambda: comparison.plot_comparison(
        table, tmp_path / "c.png", "t", types))
    want = {r.label(time_axis=False) for r in published.effects_by_arm(
        ["review"], LEVEL.bundle, types, "none", unit="percent")["review"]}
    assert want and want <= set(_labels(fig))
    assert len(fig.axes[0].get_figure().axes) == 2 * (len(comparison.PANELS) + 2)
    # without types, or with no matching arm, the plot is what it was
    plain = _drawn(monkeypatch, comparison, lambda: comparison.plot_comparison(
        table, tmp_path / "p.png", "t"))
    assert not any(published.is_published(t) for t in _labels(plain))
    no_match = {k: v for k, v in types.items() if k in ("none", "unmatched")}
    comparison.plot_comparison(table[table["strategy"].isin(no_match)], tmp_path / "n1.png", "t",
                               no_match)
    comparison.plot_comparison(table[table["strategy"].isin(no_match)], tmp_path / "n2.png", "t")
    assert (tmp_path / "n1.png").read_bytes() == (tmp_path / "n2.png").read_bytes()


def test_uptake_and_elements_plots_show_the_published_figures(small_run, tmp_path,
                                                              monkeypatch):
    _, result, types = small_run
    fig = _drawn(monkeypatch, uptake, lambda: uptake.plot_uptake(
        result.timeseries, tmp_path / "u.png", "t", types, "none"))
    labels = set(_labels(fig))
    assert any(REVIEW.name.split("_")[0].capitalize() in t for t in labels
               if published.is_published(t))
    fig = _drawn(monkeypatch, elements, lambda: elements.plot_elements(
        result.elements, result.timeseries, tmp_path / "e.png", "t", types))
    level, = [r for r in ranges_for(bundle=LEVEL.bundle, element=LEVEL.element,
                                    interventions=LEVEL.interventions, kind="level")
              if r.name == LEVEL.name]
    assert level.label() in _labels(fig)
    column = ["none", "review", "level", "unmatched"].index("level")
    ax = fig.axes[column]
    marker = next(c for c in ax.containers if c.get_label() == level.label())
    x, y = marker.lines[0].get_data()
    assert (x[0], y[0]) == pytest.approx((level.week, LEVEL.value / 100))
    assert not any(c.get_label() == level.label() for c in fig.axes[0].containers)
    # without types the files are those of before: no published artist at all
    plain = _drawn(monkeypatch, elements, lambda: elements.plot_elements(
        result.elements, result.timeseries, tmp_path / "p.png", "t"))
    assert not any(published.is_published(t) for t in _labels(plain))
    assert not any(np.size(c) for ax in plain.axes for c in ax.containers)


# --- report and dashboard -------------------------------------------------------------------------
def test_report_and_dashboard_draw_the_same_published_effects(tmp_path):
    """The store's manifest gives the arms' types; both pages draw the matching review."""
    from sim.experiment import load_experiment, run_experiment, write_report
    from sim.ui import figures
    from sim.ui.results import open_results, uptake_bands

    ivs = "".join(f'\n  [[arms.interventions]]\n  type = "{k}"\n  start_week = 1\n'
                  "  end_week = 20\n" for k in sorted(REVIEW.interventions))
    (tmp_path / "e.toml").write_text(
        f'name = "pub"\nreplicates = 2\nseed = 5\nweeks = {published.DEFAULT_WEEK + 2}\n'
        'timeseries = "system"\n' + TINY_STRUCTURE
        + f'\n[[arms]]\nname = "none"\n\n[[arms]]\nname = "review"{ivs}')
    experiment = load_experiment(tmp_path / "e.toml")
    run_experiment(experiment, tmp_path / "store", serial=True, quiet=True)
    out = write_report(tmp_path / "store")
    res = open_results(tmp_path / "store")
    assert res.types == published.manifest_types(experiment.resolved())
    assert set(res.types["review"].values()) == {frozenset(REVIEW.interventions)}
    assert set(res.types["none"].values()) == {frozenset()}
    bands = uptake_bands(res, 0, 0.95)
    shown = figures.uptake_png(bands, res.arms, res.bundles, 0.95, res.name, res.types,
                               res.baseline)
    assert (out / "uptake.png").read_bytes() == shown
    assert shown != figures.uptake_png(bands, res.arms, res.bundles, 0.95, res.name)

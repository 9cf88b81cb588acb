"""The outcome catalogue and the arm statistics: one declaration per outcome, one definition of
each interval, and the same numbers in ``implsim report`` and ``implsim dashboard``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from scipy import stats
from tiny import TINY_STRUCTURE

from sim.calibrate.targets import OUTPUTS as TARGET_OUTPUTS
from sim.experiment import load_experiment, run_experiment, write_report
from sim.outcomes.catalogue import (
    COMPARED,
    OUTCOMES,
    PAIRED,
    SERIES,
    SUMMED,
    outcome,
    title,
)
from sim.outcomes.recorder import METRICS
from sim.outcomes.statistics import (
    ALL_BUNDLES,
    against,
    arm_table,
    mean_ci,
    pair_table,
    programme_totals,
    total_table,
)
from sim.sensitivity.problem import OUTPUT_COLUMNS
from sim.ui import figures
from sim.ui.results import arm_table as dash_arm_table
from sim.ui.results import arm_totals, incremental, open_results, uptake_bands

EXPERIMENT = """
name = "three arms"
replicates = 4
seed = 11
weeks = 14
chunk_size = 4
""" + TINY_STRUCTURE + """
[[arms]]
name = "none"

[[arms]]
name = "facilitation"
  [[arms.interventions]]
  type = "facilitation"
  start_week = 1
  end_week = 10
  intensity = 0.8

[[arms]]
name = "training"
  [[arms.interventions]]
  type = "training"
  start_week = 1
  end_week = 10
"""


# --- the catalogue --------------------------------------------------------------------------------
def test_catalogue_declares_every_summary_outcome_once(reported):
    store, _ = reported
    summary = open_results(store).summary
    keys = ("run_id", "arm", "point", "replicate", "seed", "bundle")
    descriptors = ("support_end_week", "launch_week", "sustainability_undefined",
                   "harm_rate_indicator_unit")
    columns = [c for c in summary.columns if c not in keys + descriptors]
    assert sorted(columns) == sorted(OUTCOMES) and len(columns) == len(OUTCOMES)
    assert OUTPUT_COLUMNS == tuple(OUTCOMES)  # what an SA output may name
    assert TARGET_OUTPUTS == SERIES == METRICS  # what a calibration target may compare with
    assert set(SUMMED) == {"cost", "harm_expected", "harm_averted_vs_baseline"}
    assert set(COMPARED) | set(PAIRED) <= set(OUTCOMES)


def test_outcome_labels_units_and_scales():
    cost = outcome("cost")
    assert cost.heading == "cost (M NOK)" and cost.shown(2.5e6) == 2.5 and not cost.per_bundle_only
    assert outcome("compliance").heading == "compliance"
    assert outcome("adoption").axis_label == "adoption (share of eligible staff)"
    assert outcome("harm_averted").heading == "harm averted (events)"  # vs the comparator
    assert "harm_averted" not in OUTCOMES and "cost_per_harm_averted" not in OUTCOMES
    assert outcome("harm_averted").higher_is_better and not cost.higher_is_better
    assert outcome("weeks_to_50pct_compliance").per_bundle_only
    assert title("sustainability_12m:antibiotic_stewardship") == \
        "sustained 12 months, antibiotic stewardship"
    assert title("cost") == "cost" and title("y") == "y"
    with pytest.raises(KeyError, match="no outcome 'costs'"):
        outcome("costs")


# --- the interval of a total ----------------------------------------------------------------------
def _summary(values: dict[str, list[float]], arm: str = "a") -> pd.DataFrame:
    """Two bundles x len(values) replicates of one arm."""
    rows = []
    for bundle, column in values.items():
        for r, v in enumerate(column):
            rows.append({"arm": arm, "point": 0, "replicate": r, "bundle": bundle,
                         "cost": v, "harm_averted_vs_baseline": 2 * v,
                         "harm_expected": 1.0})
    return pd.DataFrame(rows)


def test_total_is_summed_per_run_before_the_interval():
    # the bundles move against each other: every run's total is 10, so the total has no spread,
    # although each bundle's mean has a wide interval (the sum of those half-widths is not 0)
    s = _summary({"x": [1.0, 4.0, 7.0, 3.0], "y": [9.0, 6.0, 3.0, 7.0]})
    totals = programme_totals(s)
    assert (totals["bundle"] == ALL_BUNDLES).all() and (totals["cost"] == 10.0).all()
    row = total_table(s).iloc[0]
    assert (row["cost_mean"], row["cost_lo"], row["cost_hi"]) == (10.0, 10.0, 10.0)
    per_bundle = arm_table(s, ("arm", "bundle"), ("cost",))
    assert (per_bundle["cost_hi"] - per_bundle["cost_mean"]).sum() > 5
    # correlated bundles: the t-interval of the per-run totals
    s = _summary({"x": [1.0, 2.0, 4.0], "y": [2.0, 2.5, 6.0]})
    total = np.array([3.0, 4.5, 10.0])
    half = stats.t.ppf(0.975, 2) * total.std(ddof=1) / np.sqrt(3)
    row = total_table(s).iloc[0]
    assert row["harm_averted_vs_baseline_mean"] == pytest.approx(2 * total.mean())
    assert row["cost_lo"] == pytest.approx(total.mean() - half)
    assert row["cost_hi"] == pytest.approx(total.mean() + half)


def test_difference_of_totals_is_paired_per_replicate():
    base = _summary({"x": [1.0, 5.0, 9.0], "y": [1.0, 5.0, 9.0]}, "base")
    arm = _summary({"x": [2.0, 6.0, 10.0], "y": [1.5, 5.5, 9.5]}, "arm")
    totals = programme_totals(pd.concat([base, arm]))
    diff = pair_table(totals, against("base", ["base", "arm"]), paired=True, outcomes=("cost",))
    row = diff.iloc[0]
    assert (row["first"], row["second"], row["bundle"]) == ("base", "arm", ALL_BUNDLES)
    assert (row["difference"], row["lo"], row["hi"]) == (1.5, 1.5, 1.5)  # the same every time
    welch = pair_table(totals, [("base", "arm")], paired=False, outcomes=("cost",)).iloc[0]
    assert welch["difference"] == pytest.approx(1.5) and welch["hi"] - welch["lo"] > 10


def test_mean_ci_of_one_value_has_no_interval():
    m, lo, hi, n = mean_ci(np.array([2.0, np.nan]))
    assert (m, n) == (2.0, 1) and np.isnan(lo) and np.isnan(hi)


# --- acceptance 3a: report and dashboard agree ------------------------------------------------
@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    root = tmp_path_factory.mktemp("agree")
    (root / "three.toml").write_text(EXPERIMENT)
    run_experiment(load_experiment(root / "three.toml"), root / "store", serial=True,
                   quiet=True)
    return root / "store", write_report(root / "store")


def test_report_and_dashboard_give_identical_intervals(reported):
    store, out = reported
    res = open_results(store)
    level = 0.95
    # effect vs cost: the numbers behind both figures, and the figures themselves
    report_totals = pd.read_csv(out / "totals.csv")
    dash_totals = arm_totals(res, 0, level)
    assert list(dash_totals["arm"]) == res.arms == ["none", "facilitation", "training"]
    assert_frame_equal(report_totals, dash_totals, check_exact=False, rtol=1e-15, atol=0)
    summary = res.summary
    per_run = summary.groupby(["arm", "replicate"])["cost"].sum()
    for arm in res.arms:
        m, lo, hi, n = mean_ci(per_run.loc[arm].to_numpy(), level)
        row = dash_totals[dash_totals["arm"] == arm].iloc[0]
        assert n == 4 and (row["cost_mean"], row["cost_lo"], row["cost_hi"]) == (m, lo, hi)
    training = dash_totals[dash_totals["arm"] == "training"].iloc[0]
    assert training["cost_hi"] > training["cost_lo"]  # training cost varies with turnover
    dash_inc = incremental(res, 0, level)
    assert (out / "effect_vs_cost.png").read_bytes() == figures.effect_cost_png(
        dash_inc, res.arms, level, res.name)
    bands = uptake_bands(res, 0, level)
    assert (out / "uptake.png").read_bytes() == figures.uptake_png(
        bands, res.arms, res.bundles, level, res.name)
    # the arm table and the differences from the baseline
    arms = pd.read_csv(out / "arms.csv")
    dash = dash_arm_table(res, 0, level)
    assert_frame_equal(arms.drop(columns="point"), dash, check_exact=False, rtol=1e-15,
                       atol=0)
    # the incremental table against the comparator (the first arm), and pairs.csv
    inc = pd.read_csv(out / "incremental.csv", keep_default_na=False, na_values=[""])
    inc["cost_per_harm_averted_undefined"] = inc["cost_per_harm_averted_undefined"].fillna("")
    assert_frame_equal(inc, dash_inc, check_exact=False, rtol=1e-15, atol=0)
    assert set(inc["comparator"]) == {"none"}
    pairs = pd.read_csv(out / "pairs.csv")
    pairs = pairs[(pairs["first"] == "none") & (pairs["outcome"] == "compliance")]
    rows = dash_inc.set_index(["arm", "bundle"]).loc[list(zip(pairs["second"], pairs["bundle"],
                                                              strict=True))]
    np.testing.assert_array_equal(pairs["difference"], rows["delta_compliance_mean"])
    np.testing.assert_array_equal(pairs["lo"], rows["delta_compliance_lo"])

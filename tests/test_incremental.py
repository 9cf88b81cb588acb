"""Incremental outcomes against a named comparator (issue 14, acceptance 4).

The cost per harm averted is mean Δcost / mean harm averted of the paired differences, to the
last bit; the comparator, an interval of harm averted that includes 0 and dominance give no
finite ratio; the scenario's ``comparator`` key names a strategy or stops with one line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.errors import InputError
from sim.outcomes import statistics
from sim.outcomes.statistics import (
    ALL_BUNDLES,
    compare_arms,
    cost_per_harm_averted,
    incremental_table,
)
from sim.scenario import load_scenario
from sim.simulate import run_replicates

BUNDLES = ("x", "y")


def _runs(arm: str, cost: np.ndarray, harm: np.ndarray, compliance: np.ndarray | None = None
          ) -> pd.DataFrame:
    """Runs of one arm: ``cost`` and ``harm`` are (replicates, bundles)."""
    rows = []
    for r in range(cost.shape[0]):
        for b, bundle in enumerate(BUNDLES):
            rows.append({"arm": arm, "point": 0, "replicate": r, "bundle": bundle,
                         "cost": float(cost[r, b]), "harm_expected": float(harm[r, b]),
                         "compliance": 0.5 if compliance is None else float(compliance[r, b])})
    return pd.DataFrame(rows)


def _row(table: pd.DataFrame, arm: str, bundle: str) -> pd.Series:
    return table[(table["arm"] == arm) & (table["bundle"] == bundle)].iloc[0]


def _example(rng: np.random.Generator, n: int = 6) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A comparator and an arm that averts 3–5 events per bundle at extra cost."""
    harm_c = rng.uniform(80, 120, (n, 2))
    harm_a = harm_c - rng.uniform(3, 5, (n, 2))
    cost_c = rng.uniform(0, 1e5, (n, 2))
    cost_a = cost_c + rng.uniform(1e6, 2e6, (n, 2))
    summary = pd.concat([_runs("comp", cost_c, harm_c), _runs("arm", cost_a, harm_a)])
    return summary, {"harm_c": harm_c, "harm_a": harm_a, "cost_c": cost_c, "cost_a": cost_a}


def test_ratio_is_the_ratio_of_the_paired_mean_differences_exactly():
    summary, v = _example(np.random.default_rng(3))
    inc = incremental_table(summary, "comp", paired=True)
    for b, bundle in enumerate(BUNDLES):
        row = _row(inc, "arm", bundle)
        d_cost = np.mean(v["cost_a"][:, b] - v["cost_c"][:, b])
        averted = np.mean(v["harm_c"][:, b] - v["harm_a"][:, b])
        assert row["delta_cost_mean"] == d_cost and row["harm_averted_mean"] == averted
        assert row["cost_per_harm_averted"] == d_cost / averted  # bit for bit
        assert row["cost_per_harm_averted_undefined"] == ""
        assert row["delta_harm_expected_mean"] == -averted
        # and not the mean of per-replicate ratios
        per_rep = np.mean((v["cost_a"][:, b] - v["cost_c"][:, b])
                          / (v["harm_c"][:, b] - v["harm_a"][:, b]))
        assert row["cost_per_harm_averted"] != per_rep
    # the programme total: bundles summed per run first
    total = _row(inc, "arm", ALL_BUNDLES)
    d_cost = np.mean(v["cost_a"].sum(axis=1) - v["cost_c"].sum(axis=1))
    averted = np.mean(v["harm_c"].sum(axis=1) - v["harm_a"].sum(axis=1))
    assert total["cost_per_harm_averted"] == d_cost / averted
    assert np.isnan(total["delta_compliance_mean"])  # shares have no total


def test_comparator_has_no_finite_ratio_and_differences_zero():
    summary, _ = _example(np.random.default_rng(4))
    inc = incremental_table(summary, "comp", paired=True)
    own = inc[inc["arm"] == "comp"]
    assert len(own) == len(BUNDLES) + 1
    assert own["cost_per_harm_averted"].isna().all()
    assert (own["cost_per_harm_averted_undefined"] == statistics.COMPARATOR).all()
    assert (own["delta_cost_mean"] == 0).all() and (own["harm_averted_hi"] == 0).all()
    # the other arm taken as the comparator: now it has no ratio, and "comp" is dominated
    other = incremental_table(summary, "arm", paired=True)
    assert (other.loc[other["arm"] == "arm", "cost_per_harm_averted_undefined"]
            == statistics.COMPARATOR).all()
    assert (other.loc[other["arm"] == "comp", "cost_per_harm_averted_undefined"]
            == statistics.MORE_HARM).all()  # more harm at less cost


def test_harm_interval_including_zero_gives_no_ratio():
    rng = np.random.default_rng(5)
    harm_c = rng.uniform(80, 120, (8, 2))
    harm_a = harm_c + np.array([1.0, -1.0] * 4)[:, None] * 2.0  # mean 0: the interval spans 0
    cost_c = np.zeros((8, 2))
    cost_a = np.full((8, 2), 5e5)
    inc = incremental_table(pd.concat([_runs("comp", cost_c, harm_c),
                                       _runs("arm", cost_a, harm_a)]), "comp", paired=True)
    for bundle in (*BUNDLES, ALL_BUNDLES):
        row = _row(inc, "arm", bundle)
        assert row["harm_averted_lo"] <= 0 <= row["harm_averted_hi"]
        assert np.isnan(row["cost_per_harm_averted"])
        assert row["cost_per_harm_averted_undefined"] == statistics.INCLUDES_ZERO
        assert row["delta_cost_mean"] == (1e6 if bundle == ALL_BUNDLES else 5e5)


@pytest.mark.parametrize(("d_cost", "averted", "reason"), [
    (1.0, (2.0, 1.0, 3.0), ""),
    (0.0, (2.0, 1.0, 3.0), ""),  # no extra cost: 0 per harm averted
    (-1.0, (2.0, 1.0, 3.0), statistics.DOMINANT),
    (1.0, (-2.0, -3.0, -1.0), statistics.DOMINATED),
    (0.0, (-2.0, -3.0, -1.0), statistics.DOMINATED),
    (-1.0, (-2.0, -3.0, -1.0), statistics.MORE_HARM),
    (1.0, (2.0, -1.0, 5.0), statistics.INCLUDES_ZERO),
    (1.0, (0.0, 0.0, 0.0), statistics.NO_HARM_AVERTED),
    (1.0, (2.0, float("nan"), float("nan")), statistics.NO_INTERVAL),
])
def test_why_a_ratio_is_undefined(d_cost, averted, reason):
    ratio, why = cost_per_harm_averted(d_cost, averted)
    assert why == reason
    assert (ratio == d_cost / averted[0]) if reason == "" else np.isnan(ratio)
    assert cost_per_harm_averted(d_cost, averted, is_comparator=True)[1] == "comparator"


def test_independent_runs_use_welch_and_the_difference_of_means():
    summary, v = _example(np.random.default_rng(6))
    inc = incremental_table(summary, "comp", paired=False)
    row = _row(inc, "arm", "x")
    d_cost = v["cost_a"][:, 0].mean() - v["cost_c"][:, 0].mean()
    averted = v["harm_c"][:, 0].mean() - v["harm_a"][:, 0].mean()
    assert not row["paired"]
    assert row["delta_cost_mean"] == pytest.approx(d_cost, rel=1e-12)
    assert row["harm_averted_mean"] == pytest.approx(averted, rel=1e-12)
    # the comparator's spread between replicates (harm 80–120) swamps the 3–5 events averted
    # unless the replicates are paired: Welch's interval includes 0, the paired one does not
    assert row["cost_per_harm_averted_undefined"] == statistics.INCLUDES_ZERO
    paired = _row(incremental_table(summary, "comp", paired=True), "arm", "x")
    assert paired["harm_averted_lo"] > 0 and np.isfinite(paired["cost_per_harm_averted"])
    own = _row(inc, "comp", "x")  # an arm against itself: 0, whatever the pairing
    assert (own["delta_cost_mean"], own["delta_cost_lo"], own["delta_cost_hi"]) == (0, 0, 0)


def test_unknown_comparator_arm_is_refused():
    summary, _ = _example(np.random.default_rng(7))
    with pytest.raises(ValueError, match="comparator 'nope' is not an arm"):
        incremental_table(summary, "nope", paired=True)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 6), seed=st.integers(0, 2**32 - 1),
       shift=st.floats(-5, 5), extra=st.floats(-1e6, 1e6))
def test_property_defined_ratio_is_exact_and_comparator_never_finite(n, seed, shift, extra):
    rng = np.random.default_rng(seed)
    harm_c = rng.uniform(50, 100, (n, 2))
    harm_a = harm_c - shift - rng.normal(0, 1, (n, 2))
    cost_c = rng.uniform(0, 1e5, (n, 2))
    cost_a = cost_c + extra + rng.normal(0, 1e4, (n, 2))
    inc = incremental_table(pd.concat([_runs("comp", cost_c, harm_c),
                                       _runs("arm", cost_a, harm_a)]), "comp", paired=True)
    assert inc.loc[inc["arm"] == "comp", "cost_per_harm_averted"].isna().all()
    for _, row in inc[inc["arm"] == "arm"].iterrows():
        finite = np.isfinite(row["cost_per_harm_averted"])
        assert finite == (row["cost_per_harm_averted_undefined"] == "")
        if finite:
            assert row["harm_averted_lo"] > 0 and row["delta_cost_mean"] >= 0
            assert row["cost_per_harm_averted"] == \
                row["delta_cost_mean"] / row["harm_averted_mean"]


# --- in a run ---------------------------------------------------------------------------------
SCENARIO = """
name = "null arm"
weeks = 30
seed = 21
replicates = 3
bundles = ["antibiotic_stewardship"]
{comparator}

[structure]
wards_per_trust = 2
mental_health_units_per_trust = 1
municipalities_per_trust = 1
nursing_homes_per_municipality = 1
home_care_teams_per_municipality = 1
gp_practices_per_municipality = 1

[[strategies]]
name = "none"

[[strategies]]
name = "idle facilitation"
  [[strategies.interventions]]
  type = "facilitation"
  end_week = 30
  intensity = 0.0

[[strategies]]
name = "support"
  [[strategies.interventions]]
  type = "training"
  start_week = 2
  [[strategies.interventions]]
  type = "facilitation"
  end_week = 30
  intensity = 1.0
"""


def _scenario(tmp_path, comparator: str = ""):
    path = tmp_path / "null.toml"
    path.write_text(SCENARIO.format(comparator=comparator), encoding="utf-8")
    return path


def test_null_intervention_costs_nothing_and_has_no_ratio(tmp_path):
    sc = load_scenario(_scenario(tmp_path))
    assert sc.comparator_name == "none"  # default: the first strategy
    result = run_replicates(sc, sc.seed, 3)
    comp = compare_arms(result.summary, sc.comparator_name)
    idle = comp[comp["strategy"] == "idle facilitation"]
    assert (idle["delta_cost_mean"] == 0).all() and (idle["cost_mean"] == 0).all()
    assert (idle["harm_averted_mean"] == 0).all()  # same seeds, nothing delivered: same harm
    assert idle["cost_per_harm_averted"].isna().all()
    assert (idle["cost_per_harm_averted_undefined"] == statistics.NO_HARM_AVERTED).all()
    # the supported arm: the ratio of the paired mean differences of its summary rows
    s = result.summary
    base = s[s["strategy"] == "none"].set_index("replicate")
    arm = s[s["strategy"] == "support"].set_index("replicate")
    row = comp[(comp["strategy"] == "support") & (comp["bundle"] == "antibiotic_stewardship")]
    row = row.iloc[0]
    averted = np.mean(base["harm_expected"].to_numpy() - arm["harm_expected"].to_numpy())
    d_cost = np.mean(arm["cost"].to_numpy() - base["cost"].to_numpy())
    assert row["harm_averted_mean"] == averted and row["delta_cost_mean"] == d_cost
    if row["cost_per_harm_averted_undefined"] == "":
        assert row["cost_per_harm_averted"] == d_cost / averted
    else:
        assert np.isnan(row["cost_per_harm_averted"])


def test_declared_comparator_is_used(tmp_path):
    sc = load_scenario(_scenario(tmp_path, 'comparator = "support"'))
    assert sc.comparator_name == "support" and sc.resolved()["comparator"] == "support"
    out = tmp_path / "out"
    assert main(["run", str(_scenario(tmp_path, 'comparator = "support"')), "--out", str(out),
                 "--quiet", "--replicates", "2"]) == 0
    comp = pd.read_csv(out / "comparison.csv", keep_default_na=False, na_values=[""])
    assert set(comp["comparator"]) == {"support"}
    own = comp[comp["strategy"] == "support"]
    assert (own["cost_per_harm_averted_undefined"] == "comparator").all()
    assert own["cost_per_harm_averted"].isna().all()


def test_unknown_comparator_is_one_line_error(tmp_path, capsys):
    path = _scenario(tmp_path, 'comparator = "nobody"')
    with pytest.raises(InputError, match=r"comparator.*no strategy named 'nobody'.*none"):
        load_scenario(path)
    assert main(["validate", str(path)]) == 2
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("comparator" in line and str(path) in line for line in err)
    assert "Traceback" not in "".join(err) and not (tmp_path / "out").exists()

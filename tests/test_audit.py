"""One audit (sim.outcomes.audit) behind audit & feedback, --spc-units and [measurement].

The same unit, bundle and settings must give the same audited series whichever path asks for
it (issue 13, acceptance 3b); the expected values are computed independently from the recorder's
true compliance, not read back from the audit module.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.errors import InputError
from sim.outcomes import audit
from sim.scenario import scenario_from_dict
from sim.simulate import run
from sim.world import build_world

UNIT = "Trust 1 hospital ward 2"
WEEKS = 40
AF = {"type": "audit_feedback", "start_week": 1, "end_week": WEEKS, "interval_weeks": 4,
      "sample_size": 20}


def scenario_data(measurement: dict | None = None, **extra) -> dict:
    data = {
        "name": "audit_test", "weeks": WEEKS, "seed": 3,
        "bundles": ["antibiotic_stewardship", "deteriorating_patient"],
        "structure": {"hospital_trusts": 1, "wards_per_trust": 4,
                      "mental_health_units_per_trust": 0, "municipalities_per_trust": 0},
        "parameters": {"p_awareness": 0.05, "p_innovation": 0.01},  # announced: compliance moves
        "strategies": [{"name": "none"},
                       {"name": "audit & feedback",
                        "interventions": [AF, {"type": "training", "start_week": 1}]}],
        **extra,
    }
    if measurement is not None:
        data["measurement"] = measurement
    return data


def load(data: dict):
    return scenario_from_dict(data, "test.toml", Path.cwd())


MEASURE = {"audit_sample_size": 20, "audit_period_weeks": 4, "audit_baseline_periods": 6,
           "chart_units": [UNIT], "gtt_records_per_month": 0, "survey_weeks": [0],
           "null_simulations": 0}
KEY = ["unit", "bundle", "period"]
SERIES = [*KEY, "week", "true_compliance", "audited", "compliant"]


@pytest.fixture(scope="module")
def paths():
    """One run read three ways: A&F's observations, spc rows, compliance_observed rows."""
    sc = load(scenario_data(MEASURE))
    seed = 17
    world = build_world(sc, seed)
    from sim.model import ImplementationModel

    model = ImplementationModel(sc, sc.strategies[1], seed, world).run()
    result = run(sc, seed, spc_units=[UNIT])
    return model, result


def test_the_three_paths_give_the_same_audited_series(paths):
    model, result = paths
    af = model.interventions[0].observations(model)
    af = af[af["unit"] == UNIT]
    strategy = "audit & feedback"
    spc = result.spc[result.spc["strategy"] == strategy]
    observed = result.measurement["compliance_observed"]
    observed = observed[observed["strategy"] == strategy]
    # A&F feeds back periods 0 (the baseline, at week 1) … 9 (weeks 33-36, at week 37)
    assert sorted(af["period"].unique()) == list(range(10))
    assert sorted(spc["period"].unique()) == list(range(-5, 11))
    pd.testing.assert_frame_equal(spc.drop(columns=["strategy", "replicate", "seed"])
                                  .reset_index(drop=True),
                                  observed.drop(columns=["strategy", "replicate", "seed"])
                                  .reset_index(drop=True))
    both = af[SERIES].merge(spc[SERIES], on=KEY, suffixes=("_af", "_spc"))
    assert len(both) == len(af) == 10 * 2
    for col in ("week", "true_compliance", "audited", "compliant"):
        np.testing.assert_array_equal(both[f"{col}_af"].to_numpy(), both[f"{col}_spc"].to_numpy())
    assert both["compliant_af"].nunique() > 1  # a real series, not a constant


def test_an_audit_sees_the_mean_compliance_of_its_period(paths):
    model, result = paths
    rec, u = model.recorder, model.pop.unit_name.index(UNIT)
    assert rec.weeks == list(range(WEEKS + 1))
    obs = result.spc[(result.spc["strategy"] == "audit & feedback")
                     & (result.spc["bundle"] == "antibiotic_stewardship")].set_index("period")
    c = rec.compliance[:, u, 0].astype(float)
    for k in range(1, 11):
        assert obs.loc[k, "week"] == 4 * k
        assert obs.loc[k, "true_compliance"] == pytest.approx(c[4 * k - 3: 4 * k + 1].mean(),
                                                              abs=1e-12)
    for k in range(-5, 1):  # baseline periods: the week-0 compliance
        assert obs.loc[k, "true_compliance"] == c[0] and obs.loc[k, "baseline"]
    assert c[1:].std() > 0  # compliance moves, so the period mean is not the end-week value


def test_audit_draws_line_up_across_strategies_and_baseline_lengths():
    sc = load(scenario_data(MEASURE))
    a = run(sc, 5).measurement["compliance_observed"]
    none, af = (a[a["strategy"] == s].set_index(KEY) for s in ("none", "audit & feedback"))
    base = none["baseline"]
    # the baseline is the same true compliance in every strategy: the same counts
    np.testing.assert_array_equal(none.loc[base, "compliant"], af.loc[base, "compliant"])
    short = load(scenario_data({**MEASURE, "audit_baseline_periods": 2}))
    b = run(short, 5).measurement["compliance_observed"].set_index(["strategy", *KEY])
    full = a.set_index(["strategy", *KEY])
    common = b.index.intersection(full.index)
    assert len(common) == len(b)  # periods -1 … 10 of both strategies
    np.testing.assert_array_equal(b.loc[common, "compliant"], full.loc[common, "compliant"])


def test_counts_are_binomial_and_rise_with_the_true_compliance():
    u = np.random.default_rng(0).random(200_000)
    x = audit.compliant(u, 20, np.full(u.shape, 0.3))
    assert x.mean() == pytest.approx(6.0, abs=0.02)
    assert x.var() == pytest.approx(20 * 0.3 * 0.7, rel=0.02)
    assert (audit.compliant(u, 20, np.full(u.shape, 0.35)) >= x).all()
    assert (audit.compliant(np.zeros(3), 20, np.array([0.0, 1.0, 0.5])) == [0, 20, 20]).all()


def test_period_weeks_match_the_after_run_computation():
    rng = np.random.default_rng(1)
    weekly = rng.random((13, 3, 2)).astype(np.float32)
    weekly[:, 1, 1] = np.nan
    live = audit.PeriodWeeks(4)
    ended = [live.add(w, weekly[w]) for w in range(13)]
    assert [e[0] for e in ended if e is not None] == [0, 1, 2, 3]
    for k in (1, 2, 3):
        after = audit.true_compliance(weekly[4 * k - 3: 4 * k + 1])
        np.testing.assert_array_equal(ended[4 * k][1], after)
        assert np.isnan(after[1, 1])
        assert after[0, 0] == pytest.approx(weekly[4 * k - 3: 4 * k + 1, 0, 0].mean())


def test_spc_units_without_measurement_use_the_declared_audit():
    sc = load(scenario_data())
    spc = run(sc, 2, spc_units=[UNIT]).spc
    spec = audit.AuditSpec.of(None)
    assert (spc["audited"] == spec.sample_size).all()
    assert spc["period"].min() == 1 - spec.baseline_periods
    assert (spc["week"] % spec.period_weeks == 0).all()


@pytest.mark.parametrize("key, new", [("spc_sample_size", "audit_sample_size"),
                                      ("spc_period_weeks", "audit_period_weeks")])
def test_former_output_audit_keys_name_their_replacement(key, new):
    with pytest.raises(InputError) as err:
        load(scenario_data(output={key: 10}))
    msg = str(err.value)
    assert f"output.{key}" in msg and new in msg and "[measurement]" in msg
    assert "\n" not in msg


def test_spc_units_charts_are_drawn_like_the_measurement_charts(tmp_path):
    lines = ["weeks = 12", 'bundles = ["antibiotic_stewardship"]', "[structure]",
             "hospital_trusts = 1", "wards_per_trust = 2", "mental_health_units_per_trust = 0",
             "municipalities_per_trust = 0", "[measurement]", "audit_baseline_periods = 3",
             "gtt_records_per_month = 0", "survey_weeks = [0]", "spc_plots = 0",
             "null_simulations = 0"]
    (tmp_path / "s.toml").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "s.toml"), "--out", str(out), "--quiet",
                 "--spc-units", UNIT.replace("2", "1")]) == 0
    spc = pd.read_csv(out / "spc.csv")
    assert spc["period"].min() == -2 and spc["baseline"].sum() == 3
    files = json.loads((out / "manifest.json").read_text())["files"]
    assert [f for f in files if f.startswith("spc/")] == [
        "spc/no_extra_support__Trust_1_hospital_ward_1__antibiotic_stewardship.png"]
    # spc_plots = 0: no example chart at all, not even the trust's GTT chart
    assert not any(f.startswith("measurement_spc/") for f in files)
    assert not (out / "measurement_spc").exists()

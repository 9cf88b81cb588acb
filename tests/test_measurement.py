"""Observing like the programme does: GTT, audited compliance on SPC charts, detection, survey.

Each test can fail: the expected numbers are computed by hand (binomial spread, exact false-signal
probabilities) or by an independent path through :mod:`sim.outcomes.spc`, never read back from
the code under test.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.cli import main
from sim.errors import InputError
from sim.outcomes import gtt
from sim.outcomes.detection import censored_quantile, summarise
from sim.outcomes.spc import first_signal, p_chart
from sim.params import MEASUREMENT
from sim.rng import replicate_seeds, stream
from sim.scenario import load_scenario, scenario_from_dict
from sim.simulate import preflight, run, run_replicates
from sim.world import build_world

ROOT = Path(__file__).resolve().parents[1]
HOSPITAL_BUNDLES = ["antibiotic_stewardship", "medication_list_accuracy", "deteriorating_patient"]


def hospital_only(weeks: int = 52, measurement: dict | None = None, wards: int = 10,
                  trusts: int = 1, strategies: list | None = None, **extra) -> dict:
    """A small scenario: somatic wards only (fast), three hospital bundles."""
    data = {
        "name": "measure_test", "weeks": weeks, "seed": 11, "bundles": HOSPITAL_BUNDLES,
        "structure": {"hospital_trusts": trusts, "wards_per_trust": wards,
                      "mental_health_units_per_trust": 0, "municipalities_per_trust": 0},
        "strategies": strategies or [{"name": "no extra support"}],
        **extra,
    }
    if measurement is not None:
        data["measurement"] = measurement
    return data


NULL = [{"name": "no programme", "bundles": []}]  # nothing launched: nothing changes


def load(data: dict, tmp_path: Path | None = None):
    return scenario_from_dict(data, "test.toml", tmp_path or Path.cwd())


# --- GTT: convergence and binomial spread ------------------------------------------------------
def test_observed_series_converge_to_the_true_ones_as_the_sample_grows():
    errors = {}
    for n in (20, 100_000):
        sc = load(hospital_only(measurement={"gtt_records_per_month": n,
                                             "audit_sample_size": n, "survey_weeks": [0]}))
        m = run(sc, 5).measurement
        g, c = m["gtt"], m["compliance_observed"]
        errors[n] = (np.abs(g["observed_share"] - g["true_share"]).max(),
                     np.abs(c["observed_compliance"] - c["true_compliance"]).max())
        # the true series does not depend on the sample, and starts at the calibrated share
        share0 = 1 - math.exp(-sc.patients["all_cause_harm_rate_hospital"]
                              * sc.measurement["length_of_stay_days"] / 7)
        assert share0 == pytest.approx(0.16, abs=1e-4)  # the GTT's 16% (2010-2011)
        assert g.loc[g["baseline"], "true_share"].to_numpy() == pytest.approx(share0, abs=1e-12)
    big_gtt, big_audit = errors[100_000]
    # 4.5 sd of a binomial share with n = 100,000 at p ≈ 0.16 is 0.0052
    assert big_gtt < 0.0052 and big_audit < 0.0052
    small_gtt, small_audit = errors[20]
    assert small_gtt > 0.1 and small_audit > 0.05  # 20 records: visibly noisy


def test_gtt_share_spread_matches_the_binomial_sd_computed_by_hand():
    # One trust with two wards; harm hazards per patient-week chosen by hand.
    los_days, n = 4.5, 20
    flow = gtt.HospitalFlow("Trust 1", np.array([0, 1]), np.array([30.0, 10.0]), los_days / 7)
    hazard = np.array([0.20, 0.40])
    p_ward = 1 - np.exp(-hazard * los_days / 7)
    p = (30 * p_ward[0] + 10 * p_ward[1]) / 40  # admission-weighted, by hand
    assert float(gtt.true_share(hazard, flow.admissions, flow.los_weeks)) == pytest.approx(p)
    shares = np.array([0.39, 0.535, 0.045, 0.02, 0.01])
    obs = np.array([gtt.sample_records(stream(seed, "measurement:gtt:test"), flow.admissions,
                                       hazard, flow.los_weeks, n, shares)[0] / n
                    for seed in range(4000)])
    sd = math.sqrt(p * (1 - p) / n)
    assert obs.mean() == pytest.approx(p, abs=4 * sd / math.sqrt(len(obs)))
    # the sd of a sample sd from 4000 draws is ~1.1% of it; allow 5%
    assert obs.std(ddof=1) == pytest.approx(sd, rel=0.05)


def test_gtt_months_of_a_run_without_change_scatter_binomially():
    """Through the whole pipeline: standardised monthly errors have sd 1 (no programme)."""
    sc = load(hospital_only(weeks=104, strategies=NULL, measurement={"survey_weeks": [0]}))
    res = run_replicates(sc, 3, 4)
    g = res.measurement["gtt"]
    p = g["true_share"].to_numpy()
    assert np.ptp(p) < 1e-9  # nothing changes
    z = (g["observed_share"] - p) / np.sqrt(p * (1 - p) / g["records"])
    assert len(z) == 4 * (12 + 26)
    assert z.std(ddof=1) == pytest.approx(1.0, abs=0.15)  # ~4 standard errors for 152 months
    assert abs(z.mean()) < 4 / math.sqrt(len(z))


def test_background_harm_is_the_all_cause_residual():
    hazard0 = np.array([0.01, 0.02, 0.0])
    adm = np.array([20.0, 10.0, 5.0])
    los = 4.5 / 7
    all_cause = np.full(3, -np.log(1 - 0.15) / los)
    bg = gtt.background_hazard(hazard0, all_cause)
    assert (bg > 0).all()
    # the week-0 hazard is the all-cause rate on every unit, so the share is 15% by construction
    assert float(gtt.true_share(hazard0 + bg, adm, los)) == pytest.approx(0.15, abs=1e-12)
    assert gtt.background_hazard(np.full(3, 1.0), all_cause).tolist() == [0.0, 0.0, 0.0]


# --- false signals without change --------------------------------------------------------------
def _null_detection(measurement: dict, replicates: int, weeks: int = 104, **kw) -> pd.DataFrame:
    sc = load(hospital_only(weeks=weeks, strategies=NULL,
                            measurement={"survey_weeks": [0], **measurement}, **kw))
    det = run_replicates(sc, 21, replicates).measurement["detection"]
    assert len(det)
    return det


def test_false_signal_rate_of_the_3_sigma_rule_is_the_exact_binomial_rate():
    """Known centre, rule 1 only: P(signal) = 1 − Π (1 − P(X > n·UCL)) per chart, exactly."""
    n, period, weeks = 20, 4, 104
    det = _null_detection({"spc_rules": ["outside"], "spc_centre": "known",
                           "audit_sample_size": n, "audit_period_weeks": period,
                           "gtt_records_per_month": 0}, replicates=6, weeks=weeks, wards=20)
    det = det[det["measure"] == "compliance"]
    points = weeks // period
    expected = []
    for p in det["true_baseline"]:
        ucl = min(p + 3 * math.sqrt(p * (1 - p) / n), 1.0)
        per_point = stats.binom.sf(math.floor(n * ucl + 1e-9), n, p)  # X/n > UCL
        expected.append(1 - (1 - per_point) ** points)
    expected = np.array(expected)
    observed = det["weeks_to_signal"].notna().to_numpy()
    assert 0.05 < expected.mean() < 0.95  # the test has power
    sd = math.sqrt((expected * (1 - expected)).sum())
    assert abs(observed.sum() - expected.sum()) < 4 * sd, (observed.mean(), expected.mean())


def _spc_null_share(p: float, n: int, k: int, points: int, direction: str, reps: int,
                    seed: int) -> float:
    """In-control charts read with all three rules, centre frozen on k baseline points,
    straight through sim.outcomes.spc (independent of sim.outcomes.detection)."""
    rng = np.random.default_rng(seed)
    hits = 0
    for row in rng.binomial(n, p, size=(reps, k + points)):
        chart = p_chart(row, np.full(k + points, n), baseline_points=k)
        hits += first_signal(chart, direction, start=k) is not None
    return hits / reps


def test_false_signal_rate_with_all_rules_matches_in_control_charts():
    n, k, weeks = 20, 6, 104
    det = _null_detection({"audit_sample_size": n, "audit_baseline_periods": k,
                           "gtt_records_per_month": 0}, replicates=5, weeks=weeks, wards=20)
    det = det[det["measure"] == "compliance"]
    reps = 800
    expected = {p: _spc_null_share(p, n, k, weeks // 4, "up", reps, 1)
                for p in det["true_baseline"].unique()}
    exp = det["true_baseline"].map(expected).to_numpy()
    observed = det["weeks_to_signal"].notna().to_numpy()
    # binomial spread of the charts, plus the Monte Carlo error of the expected shares
    counts = det["true_baseline"].value_counts()
    mc = sum((counts[p] ** 2) * e * (1 - e) / reps for p, e in expected.items())
    sd = math.sqrt((exp * (1 - exp)).sum() + mc)
    assert 0.05 < exp.mean() < 0.95
    assert abs(observed.sum() - exp.sum()) < 4 * sd, (observed.mean(), exp.mean())


@pytest.mark.slow
def test_false_signal_rate_of_the_gtt_chart_matches_in_control_charts():
    k, weeks = 12, 104
    det = _null_detection({"gtt_baseline_months": k, "chart_units": ["Trust 1 hospital ward 1"]},
                          replicates=8, weeks=weeks, wards=2, trusts=10)
    det = det[det["measure"] == "harm"]
    assert len(det) == 80
    reps = 2000
    expected = _spc_null_share(0.16, 20, k, weeks // 4, "down", reps, 2)
    sd = math.sqrt(expected * (1 - expected) * (1 / len(det) + 1 / reps))
    assert det["weeks_to_signal"].notna().mean() == pytest.approx(expected, abs=4 * sd)


# --- detection per replicate, summarised -------------------------------------------------------
def test_detection_is_per_replicate_and_summarised():
    sc = load(hospital_only(weeks=52, wards=4, measurement={"survey_weeks": [0],
                                                           "null_simulations": 50},
                            strategies=[{"name": "no programme", "bundles": []},
                                        {"name": "no extra support"}]))
    res = run_replicates(sc, 8, 3)
    det = res.measurement["detection"]
    # one row per strategy × replicate × (ward × bundle, or trust)
    per_run = 4 * 3 + 1
    assert len(det) == 2 * 3 * per_run
    assert set(det["replicate"]) == {0, 1, 2}
    assert set(det["seed"]) == set(replicate_seeds(8, 3))
    assert (det.groupby(["strategy", "replicate"]).size() == per_run).all()
    t = det["weeks_to_signal"].dropna()
    assert ((t > 0) & (t <= 52)).all()
    assert set(det["rule"][det["weeks_to_signal"].notna()]) <= {
        "outside", "shift", "trend", "outside+shift", "outside+trend", "shift+trend",
        "outside+shift+trend"}
    summary = summarise(det, 52)
    assert len(summary) == 2 * 4  # strategies × (3 bundles + GTT)
    assert (summary["charts"] == [12, 12, 12, 3] * 2).all()
    assert (summary["replicates"] == 3).all()
    for _, row in summary.iterrows():
        times = det[(det["strategy"] == row["strategy"]) & (det["bundle"] == row["bundle"])]
        assert row["detected_share"] == pytest.approx(times["weeks_to_signal"].notna().mean())
        q = [row["q25_weeks"], row["median_weeks"], row["q75_weeks"]]
        finite = [x for x in q if np.isfinite(x)]
        assert finite == sorted(finite)


def test_censored_quantiles_count_the_undetected_as_later_than_the_horizon():
    assert censored_quantile(np.array([10.0, 20.0, np.nan]), 0.5) == 20.0
    assert np.isnan(censored_quantile(np.array([10.0, np.nan, np.nan]), 0.5))
    assert censored_quantile(np.array([10.0, np.nan, np.nan]), 0.25) == 10.0
    assert np.isnan(censored_quantile(np.array([]), 0.5))


# --- measurement never changes the model ------------------------------------------------------
def test_measurement_does_not_change_the_true_trajectory():
    base = hospital_only(weeks=30, strategies=[{"name": "no extra support"},
                                               {"name": "train", "interventions": [
                                                   {"type": "training", "start_week": 2}]}])
    plain = run(load(base), 3)
    measured = run(load({**base, "measurement": {"gtt_records_per_month": 500,
                                                 "audit_sample_size": 50,
                                                 "survey_weeks": [0, 30]}}), 3)
    assert plain.measurement == {}
    assert set(measured.measurement) == {"gtt", "compliance_observed", "detection", "survey"}
    pd.testing.assert_frame_equal(plain.timeseries, measured.timeseries)
    pd.testing.assert_frame_equal(plain.summary, measured.summary)


def test_culture_figures_set_the_climate_and_nothing_else():
    data = hospital_only(weeks=10)
    sc0 = load(data)
    sc1 = load({**data, "measurement": {"teamwork_positive": 80.0,
                                        "safety_climate_positive": 60.0,
                                        "culture_concentration": 5000.0}})
    w0, w1 = build_world(sc0, 4), build_world(sc1, 4)
    assert np.allclose(w1.pop.unit_climate, 0.5 * 0.8 + 0.5 * 0.6, atol=0.02)
    assert not np.allclose(w0.pop.unit_climate, w1.pop.unit_climate)
    np.testing.assert_array_equal(w0.pop.staff_openness, w1.pop.staff_openness)
    np.testing.assert_array_equal(w0.pop.org_leadership, w1.pop.org_leadership)
    assert (w0.adjacency != w1.adjacency).nnz == 0
    # without figures the climate is the model's own
    sc2 = load({**data, "measurement": {}})
    np.testing.assert_array_equal(build_world(sc2, 4).pop.unit_climate, w0.pop.unit_climate)


# --- survey -----------------------------------------------------------------------------------
def test_survey_reports_the_initialisation_figures_for_a_large_sample(tmp_path):
    (tmp_path / "saq.csv").write_text("unit,teamwork_positive,safety_climate_positive\n"
                                      "Trust 1 hospital ward 2,90,20\n")
    data = hospital_only(weeks=10, wards=6, measurement={
        "teamwork_positive": 70.0, "safety_climate_positive": 40.0,
        "culture_concentration": 10000.0, "culture_file": "saq.csv",
        "survey_response_rate": 1.0, "survey_weeks": [0], "gtt_records_per_month": 0},
        structure={"hospital_trusts": 1, "wards_per_trust": 6, "staff_per_ward": 500,
                   "mental_health_units_per_trust": 0, "municipalities_per_trust": 0})
    survey = run(load(data, tmp_path), 2).measurement["survey"]
    assert set(survey["week"]) == {0}
    assert (survey["respondents"] > 300).all()
    for scale, mean, ward2 in (("teamwork", 70.0, 90.0), ("safety_climate", 40.0, 20.0)):
        s = survey[survey["scale"] == scale].set_index("unit")
        named = s.loc["Trust 1 hospital ward 2"]
        assert named["true_pct_positive"] == pytest.approx(ward2)
        se = 100 * math.sqrt(ward2 / 100 * (1 - ward2 / 100) / named["respondents"])
        assert named["pct_positive"] == pytest.approx(ward2, abs=4 * se)
        others = s.drop(index="Trust 1 hospital ward 2")
        assert others["pct_positive"].mean() == pytest.approx(mean, abs=2.0)


def test_survey_without_figures_reports_the_model_climate():
    sc = load(hospital_only(weeks=10, measurement={"survey_weeks": [0, 10]}))
    world = build_world(sc, 2)
    survey = run(sc, 2).measurement["survey"]
    w0 = survey[(survey["week"] == 0) & (survey["scale"] == "teamwork")]
    assert w0["true_pct_positive"].to_numpy() == pytest.approx(
        100 * world.pop.unit_climate.astype(float), abs=1e-4)
    assert set(survey["week"]) == {0, 10}


# --- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("table, field", [
    ({"gtt_records_per_month": -1}, "gtt_records_per_month"),
    ({"month_weeks": 0}, "month_weeks"),
    ({"baseline_harm_share": 0.16}, "baseline_harm_share"),  # retired: all_cause_harm_rate
    ({"severity_share_E": 0.5}, "severity_share_E"),
    ({"teamwork_positive": 60.0}, "safety_climate_positive"),
    ({"teamwork_positive": 160.0, "safety_climate_positive": 50.0}, "teamwork_positive"),
    ({"spc_rules": ["outside", "zone"]}, "spc_rules"),
    ({"spc_centre": "median"}, "spc_centre"),
    ({"survey_weeks": [0, -4]}, "survey_weeks"),
    ({"survey_weeks": "yearly"}, "survey_weeks"),
    ({"chart_kinds": ["ward"]}, "chart_kinds"),
    ({"gtt_records": 20}, "gtt_records"),
])
def test_bad_measurement_values_are_one_line_errors_naming_the_field(table, field):
    with pytest.raises(InputError) as err:
        load(hospital_only(measurement=table))
    msg = str(err.value)
    assert f"measurement.{field}" in msg and "\n" not in msg


@pytest.mark.parametrize("table, field", [
    ({"chart_units": ["Ward 99"]}, "chart_units"),
    ({"survey_weeks": [0, 60]}, "survey_weeks"),
    ({"culture_file": "missing.csv"}, "culture_file"),
])
def test_errors_that_need_the_population_surface_before_running(table, field, tmp_path):
    with pytest.raises(InputError) as err:
        preflight(load(hospital_only(weeks=52, measurement=table), tmp_path))
    assert field in str(err.value) and "\n" not in str(err.value)


def test_measurement_section_is_optional_and_declared():
    assert load(hospital_only()).measurement is None
    sc = load(hospital_only(measurement={}))
    assert sc.measurement == MEASUREMENT.defaults()
    assert sc.measurement["gtt_records_per_month"] == 20
    assert "measurement" in sc.resolved()
    assert "measurement" not in load(hospital_only()).resolved()


def test_cli_reports_a_bad_measurement_value_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('weeks = 10\n[measurement]\naudit_period_weeks = "monthly"\n')
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "measurement.audit_period_weeks" in err


# --- the experiment file -----------------------------------------------------------------------
def test_experiment_file_loads():
    sc = load_scenario(ROOT / "experiments" / "measurement.toml")
    assert sc.measurement is not None
    assert sc.measurement["gtt_records_per_month"] == 20
    assert "training + facilitation" in [s.name for s in sc.strategies]
    assert sc.structure["wards_per_trust"] == 20  # the default catchment


@pytest.mark.slow
def test_reduced_run_of_the_experiment_file_writes_every_file(tmp_path):
    text = (ROOT / "experiments" / "measurement.toml").read_text()
    data = tomllib.loads(text)
    data["weeks"], data["replicates"] = 40, 2
    data["measurement"].update(survey_weeks=[0, 40], spc_plots=1, null_simulations=100)
    lines = [f"{k} = {json.dumps(v)}" for k, v in data.items()
             if not isinstance(v, dict | list) or k == "bundles"]
    for section in ("structure", "measurement"):
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in data[section].items()]
    for s in data["strategies"]:
        lines.append("[[strategies]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in s.items() if k != "interventions"]
        for iv in s.get("interventions", []):
            lines.append("[[strategies.interventions]]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in iv.items()]
    scenario = tmp_path / "measurement.toml"
    scenario.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    expected = ["gtt.csv", "compliance_observed.csv", "detection.csv", "detection_summary.csv",
                "survey.csv", "gtt.png", "detection.png"]
    for name in expected:
        assert (out / name).stat().st_size > 0, name
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(expected) <= set(manifest["files"])
    assert any(f.startswith("measurement_spc/") for f in manifest["files"])
    summary = pd.read_csv(out / "detection_summary.csv")
    assert set(summary["strategy"]) == {s["name"] for s in data["strategies"]}
    assert set(summary["measure"]) == {"compliance", "harm"}
    g = pd.read_csv(out / "gtt.csv")
    assert set(g["replicate"]) == {0, 1} and g["month"].max() == 10

"""Outputs of `implsim run` beyond the core contract: strategy comparison, SPC charts, and the
strategy-file errors of sequencing (launch weeks, bundle subsets)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.errors import InputError
from sim.outcomes.statistics import compare_arms, mean_ci
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]

SMALL = """
name = "small"
weeks = 60
seed = 3
replicates = 3
bundles = ["antibiotic_stewardship", "deteriorating_patient"]

[structure]
wards_per_trust = 3
mental_health_units_per_trust = 1
municipalities_per_trust = 2
nursing_homes_per_municipality = 1
home_care_teams_per_municipality = 1
gp_practices_per_municipality = 1

[[strategies]]
name = "none"

[[strategies]]
name = "sequenced"
launch = { antibiotic_stewardship = 1, deteriorating_patient = 20 }
  [[strategies.interventions]]
  type = "facilitation"
  start_week = 1
  end_week = 30
  [[strategies.interventions]]
  type = "audit_feedback"
  start_week = 1
  end_week = 30
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("outputs")
    (d / "small.toml").write_text(SMALL)
    code = main(["run", str(d / "small.toml"), "--out", str(d / "out"), "--quiet",
                 "--spc-units", "Trust 1 hospital ward 1,Trust 1 municipality 1 home care team 1"])
    assert code == 0
    return d / "out"


def test_comparison_table_has_every_arm_and_bundle_with_intervals(run_dir):
    comp = pd.read_csv(run_dir / "comparison.csv")
    assert set(comp["strategy"]) == {"none", "sequenced"}
    assert len(comp) == 6  # 2 strategies x (2 bundles + the programme total)
    total = comp[comp.bundle == "all bundles"]
    assert len(total) == 2 and total["compliance_mean"].isna().all()  # shares do not add up
    assert set(comp["comparator"]) == {"none"}
    for col in ("weeks_to_50pct_compliance", "weeks_to_80pct_compliance", "compliance",
                "sustainability_12m", "cost", "harm_expected"):
        assert {f"{col}_mean", f"{col}_lo", f"{col}_hi"} <= set(comp.columns)
    summary = pd.read_csv(run_dir / "summary.csv")
    # the comparison is computed from the summary: means agree
    for (s, b), grp in summary.groupby(["strategy", "bundle"]):
        row = comp[(comp.strategy == s) & (comp.bundle == b)].iloc[0]
        assert row["compliance_mean"] == pytest.approx(grp["compliance"].mean())
        assert row["cost_mean"] == pytest.approx(grp["cost"].mean())
    seq = comp[(comp.strategy == "sequenced") & (comp.bundle != "all bundles")]
    assert (seq["compliance_lo"] <= seq["compliance_mean"]).all()
    assert (seq["compliance_mean"] <= seq["compliance_hi"]).all()
    assert (run_dir / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_launch_week_is_respected(run_dir):
    summary = pd.read_csv(run_dir / "summary.csv")
    seq = summary[(summary.strategy == "sequenced") & (summary.bundle == "deteriorating_patient")]
    assert (seq["launch_week"] == 20).all()
    ts = pd.read_parquet(run_dir / "timeseries.parquet")
    sys_rows = ts[(ts.level == "system") & (ts.strategy == "sequenced")
                  & (ts.bundle == "deteriorating_patient") & (ts.week < 20)]
    assert (sys_rows["adoption"] == 0).all()


def test_spc_charts_are_written_from_audited_counts(run_dir):
    spc = pd.read_csv(run_dir / "spc.csv")
    assert set(spc["unit"]) == {"Trust 1 hospital ward 1",
                                "Trust 1 municipality 1 home care team 1"}
    assert (spc["compliant"] <= spc["audited"]).all()
    assert (spc["week"] % 4 == 0).all()
    charts = list((run_dir / "spc").glob("*.png"))
    assert charts
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert all(f"spc/{c.name}" in manifest["files"] for c in charts)


def test_unknown_spc_unit_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "s.toml").write_text(SMALL)
    code = main(["run", str(tmp_path / "s.toml"), "--out", str(tmp_path / "o"),
                 "--spc-units", "Ward 99"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "--spc-units" in err[0] and "Ward 99" in err[0]
    assert not (tmp_path / "o").exists()


def test_mean_ci_matches_t_interval():
    m, lo, hi, n = mean_ci(np.array([1.0, 2.0, 3.0, 4.0, np.nan]))
    # mean 2.5, sd 1.29099, t(0.975, 3) = 3.182446
    half = 3.182446 * 1.2909944 / 2
    assert (m, n) == (2.5, 4)
    assert lo == pytest.approx(2.5 - half, rel=1e-5)
    assert hi == pytest.approx(2.5 + half, rel=1e-5)


def test_time_to_threshold_share_reached():
    summary = pd.DataFrame({
        "strategy": ["a"] * 4, "bundle": ["x"] * 4, "replicate": range(4),
        "weeks_to_50pct_compliance": [10.0, 20.0, np.nan, np.nan],
        "weeks_to_80pct_compliance": [np.nan] * 4,
        "compliance": [0.5, 0.6, 0.3, 0.2]})
    comp = compare_arms(summary).iloc[0]
    assert comp["reached_50pct_share"] == 0.5
    assert comp["weeks_to_50pct_compliance_mean"] == 15.0
    assert comp["reached_80pct_share"] == 0.0


@pytest.mark.parametrize(("strategy", "field", "fragment"), [
    ('launch = { unknown_bundle = 3 }', "launch.unknown_bundle", "scenario bundles"),
    ('launch = { antibiotic_stewardship = 0 }', "launch.antibiotic_stewardship", "week number"),
    ('launch = 5', "launch", "bundle_name = week"),
    ('bundles = ["nope"]', "bundles", "not a bundle of this scenario"),
    ('colour = "red"', "colour", "known keys are"),
])
def test_bad_strategy_fields_are_clear_errors(tmp_path, strategy, field, fragment):
    text = SMALL.replace('name = "none"', f'name = "none"\n{strategy}')
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError) as exc:
        load_scenario(path)
    msg = str(exc.value)
    assert str(path) in msg and field in msg and fragment in msg
    assert "\n" not in msg


def test_antibiotics_first_experiment_has_three_arms():
    sc = load_scenario(ROOT / "experiments" / "antibiotics_first.toml")
    names = [s.name for s in sc.strategies]
    assert len(names) == 3
    first, together, without = sc.strategies
    assert first.launch_week("antibiotic_stewardship") == 1
    assert first.launch_week("medication_list_accuracy") > 1
    assert together.launch_week("medication_list_accuracy") == 1
    assert without.launch_week("antibiotic_stewardship") is None
    assert without.launch_week("deteriorating_patient") == first.launch_week(
        "deteriorating_patient")

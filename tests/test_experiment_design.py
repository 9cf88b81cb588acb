"""Experiment files, designs, seeds and common random numbers (serial execution)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny import TINY_STRUCTURE

from sim.errors import InputError
from sim.experiment import ResultStore, load_experiment, run_experiment
from sim.outcomes.statistics import all_pairs, diff_interval, pair_table

ROOT = Path(__file__).resolve().parents[1]

TINY = """
name = "tiny"
replicates = {replicates}
seed = 11
common_random_numbers = {crn}
chunk_size = 2
""" + TINY_STRUCTURE + """
[[arms]]
name = "facilitation 0.5"
  [[arms.interventions]]
  type = "facilitation"
  start_week = 1
  end_week = 60
  intensity = 0.5

[[arms]]
name = "facilitation 0.6"
  [[arms.interventions]]
  type = "facilitation"
  start_week = 1
  end_week = 60
  intensity = 0.6
"""


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_runs_and_seeds_with_and_without_crn(tmp_path):
    crn = load_experiment(write(tmp_path, TINY.format(replicates=3, crn="true")))
    runs = crn.runs()
    assert len(runs) == 6 and [r.run_id for r in runs] == list(range(6))
    by_rep = {}
    for r in runs:
        by_rep.setdefault(r.replicate, set()).add(r.seed)
    assert all(len(s) == 1 for s in by_rep.values())  # every arm shares replicate k's seed
    ind = load_experiment(write(tmp_path, TINY.format(replicates=3, crn="false"), "b.toml"))
    assert len({r.seed for r in ind.runs()}) == 6


def test_common_random_numbers_narrow_the_paired_interval(tmp_path):
    """Two similar arms: the paired CRN interval of their difference is narrower than the
    interval from independent seeds."""
    widths = {}
    for crn in ("true", "false"):
        exp = load_experiment(write(tmp_path, TINY.format(replicates=10, crn=crn), f"{crn}.toml"))
        out = tmp_path / f"store-{crn}"
        run_experiment(exp, out, serial=True, quiet=True)
        summary = ResultStore(out).read("summary")
        pairs = pair_table(summary, all_pairs(exp.arm_names), paired=(crn == "true"))
        row = pairs[(pairs.bundle == "antibiotic_stewardship") & (pairs.outcome == "compliance")]
        widths[crn] = float(row["hi"].iloc[0] - row["lo"].iloc[0])
    assert widths["true"] < widths["false"]


def test_diff_interval_paired_and_welch():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = a + np.array([0.5, 0.7, 0.6, 0.8])
    m, lo, hi = diff_interval(a, b, paired=True)
    assert m == pytest.approx(0.65)
    assert lo < 0.65 < hi and hi - lo < 0.5
    m2, lo2, hi2 = diff_interval(a, b, paired=False)
    assert m2 == pytest.approx(0.65)
    assert hi2 - lo2 > hi - lo  # ignoring the pairing widens the interval


def test_grid_list_and_file_designs(tmp_path):
    grid = TINY.format(replicates=2, crn="true") + """
[design]
type = "grid"
[design.factors]
"parameters.turnover_annual" = [0.1, 0.3]
"network.cross_boundary_degree" = [0.1, 0.5, 1.0]
"""
    exp = load_experiment(write(tmp_path, grid))
    assert len(exp.points) == 6 and len(exp.runs()) == 2 * 6 * 2
    sc = exp.scenario_for(exp.runs()[5])
    point = exp.points[exp.runs()[5].point]
    assert sc.parameters["turnover_annual"] == point["parameters.turnover_annual"]
    listed = TINY.format(replicates=1, crn="true") + """
[design]
type = "list"
points = [{ "parameters.p_innovation" = 0.002 }, { "parameters.p_innovation" = 0.004 }]
"""
    assert len(load_experiment(write(tmp_path, listed, "l.toml")).points) == 2
    (tmp_path / "samples.csv").write_text("parameters.q_imitation,parameters.p_abandon\n"
                                          "0.05,0.01\n0.1,0.02\n0.2,0.03\n")
    filed = (TINY.format(replicates=1, crn="true")
             + '[design]\ntype = "file"\npath = "samples.csv"\n')
    exp = load_experiment(write(tmp_path, filed, "f.toml"))
    assert [p["parameters.q_imitation"] for p in exp.points] == [0.05, 0.1, 0.2]


def test_design_factors_are_stored_with_results(tmp_path):
    text = TINY.format(replicates=1, crn="true") + """
[design]
type = "list"
points = [{ "parameters.turnover_annual" = 0.05 }, { "parameters.turnover_annual" = 0.4 }]
"""
    exp = load_experiment(write(tmp_path, text))
    run_experiment(exp, tmp_path / "s", serial=True, quiet=True)
    summary = ResultStore(tmp_path / "s").read("summary")
    assert set(summary["parameters.turnover_annual"]) == {0.05, 0.4}
    assert sorted(summary["run_id"].unique()) == list(range(4))


@pytest.mark.parametrize(("extra", "field", "fragment"), [
    ('colour = 1\n', "colour", "known keys"),
    ('[design]\ntype = "cube"\n', "design.type", "grid, list, file"),
    ('[design]\ntype = "grid"\n[design.factors]\n"turnover" = [1]\n', "design.factors",
     "section.parameter"),
    ('[design]\ntype = "grid"\n[design.factors]\n"parameters.turnover_annual" = [2.0]\n',
     "design point 0: parameters.turnover_annual", "[0, 1]"),
    ('[design]\ntype = "file"\npath = "nope.csv"\n', "design.path", "not found"),
])
def test_bad_experiment_files_are_clear_errors(tmp_path, extra, field, fragment):
    text = TINY.format(replicates=1, crn="true")
    text = extra + text if not extra.startswith("[") else text + extra
    path = write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        load_experiment(path)
    msg = str(exc.value)
    assert str(path) in msg and field in msg and fragment in msg, msg


def test_arm_naming_a_missing_strategy_is_an_error(tmp_path):
    text = TINY.format(replicates=1, crn="true").replace(
        'name = "facilitation 0.6"', 'name = "x"\nstrategy = "no such strategy"')
    text = text[:text.index('name = "x"') + 40]  # drop that arm's interventions
    with pytest.raises(InputError, match="no strategy 'no such strategy'"):
        load_experiment(write(tmp_path, text))


def test_compare_support_experiment_has_four_strategies_and_20_replicates():
    exp = load_experiment(ROOT / "experiments" / "compare_support.toml")
    assert len(exp.arms) >= 5 and exp.replicates >= 20
    types = [{iv["type"] for iv in a.strategies[0].interventions} for a in exp.arms]
    assert {"training"} in types
    assert {"champions", "audit_feedback"} in types
    assert {"collaborative"} in types
    assert exp.settings["common_random_numbers"]


def test_fingerprint_ignores_file_location_but_not_content(tmp_path):
    a = load_experiment(write(tmp_path, TINY.format(replicates=2, crn="true"), "a.toml"))
    (tmp_path / "sub").mkdir()
    b = load_experiment(write(tmp_path / "sub", TINY.format(replicates=2, crn="true"), "a.toml"))
    c = load_experiment(write(tmp_path, TINY.format(replicates=3, crn="true"), "c.toml"))
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_serial_store_matches_direct_runs(tmp_path):
    """The store holds exactly what run() gives for each run's seed."""
    from sim.simulate import run

    exp = load_experiment(write(tmp_path, TINY.format(replicates=2, crn="true")))
    run_experiment(exp, tmp_path / "s", serial=True, quiet=True)
    summary = ResultStore(tmp_path / "s").read("summary")
    r = exp.runs()[3]
    direct = run(exp.scenario_for(r), r.seed).summary
    stored = summary[summary.run_id == 3].reset_index(drop=True)
    pd.testing.assert_series_equal(stored["compliance"], direct["compliance"],
                                   check_names=False)

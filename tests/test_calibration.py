"""Calibration: likelihoods, observed-data checks, the ABC-SMC sampler and the whole pipeline.

- The likelihoods equal scipy.stats' and the distances their definitions.
- Bad observed data (missing column, numerator > denominator, negative or non-numeric counts,
  unknown group or bundle, …) stop with one line naming the file, the line and the column.
- The sampler recovers an exact posterior (Beta(8, 14) from a binomial count with ε → 0), is
  reproducible from its seed, and a restart — after a finished run or an interruption in the
  middle of a generation — continues after the last finished generation and ends with the same
  particles as an uninterrupted run.
- The pipeline recovers a known parameter from synthetic data made by the model (a fast variant
  on a tiny catchment; slow variants on the real Medical Innovation network with two and three
  parameters), writes every output, and its calibrated scenario loads and runs. The shipped
  calibration files load, and `implsim calibrate` prints one line for bad data.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.calibrate import (
    ABCSettings,
    Prior,
    abc_smc,
    load_calibration,
    read_adoption_times,
    read_aggregate,
    run_calibration,
)
from sim.calibrate.abc import GenerationStore, weighted_quantile
from sim.calibrate.scenario_file import dumps
from sim.calibrate.targets import (
    beta_binomial_loglik,
    binomial_loglik,
    curve_distance,
    deviance,
)
from sim.cli import main
from sim.errors import InputError
from sim.experiment.design import apply_point
from sim.model import ImplementationModel
from sim.rng import stream
from sim.scenario import load_scenario
from sim.simulate import run

REPO = Path(__file__).resolve().parents[1]
MI_DATA = REPO / "sim" / "networks" / "data" / "medical_innovation"
WEEKS_PER_MONTH = 4.348

# A tiny catchment: two nursing-home units of 30 staff, 30 weeks, everybody aware at once,
# nobody abandoning or leaving: the adoption curve is governed by p_innovation.
TINY = """\
name = "tiny"
weeks = 30
seed = 3
bundles = ["antibiotic_stewardship"]

[structure]
wards_per_trust = 0
mental_health_units_per_trust = 0
municipalities_per_trust = 1
nursing_homes_per_municipality = 2
units_per_nursing_home = 1
home_care_teams_per_municipality = 0
gp_practices_per_municipality = 0
staff_per_nursing_home_unit = 30

[parameters]
p_awareness = 1.0
p_abandon = 0.0
turnover_annual = 0.0
q_imitation = 0.02
adoption_ceiling = 1.0   # the sampler's test: every staff member can adopt
"""
TRUE_P = 0.03


def tiny_calibration(directory: Path, *, population: int = 40, generations: int = 3,
                     seed: int = 5, extra: str = "") -> Path:
    """Write the tiny scenario, synthetic data from it at p_innovation = TRUE_P, and a
    calibration file fitting p_innovation to them (binomial deviance)."""
    scen = directory / "tiny.toml"
    scen.write_text(TINY)
    truth = apply_point(load_scenario(scen), {"parameters.p_innovation": TRUE_P}, "truth")
    ts = run(truth, seed=424242).timeseries
    system = ts[ts["level"] == "system"].set_index("week")
    eligible = 60  # every nursing-home staff member performs an element of the bundle
    rows = [f"{w},all,antibiotic_stewardship,{round(system.loc[w, 'adoption'] * eligible)},"
            f"{eligible}" for w in (5, 10, 15, 20, 25, 30)]
    (directory / "uptake.csv").write_text("period,group,bundle,numerator,denominator\n"
                                          + "\n".join(rows) + "\n")
    cal = directory / "tiny_cal.toml"
    cal.write_text(f"""\
name = "tiny"
scenario = "tiny.toml"
seed = {seed}

[data.uptake]
format = "aggregate"
file = "uptake.csv"

[[targets]]
data = "uptake"
output = "adoption"
distance = "binomial"

[[fit]]
name = "p_innovation"
prior = "loguniform"
low = 0.001
high = 0.3
true = {TRUE_P}

[abc]
population = {population}
generations = {generations}

[ppc]
draws = 30
{extra}""")
    return cal


# --- likelihoods and distances ----------------------------------------------------------------

def test_binomial_loglik_equals_scipy():
    y = np.array([0, 3, 7, 20])
    n = np.array([20, 20, 20, 20])
    p = np.array([0.1, 0.25, 0.5, 0.9])
    np.testing.assert_allclose(binomial_loglik(y, n, p), stats.binom.logpmf(y, n, p),
                               rtol=1e-12)


@pytest.mark.parametrize("rho", [0.01, 0.05, 0.3])
def test_beta_binomial_loglik_equals_scipy(rho):
    y = np.array([0, 4, 11, 30])
    n = np.array([30, 30, 30, 30])
    p = np.array([0.05, 0.2, 0.4, 0.8])
    a, b = p * (1 - rho) / rho, (1 - p) * (1 - rho) / rho
    np.testing.assert_allclose(beta_binomial_loglik(y, n, p, rho),
                               stats.betabinom.logpmf(y, n, a, b), rtol=1e-10)
    # overdispersion: the variance is n p (1 - p) (1 + (n - 1) rho)
    var = stats.betabinom.var(30, a[1], b[1])
    assert var == pytest.approx(30 * 0.2 * 0.8 * (1 + 29 * rho))


def test_deviance_is_zero_at_the_observed_shares_and_grows_away():
    y, n = np.array([5, 12]), np.array([20, 40])
    assert deviance("binomial", y, n, y / n) == pytest.approx(0.0, abs=1e-9)
    # the beta-binomial's maximum is not exactly at y / n: found numerically, never negative
    grid = np.linspace(0.001, 0.999, 20001)
    assert deviance("beta_binomial", [0], [20], np.array([1e-9]), 0.05) < 1e-6
    for yi, ni in [(5, 20), (19, 20), (109, 200), (176, 200)]:
        lls = beta_binomial_loglik(yi, ni, grid, 0.05)
        best = grid[np.argmax(lls)]
        assert deviance("beta_binomial", [yi], [ni], np.array([best]), 0.05) < 1e-6
        assert (deviance("beta_binomial", [yi], [ni], grid[:, None], 0.05) >= 0).all()
    for kind in ("binomial", "beta_binomial"):
        near = deviance(kind, y, n, np.array([0.3, 0.3]))
        far = deviance(kind, y, n, np.array([0.6, 0.6]))
        assert 0 < near < far
    by_hand = -2 * (stats.binom.logpmf(y, n, [0.3, 0.35]) - stats.binom.logpmf(y, n, y / n)).sum()
    assert deviance("binomial", y, n, np.array([0.3, 0.35])) == pytest.approx(by_hand)
    # rows of simulations are scored separately
    rows = deviance("binomial", y, n, np.array([[0.25, 0.3], [0.5, 0.5]]))
    assert rows.shape == (2,) and rows[0] < rows[1]


def test_curve_distances_by_hand():
    obs = np.array([0.1, 0.5, 0.9])
    sim = np.array([0.2, 0.5, 0.6])
    assert curve_distance("rmse", obs, sim) == pytest.approx(math.sqrt((0.01 + 0.09) / 3))
    assert curve_distance("mae", obs, sim) == pytest.approx(0.4 / 3)
    assert curve_distance("max", obs, sim) == pytest.approx(0.3)


def test_weighted_quantile():
    values = np.array([3.0, 1.0, 2.0, 4.0])
    assert weighted_quantile(values, np.ones(4), 0.5) == 2.0
    assert weighted_quantile(values, np.array([0, 0, 0, 1.0]), 0.5) == 4.0


# --- observed data ------------------------------------------------------------------------------

GOOD = "period,group,bundle,numerator,denominator\n0,all,b,3,10\n1,all,b,6,10\n"


@pytest.mark.parametrize("text, where, words", [
    ("period,group,bundle,numerator\n0,all,b,3\n", "denominator", "missing column"),
    ("period,group,bundle,numerator,denominator\n0,all,b,12,10\n", "line 2",
     "numerator 12 > denominator 10"),
    ("period,group,bundle,numerator,denominator\n0,all,b,-1,10\n", "numerator", "≥ 0"),
    ("period,group,bundle,numerator,denominator\n0,all,b,3,-4\n", "denominator", "≥ 1"),
    ("period,group,bundle,numerator,denominator\n0,all,b,three,10\n", "numerator",
     "not a whole number"),
    ("period,group,bundle,numerator,denominator\n0,all,b,2.5,10\n", "numerator",
     "not a whole number"),
    ("period,group,bundle,numerator,denominator\nlast,all,b,2,10\n", "period", "not a number"),
    ("period,group,bundle,numerator,denominator\n0,all,b,3,0\n", "denominator", "≥ 1"),
    ("period,group,bundle,numerator,denominator\n0,,b,3,10\n", "group", "empty group"),
    ("period,group,bundle,numerator,denominator\n0,all,b,3,10\n0,all,b,4,10\n", "line 3",
     "given twice"),
    ("period,group,bundle,numerator,denominator\n0,all,b,3\n", "line 2", "fields"),
    ("", "", "empty"),
    ("period,group,bundle,numerator,denominator\n", "", "no data rows"),
])
def test_bad_aggregate_data_is_one_clear_line(tmp_path, text, where, words):
    path = tmp_path / "obs.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_aggregate(path)
    msg = str(err.value)
    assert str(path) in msg and where in msg and words in msg
    assert "\n" not in msg


def test_good_aggregate_data(tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text(GOOD.replace("denominator\n", "denominator,note\n").replace("10\n",
                                                                               "10,x\n"))
    obs = read_aggregate(path)
    assert obs.table[["period", "numerator", "denominator"]].to_numpy().tolist() == [
        [0, 3, 10], [1, 6, 10]]
    assert obs.share.tolist() == [0.3, 0.6]
    assert obs.table["line"].tolist() == [2, 3]


def test_adoption_times_become_cumulative_counts(tmp_path):
    nodes = tmp_path / "people.csv"
    nodes.write_text("id,unit,t\na,u1,1\nb,u1,3\nc,u1,\nd,u2,2\n")
    edges = tmp_path / "edges.csv"
    edges.write_text("source,target\na,b\nb,c\nd,a\n")
    obs = read_adoption_times(nodes, edges, id_column="id", time_column="t", periods=3,
                              bundle="x")
    assert obs.table["numerator"].tolist() == [1, 2, 3]
    assert set(obs.table["denominator"]) == {4}
    by_unit = read_adoption_times(nodes, None, id_column="id", time_column="t", periods=3,
                                  bundle="x", group_column="unit")
    got = by_unit.table.set_index(["group", "period"])["numerator"].to_dict()
    assert got == {("u1", 1): 1, ("u1", 2): 1, ("u1", 3): 2, ("u2", 1): 0, ("u2", 2): 1,
                   ("u2", 3): 1}


@pytest.mark.parametrize("text, words", [
    ("id,t\na,1\nb,5\n", "after the last observed period (3)"),
    ("id,t\na,1\na,2\n", "given twice"),
    ("id,when\na,1\n", "missing column 't'"),
    ("id,t\na,0\n", "≥ 1"),
    ("id,t\na,soon\n", "not a whole number"),
])
def test_bad_adoption_times(tmp_path, text, words):
    nodes = tmp_path / "people.csv"
    nodes.write_text(text)
    with pytest.raises(InputError) as err:
        read_adoption_times(nodes, None, id_column="id", time_column="t", periods=3,
                            bundle="x")
    assert words in str(err.value) and str(nodes) in str(err.value)


def test_edges_naming_unknown_people_are_refused(tmp_path):
    nodes = tmp_path / "people.csv"
    nodes.write_text("id,t\na,1\nb,2\n")
    edges = tmp_path / "edges.csv"
    edges.write_text("source,target\na,zz\n")
    with pytest.raises(InputError, match="zz"):
        read_adoption_times(nodes, edges, id_column="id", time_column="t", periods=3,
                            bundle="x")


@pytest.mark.parametrize("row, words", [
    ("5,Somewhere unit 9,antibiotic_stewardship,3,10", "no unit named 'Somewhere unit 9'"),
    ("5,all,no_such_bundle,3,10", "'no_such_bundle' is not a bundle of the scenario"),
    ("99,all,antibiotic_stewardship,3,10", "after the scenario's last week (30)"),
])
def test_data_that_do_not_match_the_model(tmp_path, row, words):
    cal = tiny_calibration(tmp_path)
    level = "unit" if "unit 9" in row else "system"
    (tmp_path / "uptake.csv").write_text(
        "period,group,bundle,numerator,denominator\n" + row + "\n")
    cal.write_text(cal.read_text().replace('distance = "binomial"',
                                           f'distance = "binomial"\nlevel = "{level}"'))
    with pytest.raises(InputError) as err:
        load_calibration(cal)
    msg = str(err.value)
    assert "uptake.csv" in msg and "line 2" in msg and words in msg and "\n" not in msg


def test_unknown_kind_group_lists_the_kinds(tmp_path):
    cal = tiny_calibration(tmp_path)
    (tmp_path / "uptake.csv").write_text(
        "period,group,bundle,numerator,denominator\n5,hospital,antibiotic_stewardship,1,9\n")
    with pytest.raises(InputError, match=r"no kind named 'hospital'.*nursing_home"):
        load_calibration(cal)


@pytest.mark.parametrize("old, new, words", [
    ('name = "p_innovation"', 'name = "no_such_parameter"', "no_such_parameter"),
    ("low = 0.001", "low = 0.0", "log-uniform prior needs low > 0"),
    ("high = 0.3", "high = 3.0", "outside what parameters.p_innovation allows"),
    ('name = "p_innovation"', 'name = "structure.wards_per_trust"', "not a real number"),
    ('data = "uptake"', 'data = "elsewhere"', "no [data.elsewhere] table"),
    ('output = "adoption"', 'output = "uptake"', "must be one of"),
    ("population = 40", "population = 40\npopulaton = 3", "unknown key"),
    ('scenario = "tiny.toml"', 'scenario = "nowhere.toml"', "not found"),
    ('file = "uptake.csv"', 'file = "missing.csv"', "file not found"),
])
def test_bad_calibration_files(tmp_path, old, new, words):
    cal = tiny_calibration(tmp_path)
    cal.write_text(cal.read_text().replace(old, new))
    with pytest.raises(InputError) as err:
        load_calibration(cal)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_fitted_and_fixed_at_once_is_refused(tmp_path):
    cal = tiny_calibration(tmp_path, extra="[fixed.parameters]\np_innovation = 0.1\n")
    with pytest.raises(InputError, match="also in \\[fixed\\]"):
        load_calibration(cal)


def test_cli_bad_data_is_one_line_exit_2(tmp_path, capsys):
    cal = tiny_calibration(tmp_path)
    (tmp_path / "uptake.csv").write_text(
        "period,group,bundle,numerator,denominator\n5,all,antibiotic_stewardship,11,10\n")
    assert main(["calibrate", str(cal), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "numerator 11 > denominator 10" in err
    assert not (tmp_path / "out").exists()


def test_shipped_calibration_files_load():
    mi = load_calibration(REPO / "calibration" / "medical_innovation.toml")
    assert [p.name for p in mi.priors] == ["parameters.p_innovation", "parameters.q_imitation",
                                           "parameters.p_awareness"]
    table = mi.targets[0].table
    assert table["denominator"].unique().tolist() == [125]
    assert table["numerator"].tolist()[-1] == 109  # 16 of 125 never adopted
    assert mi.targets[0].weeks[-1] == 74 == mi.scenario.weeks
    nor = load_calibration(REPO / "calibration" / "medication_review_nursing_homes.toml")
    assert nor.targets[0].level == "kind" and nor.targets[0].distance == "beta_binomial"
    assert nor.targets[0].weeks.tolist() == [0, 52]
    assert (REPO / "calibration" / "data" / "medication_review" / "README.md").exists()


# --- the sampler ---------------------------------------------------------------------------------

def binomial_toy(counter: list | None = None, stop_at: tuple[int, int] | None = None):
    """y ~ Binomial(20, θ), observed 7; distance |y − 7|. Exact posterior Beta(8, 14)."""
    def simulate(t: int, b: int, theta: np.ndarray) -> np.ndarray:
        if stop_at == (t, b):
            raise KeyboardInterrupt
        if counter is not None:
            counter.append((t, b, len(theta)))
        rng = stream(11, f"toy:{t}:{b}")
        return np.abs(rng.binomial(20, theta[:, 0]) - 7).astype(float)
    return simulate


UNIT = [Prior("theta", "uniform", 0.0, 1.0)]


def test_abc_recovers_an_exact_posterior():
    result = abc_smc(UNIT, binomial_toy(), ABCSettings(population=1000, generations=10,
                                                       quantile=0.3), seed=1)
    final = result.final
    assert final.epsilon == 0 and "min_epsilon" in result.stopped
    w, x = final.weights, final.z[:, 0]
    mean = np.sum(w * x)
    sd = math.sqrt(np.sum(w * (x - mean) ** 2))
    assert mean == pytest.approx(8 / 22, abs=0.015)
    assert sd == pytest.approx(stats.beta(8, 14).std(), abs=0.012)
    assert final.ess > 800
    eps = [g.epsilon for g in result.generations]
    assert eps[0] == math.inf and all(a >= b for a, b in itertools.pairwise(eps))


def test_abc_is_reproducible_from_its_seed():
    settings = ABCSettings(population=200, generations=4)
    a = abc_smc(UNIT, binomial_toy(), settings, seed=7).final
    b = abc_smc(UNIT, binomial_toy(), settings, seed=7).final
    c = abc_smc(UNIT, binomial_toy(), settings, seed=8).final
    assert np.array_equal(a.z, b.z) and np.array_equal(a.weights, b.weights)
    assert not np.array_equal(a.z, c.z)


def test_abc_continues_after_finished_generations(tmp_path):
    settings = ABCSettings(population=200, generations=5)
    whole = abc_smc(UNIT, binomial_toy(), settings, seed=3, directory=tmp_path / "whole")
    calls: list = []
    first = abc_smc(UNIT, binomial_toy(calls), ABCSettings(population=200, generations=3),
                    seed=3, directory=tmp_path / "two_steps")
    assert len(first.generations) == 3
    records = sorted((tmp_path / "two_steps").glob("gen-*.json"))
    stamps = [p.stat().st_mtime_ns for p in records]
    calls.clear()
    second = abc_smc(UNIT, binomial_toy(calls), settings, seed=3,
                     directory=tmp_path / "two_steps")
    assert {t for t, _, _ in calls} == {3, 4}  # generations 0-2 were not redone
    assert [p.stat().st_mtime_ns for p in records] == stamps
    assert np.array_equal(second.final.z, whole.final.z)
    assert np.array_equal(second.final.weights, whole.final.weights)
    # asking again does nothing
    calls.clear()
    again = abc_smc(UNIT, binomial_toy(calls), settings, seed=3, directory=tmp_path / "whole")
    assert calls == [] and len(again.generations) == 5


def test_abc_interrupted_mid_generation_resumes_with_the_same_result(tmp_path):
    settings = ABCSettings(population=200, generations=5)
    whole = abc_smc(UNIT, binomial_toy(), settings, seed=4)
    calls: list = []
    with pytest.raises(KeyboardInterrupt):
        abc_smc(UNIT, binomial_toy(calls, stop_at=(2, 1)), settings, seed=4,
                directory=tmp_path)
    assert (2, 0, calls[-1][2]) == calls[-1]  # generation 2's first batch ran, then it stopped
    assert len(GenerationStore(tmp_path, UNIT).load()) == 2
    calls.clear()
    resumed = abc_smc(UNIT, binomial_toy(calls), settings, seed=4, directory=tmp_path)
    assert min(t for t, _, _ in calls) == 2
    assert np.array_equal(resumed.final.z, whole.final.z)
    assert [g.simulations for g in resumed.generations] == [
        g.simulations for g in whole.generations]


def test_abc_stops_on_budget_and_low_acceptance():
    r = abc_smc(UNIT, binomial_toy(), ABCSettings(population=100, generations=50,
                                                  max_simulations=600), seed=2)
    assert "budget" in r.stopped and sum(g.simulations for g in r.generations) <= 600
    r = abc_smc(UNIT, binomial_toy(), ABCSettings(population=100, generations=50,
                                                  min_acceptance=0.5), seed=2)
    assert "acceptance" in r.stopped and r.final.acceptance < 0.5


def test_damaged_generation_is_named(tmp_path):
    abc_smc(UNIT, binomial_toy(), ABCSettings(population=50, generations=2), seed=1,
            directory=tmp_path)
    with (tmp_path / "gen-001.parquet").open("ab") as fh:
        fh.write(b"junk")
    with pytest.raises(InputError, match=r"gen-001\.parquet.*does not match"):
        abc_smc(UNIT, binomial_toy(), ABCSettings(population=50, generations=3), seed=1,
                directory=tmp_path)


def test_priors_in_internal_coordinates():
    p = Prior("x", "loguniform", 1e-3, 1.0)
    z = p.to_internal(np.array([1e-3, 0.1]))
    assert np.allclose(z, np.log([1e-3, 0.1]))
    assert np.allclose(p.to_natural(z), [1e-3, 0.1])
    with pytest.raises(InputError, match="low > 0"):
        Prior("x", "loguniform", 0.0, 1.0)
    from sim.calibrate.priors import sample_prior
    draws = sample_prior([Prior("n", "normal", 0.0, 1.0, mean=0.8, sd=0.1)],
                         np.random.default_rng(0), 5000)
    assert draws.min() >= 0 and draws.max() <= 1 and draws.mean() == pytest.approx(0.8, abs=0.02)


# --- the scenario writer --------------------------------------------------------------------------

def test_toml_writer_round_trips_scenario_data():
    import tomllib
    data = {
        "name": "x \"quoted\"", "weeks": 10, "ratio": 1e-5, "flag": True,
        "bundles": [{"name": "b", "elements": [{"name": "e", "roles": ["nurse"],
                                                "baseline_fidelity": {"value": 0.5,
                                                                      "source": "s"}}]}],
        "parameters": {"p_innovation": 0.01},
        "strategies": [{"name": "s", "launch": {"b": 3},
                        "interventions": [{"type": "training", "target": {"kinds": ["gp"]}}]}],
    }
    assert tomllib.loads(dumps(data)) == data


# --- the pipeline ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny calibration (fit p_innovation to synthetic data) through the command line."""
    d = tmp_path_factory.mktemp("tiny")
    cal = tiny_calibration(d)
    assert main(["calibrate", str(cal), "--out", str(d / "out"), "--quiet"]) == 0
    return d, cal


def test_recovers_a_known_parameter_on_a_tiny_model(tiny_run):
    d, _ = tiny_run
    summary = pd.read_csv(d / "out" / "posterior_summary.csv")
    row = summary.iloc[0]
    assert row["parameter"] == "parameters.p_innovation" and row["true"] == TRUE_P
    assert row["q05"] <= TRUE_P <= row["q95"] and bool(row["true_in_90"])
    assert row["q95"] / row["q05"] < 10  # the data narrowed the 300-fold prior range


def test_pipeline_writes_every_output(tiny_run):
    d, _ = tiny_run
    out = d / "out"
    for name in ("posterior.csv", "posterior_summary.csv", "generations.csv", "pairs.png",
                 "ppc.csv", "ppc.png", "calibrated.toml", "manifest.json", "calibration.json"):
        assert (out / name).stat().st_size > 0, name
    for png in ("pairs.png", "ppc.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    post = pd.read_csv(out / "posterior.csv")
    assert len(post) == 40 and post["weight"].sum() == pytest.approx(1.0)
    gens = pd.read_csv(out / "generations.csv")
    assert gens["generation"].tolist() == [0, 1, 2]
    assert not (out / "generations" / "gen-000").exists()  # batch stores deleted when done
    ppc = pd.read_csv(out / "ppc.csv")
    assert (ppc["q05"] <= ppc["q95"]).all() and ppc["covered"].sum() >= 5
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 5 and manifest["generations"] == 3


def test_calibrated_scenario_loads_and_runs(tiny_run):
    d, _ = tiny_run
    out = d / "out"
    scenario = load_scenario(out / "calibrated.toml")
    median = pd.read_csv(out / "posterior_summary.csv")["median"].iloc[0]
    assert scenario.parameters["p_innovation"] == pytest.approx(median, rel=1e-5)
    assert scenario.parameters["p_abandon"] == 0.0  # the tiny scenario's own values are kept
    result = run(scenario, seed=1)
    assert result.summary["adoption"].iloc[0] > 0.2
    assert main(["run", str(out / "calibrated.toml"), "--out", str(d / "run"), "--quiet",
                 "--replicates", "1"]) == 0


def test_pipeline_is_reproducible_and_continues(tiny_run, tmp_path):
    d, cal = tiny_run
    # the same calibration in two steps: 2 generations, then continued to 3
    two = tmp_path / "two"
    short = tiny_calibration(tmp_path, generations=2)
    first = run_calibration(load_calibration(short), two, quiet=True)
    assert len(first.result.generations) == 2 and first.resumed_generations == 0
    rep = run_calibration(load_calibration(cal), two, quiet=True)
    assert rep.resumed_generations == 2
    a = pd.read_csv(d / "out" / "posterior.csv")
    b = pd.read_csv(two / "posterior.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    # a different population is a different calibration: refused, directory untouched
    other = tiny_calibration(tmp_path, population=30)
    with pytest.raises(InputError, match="holds a different calibration"):
        run_calibration(load_calibration(other), two, quiet=True)


def test_interrupted_pipeline_restarts_from_the_last_generation(tiny_run, tmp_path,
                                                                 monkeypatch):
    d, cal = tiny_run
    import sim.calibrate.pipeline as pipeline

    # generations 0 and 1 finished (copied from the full run), then interrupted in generation 2
    out = tmp_path / "out"
    (out / "generations").mkdir(parents=True)
    shutil.copy(d / "out" / "calibration.json", out)
    for gen in ("gen-000", "gen-001"):
        for ext in (".parquet", ".json"):
            shutil.copy(d / "out" / "generations" / (gen + ext), out / "generations")
    real = pipeline.simulate_points
    calls: list[str] = []

    def interrupted(c, theta, directory, seed, scheduler):
        calls.append(directory.parent.name)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(c, theta, directory, seed, scheduler)

    monkeypatch.setattr(pipeline, "simulate_points", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_calibration(load_calibration(cal), out, quiet=True)
    assert calls == ["gen-002"]
    rep = run_calibration(load_calibration(cal), out, quiet=True)
    assert rep.resumed_generations == 2 and "gen-000" not in calls and "gen-001" not in calls
    assert calls[1] == "gen-002"
    pd.testing.assert_frame_equal(pd.read_csv(d / "out" / "posterior.csv"),
                                  pd.read_csv(out / "posterior.csv"), check_exact=True)


# --- slow: recovery on the real network, Dask ---------------------------------------------------

def synthetic_adoption_times(directory: Path, point: dict, seed: int) -> Path:
    """Adoption months of the 125 doctors simulated on the real network at ``point``."""
    scenario = apply_point(load_scenario(REPO / "experiments" / "medical_innovation.toml"),
                           point, "truth")
    model = ImplementationModel(scenario, seed=seed)
    first = np.full(model.pop.n_staff, np.inf)
    for week in range(1, scenario.weeks + 1):
        model.step()
        using = model.state.using()[:, 0]
        first[using & np.isinf(first)] = week
    months = np.ceil(first / WEEKS_PER_MONTH)
    doctors = pd.read_csv(MI_DATA / "doctors.csv", dtype=str)
    assert doctors["doctor"].tolist() == model.pop.staff_label
    doctors["adoption_month"] = [str(int(m)) if m <= 17 else "" for m in months]
    path = directory / "doctors.csv"
    doctors.to_csv(path, index=False)
    return path


MI_SYNTHETIC = """\
name = "mi_synthetic"
scenario = "{scenario}"
seed = {seed}

[fixed.parameters]
p_abandon = 0.0
turnover_annual = 0.0
{fixed}
[data.doctors]
format = "adoption_times"
nodes = "doctors.csv"
edges = "{edges}"
id_column = "doctor"
time_column = "adoption_month"
periods = 17

[[targets]]
data = "doctors"
output = "adoption"
distance = "rmse"
weeks_per_period = 4.348
{fits}
[abc]
population = {population}
generations = {generations}
min_acceptance = 0.05

[ppc]
draws = 50
"""


def fit_table(name: str, low: float, high: float, truth: float) -> str:
    return (f'\n[[fit]]\nname = "{name}"\nprior = "loguniform"\nlow = {low}\nhigh = {high}\n'
            f"true = {truth}\n")


@pytest.mark.slow
@pytest.mark.parametrize("fitted", [("p_innovation", "q_imitation"),
                                    ("p_innovation", "q_imitation", "p_awareness")])
def test_recovers_known_parameters_on_the_medical_innovation_network(tmp_path, fitted):
    truth = {"p_innovation": 0.02, "q_imitation": 0.15, "p_awareness": 0.3}
    bounds = {"p_innovation": (1e-4, 0.3), "q_imitation": (1e-3, 1.0),
              "p_awareness": (0.005, 1.0)}
    point = {"parameters.p_abandon": 0.0, "parameters.turnover_annual": 0.0,
             **{f"parameters.{k}": v for k, v in truth.items()}}
    synthetic_adoption_times(tmp_path, point, seed=777)
    fixed = "".join(f"{k} = {v}\n" for k, v in truth.items() if k not in fitted)
    cal = tmp_path / "cal.toml"
    cal.write_text(MI_SYNTHETIC.format(
        scenario=REPO / "experiments" / "medical_innovation.toml", seed=11, fixed=fixed,
        edges=MI_DATA / "nominations.csv", population=150, generations=5,
        fits="".join(fit_table(k, *bounds[k], truth[k]) for k in fitted)))
    report = run_calibration(load_calibration(cal), tmp_path / "out", quiet=True)
    summary = report.summary.set_index("parameter")
    for k in fitted:
        row = summary.loc[f"parameters.{k}"]
        assert row["q05"] <= truth[k] <= row["q95"], (k, row.to_dict())


@pytest.mark.slow
def test_same_posterior_serial_and_on_two_dask_workers(tmp_path):
    cal = tiny_calibration(tmp_path, population=30, generations=2)
    serial = run_calibration(load_calibration(cal), tmp_path / "serial", quiet=True)
    dask = run_calibration(load_calibration(cal), tmp_path / "dask", workers=2, quiet=True)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "serial" / "posterior.csv"),
                                  pd.read_csv(tmp_path / "dask" / "posterior.csv"),
                                  check_exact=True)
    assert serial.simulations == dask.simulations
    shutil.rmtree(tmp_path / "dask")

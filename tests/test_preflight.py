"""Resource preflight (sim.preflight) and the calibration preflight.

A scenario whose one run would not fit the memory limit, or whose work an interruption would
lose exceeds the work limit, is refused before anything is built, with the estimate and the
override in one line; the estimate follows the built world; calibration targets the scenario
never records are refused before the first simulation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim import preflight
from sim.calibrate import load_calibration
from sim.cli import main
from sim.errors import InputError
from sim.experiment import load_experiment
from sim.scenario import load_scenario
from sim.world import build_world


@pytest.fixture(autouse=True)
def default_limits(monkeypatch):
    """Each test starts from the declared defaults (no environment, nothing configured)."""
    monkeypatch.delenv(preflight.MEMORY_ENV, raising=False)
    monkeypatch.delenv(preflight.WORK_ENV, raising=False)
    preflight.configure()
    yield
    preflight._limits = None


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


HUGE = """\
[structure]
hospital_trusts = 100
wards_per_trust = 500
staff_per_ward = 500
"""


def test_a_structure_of_25_million_staff_is_refused_by_validate(tmp_path, capsys):
    """100 trusts × 500 wards × 500 staff: inside every declared range, ~50 GB for one run."""
    path = tmp_path / "huge.toml"
    path.write_text(HUGE)
    assert main(["validate", str(path)]) == 2
    line = one_line(capsys)
    assert "huge.toml: structure: one run (27,277,050 staff" in line
    assert "GB of memory, above the limit of 8 GB" in line
    assert "--max-memory-gb" in line and preflight.MEMORY_ENV in line
    gb = float(line.split("needs about ")[1].split(" GB")[0])
    assert 25 < gb < 100  # 25 M staff × 4 bundles and 200 M tie ends


def test_the_memory_limit_is_overridable_and_declared_once(tmp_path, capsys, monkeypatch):
    path = tmp_path / "small.toml"
    path.write_text("weeks = 10\n")
    monkeypatch.setenv(preflight.MEMORY_ENV, "0.1")
    preflight._limits = None  # the environment is read when nothing is configured
    with pytest.raises(InputError, match=r"above the limit of 0.1 GB"):
        load_scenario(path)
    assert main(["validate", str(path), "--max-memory-gb", "50"]) == 0  # the option wins
    capsys.readouterr()
    monkeypatch.setenv(preflight.MEMORY_ENV, "lots")
    assert main(["validate", str(path)]) == 2
    assert "IMPLSIM_MAX_MEMORY_GB: must be a number, got 'lots'" in one_line(capsys)


def test_overrides_are_checked_too(tmp_path):
    """An experiment's structure override is refused like a file (Scenario.with_overrides)."""
    base = load_scenario(None)
    with pytest.raises(InputError, match=r"structure overrides: one run .* above the limit"):
        base.with_overrides(structure={"hospital_trusts": 100, "wards_per_trust": 500,
                                       "staff_per_ward": 500})


def test_a_million_null_simulations_are_refused_before_any_run(tmp_path, capsys):
    path = tmp_path / "null.toml"
    path.write_text("weeks = 52\n[measurement]\nnull_simulations = 1000000\n")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    line = one_line(capsys)
    assert "measurement.null_simulations: measurement.null_simulations = 1,000,000" in line
    assert "(5,000,000 in-control charts of 25 points)" in line  # 4 bundles + GTT
    assert "core-minutes of work" in line and "--max-work-minutes" in line
    assert not out.exists()  # refused before anything was built or written
    # the shipped default of 1,000 is well inside the limit
    path.write_text("weeks = 52\n[measurement]\nnull_simulations = 1000\n")
    assert "runs" in preflight.check_run(load_scenario(path), 1)
    path.write_text("weeks = 52\n[measurement]\nnull_simulations = 1000000\n")
    preflight.configure(work_minutes=10_000)
    assert "runs" in preflight.check_run(load_scenario(path), 1)  # overridden: accepted


def test_a_long_implsim_run_is_refused_but_an_experiment_may_be_long(tmp_path, capsys):
    """implsim run keeps nothing until the end; an experiment keeps every finished chunk."""
    path = tmp_path / "national.toml"
    path.write_text('weeks = 260\n[structure]\nhospital_trusts = 20\n'
                    '[output]\nunit_level = false\nlevels = ["kind"]\nelements = false\n')
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--replicates", "50"]) == 2
    line = one_line(capsys)
    assert "national.toml: replicates: 50 runs (50 replicates × 1 strategy of" in line
    assert "implsim experiment keeps each finished run" in line
    exp = tmp_path / "exp.toml"
    exp.write_text('scenario = "national.toml"\nreplicates = 50\nchunk_size = 1\n')
    estimate = load_experiment(exp).estimate  # 50 runs, resumable run by run: accepted
    assert estimate.startswith("estimate: 50 runs, ~") and "core-minutes in all" in estimate
    exp.write_text('scenario = "national.toml"\nreplicates = 50\nchunk_size = 50\n')
    with pytest.raises(InputError, match=r"one task of 50 runs .*\(what an interrupted "
                       r"worker loses\)"):
        load_experiment(exp)


def test_the_estimate_follows_the_built_world():
    """Staff within 10% (the margin for unit-size spread is on the high side), tie ends and
    units as built; the estimate never falls below the world."""
    for path in (None, "experiments/keystone.toml", "experiments/national.toml",
                 "experiments/norway_structure_example.toml"):  # the last from municipality data
        sc = load_scenario(Path(__file__).resolve().parents[1] / path if path else None)
        world = build_world(sc, sc.seed)
        sz = preflight.scenario_size(sc)
        assert sz.units == world.pop.n_units
        assert world.pop.n_staff <= sz.staff <= 1.1 * world.pop.n_staff
        assert world.adjacency.nnz <= sz.ties <= 1.3 * world.adjacency.nnz
        assert sz.memory() > 3 * world.adjacency.data.nbytes + world.eligible.nbytes


def test_every_shipped_experiment_is_inside_the_default_limits():
    root = Path(__file__).resolve().parents[1]
    for name in ("compare_support", "antibiotics_first_transfer"):
        assert load_experiment(root / "experiments" / f"{name}.toml").estimate
    for name in ("measurement", "national", "keystone", "antibiotics_first"):
        sc = load_scenario(root / "experiments" / f"{name}.toml")
        assert preflight.check_run(sc, sc.replicates)


# --- calibration preflight -------------------------------------------------------------------
UNIT_SCENARIO = """\
name = "units"
weeks = 20
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

[output]
unit_level = false

[[strategies]]
name = "none"
"""


def unit_calibration(tmp_path: Path) -> Path:
    (tmp_path / "units.toml").write_text(UNIT_SCENARIO)
    unit = "Trust 1 municipality 1 nursing home 1 unit 1"
    (tmp_path / "uptake.csv").write_text("period,group,bundle,numerator,denominator\n"
                                         f"10,{unit},antibiotic_stewardship,5,30\n"
                                         f"20,{unit},antibiotic_stewardship,9,30\n")
    cal = tmp_path / "cal.toml"
    cal.write_text("""\
name = "units"
scenario = "units.toml"
[data.uptake]
format = "aggregate"
file = "uptake.csv"
[[targets]]
data = "uptake"
output = "adoption"
[[fit]]
name = "p_innovation"
[abc]
population = 20
max_simulations = 2000
""")
    return cal


def test_a_unit_target_the_scenario_does_not_record_is_refused_before_any_simulation(
        tmp_path, capsys):
    """Formerly 1,490 simulations and then "raise max_simulations", which cannot help."""
    cal = unit_calibration(tmp_path)
    with pytest.raises(InputError) as info:
        load_calibration(cal)
    msg = str(info.value)
    assert msg.startswith(f"{cal}: targets[0].level: target 'uptake' compares at level 'unit'")
    assert "[output] unit_level = false" in msg and "set unit_level = true" in msg
    out = tmp_path / "out"
    assert main(["calibrate", str(cal), "--out", str(out)]) == 2
    assert "targets[0].level" in one_line(capsys)
    assert not (out / "generations").exists()


def test_with_unit_rows_recorded_the_same_calibration_loads(tmp_path):
    cal = unit_calibration(tmp_path)
    (tmp_path / "units.toml").write_text(UNIT_SCENARIO.replace("unit_level = false",
                                                               "unit_level = true"))
    loaded = load_calibration(cal)
    assert loaded.timeseries_level == "unit"
    assert np.array_equal(loaded.targets[0].weeks, [10, 20])


def test_the_first_batch_backstop_names_the_target_nobody_records(tmp_path):
    """Should a target pass the preflight and still find no rows, ABC stops at the first
    batch instead of spending its whole budget (sim.calibrate.pipeline)."""
    import pandas as pd

    from sim.calibrate.pipeline import _check_first_batch

    cal_path = unit_calibration(tmp_path)
    (tmp_path / "units.toml").write_text(UNIT_SCENARIO.replace("unit_level = false",
                                                               "unit_level = true"))
    cal = load_calibration(cal_path)
    system_only = pd.DataFrame({"point": [0, 1], "week": [10, 10], "level": ["system"] * 2,
                                "entity": ["all"] * 2, "bundle": ["antibiotic_stewardship"] * 2,
                                "adoption": [0.1, 0.2]})
    d = cal.distances(system_only, 2)
    assert np.isinf(d).all()
    with pytest.raises(InputError, match=r"cal.toml: targets\[0\]: none of the first 2 "
                       r"simulations records adoption at unit 'Trust 1 municipality 1 "
                       r"nursing home 1 unit 1', bundle 'antibiotic_stewardship', week 10 "
                       r"\(target 'uptake'\)"):
        _check_first_batch(cal, system_only, 2, d)
    _check_first_batch(cal, system_only, 2, np.array([np.inf, 1.0]))  # one finite: go on


@pytest.mark.parametrize("change, field, words", [
    (('arm = "training"', 'arm = "coaching"'), "design.arm", "no strategy 'coaching'"),
    (('comparator = "usual care"', 'comparator = "nothing"'), "design.comparator",
     "no strategy 'nothing'"),
    (('element = "e"', 'element = "x"'), "element", "no element 'x' of bundle 'p'"),
    (('bundle = "p"', 'bundle = "q"'), "bundle", "no bundle 'q'"),
])
def test_an_evidence_design_naming_what_its_scenario_lacks_is_refused_on_load(
        tmp_path, change, field, words):
    """The joint calibration resolves every design before its first particle."""
    from sim.calibrate.joint import load_joint
    from tests.test_joint import TARGET, _files

    path = _files(tmp_path)
    (tmp_path / "evidence" / "t.toml").write_text(TARGET.replace(*change))
    with pytest.raises(InputError) as info:
        load_joint(path)
    assert info.value.where.endswith(f"t.toml: {field}") and words in info.value.message


def test_a_grid_of_ten_to_the_twentieth_points_is_refused_before_it_is_made(tmp_path):
    values = ", ".join(str(0.001 * (i + 1)) for i in range(100))
    factors = "\n".join(f'"parameters.{p}" = [{values}]' for p in (
        "p_abandon", "p_awareness", "p_word_of_mouth", "p_routinise", "learning_by_doing",
        "knowledge_decay", "fidelity_gain", "fidelity_decay", "turnover_annual",
        "capacity_gain"))
    exp = tmp_path / "grid.toml"
    exp.write_text(f'replicates = 1\n[design]\ntype = "grid"\n[design.factors]\n{factors}\n')
    with pytest.raises(InputError, match=r"grid.toml: design.factors: the batch's list of "
                       r"100,000,000,000,000,000,000 design points needs about"):
        load_experiment(exp)


def test_a_sensitivity_analysis_too_large_to_list_is_refused(tmp_path, capsys):
    root = Path(__file__).resolve().parents[1]
    text = (root / "experiments" / "sa_catchment.toml").read_text()
    path = tmp_path / "sa.toml"
    path.write_text(text.replace("samples = 50 ", "samples = 9000000 "))
    assert main(["sensitivity", str(path), "--out", str(tmp_path / "out")]) == 2
    line = one_line(capsys)
    assert "sa.toml: samples: the batch's list of 270,000,000 runs needs about" in line
    assert not (tmp_path / "out").exists()


def test_every_recordable_level_is_sized():
    """The estimate counts rows at each level a run can record (regions included)."""
    from sim.params import ALL_LEVELS

    sc = load_scenario(None)
    every = preflight.scenario_size(sc, levels=ALL_LEVELS)
    system = preflight.scenario_size(sc, levels=("system",))
    assert every.entities > system.entities == 1

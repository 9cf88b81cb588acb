"""Mesa interop: running at the horizon, registered agents, a DataCollector, mesa.batch_run; and
the week as data (the phase list, its timer, read-only parameters)."""

from __future__ import annotations

import inspect
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pytest

from sim.agents import Organisation, Staff, Unit
from sim.model import PHASES, ImplementationModel
from sim.scenario import Scenario, scenario_from_dict

STRUCTURE = {"hospital_trusts": 1, "wards_per_trust": 2, "mental_health_units_per_trust": 1,
             "municipalities_per_trust": 1, "nursing_homes_per_municipality": 1,
             "home_care_teams_per_municipality": 1, "gp_practices_per_municipality": 1}


def small(tmp_path: Path, weeks: int = 6) -> Scenario:
    data = {"weeks": weeks, "structure": STRUCTURE, "parameters": {"p_innovation": 0.1},
            "strategies": [{"name": "none"},
                           {"name": "training", "interventions": [{"type": "training"}]}]}
    return scenario_from_dict(data, str(tmp_path / "test.toml"), tmp_path)


def test_running_turns_false_at_the_horizon_and_run_uses_it(tmp_path):
    sc = small(tmp_path, weeks=4)
    model = ImplementationModel(sc, seed=1)
    seen = []
    while model.running:
        model.step()
        seen.append(model.week)
    assert seen == [1, 2, 3, 4] and model.steps == 4
    again = ImplementationModel(sc, seed=1)
    again.step()
    again.run()
    assert again.week == 4 and not again.running
    np.testing.assert_array_equal(again.state.stage, model.state.stage)


def test_agents_register_with_the_model_when_made(tmp_path):
    model = ImplementationModel(small(tmp_path), seed=1)
    assert len(model.agents) == 0  # a national run makes none
    units = model.units
    assert set(model.agents_by_type) == {Unit}
    model.organisations, model.staff  # noqa: B018  (made on first access)
    assert set(model.agents_by_type) == {Organisation, Unit, Staff}
    assert len(model.agents) == len(units) + len(model.organisations) + len(model.staff)
    assert len(model.agents_by_type[Staff]) == model.pop.n_staff


def test_an_attached_datacollector_is_collected_every_week(tmp_path):
    model = ImplementationModel(small(tmp_path, weeks=5), "training", seed=1)
    model.datacollector = mesa.DataCollector(
        model_reporters={"aware": lambda m: int((m.state.stage > 0).sum())},
        agent_reporters={"compliance": lambda a: a.compliance(a.model.scenario.bundle_names[0])
                         if isinstance(a, Unit) else None})
    model.units  # noqa: B018
    model.run()
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 5 and df["aware"].is_monotonic_increasing and df["aware"].iloc[-1] > 0
    agents = model.datacollector.get_agent_vars_dataframe()
    assert len(agents) == 5 * model.pop.n_units


def test_the_default_datacollector_has_the_week_and_cost(tmp_path):
    model = ImplementationModel(small(tmp_path, weeks=3), "training", seed=1).run()
    df = model.datacollector.get_model_vars_dataframe()
    assert df["week"].tolist() == [0, 1, 2, 3]
    assert df["cost"].iloc[-1] == pytest.approx(float(model.cost.sum()))
    assert df["cost"].iloc[-1] > 0


def test_mesa_batch_run_runs_a_small_scenario(tmp_path):
    sc = small(tmp_path, weeks=3)
    rows = mesa.batch_run(ImplementationModel, {"scenario": sc,
                                                "strategy": ["none", "training"]},
                          rng=[1, 2], max_steps=10, data_collection_period=-1,
                          display_progress=False, number_processes=1)
    df = pd.DataFrame(rows)
    assert len(df) == 4
    assert set(df["strategy"]) == {"none", "training"} and set(df["seed"]) == {1, 2}
    assert (df["week"] == 3).all()
    assert (df.loc[df["strategy"] == "training", "cost"] > 0).all()
    assert (df.loc[df["strategy"] == "none", "cost"] == 0).all()


def test_parameters_are_read_only(tmp_path):
    model = ImplementationModel(small(tmp_path), seed=1)
    with pytest.raises(TypeError):
        model.par["p_abandon"] = 0.0  # type: ignore[index]


def test_step_is_the_phase_loop_and_the_timer_sees_every_phase(tmp_path):
    model = ImplementationModel(small(tmp_path), "training", seed=1)
    assert [p.name for p in model.loop.phases] == [p.name for p in PHASES]
    timer = model.loop.time_phases()
    model.step()
    model.step()
    assert list(timer) == [p.name for p in PHASES]
    assert all(t > 0 for t in timer.values())


def test_each_phase_lives_in_its_mechanism_interventions_or_outcome_module():
    homes = {inspect.getmodule(p.run).__name__ for p in PHASES}
    assert all(h.startswith(("sim.mechanisms.", "sim.interventions", "sim.outcomes."))
               for h in homes), homes
    assert "sim.model" not in homes


def test_timing_the_phases_changes_nothing(tmp_path):
    sc = small(tmp_path)
    plain = ImplementationModel(sc, "training", seed=3).run()
    timed = ImplementationModel(sc, "training", seed=3)
    timed.loop.time_phases()
    timed.run()
    np.testing.assert_array_equal(plain.state.stage, timed.state.stage)
    np.testing.assert_array_equal(plain.state.fidelity, timed.state.fidelity)


def test_profile_step_prints_the_time_of_every_phase():
    import subprocess
    import sys

    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "profile_step.py"
    out = subprocess.run([sys.executable, str(bench), "--warmup", "2", "--weeks", "3"],
                         check=True, capture_output=True, text=True).stdout
    for p in PHASES:
        assert any(line.strip().split(maxsplit=1)[-1:] == [p.name] for line in out.splitlines()), \
            p.name


def test_a_run_leaves_its_scenario_free_of_the_model():
    """Mesa's scenario setter would give the scenario a reference to the model: not on ours."""
    import gc
    import weakref

    from sim.model import ImplementationModel
    from sim.scenario import load_scenario

    sc = load_scenario(None)
    sc.weeks = 2
    model = ImplementationModel(sc)
    model.run()
    assert model.scenario is sc and not hasattr(sc, "model")
    assert sc.with_overrides(parameters={"p_awareness": 0.1}).parameters["p_awareness"] == 0.1
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None  # nothing the caller keeps (the scenario) holds the model's arrays

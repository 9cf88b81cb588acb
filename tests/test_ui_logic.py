"""What the web apps compute, without a browser: field parsing, the explorer session, the network
sample, the dashboard's tables, the figures, and the offline asset check.

The browser tests (tests/test_ui.py, ``-m ui``) check that the pages show these; this file keeps
the logic under the default test job.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from tiny import TINY_STRUCTURE

from sim.cli import main
from sim.errors import InputError
from sim.outcomes.audit import AuditSpec
from sim.params import MODEL, STRUCTURE
from sim.scenario import load_scenario
from sim.ui import figures
from sim.ui.inputs import SMALL_STRUCTURE, label, parse, slider_range
from sim.ui.network_sample import sample_network
from sim.ui.results import (
    LEVEL,
    arm_table,
    arm_totals,
    incremental,
    open_results,
    read_indices,
    uptake_bands,
)
from sim.ui.session import DEFAULT_LABEL, ExplorerSession, find_scenarios

REPO = Path(__file__).resolve().parents[1]
PNG = figures.PNG_SIGNATURE

TINY = """
name = "tiny"
replicates = 3
seed = 5
weeks = 16
chunk_size = 3
""" + TINY_STRUCTURE + """
[[arms]]
name = "none"

[[arms]]
name = "facilitation"
  [[arms.interventions]]
  type = "facilitation"
  start_week = 1
  end_week = 12
  intensity = 0.8
"""


# --- fields ---------------------------------------------------------------------------------------
def test_parse_converts_and_validates_through_the_declaration():
    q = MODEL["q_imitation"]
    assert parse(q, " 0.25 ") == 0.25
    assert parse(STRUCTURE["wards_per_trust"], "7") == 7
    assert parse(STRUCTURE["wards_per_trust"], "7.0") == 7
    assert parse(MODEL["contagion"], "complex") == "complex"
    cases = [(q, "1.5"), (q, "abc"), (q, ""), (q, "nan"), (q, "inf"),
             (STRUCTURE["wards_per_trust"], "2.5"), (STRUCTURE["wards_per_trust"], "-1"),
             (MODEL["contagion"], "viral")]
    for param, text in cases:
        with pytest.raises(InputError) as err:
            parse(param, text)
        assert str(err.value).startswith(f"{param.name}: must be"), str(err.value)
        assert str(err.value).endswith(f"got {text.strip()!r}"), str(err.value)


def test_labels_and_sliders_come_from_the_declarations():
    assert label(MODEL["q_imitation"]) == "q_imitation (1/week)"
    for p in MODEL.params:
        if p.kind in ("float", "int"):
            low, high, step = slider_range(p)
            assert low == p.low and high == p.high and 0 < step <= high - low


# --- the explorer session -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scenario():
    return load_scenario(None)


def test_session_starts_small_and_steps(scenario):
    s = ExplorerSession(scenario)
    for key, value in SMALL_STRUCTURE.items():
        assert s.structure[key] == min(value, scenario.structure[key]) or key == "hospital_trusts"
    assert s.model.pop.n_units < 60
    r0 = s.readout()
    assert r0.week == 0 and r0.weeks == scenario.weeks and len(r0.compliance) == 4
    version = s.version
    assert s.step(5) == 5 and s.week == 5 and s.version != version
    weeks, series = s.series()
    assert list(weeks) == [0, 1, 2, 3, 4, 5]
    assert series["compliance"].shape == (6, 4)
    assert np.allclose(series["compliance"][-1], s.readout().compliance, equal_nan=True)


def test_session_rejects_bad_values_and_keeps_its_model(scenario):
    s = ExplorerSession(scenario)
    s.step(3)
    with pytest.raises(InputError, match="q_imitation"):
        s.set_parameter("q_imitation", 1.5)
    with pytest.raises(InputError, match="wards_per_trust"):
        s.set_structure("wards_per_trust", -1)
    with pytest.raises(InputError, match="weeks"):
        s.set_weeks(0)
    with pytest.raises(InputError, match="strategy"):
        s.set_strategy("nope")
    assert s.week == 3 and s.parameters["q_imitation"] == scenario.parameters["q_imitation"]
    empty = ExplorerSession(scenario)
    empty.set_structure("municipalities_per_trust", 0)
    empty.set_structure("mental_health_units_per_trust", 0)
    with pytest.raises(InputError, match="has no units"):
        empty.set_structure("wards_per_trust", 0)
    assert empty.model.pop.n_units == 6


def test_session_changes_rebuild_at_week_zero_and_stop_at_the_horizon(scenario):
    s = ExplorerSession(scenario)
    s.step(4)
    s.set_parameter("p_awareness", 0.5)
    assert s.week == 0 and s.model.par["p_awareness"] == 0.5
    s.set_strategy(scenario.strategies[1].name)
    assert s.model.strategy.name == scenario.strategies[1].name
    s.set_weeks(6)
    assert s.step(100) == 6 and s.finished and s.step(1) == 0
    s.set_small(False)
    assert s.model.pop.n_staff > 3000


def test_session_spc_and_network(scenario):
    s = ExplorerSession(scenario)
    unit, bundle = s.default_spc_units()[0], scenario.bundle_names[0]
    assert "ward" in unit
    k = AuditSpec.of(scenario.measurement).baseline_periods
    first = s.spc_chart(unit, bundle)  # before the programme: the baseline audits only
    assert first is not None and len(first) == k and (first.periods <= 0).all()
    s.step(12)
    chart = s.spc_chart(unit, bundle)
    assert chart is not None and len(chart) == k + 3  # and the periods ending in weeks 4, 8, 12
    assert list(chart.periods[k:]) == [4, 8, 12]
    with pytest.raises(InputError, match="no unit"):
        s.spc_chart("nowhere", bundle)
    sample, edges, stages = s.network(200)
    assert len(sample.nodes) <= 200 and sample.sampled
    assert edges.max() < len(sample.nodes) and (edges[:, 0] < edges[:, 1]).all()
    assert stages.shape == (len(sample.nodes), 4)
    for png in (figures.network_png(sample, edges, stages, scenario.bundle_names, 0, s.week),
                figures.network_png(sample, edges, stages, scenario.bundle_names, None, s.week),
                figures.spc_png(chart, "t")):
        assert png.startswith(PNG)
    weeks, series = s.series()
    assert figures.compliance_png(weeks, series, scenario.bundle_names, 156, "t").startswith(PNG)


def test_find_scenarios_lists_scenario_files_only():
    found = find_scenarios(None, REPO / "experiments")
    assert found[DEFAULT_LABEL] is None
    names = {Path(p).name for p in found.values() if p}
    assert "antibiotics_first.toml" in names
    assert "compare_support.toml" not in names  # an experiment file, not a scenario


# --- the network sample ---------------------------------------------------------------------------
def test_sample_grows_by_whole_units_within_budget():
    rng = np.random.default_rng(1)
    units = np.repeat(np.arange(10), 30)  # 10 units of 30
    n = len(units)
    rows, cols = [], []
    for u in range(10):  # a ring inside each unit, one tie to the next unit
        idx = np.flatnonzero(units == u)
        rows += list(idx)
        cols += list(np.roll(idx, 1))
        rows.append(idx[0])
        cols.append(int(np.flatnonzero(units == (u + 1) % 10)[0]))
    adj = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    whole = sample_network(adj, units, 1000, rng)
    assert len(whole.nodes) == n and not whole.sampled
    part = sample_network(adj, units, 95, rng)
    assert 90 <= len(part.nodes) <= 95 and part.sampled
    counts = np.bincount(units[part.nodes], minlength=10)
    assert (counts == 30).sum() == 3  # three whole units, then part of a fourth
    assert part.positions.shape == (len(part.nodes), 2)
    assert len(part.edges(adj)) >= 3 * 30


# --- the dashboard's numbers ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from sim.experiment import load_experiment, run_experiment

    root = tmp_path_factory.mktemp("dash")
    (root / "tiny.toml").write_text(TINY)
    run_experiment(load_experiment(root / "tiny.toml"), root / "store", serial=True, quiet=True)
    return root / "store"


def test_open_results_errors(tmp_path):
    with pytest.raises(InputError, match="no such directory"):
        open_results(tmp_path / "nope")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        open_results(tmp_path / "f.txt")
    with pytest.raises(InputError, match=r"experiment\.json"):
        open_results(tmp_path)
    (tmp_path / "indices.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a sensitivity indices table"):
        open_results(tmp_path)


def test_dashboard_tables_from_a_store(store):
    res = open_results(store)
    assert res.arms == ["none", "facilitation"] and res.runs_done == res.runs_total == 6
    assert res.indices is None and res.baseline == "none" and res.paired
    wide = arm_table(res, 0, 0.95)
    narrow = arm_table(res, 0, 0.5)
    assert len(wide) == 2 * len(res.bundles)
    width = (wide["compliance_hi"] - wide["compliance_lo"]).to_numpy()
    assert (narrow["compliance_hi"] - narrow["compliance_lo"] <= width + 1e-12).all()
    totals = arm_totals(res, 0, 0.95)
    assert list(totals["arm"]) == res.arms
    assert totals.loc[totals["arm"] == "facilitation", "cost_mean"].item() > 0
    inc = incremental(res, 0, 0.95)
    assert set(inc["arm"]) == set(res.arms) and (inc["replicates"] == 3).all()
    assert (inc.loc[inc["arm"] == "none", "cost_per_harm_averted_undefined"] == "comparator").all()
    bands = uptake_bands(res, 0, 0.95)
    assert set(bands["arm"]) == set(res.arms) and bands["week"].max() == 16
    assert (bands["lo"] <= bands["mean"] + 1e-12).all()
    assert figures.uptake_png(bands, res.arms, res.bundles, 0.95, "t").startswith(PNG)
    assert figures.effect_cost_png(inc, res.arms, 0.95, "t").startswith(PNG)
    from sim.ui.dashboard import incremental_rows  # solara: imported where it is needed

    header, rows = incremental_rows(inc, res.bundles[0])
    assert header[-1] == "cost per harm averted (1000 NOK per event)" and header[2] == "pairs"
    assert [r[:2] for r in rows] == [[a, b] for b in (res.bundles[0].replace("_", " "),
                                                       "all bundles") for a in res.arms]
    assert all(r[-1] == "comparator" for r in rows if r[0] == "none")
    assert all(len(r) == len(header) for r in rows)
    from sim.ui.dashboard import arms_rows, rate_unit

    unit = rate_unit(res.summary, res.bundles[0])
    assert unit == "events per 1,000 patient-days"  # no exposure declared: patient-days
    header, rows = arms_rows(wide, res.bundles[0], unit)
    assert header[-1] == "harm rate (events per 1,000 patient-days)"
    assert [r[0] for r in rows] == res.arms and all(len(r) == len(header) for r in rows)
    assert arms_rows(wide, res.bundles[0])[0][-1] == "harm rate (per 1,000 exposure units)"
    with pytest.raises(InputError, match="interval_level"):
        parse(LEVEL, "1.2")


def test_indices_are_read_and_drawn(tmp_path):
    (tmp_path / "indices.csv").write_text(
        "method,output,factor,factor_2,index,value,conf,conf_low,conf_high,rank\n"
        "sobol,compliance,a,,ST,0.6,0.05,0.55,0.65,1\n"
        "sobol,compliance,b,,ST,0.2,0.05,0.15,0.25,2\n"
        "sobol,compliance,a,b,S2,0.01,0.01,0.0,0.02,\n")
    res = open_results(tmp_path)
    assert not res.has_arms and len(res.indices) == 3
    assert read_indices(tmp_path / "indices.csv")["factor_2"].tolist() == ["", "", "b"]
    assert figures.indices_png(res.indices, "compliance", "ST", "t").startswith(PNG)


# --- offline serving and the command line ---------------------------------------------------------
def test_page_assets_are_installed_locally():
    pytest.importorskip("solara")
    from sim.ui import serve

    cache, missing = serve.missing_assets()
    assert missing == [], f"missing in {cache}"
    wanted = serve.required_assets()
    assert any("solara-vuetify" in a for a in wanted) and any("requirejs" in a for a in wanted)
    env = serve.environment({serve.SCENARIO_ENV: "x"})
    assert env["SOLARA_ASSETS_CDN"].startswith("http://127.0.0.1:")
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False" and env[serve.SCENARIO_ENV] == "x"
    assert env["SOLARA_MODE"] == "production"
    assert serve.command("sim.ui.explorer", "127.0.0.1", 1)[1:] == [
        "-m", "sim.ui.serve", "sim.ui.explorer", "127.0.0.1", "1"]
    assert serve.address("127.0.0.1", 1, "abc") == "http://127.0.0.1:1/?token=abc"


def test_commands_refuse_bad_input_before_serving(tmp_path, capsys):
    assert main(["explore", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
    assert main(["explore", str(tmp_path / "missing.toml")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["dashboard", str(tmp_path)]) == 2
    assert "experiment.json" in capsys.readouterr().err


def test_dashboard_reads_a_real_sensitivity_analysis(tmp_path):
    """indices.csv as the sensitivity pipeline writes it (Ishigami test function, Sobol')."""
    sens = pytest.importorskip("sim.sensitivity")
    spec = sens.spec_from_dict({"test_function": "ishigami", "method": "sobol", "samples": 256,
                                "replicates": 1, "seed": 3,
                                "factors": {"x1": {}, "x2": {}, "x3": {}}},
                               "test.toml", Path("."))
    sens.run_sensitivity(spec, tmp_path)
    res = open_results(tmp_path)
    assert res.indices is not None and {"S1", "ST"} <= set(res.indices["index"])
    output = str(res.indices["output"].iloc[0])
    assert figures.indices_png(res.indices, output, "ST", "t").startswith(PNG)


def test_dashboard_design_points(tmp_path):
    from sim.experiment import load_experiment, run_experiment

    text = TINY.replace("replicates = 3", "replicates = 2").replace("weeks = 16", "weeks = 6")
    text += '\n[design]\ntype = "grid"\n[design.factors]\n"parameters.p_awareness" = [0.01, 0.5]\n'
    (tmp_path / "grid.toml").write_text(text)
    run_experiment(load_experiment(tmp_path / "grid.toml"), tmp_path / "s", serial=True,
                   quiet=True)
    res = open_results(tmp_path / "s")
    labels = res.point_labels()
    assert list(labels.values()) == [0, 1] and "p_awareness=0.5" in list(labels)[1]
    low, high = (arm_table(res, p, 0.95) for p in (0, 1))
    assert len(low) == len(high) == 2 * len(res.bundles)
    assert high["adoption_mean"].mean() > low["adoption_mean"].mean()

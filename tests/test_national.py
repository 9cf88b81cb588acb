"""Real Norway in the outputs (issue 18): trusts and health authorities by name, the region level.

A structure built from data names its trusts and their regional health authorities in every
table; the region level aggregates exactly to the system like the others (re-aggregated with
the helpers of tests/test_levels.py); a generated catchment keeps "Trust t" and deals its trusts
out to "Region r" in turn.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from small_worlds import Small
from test_levels import check_aggregates, level_arrays

from sim.params import ALL_LEVELS
from sim.scenario import scenario_from_dict
from sim.simulate import run
from sim.world import build_world

HEADER = "municipality_id,name,county_id,county,regional_health_authority,population\n"
# Two counties of two authorities: one trust each by the county rule.
MUNICIPALITIES = HEADER + "\n".join([
    "5601,Alta,56,Finnmark,Helse Nord,21500",
    "5634,Vardø,56,Finnmark,Helse Nord,1900",
    "1507,Ålesund,15,Møre og Romsdal,Helse Midt-Norge,67000",
    "1515,Herøy,15,Møre og Romsdal,Helse Midt-Norge,9000",
]) + "\n"


def small_run(structure: dict, base: Path, levels=ALL_LEVELS[:-1]) -> Small:
    data = {"name": "named", "weeks": 3, "seed": 5, "structure": structure,
            "bundles": ["antibiotic_stewardship", "medication_list_accuracy"],
            "output": {"levels": list(levels)},
            "strategies": [{"name": "support", "interventions": [
                {"type": "training", "start_week": 1, "end_week": 3, "coverage": 0.9}]}]}
    sc = scenario_from_dict(data, "named.toml", base)
    world = build_world(sc, sc.seed)
    result = run(sc, sc.seed)
    return Small(sc, world.pop, world.eligible_per_unit.astype(np.float64), world.element_bundle,
                 result.timeseries, result.elements, result.summary)


def entities(small: Small, level: str) -> list[str]:
    ts = small.timeseries
    rows = ts[(ts["level"] == level) & (ts["week"] == 0) & (ts["bundle"] == ts["bundle"].iloc[0])]
    return list(rows["entity"].astype(str))


def test_a_data_built_structure_names_its_trusts_and_authorities(tmp_path):
    (tmp_path / "m.csv").write_text(MUNICIPALITIES, encoding="utf-8")
    small = small_run({"municipalities": "m.csv"}, tmp_path)
    pop = small.pop
    assert entities(small, "trust") == pop.trust_name
    assert not any(n.startswith("Trust ") for n in pop.trust_name)
    assert entities(small, "region") == ["Helse Midt-Norge", "Helse Nord"]
    assert "Finnmark specialist services" in entities(small, "municipality")
    assert "Finnmark hospital" in entities(small, "organisation")
    for level in ("trust", "region"):  # by name, aggregating exactly to the system
        names, rows = level_arrays(small, level)
        check_aggregates(small, rows, names, level, "unit")
    names, rows = level_arrays(small, "region")
    check_aggregates(small, rows, names, "region", "trust")
    _, system = level_arrays(small, "system")
    check_aggregates(small, system, ["all"], "system", "region")


def test_a_generated_catchment_keeps_its_names_and_deals_trusts_to_regions():
    structure = {"hospital_trusts": 3, "regions": 2, "wards_per_trust": 1,
                 "mental_health_units_per_trust": 0, "municipalities_per_trust": 1,
                 "nursing_homes_per_municipality": 1, "home_care_teams_per_municipality": 0,
                 "gp_practices_per_municipality": 1}
    small = small_run(structure, Path.cwd())
    assert entities(small, "trust") == ["Trust 1", "Trust 2", "Trust 3"]
    assert small.pop.trust_region == ["Region 1", "Region 2", "Region 1"]
    assert entities(small, "region") == ["Region 1", "Region 2"]


def test_region_is_opt_in_and_leaves_the_level_categories_as_they_were():
    structure = {"hospital_trusts": 2, "wards_per_trust": 1, "municipalities_per_trust": 1,
                 "nursing_homes_per_municipality": 1, "gp_practices_per_municipality": 1}
    default = small_run(structure, Path.cwd(), levels=["trust"])
    assert "region" not in list(default.timeseries["level"].cat.categories)
    with_region = small_run(structure, Path.cwd(), levels=["trust", "region"])
    assert list(with_region.timeseries["level"].cat.categories) == list(ALL_LEVELS)
    assert set(with_region.timeseries["level"].astype(str)) == {"trust", "region", "system"}


def test_results_per_municipality_carry_inhabitants_size_class_and_authority(tmp_path):
    from sim.outcomes.municipalities import municipality_results, size_class
    from sim.outputs import write_run

    (tmp_path / "m.csv").write_text(MUNICIPALITIES, encoding="utf-8")
    small = small_run({"municipalities": "m.csv"}, tmp_path)
    table = municipality_results(small.timeseries, small.scenario.structure)
    assert len(table) == 4 * 2  # every municipality once per strategy and bundle
    alta = table[(table["municipality"] == "Alta")].iloc[0]
    assert alta["inhabitants"] == 21500 and alta["size_class"] == "20–100k"
    assert alta["regional_health_authority"] == "Helse Nord" and alta["trust"] == "Finnmark"
    ts = small.timeseries
    want = ts[(ts["level"] == "municipality") & (ts["week"] == 3) & (ts["entity"] == "Alta")
              & (ts["bundle"] == alta["bundle"])]["compliance"].mean()
    assert alta["compliance"] == want
    assert list(size_class(np.array([215, 1999, 2000, 5000, 20000, 99999, 100000]))) == [
        "< 2k", "< 2k", "2–5k", "5–20k", "20–100k", "20–100k", "> 100k"]
    result = run(small.scenario, 5)
    files = write_run(result, small.scenario, tmp_path / "out", seed=5, replicates=1)
    assert {"municipalities.csv", "municipalities.png"} <= set(files)
    # a generated catchment has no inhabitants: neither file
    generated = small_run({"hospital_trusts": 1, "municipalities_per_trust": 2}, Path.cwd())
    assert municipality_results(generated.timeseries, generated.scenario.structure).empty


def test_the_national_scenario_is_real_norway():
    from sim.scenario import load_scenario

    sc = load_scenario(Path(__file__).resolve().parents[1] / "experiments" / "national.toml")
    pop = build_world(sc, sc.seed).pop
    assert len(pop.municipality_name) == 357 and len(pop.trust_name) == 20
    assert sorted(set(pop.trust_region)) == ["Helse Midt-Norge", "Helse Nord", "Helse Sør-Øst",
                                             "Helse Vest"]
    assert 140_000 < pop.n_staff < 170_000
    assert {"municipality", "trust", "region"} <= set(sc.output["levels"])


EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def test_the_implement_it_setting_is_two_trusts_of_real_municipalities():
    import csv

    from sim.scenario import load_scenario
    from sim.structure_data import SHIPPED_DIR

    sc = load_scenario(EXPERIMENTS / "implement_it.toml")
    pop = build_world(sc, sc.seed).pop
    assert pop.trust_name == ["Helse Bergen", "Helse Fonna"]
    assert pop.trust_region == ["Helse Vest", "Helse Vest"]
    assert len(pop.municipality_name) == 34
    assert {"Bergen", "Voss", "Haugesund", "Stord", "Ullensvang"} <= set(pop.municipality_name)
    listed = list(csv.DictReader((EXPERIMENTS / "data" / "municipalities_implement_it_2025.csv")
                                 .open(encoding="utf-8")))
    norway = {r["municipality_id"]: r for r in csv.DictReader(
        (SHIPPED_DIR / "norway_2025.csv").open(encoding="utf-8"))}
    for row in listed:  # a subset of the national file, unchanged but for the trust column
        assert {k: v for k, v in row.items() if k != "trust"} == norway[row["municipality_id"]]
    assert [sum(r["trust"] == t for r in listed) for t in pop.trust_name] == [18, 16]
    strategies = [s.name for s in sc.strategies]
    assert strategies == ["no extra support", "Implement-it support package"]
    assert sc.bundle_names == ["antibiotic_stewardship", "medication_list_accuracy",
                               "deteriorating_patient", "mental_health_patient_involvement"]


@pytest.mark.slow
def test_the_implement_it_setting_runs_and_writes_its_figure_and_iccs(tmp_path):
    from sim.outputs import write_run
    from sim.scenario import load_scenario
    from sim.simulate import run_replicates

    sc = dataclasses.replace(load_scenario(EXPERIMENTS / "implement_it.toml"), weeks=20)
    result = run_replicates(sc, sc.seed, 2)
    files = write_run(result, sc, tmp_path, seed=sc.seed, replicates=2)
    assert {"icc.csv", "municipalities.csv", "municipalities.png"} <= set(files)
    icc = pd.read_csv(tmp_path / "icc.csv")
    rows = icc[(icc["level"] == "municipality") & (icc["kind"] == "all")]
    assert (rows["n_clusters"] == 34).all()
    assert rows.groupby("strategy")["icc"].count().min() > 0  # NaN only where nothing varies
    assert rows["icc"].dropna().between(-1, 1).all()

"""A structure built from municipality data (issue 18): real municipalities sized by ratios.

The totals are checked against the declared ratios computed here from the CSV and the
parameter defaults (not from the module's own quotas); the levels are checked by re-aggregating
the written rows with the helpers of tests/test_levels.py.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from small_worlds import run_small
from test_levels import check_aggregates, level_arrays

from sim.cli import main
from sim.errors import InputError
from sim.params import ORG_KINDS, STRUCTURE
from sim.population import KIND_CODE
from sim.scenario import scenario_from_dict
from sim.structure_data import (
    AUTHORITIES,
    SHIPPED_DIR,
    apportion,
    assign_trusts,
    build_population,
    read_municipalities,
    split,
)

NORWAY = SHIPPED_DIR / "norway_2025.csv"
HEADER = "municipality_id,name,county_id,county,regional_health_authority,population\n"
# Six municipalities in two counties of two authorities: a tiny one, and a name in both counties.
SMALL = HEADER + "\n".join([
    "5601,Alta,56,Finnmark,Helse Nord,21500",
    "5632,Båtsfjord,56,Finnmark,Helse Nord,2200",
    "5634,Vardø,56,Finnmark,Helse Nord,215",
    "1515,Herøy,15,Møre og Romsdal,Helse Midt-Norge,9000",
    "1507,Ålesund,15,Møre og Romsdal,Helse Midt-Norge,67000",
    "5601x,Herøy,56,Finnmark,Helse Nord,1700",
]) + "\n"


def write(tmp_path: Path, text: str, name: str = "munis.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def scenario(structure: dict, tmp_path: Path, **extra):
    data = {"name": "data", "weeks": 3, "structure": structure,
            "bundles": ["antibiotic_stewardship", "medication_list_accuracy"], **extra}
    return scenario_from_dict(data, "data.toml", tmp_path)


def defaults(**over) -> dict:
    return STRUCTURE.defaults() | over


def staff_by_kind(pop) -> dict[str, int]:
    sizes = np.bincount(pop.staff_unit, minlength=pop.n_units)
    return {k: int(sizes[pop.unit_kind == KIND_CODE[k]].sum()) for k in ORG_KINDS}


def units_by_kind(pop) -> dict[str, int]:
    return {k: int((pop.unit_kind == KIND_CODE[k]).sum()) for k in ORG_KINDS}


def ratio_totals(path: Path, s: dict) -> dict[str, float]:
    """National totals the declared ratios give from the file's inhabitants (the acceptance)."""
    with path.open(encoding="utf-8") as fh:
        people = sum(int(r["population"]) for r in csv.DictReader(fh))
    places = people * s["nursing_home_places_per_1000"] / 1000
    gps = people / s["inhabitants_per_gp"]
    home_care = people * s["home_care_staff_per_1000"] / 1000
    beds = people * s["somatic_beds_per_1000"] / 1000
    mh_beds = people * s["mental_health_beds_per_1000"] / 1000
    return {
        "nursing_home units": places / s["places_per_nursing_home_unit"],
        "gp practices": gps / s["gps_per_practice"],
        "hospital wards": beds / s["beds_per_ward"],
        "staff": (places * s["staff_per_nursing_home_unit"] / s["places_per_nursing_home_unit"]
                  + gps * s["staff_per_gp_practice"] / s["gps_per_practice"] + home_care
                  + beds / s["beds_per_ward"] * s["staff_per_ward"]
                  + mh_beds / s["beds_per_mental_health_unit"]
                  * s["staff_per_mental_health_unit"]),
    }


# --- acceptance 1: totals, every municipality, levels add up --------------------------------------
def test_national_totals_are_within_one_percent_of_the_declared_ratios():
    s = defaults(municipalities="norway_2025")
    pop = build_population(s, _model(), seed=7)
    want = ratio_totals(NORWAY, s)
    units, staff = units_by_kind(pop), staff_by_kind(pop)
    got = {"nursing_home units": units["nursing_home"], "gp practices": units["gp"],
           "hospital wards": units["hospital"], "staff": sum(staff.values())}
    for key, value in got.items():
        assert abs(value - want[key]) <= 0.01 * want[key], (key, value, want[key])
    assert 150_000 < got["staff"] < 160_000  # SPEC §10: order of 150k staff
    assert len(pop.municipality_name) == 357
    assert len(set(pop.municipality_name)) == 357  # Herøy and Våler qualified by county
    assert "Herøy (Nordland)" in pop.municipality_name
    assert len(pop.trust_name) == 20  # trust_population = 5.55 M / 20 (SPEC §10: ~20 trusts)


def test_every_municipality_has_each_service_and_staff_add_up(tmp_path):
    path = write(tmp_path, SMALL)
    pop = build_population(defaults(municipalities=str(path)), _model(), seed=3)
    # trusts by authority (Midt-Norge before Nord), municipalities by number within a county
    assert pop.municipality_name == ["Ålesund", "Herøy (Møre og Romsdal)", "Alta",
                                     "Herøy (Finnmark)", "Båtsfjord", "Vardø"]
    sizes = np.bincount(pop.staff_unit, minlength=pop.n_units)
    assert sizes.min() >= 2
    muni = pop.unit_municipality
    for m, name in enumerate(pop.municipality_name):
        kinds = {ORG_KINDS[k] for k in pop.unit_kind[muni == m]}
        assert kinds == {"nursing_home", "home_care", "gp"}, name
    assert pop.n_staff == int(sizes.sum())  # each position counted once
    vardo = pop.municipality_name.index("Vardø")  # 215 inhabitants: one unit of each service
    assert np.bincount(pop.unit_kind[muni == vardo], minlength=len(ORG_KINDS)).tolist() == [
        0, 0, 1, 1, 1, 0]


def test_municipalities_appear_in_the_levels_and_add_up_to_the_system(tmp_path):
    path = write(tmp_path, SMALL)
    small = run_small({
        "name": "small", "weeks": 4, "seed": 11,
        "structure": {"municipalities": str(path), "staff_per_ward": 6,
                      "staff_per_nursing_home_unit": 6, "staff_per_home_care_team": 6},
        "bundles": ["antibiotic_stewardship", "medication_list_accuracy"],
        "parameters": {"p_awareness": 0.3, "element_correlation": 0.0},
        "strategies": [{"name": "support", "interventions": [
            {"type": "training", "start_week": 1, "end_week": 3, "coverage": 0.9}]}],
    })
    names, rows = level_arrays(small, "municipality")
    assert set(small.pop.municipality_name) <= set(names)
    assert set(names) - set(small.pop.municipality_name) == {
        "Møre og Romsdal specialist services", "Finnmark specialist services"}  # trusts by name
    _, system = level_arrays(small, "system")
    for level in ("municipality", "trust", "organisation"):
        names, rows = level_arrays(small, level)
        check_aggregates(small, rows, names, level, "unit")
        check_aggregates(small, system, ["all"], "system", level)
    names, rows = level_arrays(small, "trust")
    check_aggregates(small, rows, names, "trust", "municipality")


# --- trusts ------------------------------------------------------------------------------------
def test_trusts_group_a_county_under_its_authority_and_size_hospitals_by_catchment():
    munis = read_municipalities(NORWAY)
    trusts = assign_trusts(munis, 280_000)
    members = sorted(i for t in trusts for i in t.members)
    assert members == list(range(len(munis)))  # every municipality in exactly one trust
    for t in trusts:
        assert {munis[i].authority for i in t.members} == {t.authority}
        assert len({munis[i].county for i in t.members}) == 1
    assert [t.authority for t in trusts] == sorted((t.authority for t in trusts),
                                                   key=AUTHORITIES.index)
    by_name = {t.name: t for t in trusts}
    assert {"Akershus 1", "Akershus 2", "Akershus 3", "Oslo", "Finnmark"} <= set(by_name)
    assert len(by_name["Oslo"].members) == 1  # one municipality cannot be split
    pop = build_population(defaults(municipalities="norway_2025"), _model(), seed=1)
    wards = np.bincount(pop.unit_trust[pop.unit_kind == KIND_CODE["hospital"]],
                        minlength=len(trusts))
    people = np.array([sum(munis[i].population for i in t.members) for t in trusts])
    quota = people * 1.94 / 1000 / 21.0
    assert np.abs(wards - quota).max() < 1.0  # apportioned: the quota rounded up or down


def test_a_trust_column_gives_the_catchments(tmp_path):
    text = SMALL.replace("population\n", "population,trust\n", 1)
    lines = text.strip().split("\n")
    trusts = ["Helse Finnmark", "Helse Finnmark", "Helse Finnmark", "Helse Møre og Romsdal",
              "Helse Møre og Romsdal", "Helse Finnmark"]
    path = write(tmp_path, "\n".join([lines[0], *(f"{r},{t}" for r, t in zip(
        lines[1:], trusts, strict=True))]) + "\n")
    pop = build_population(defaults(municipalities=str(path)), _model(), seed=1)
    assert pop.trust_name == ["Helse Møre og Romsdal", "Helse Finnmark"]
    assert pop.trust_region == ["Helse Midt-Norge", "Helse Nord"]
    assert "Helse Finnmark hospital" in pop.org_name
    bad = path.read_text(encoding="utf-8").replace("Helse Nord,21500,Helse Finnmark",
                                                   "Helse Nord,21500,Helse Møre og Romsdal")
    with pytest.raises(InputError, match=r"row 4 \(line 5\): regional_health_authority: "
                       "trust 'Helse Møre og Romsdal' is also in Helse Nord"):
        build_population(defaults(municipalities=str(write(tmp_path, bad, "b.csv"))),
                         _model(), seed=1)


# --- integer rules -------------------------------------------------------------------------------
def test_apportion_keeps_the_total_and_the_minimums():
    quota = np.array([0.1, 0.4, 2.5, 7.3, 30.0])
    out = apportion(quota, np.ones(5, np.int64))
    assert out.sum() == round(quota.sum()) and out.min() >= 1
    assert (np.abs(out[2:] - quota[2:]) < 1.5).all()
    assert apportion(np.array([0.2, 0.2]), np.ones(2, np.int64)).tolist() == [1, 1]
    assert apportion(np.array([0.0, 3.0]), np.zeros(2, np.int64)).tolist() == [0, 3]
    sizes = split(23, np.array([1.0, 1.2, 0.1]))
    assert sizes.sum() == 23 and sizes.min() >= 2


def test_same_seed_same_structure_and_sizes_vary_with_size_variation(tmp_path):
    path = write(tmp_path, SMALL)
    a = build_population(defaults(municipalities=str(path)), _model(), seed=5)
    b = build_population(defaults(municipalities=str(path)), _model(), seed=5)
    assert a.unit_name == b.unit_name and (a.staff_unit == b.staff_unit).all()
    flat = build_population(defaults(municipalities=str(path), size_variation=0.0), _model(),
                            seed=5)
    assert flat.unit_name == a.unit_name and flat.n_staff == a.n_staff
    sizes = np.bincount(flat.staff_unit, minlength=flat.n_units)
    for t in range(len(flat.trust_name)):  # equal shares of a hospital's staff, largest remainder
        wards = sizes[(flat.unit_kind == KIND_CODE["hospital"]) & (flat.unit_trust == t)]
        assert len(wards) and wards.max() - wards.min() <= 1
    spread = np.bincount(a.staff_unit, minlength=a.n_units)[a.unit_kind == KIND_CODE["hospital"]]
    assert spread.max() - spread.min() > 1  # size_variation 0.15 spreads them


# --- scenario files ------------------------------------------------------------------------------
def test_scenario_runs_on_a_relative_file_and_a_shipped_name(tmp_path):
    write(tmp_path, SMALL)
    sc = scenario({"municipalities": "munis.csv"}, tmp_path)
    assert sc.structure["municipalities"] == str((tmp_path / "munis.csv").resolve())
    assert scenario({"municipalities": "norway_2025"}, tmp_path).structure[
        "municipalities"] == "norway_2025"
    again = sc.with_overrides(structure={"nursing_home_places_per_1000": 20.0})
    assert again.structure["municipalities"] == sc.structure["municipalities"]
    from sim.simulate import run

    res = run(sc, 1)
    assert set(res.summary["bundle"]) == {"antibiotic_stewardship", "medication_list_accuracy"}


def test_shipped_example_scenario_loads():
    from sim.scenario import load_scenario

    sc = load_scenario(Path(__file__).parents[1] / "experiments"
                       / "norway_structure_example.toml")
    pop = build_population(sc.structure, sc.parameters, 1)
    assert len(pop.municipality_name) == 18 and pop.trust_name == ["Finnmark"]


@pytest.mark.parametrize(("structure", "fragment"), [
    ({"municipalities": "norway_2025", "wards_per_trust": 3},
     "structure.wards_per_trust: is not used with municipalities"),
    ({"municipalities": "no_such_place"}, "no shipped structure named 'no_such_place'"),
])
def test_structure_keys_are_checked(tmp_path, structure, fragment):
    with pytest.raises(InputError, match=fragment):
        scenario(structure, tmp_path)


def test_a_loaded_network_and_municipalities_exclude_each_other(tmp_path):
    edges = write(tmp_path, "source,target\na,b\n", "edges.csv")
    with pytest.raises(InputError, match=r"structure\.municipalities: a loaded network"):
        scenario({"municipalities": "norway_2025"}, tmp_path,
                 network={"file": str(edges)})


# --- acceptance 5: bad files are one-line errors naming file, row and field -----------------------
GOOD_ROW = "5601,Alta,56,Finnmark,Helse Nord,21500"


@pytest.mark.parametrize(("text", "where", "fragment"), [
    ("municipality_id,name,county_id,county,population\n5601,Alta,56,Finnmark,21500\n",
     ": regional_health_authority", "missing column 'regional_health_authority'"),
    (HEADER + "5601,Alta,56,Finnmark,Helse Nord,-5\n", ": row 1 (line 2): population",
     "whole number of inhabitants ≥ 1, got '-5'"),
    (HEADER + "5601,Alta,56,Finnmark,Helse Nord,12.5\n", ": row 1 (line 2): population",
     "got '12.5'"),
    (HEADER + "5601,Alta,56,Finnmark,Helse Nord,0\n", ": row 1 (line 2): population",
     "got '0'"),
    (HEADER + GOOD_ROW + "\n5602,Hammerfest,56,Finnmark,Helse Norr,11000\n",
     ": row 2 (line 3): regional_health_authority", "unknown authority 'Helse Norr'; allowed: "
     "Helse Sør-Øst, Helse Vest, Helse Midt-Norge, Helse Nord"),
    (HEADER + GOOD_ROW + "\n" + GOOD_ROW + "\n", ": row 2 (line 3): municipality_id",
     "municipality 5601 is already given in row 1 (line 2)"),
    (HEADER + "5601,,56,Finnmark,Helse Nord,21500\n", ": row 1 (line 2): name", "is empty"),
    (HEADER + GOOD_ROW + "\n5699,Alta,56,Finnmark,Helse Nord,300\n", ": row 2 (line 3): name",
     "'Alta' in Finnmark is already given in row 1 (line 2)"),
    ("", "", "is empty; a municipality file needs a header"),
    (HEADER, "", "has a header but no municipalities"),
    (HEADER + "5601,Alta,56,Finnmark,Helse Nord,21500\n5602,Hammerfest,56,Finnmark,"
     "Helse Vest,11000\n", ": row 2 (line 3): regional_health_authority",
     "county 'Finnmark' is also in Helse Nord"),
])
def test_bad_municipality_files_name_file_row_and_field(tmp_path, text, where, fragment):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        scenario({"municipalities": "munis.csv"}, tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path.resolve()}{where}: "), message
    assert fragment in message


def test_the_command_line_gives_one_line_and_exit_code_2(tmp_path, capsys):
    write(tmp_path, HEADER + "5601,Alta,56,Finnmark,Helse Nord,-5\n")
    toml = tmp_path / "bad.toml"
    toml.write_text('[structure]\nmunicipalities = "munis.csv"\n', encoding="utf-8")
    assert main(["validate", str(toml)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "row 1 (line 2): population" in err


def _model() -> dict:
    from sim.params import MODEL

    return MODEL.defaults()

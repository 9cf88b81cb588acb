"""Dyadic care pathways (issue 14): patient flows between specific units, generated or loaded.

Flows conserve admissions (each specialist unit's outgoing flows sum to its discharges,
census × 7 / length of stay); on a dyad a cross-boundary element's compliance is the product
of both units' performance, exactly; a unit's effective performance is the volume-weighted
mean over its dyads; a pathways file is read strictly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from sim.errors import InputError
from sim.mechanisms import collective
from sim.model import ImplementationModel
from sim.networks import pathways
from sim.networks.network import LAYERS
from sim.outcomes.harm import unit_census
from sim.params import SPECIALIST_KINDS
from sim.population import KIND_CODE, ROLE_CODE, Population
from sim.scenario import Scenario, load_scenario, scenario_from_dict
from sim.world import build_world

HERE = Path(__file__).parent
SMALL = {"hospital_trusts": 2, "wards_per_trust": 3, "mental_health_units_per_trust": 1,
         "municipalities_per_trust": 3, "nursing_homes_per_municipality": 1,
         "home_care_teams_per_municipality": 1, "gp_practices_per_municipality": 2}
CROSS_BUNDLES = ["medication_list_accuracy", "mental_health_patient_involvement",
                 "deteriorating_patient"]
TRAINING = [{"name": "training", "interventions": [
    {"type": "training", "bundles": CROSS_BUNDLES, "start_week": 1, "end_week": 1,
     "coverage": 0.9}]}]


def scenario(structure: dict | None = None, network: dict | None = None,
             **data: object) -> Scenario:
    data = {"weeks": 20, "structure": structure or SMALL, "bundles": CROSS_BUNDLES,
            "network": network or {}, "parameters": {"p_awareness": 0.05},
            "strategies": TRAINING, **data}
    return scenario_from_dict(data, "<test_pathways>", HERE)


def bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, np.float64).view(np.uint64).tobytes()


# --- generated flows ----------------------------------------------------------------------------
@pytest.mark.parametrize("dispersion", [0.0, 0.3, 2.0])
@pytest.mark.parametrize("seed", [1, 7])
def test_generated_flows_conserve_admissions(dispersion: float, seed: int) -> None:
    """Each specialist unit's outgoing flows sum to its discharges = census × 7 / LOS."""
    sc = scenario(network={"pathways_dispersion": dispersion})
    w = build_world(sc, seed)
    pop, d = w.pop, w.dyads
    census = unit_census(pop, sc.patients, sc.structure)
    los = np.where(pop.unit_kind == KIND_CODE["hospital"], 4.5,
                   sc.patients["mental_health_length_of_stay_days"])
    specialist = np.isin(pop.unit_kind, [KIND_CODE[k] for k in SPECIALIST_KINDS])
    admissions = np.where(specialist, census * 7.0 / los, 0.0)
    np.testing.assert_allclose(d.outflow(), admissions, rtol=1e-12, atol=0)
    assert d.outflow()[specialist].min() > 0
    # every flow goes from a specialist unit to a municipal service of the same trust
    assert specialist[d.from_unit].all() and not specialist[d.to_unit].any()
    np.testing.assert_array_equal(pop.unit_trust[d.from_unit], pop.unit_trust[d.to_unit])
    assert (d.volume > 0).all()


def test_length_of_stay_sets_the_discharges() -> None:
    short = build_world(scenario(measurement={"length_of_stay_days": 3.0}), 1).dyads
    long = build_world(scenario(measurement={"length_of_stay_days": 6.0}), 1).dyads
    pop = build_world(scenario(), 1).pop
    ward = pop.unit_kind == KIND_CODE["hospital"]
    np.testing.assert_allclose(short.outflow()[ward], 2 * long.outflow()[ward], rtol=1e-12)


def test_without_dispersion_every_unit_splits_by_municipality_size() -> None:
    sc = scenario(network={"pathways_dispersion": 0.0})
    w = build_world(sc, 3)
    pop, d = w.pop, w.dyads
    census = unit_census(pop, sc.patients, sc.structure)
    muni = pop.unit_municipality
    for s in np.unique(d.from_unit):
        t = pop.unit_trust[s]
        munis = np.unique(muni[(pop.unit_trust == t) & (muni >= 0)])
        size = np.array([census[muni == m].sum() for m in munis])
        mine = d.from_unit == s
        into = np.array([d.volume[mine & (muni[d.to_unit] == m)].sum() for m in munis])
        np.testing.assert_allclose(into / into.sum(), size / size.sum(), rtol=1e-12)
        # within a municipality, in proportion to the services' census
        for m in munis:
            sel = mine & (muni[d.to_unit] == m)
            np.testing.assert_allclose(d.volume[sel] / d.volume[sel].sum(),
                                       census[d.to_unit[sel]] / census[d.to_unit[sel]].sum(),
                                       rtol=1e-12)


def test_dispersion_makes_wards_differ_from_a_named_stream() -> None:
    sc = scenario(network={"pathways_dispersion": 0.5})
    a, b, c = (build_world(sc, seed).dyads for seed in (1, 1, 2))
    assert bits(a.volume) == bits(b.volume)  # same seed, same flows
    pop = build_world(sc, 1).pop
    muni = pop.unit_municipality

    def share(d: pathways.CarePathways, s: int) -> np.ndarray:
        mine = d.from_unit == s
        into = np.array([d.volume[mine & (muni[d.to_unit] == m)].sum() for m in range(6)])
        return into / into.sum()

    wards = np.flatnonzero(pop.unit_kind == KIND_CODE["hospital"])
    assert not np.allclose(share(a, wards[0]), share(a, wards[1]))  # wards differ
    assert not np.allclose(share(a, wards[0]), share(c, wards[0]))  # another seed differs


def test_a_trust_without_municipalities_has_no_pathways_and_excludes_cross_elements() -> None:
    structure = {**SMALL, "hospital_trusts": 1, "municipalities_per_trust": 0}
    model = ImplementationModel(scenario(structure=structure))
    assert len(model.world.dyads.volume) == 0
    cross = model.world.element_cross
    assert np.isnan(model.state.unit_element[:, cross]).all()


def hand_pop(kinds: list[str], census_sizes: list[int], municipality: list[int]) -> Population:
    """One trust, one organisation per unit; ``municipality`` per organisation (-1: none)."""
    n = len(kinds)
    staff_unit = np.repeat(np.arange(n, dtype=np.int32), census_sizes)
    return Population(
        org_name=[f"org{i}" for i in range(n)],
        org_kind=np.array([KIND_CODE[k] for k in kinds], np.int8),
        org_trust=np.zeros(n, np.int32), org_leadership=np.full(n, 0.5, np.float32),
        unit_name=[f"unit{i}" for i in range(n)], unit_org=np.arange(n, dtype=np.int32),
        unit_climate=np.full(n, 0.5, np.float32), unit_workload=np.full(n, 0.5, np.float32),
        staff_unit=staff_unit, staff_role=np.full(len(staff_unit), ROLE_CODE["nurse"], np.int8),
        staff_openness=np.full(len(staff_unit), 0.5, np.float32),
        staff_threshold=np.full(len(staff_unit), 0.3, np.float32),
        org_municipality=np.array(municipality, np.int32),
        municipality_name=[f"m{i}" for i in range(max(municipality) + 1)],
    )


def test_municipal_units_without_a_municipality_count_as_one() -> None:
    """A loaded network without municipality attributes: flows split by census over them."""
    pop = hand_pop(["hospital", "nursing_home", "home_care", "gp"], [2, 2, 2, 2], [-1] * 4)
    census = np.array([10.0, 20.0, 60.0, 20.0])
    d = pathways.generate_pathways(pop, census, np.array([7.0, 0, 0, 0]), 0.0,
                                   np.random.default_rng(0))
    np.testing.assert_array_equal(d.from_unit, [0, 0, 0])
    np.testing.assert_array_equal(d.to_unit, [1, 2, 3])
    np.testing.assert_allclose(d.volume, [7 * 0.2, 7 * 0.6, 7 * 0.2], rtol=1e-12)


# --- the both-sides rule on a dyad ----------------------------------------------------------------
ONE_DYAD = {"hospital_trusts": 1, "wards_per_trust": 1, "mental_health_units_per_trust": 0,
            "municipalities_per_trust": 1, "nursing_homes_per_municipality": 0,
            "home_care_teams_per_municipality": 1, "gp_practices_per_municipality": 0}


def test_one_ward_municipality_dyad_is_the_product_of_both_sides_exactly() -> None:
    """One ward, one municipality whose one service is a home-care team: one dyad."""
    model = ImplementationModel(scenario(structure=ONE_DYAD,
                                         bundles=["medication_list_accuracy"],
                                         strategies=[{"name": "training", "interventions": [
                                             {"type": "training", "bundles":
                                              ["medication_list_accuracy"], "start_week": 1,
                                              "end_week": 1, "coverage": 0.9}]}]))
    w = model.world
    assert len(w.dyads.volume) == 1
    elements = [e.name for b in w.bundles for e in b.elements]
    handover = elements.index("discharge_list_handover")
    for _ in range(15):
        model.step()
        table = pathways.pathway_table(w, model.state.fidelity)
        perf, _ = collective.unit_performance(model.state.fidelity, w.performed)
        ward, team = w.dyads.from_unit[0], w.dyads.to_unit[0]
        on_dyad = table["medication_list_accuracy.discharge_list_handover"].to_numpy()
        assert bits(on_dyad) == bits(perf[ward, handover] * perf[team, handover])
        # both units' effective performance is that one dyad's compliance
        np.testing.assert_allclose(model.state.unit_element[[ward, team], handover],
                                   [on_dyad[0]] * 2, rtol=1e-6)
    assert table["to_municipality"].tolist() == ["Trust 1 municipality 1"]
    assert 0 < on_dyad[0] < 1


def test_effective_performance_is_the_volume_weighted_mean_over_dyads() -> None:
    model = ImplementationModel(scenario())
    for _ in range(15):
        model.step()
    w, st = model.world, model.state
    table = pathways.pathway_table(w, st.fidelity)
    names = [f"{b.name}.{e.name}" for b in w.bundles for e in b.elements]
    for e in np.flatnonzero(w.element_cross):
        comp = table[names[e]].to_numpy()
        vol = table["patients_per_week"].to_numpy()
        ok = ~np.isnan(comp)
        num = np.zeros(w.pop.n_units)
        den = np.zeros(w.pop.n_units)
        for side in (w.dyads.from_unit, w.dyads.to_unit):
            np.add.at(num, side[ok], (vol * comp)[ok])
            np.add.at(den, side[ok], vol[ok])
        expected = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        np.testing.assert_allclose(st.unit_element[:, e], expected, rtol=1e-5, atol=1e-7)
        assert (den > 0).sum() > 3  # the check covered several units


def test_weights_are_volumes_in_the_partner_mean() -> None:
    """Unit 0 sends 3 patients a week to unit 1 and 1 to unit 2: partner = (3 p1 + p2) / 4."""
    weights = sp.csr_matrix(np.array([[0, 3, 1], [3, 0, 0], [1, 0, 0]], np.float32))
    perf = np.array([[0.8], [0.5], [0.9]], np.float32)
    eff = collective.effective_performance(perf, weights, np.array([True]))
    np.testing.assert_allclose(eff[:, 0], [0.8 * (3 * 0.5 + 0.9) / 4, 0.5 * 0.8, 0.9 * 0.8],
                               rtol=1e-6)


# --- a pathways file ----------------------------------------------------------------------------
def write(tmp_path: Path, text: str, name: str = "flows.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def small_pop() -> Population:
    return build_world(scenario(), 1).pop


def test_a_pathways_file_gives_the_flows(tmp_path: Path) -> None:
    write(tmp_path, "from_unit,to_unit,patients_per_week\n"
          "Trust 1 hospital ward 1,Trust 1 municipality 1 home care team 1,3.5\n"
          "Trust 1 municipality 1 home care team 1,Trust 1 hospital ward 1,0.5\n"
          "Trust 1 hospital ward 2,Trust 1 municipality 2 GP practice 1,2\n")
    (tmp_path / "s.toml").write_text(
        'weeks = 5\nbundles = ["medication_list_accuracy"]\n'
        '[structure]\nhospital_trusts = 2\nwards_per_trust = 3\nmunicipalities_per_trust = 3\n'
        '[network]\npathways_file = "flows.csv"\n', encoding="utf-8")
    sc = load_scenario(tmp_path / "s.toml")
    assert Path(sc.network["pathways_file"]) == tmp_path / "flows.csv"
    w = build_world(sc, 1)
    names = w.pop.unit_name
    ward = names.index("Trust 1 hospital ward 1")
    team = names.index("Trust 1 municipality 1 home care team 1")
    assert len(w.dyads.volume) == 3
    m = w.pathways.toarray()
    assert m[ward, team] == m[team, ward] == 4.0  # both directions add up
    assert (m != 0).sum() == 4
    ImplementationModel(sc, world=w).run()  # runs


def test_a_missing_pathways_file_is_a_scenario_error(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text('[network]\npathways_file = "nope.csv"\n',
                                     encoding="utf-8")
    with pytest.raises(InputError, match=r"network\.pathways_file.*not found"):
        load_scenario(tmp_path / "s.toml")


@pytest.mark.parametrize(("body", "field", "fix"), [
    ("from_unit,to_unit\nTrust 1 hospital ward 1,Trust 1 municipality 1 GP practice 1\n",
     "patients_per_week", "missing column"),
    ("from_unit,to_unit,patients_per_week\nward 99,Trust 1 municipality 1 GP practice 1,1\n",
     "row 1 (line 2): from_unit", "no unit named 'ward 99'"),
    ("from_unit,to_unit,patients_per_week\n"
     "Trust 1 hospital ward 1,Trust 1 municipality 1 GP practice 1,1\n"
     "Trust 1 hospital ward 1,Trust 1 municipality 1 GP practice 9,1\n",
     "row 2 (line 3): to_unit", "no unit named"),
    ("from_unit,to_unit,patients_per_week\n"
     "Trust 1 hospital ward 1,Trust 1 municipality 1 GP practice 1,-2\n",
     "row 1 (line 2): patients_per_week", "number ≥ 0"),
    ("from_unit,to_unit,patients_per_week\n"
     "Trust 1 hospital ward 1,Trust 1 municipality 1 GP practice 1,many\n",
     "row 1 (line 2): patients_per_week", "number ≥ 0"),
    ("from_unit,to_unit,patients_per_week\n"
     "Trust 1 hospital ward 1,Trust 1 municipality 1 GP practice 1,nan\n",
     "row 1 (line 2): patients_per_week", "number ≥ 0"),
    ("from_unit,to_unit,patients_per_week\nTrust 1 hospital ward 1,Trust 1 hospital ward 1,1\n",
     "row 1 (line 2): to_unit", "two different units"),
    ("from_unit,to_unit,patients_per_week\n"
     "Trust 1 hospital ward 1,Trust 1 municipality 1 GP practice 1,1\n"
     "Trust 1 hospital ward 1,Trust 1 municipality 1 GP practice 1,2\n",
     "row 2 (line 3): from_unit", "already given in row 1"),
])
def test_bad_pathways_files_are_one_line_errors(tmp_path: Path, body: str, field: str,
                                                fix: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(InputError) as info:
        pathways.load_pathways(path, small_pop())
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(path)) and field in msg and fix in msg, msg


def test_pathways_dispersion_is_declared_and_checked() -> None:
    with pytest.raises(InputError, match=r"network\.pathways_dispersion"):
        scenario(network={"pathways_dispersion": -1.0})


def test_an_override_resolves_the_pathways_file_against_the_scenario(tmp_path: Path) -> None:
    """Experiments set [network] pathways_file through with_overrides, relative to the file."""
    write(tmp_path, "from_unit,to_unit,patients_per_week\n"
          "Trust 1 hospital ward 1,Trust 1 municipality 1 home care team 1,2.5\n")
    (tmp_path / "s.toml").write_text('weeks = 2\nbundles = ["medication_list_accuracy"]\n',
                                     encoding="utf-8")
    sc = load_scenario(tmp_path / "s.toml").with_overrides(network={"pathways_file":
                                                                    "flows.csv"})
    assert Path(sc.network["pathways_file"]) == tmp_path / "flows.csv"
    np.testing.assert_array_equal(build_world(sc, 1).dyads.volume, [2.5])
    with pytest.raises(InputError, match=r"network\.pathways_file.*not found"):
        load_scenario(tmp_path / "s.toml").with_overrides(network={"pathways_file": "x.csv"})


def test_intensive_care_units_have_no_municipal_pathway() -> None:
    """ICU patients move on to a ward, not home: no dyad starts or ends at an ICU unit."""
    sc = scenario(structure={**SMALL, "icu_units_per_trust": 2})
    w = build_world(sc, 3)
    icu = np.flatnonzero(w.pop.unit_kind == KIND_CODE["icu"])
    assert len(icu) == 4
    d = w.dyads
    assert len(d.from_unit) > 0
    assert not np.isin(d.from_unit, icu).any() and not np.isin(d.to_unit, icu).any()


def test_care_pathway_ties_join_units_that_exchange_patients() -> None:
    """Every generated care-pathway tie joins the two units of a dyad, dyads drawn by volume."""
    sc = scenario(network={"cross_boundary_degree": 6.0})
    w = build_world(sc, 4)
    d, net = w.dyads, w.network
    ties = net.edges[net.layer == LAYERS.index("care_pathway")]
    assert len(ties) > 1000
    units = w.pop.staff_unit[ties]
    key = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(d.from_unit, d.to_unit,
                                                              strict=True))}
    hit = [key.get((int(a), int(b)), key.get((int(b), int(a)))) for a, b in units]
    assert None not in hit  # no tie between units that exchange no patients
    counts = np.bincount(np.asarray(hit), minlength=len(d.volume))
    # ties per dyad follow volume within each trust
    for t in np.unique(w.pop.unit_trust[d.from_unit]):
        mine = w.pop.unit_trust[d.from_unit] == t
        expected = d.volume[mine] / d.volume[mine].sum() * counts[mine].sum()
        assert np.corrcoef(counts[mine], expected)[0, 1] > 0.9

"""Harm accounting without overlap (issue 14, acceptance 6) and RR from a programme ratio."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.bundles import shipped_bundles
from sim.bundles.bundle import bundle_from_dict, check_harm_budget, per_patient_rr
from sim.cli import main
from sim.errors import InputError
from sim.outcomes import gtt, harm
from sim.params import MODEL, PATIENTS, STRUCTURE
from sim.population import KIND_CODE, generate_catchment
from sim.scenario import load_scenario
from sim.simulate import run

KINDS = ("hospital", "nursing_home", "home_care")


def _bundle(name: str, rate: float | None, rr: float, kinds: tuple[str, ...] = KINDS,
            residual: bool = False) -> dict:
    table = {"event": f"{name} harm", "relative_risk": rr, "settings": list(kinds)}
    if residual:
        table["scope"] = "residual"
    elif rate is not None:
        table["baseline_rate_per_patient_week"] = rate
    return {"name": name, "settings": list(KINDS), "harm": table,
            "elements": [{"name": "do_it", "roles": ["nurse"]}]}


@cache
def _population():
    structure = STRUCTURE.resolve({"wards_per_trust": 3, "mental_health_units_per_trust": 1,
                                   "municipalities_per_trust": 2, "icu_units_per_trust": 1},
                                  "test")
    return generate_catchment(structure, MODEL.defaults(), 5), structure


# --- acceptance 6: summed bundle harm never exceeds the all-cause baseline ---------------------
@settings(max_examples=60, deadline=None)
@given(shares=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5),
       rrs=st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5),
       with_residual=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_summed_bundle_harm_never_exceeds_the_all_cause_rate(shares, rrs, with_residual, seed):
    pop, structure = _population()
    patients = PATIENTS.defaults()
    limit = min(patients[f"all_cause_harm_rate_{k}"] for k in KINDS)
    # rates that fit the budget: shares of the smallest all-cause rate, summing to ≤ 1
    total = max(1.0, sum(shares))
    bundles = [bundle_from_dict(_bundle(f"b{i}", limit * s / total, rrs[i]), "t")
               for i, s in enumerate(shares)]
    if with_residual:
        bundles.append(bundle_from_dict(_bundle("all_cause", None, rrs[-1], residual=True), "t"))
    check_harm_budget(bundles, patients, "t")  # fits: no error
    census = harm.unit_census(pop, patients, structure)
    counted, rate, rr = harm.harm_tables(pop, bundles, patients)
    compliance = np.random.default_rng(seed).random((pop.n_units, len(bundles)))
    events = harm.expected_events(census, counted, rate, rr, compliance).sum(axis=1)
    budget = census * harm.all_cause_rate(pop, patients)
    assert (events <= budget * (1 + 1e-12)).all()
    # at zero compliance the bundles use their whole rate; with the residual bundle, all of it
    at_zero = harm.expected_events(census, counted, rate, rr, np.zeros_like(compliance))
    counted_any = counted.any(axis=1)
    if with_residual:
        assert at_zero.sum(axis=1)[counted_any] == pytest.approx(budget[counted_any], rel=1e-12)


def test_residual_bundle_acts_on_what_the_others_leave():
    pop, _ = _population()
    patients = PATIENTS.defaults()
    names = ["antibiotic_stewardship", "medication_list_accuracy", "patient_safety_management"]
    bundles = [shipped_bundles()[n] for n in names]
    counted, rate, _ = harm.harm_tables(pop, bundles, patients)
    ward = np.flatnonzero(pop.unit_kind == 0)[0]
    others = bundles[0].harm.baseline_rate + bundles[1].harm.baseline_rate
    assert rate[ward, 2] == pytest.approx(patients["all_cause_harm_rate_hospital"] - others)
    assert rate[ward].sum() == pytest.approx(patients["all_cause_harm_rate_hospital"])
    assert not counted[pop.unit_kind == 2, 2].any()  # counted in hospitals only


def test_gtt_week0_share_is_the_all_cause_share_with_the_all_cause_bundle(tmp_path: Path):
    """Before: the bundles summed past the GTT baseline and the share started at 16.7%."""
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        'weeks = 4\nbundles = ["patient_safety_management", "medication_reconciliation", '
        '"falls_in_institutions"]\n[structure]\nwards_per_trust = 4\n'
        'municipalities_per_trust = 1\n[measurement]\ngtt_baseline_months = 1\n'
        'survey_weeks = [0]\n', encoding="utf-8")
    sc = load_scenario(scenario)
    g = run(sc, 3).measurement["gtt"]
    share0 = 1 - math.exp(-sc.patients["all_cause_harm_rate_hospital"]
                          * sc.measurement["length_of_stay_days"] / 7)
    assert g.loc[g["baseline"], "true_share"].to_numpy() == pytest.approx(share0, abs=1e-12)
    assert share0 == pytest.approx(0.16, abs=1e-4)
    assert (g["background_rate"] >= 0).all()


def test_bundles_past_the_budget_get_a_one_line_error():
    patients = PATIENTS.defaults() | {"all_cause_harm_rate_nursing_home": 0.01}
    bundles = [bundle_from_dict(_bundle("big", 0.008, 0.8), "t"),
               bundle_from_dict(_bundle("bigger", 0.004, 0.8), "t")]
    with pytest.raises(InputError) as err:
        check_harm_budget(bundles, patients, "s.toml")
    msg = str(err.value)
    assert "\n" not in msg
    for part in ("nursing_home", "big 0.008", "bigger 0.004", "0.012", "0.01",
                 "all_cause_harm_rate_nursing_home"):
        assert part in msg


def test_two_all_cause_bundles_in_one_setting_are_an_error():
    bundles = [bundle_from_dict(_bundle(n, None, 0.9, residual=True), "t") for n in "ab"]
    with pytest.raises(InputError, match="residual"):
        check_harm_budget(bundles, PATIENTS.defaults(), "s.toml")


def test_cli_rejects_a_scenario_past_the_budget(tmp_path: Path, capsys):
    scenario = tmp_path / "over.toml"
    scenario.write_text(
        'weeks = 2\nbundles = ["falls_in_institutions", "pressure_ulcers"]\n'
        "[patients]\nall_cause_harm_rate_nursing_home = 0.015\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("implsim: error:")
    assert "falls_in_institutions" in lines[0] and "pressure_ulcers" in lines[0]
    assert "nursing_home" in lines[0] and "0.019" in lines[0] and "0.015" in lines[0]
    assert not out.exists()


def test_residual_bundle_may_not_state_its_own_rate():
    table = _bundle("psm", 0.2, 0.9)
    table["harm"]["scope"] = "residual"
    with pytest.raises(InputError, match="no rate of its own"):
        bundle_from_dict(table, "t")


# --- the per-patient RR from a programme-level ratio -------------------------------------------
@settings(max_examples=200, deadline=None)
@given(rr=st.floats(0.0, 1.0), c0=st.floats(0.0, 1.0), dc=st.floats(0.01, 1.0))
def test_per_patient_rr_reproduces_the_programme_ratio(rr, c0, dc):
    c1 = min(1.0, c0 + dc)
    irr = (1 - c1 * (1 - rr)) / (1 - c0 * (1 - rr)) if c0 * (1 - rr) < 1 else 1.0
    if c0 * (1 - rr) >= 1 - 1e-9:
        return  # no harm at baseline: the ratio is undefined
    derived = per_patient_rr(irr, c0, c1)
    assert derived is not None
    assert (1 - c1 * (1 - derived)) / (1 - c0 * (1 - derived)) == pytest.approx(irr, abs=1e-9)


def test_programme_ratio_that_no_rr_fits_is_an_error():
    # a 66% fall at programme level when compliance only rose from 0.2 to 0.5 cannot happen
    table = _bundle("x", 0.01, 0.5)
    del table["harm"]["relative_risk"]
    table["harm"] |= {"programme_rate_ratio": 0.34, "programme_compliance_before": 0.2,
                      "programme_compliance_after": 0.5}
    with pytest.raises(InputError, match="no per-patient relative risk"):
        bundle_from_dict(table, "t")
    table["harm"]["programme_compliance_after"] = 0.9
    b = bundle_from_dict(table, "t")
    assert b.harm.relative_risk == pytest.approx(1 - 0.66 / (0.9 - 0.34 * 0.2))
    del table["harm"]["programme_compliance_before"]
    with pytest.raises(InputError, match="programme_compliance_before"):
        bundle_from_dict(table, "t")


def test_rate_per_1000_exposure_needs_the_exposure():
    table = _bundle("x", None, 0.5)
    table["harm"]["baseline_rate_per_1000_exposure"] = 5.0
    with pytest.raises(InputError, match="exposure"):
        bundle_from_dict(table, "t")
    table["harm"]["exposure"] = {"unit": "catheter-days", "per_patient_week": 3.5}
    h = bundle_from_dict(table, "t").harm
    assert h.baseline_rate == pytest.approx(5.0 / 1000 * 3.5)
    assert h.indicator == "events per 1,000 catheter-days"


def test_gtt_counts_icu_stays_as_somatic_hospital_stays():
    pop, structure = _population()
    patients = PATIENTS.defaults()
    census = harm.unit_census(pop, patients, structure)
    flows = gtt.hospital_flows(pop, census, 4.5)
    units = np.concatenate([f.units for f in flows])
    kinds = set(pop.unit_kind[units].tolist())
    assert kinds == {KIND_CODE["hospital"], KIND_CODE["icu"]}
    assert census[pop.unit_kind == KIND_CODE["icu"]] == pytest.approx(
        patients["patients_per_icu_unit"] * np.bincount(pop.staff_unit)[
            pop.unit_kind == KIND_CODE["icu"]] / structure["staff_per_icu_unit"])

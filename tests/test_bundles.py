"""Shipped bundle files and the validation of user bundle files (SPEC §6)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from sim.bundles import Bundle, load_bundle_file, resolve_bundle, shipped_bundles
from sim.bundles.bundle import DATA_DIR
from sim.cli import main
from sim.errors import InputError
from sim.params import ORG_KINDS, ROLES, SPECIALIST_KINDS

ORIGINAL = {
    "antibiotic_stewardship",
    "medication_list_accuracy",
    "deteriorating_patient",
    "mental_health_patient_involvement",
}
# The In Safe Hands (I trygge hender 24-7) target areas (SPEC §1).
IN_SAFE_HANDS = {
    "safe_surgery",
    "medication_reconciliation",
    "medication_review_nursing_homes",
    "medication_review_home_care",
    "stroke_treatment",
    "pressure_ulcers",
    "urinary_tract_infection",
    "central_line_infection",
    "suicide_prevention_psychiatry",
    "overdose_after_discharge",
    "falls_in_institutions",
    "patient_safety_management",
}
EXPECTED = ORIGINAL | IN_SAFE_HANDS
SHIPPED_FILES = sorted(DATA_DIR.glob("*.toml"))
MUNICIPAL_KINDS = tuple(k for k in ORG_KINDS if k not in SPECIALIST_KINDS)

GOOD = """
name = "my_bundle"
title = "My bundle"
settings = ["hospital"]
complexity = { value = 0.5, source = "assumption" }
evidence_strength = { value = 0.5, source = "assumption" }

[[elements]]
name = "first"
roles = ["nurse"]
cross_boundary = false
baseline_fidelity = { value = 0.3, source = "assumption" }
"""


def _write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- shipped bundles ------------------------------------------------------------------------------


def test_shipped_files_are_the_sixteen_expected_bundles() -> None:
    assert len(SHIPPED_FILES) == 16
    assert {p.stem for p in SHIPPED_FILES} == EXPECTED
    assert set(shipped_bundles()) == EXPECTED


def test_in_safe_hands_target_areas_all_ship() -> None:
    bundles = shipped_bundles()
    missing = sorted(IN_SAFE_HANDS - set(bundles))
    assert not missing, f"In Safe Hands target areas without a bundle: {missing}"


def test_shipped_bundles_load_with_expected_names() -> None:
    bundles = shipped_bundles()
    assert EXPECTED <= set(bundles)
    for name in EXPECTED:
        b = bundles[name]
        assert isinstance(b, Bundle)
        assert b.name == name
        assert 3 <= len(b.elements) <= 6
        assert b.title and b.description
        assert set(b.settings) <= set(ORG_KINDS)
        assert set(b.roles) <= set(ROLES)


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_shipped_bundle_name_is_file_stem(path: Path) -> None:
    assert load_bundle_file(path).name == path.stem


def _unsourced_numbers(node: Any, where: str) -> list[str]:
    """Paths of numbers not given as ``{ value, source }`` with a non-empty source."""
    if isinstance(node, dict):
        if "value" in node:
            problems = []
            if set(node) != {"value", "source"}:
                problems.append(f"{where}: keys must be exactly value and source")
            source = node.get("source")
            if not isinstance(source, str) or not source.strip():
                problems.append(f"{where}.source: empty or missing")
            value = node.get("value")
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{where}.value: not a number")
            return problems
        return [p for k, v in node.items() for p in _unsourced_numbers(v, f"{where}.{k}")]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _unsourced_numbers(v, f"{where}[{i}]")]
    if isinstance(node, int | float) and not isinstance(node, bool):
        return [f"{where}: bare number {node!r} without a source"]
    return []


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_every_number_in_shipped_bundle_has_a_source(path: Path) -> None:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    assert _unsourced_numbers(data, path.name) == []


def test_source_walker_flags_bare_numbers_and_empty_sources() -> None:
    data = {"a": 1.0, "b": {"value": 0.2, "source": " "}, "c": [{"d": 3}],
            "e": {"value": 0.1, "source": "assumption"}, "f": True}
    problems = _unsourced_numbers(data, "x")
    assert len(problems) == 3
    assert any("x.a" in p for p in problems)
    assert any("x.b.source" in p for p in problems)
    assert any("x.c[0].d" in p for p in problems)


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_shipped_bundle_has_harm_table(path: Path) -> None:
    harm = load_bundle_file(path).harm
    assert harm is not None and harm.event.strip()
    assert (harm.baseline_rate > 0 or harm.residual)  # an all-cause bundle's rate is derived
    assert harm.sources["baseline_rate_per_patient_week"].strip()
    assert 0 < harm.relative_risk <= 1 and harm.sources["relative_risk"].strip()


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_cross_boundary_elements_have_both_sides(path: Path) -> None:
    """A collective element is scored only where both sides of the boundary perform it."""
    for e in load_bundle_file(path).elements:
        if e.cross_boundary:
            assert set(e.settings) & set(SPECIALIST_KINDS), (e.name, e.settings)
            assert set(e.settings) & set(MUNICIPAL_KINDS), (e.name, e.settings)


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_element_and_harm_settings_within_bundle_settings(path: Path) -> None:
    b = load_bundle_file(path)
    for e in b.elements:
        assert e.settings and set(e.settings) <= set(b.settings), (e.name, e.settings)
    assert b.harm is not None
    assert b.harm.settings and set(b.harm.settings) <= set(b.settings)
    # Every setting is used: some element is done there.
    assert {k for e in b.elements for k in e.settings} == set(b.settings)


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_every_element_has_a_performing_role_in_each_of_its_settings(path: Path) -> None:
    """An element listed for a setting whose staff mix has none of its roles would never apply."""
    from sim.population import ROLE_MIX

    for e in load_bundle_file(path).elements:
        for kind in e.settings:
            assert any(ROLE_MIX[kind][r] > 0 for r in e.roles), (e.name, kind, e.roles)


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_harm_not_counted_per_listed_gp_patient(path: Path) -> None:
    """GP census is listed patients: a per-patient-week rate there would swamp other settings."""
    harm = load_bundle_file(path).harm
    assert harm is not None and "gp" not in harm.settings


def test_central_line_infection_uses_pronovost_keystone_figures() -> None:
    b = shipped_bundles()["central_line_infection"]
    assert b.harm is not None
    # the programme ratio 0.34 observed at partial compliance, not used as the per-patient RR
    assert b.harm.programme_ratio is not None and b.harm.programme_ratio[0] == pytest.approx(0.34)
    _, c0, c1 = b.harm.programme_ratio
    rr = b.harm.relative_risk
    assert (1 - c1 * (1 - rr)) / (1 - c0 * (1 - rr)) == pytest.approx(0.34)
    assert "Pronovost" in b.harm.sources["relative_risk"]
    assert "Pronovost" in b.harm.sources["baseline_rate_per_patient_week"]
    assert "7.7" in b.harm.sources["baseline_rate_per_patient_week"]
    assert b.harm.indicator == "infections per 1,000 catheter-days"
    # 7.7 per 1,000 catheter-days is the rate observed before, at compliance c0: the rate of a
    # patient whose care did not comply is that / (1 - c0 (1 - RR))
    observed = 7.7 / 1000 * b.harm.exposure_per_patient_week
    assert b.harm.baseline_rate * (1 - c0 * (1 - rr)) == pytest.approx(observed)
    assert b.settings == ("icu",)
    # BMJ 2010: 87% is the share of the original ICUs that took part, not a share that sustained
    assert not any("87% of ICUs sustained" in r for r in b.references)
    assert any("Ninety (87%) of the original 103" in r for r in b.references)


def test_patient_safety_management_harm_is_gtt_all_cause() -> None:
    b = shipped_bundles()["patient_safety_management"]
    assert b.harm is not None and "Global Trigger Tool" in b.harm.event
    assert b.harm.residual and b.harm.baseline_rate == 0.0  # acts on the all-cause residual
    assert "all-cause" in b.harm.sources["baseline_rate_per_patient_week"]
    assert "manager" in b.roles


def test_medication_list_accuracy_handover_is_one_element_on_both_sides() -> None:
    b = shipped_bundles()["medication_list_accuracy"]
    cross = [e for e in b.elements if e.cross_boundary]
    handover = {e.name: e for e in cross}["discharge_list_handover"]
    assert set(handover.settings) == {"hospital", "nursing_home", "home_care"}
    # No one-sided cross-boundary elements (a "sent" and a separate "taken in").
    for e in cross:
        assert "hospital" in e.settings and set(e.settings) & set(MUNICIPAL_KINDS)


def test_medication_reconciliation_is_hospital_focused() -> None:
    b = shipped_bundles()["medication_reconciliation"]
    local = [e for e in b.elements if not e.cross_boundary]
    assert local and all(e.settings == ("hospital",) for e in local)
    assert "pharmacist" in b.roles
    assert b.harm is not None and b.harm.settings == ("hospital",)
    assert b.name != "medication_list_accuracy"


def test_bundles_command_lists_all_shipped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bundles"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(EXPECTED)


def test_implsim_bundles_console_script_lists_all_shipped() -> None:
    exe = Path(sys.executable).with_name("implsim")
    if not exe.exists():
        pytest.skip("implsim console script not installed next to this interpreter")
    out = subprocess.run([str(exe), "bundles"], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    assert sorted(line.split()[0] for line in out.strip().splitlines()) == sorted(EXPECTED)


def test_antibiotic_hospital_adherence_from_the_western_norway_trial() -> None:
    b = shipped_bundles()["antibiotic_stewardship"]
    choice = {e.name: e for e in b.elements}["guideline_concordant_choice"]
    assert choice.baseline_fidelity == pytest.approx(0.60)
    assert "Wathne et al., Antimicrob Resist Infect Control 2018;7:109" in \
        choice.sources["baseline_fidelity"]


def test_medication_list_accuracy_has_cross_boundary_element() -> None:
    b = shipped_bundles()["medication_list_accuracy"]
    assert any(e.cross_boundary for e in b.elements)
    assert "hospital" in b.settings
    assert set(b.settings) & {"nursing_home", "home_care", "gp"}


def test_good_user_file_loads(tmp_path: Path) -> None:
    b = load_bundle_file(_write(tmp_path, GOOD, "mine.toml"))
    assert b.name == "my_bundle"
    assert b.elements[0].baseline_fidelity == pytest.approx(0.3)
    assert b.sources["complexity"] == "assumption"


# --- bad bundle files -----------------------------------------------------------------------------


def _error(tmp_path: Path, text: str) -> tuple[str, Path]:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_bundle_file(path)
    msg = str(info.value)
    assert str(path) in msg
    return msg, path


def test_unknown_top_level_key(tmp_path: Path) -> None:
    msg, _ = _error(tmp_path, 'colour = "red"\n' + GOOD)
    assert "colour" in msg
    for key in ("name", "settings", "elements", "complexity", "harm"):
        assert key in msg


def test_unknown_role(tmp_path: Path) -> None:
    msg, _ = _error(tmp_path, GOOD.replace('roles = ["nurse"]', 'roles = ["surgeon"]'))
    assert "roles" in msg and "surgeon" in msg and "nurse" in msg


def test_unknown_setting(tmp_path: Path) -> None:
    msg, _ = _error(tmp_path, GOOD.replace('settings = ["hospital"]', 'settings = ["spa"]'))
    assert "settings" in msg and "spa" in msg and "nursing_home" in msg


@pytest.mark.parametrize("value", ["1.5", "-0.1", "{ value = 2, source = \"assumption\" }"])
def test_baseline_fidelity_out_of_range(tmp_path: Path, value: str) -> None:
    text = GOOD.replace('baseline_fidelity = { value = 0.3, source = "assumption" }',
                        f"baseline_fidelity = {value}")
    msg, _ = _error(tmp_path, text)
    assert "baseline_fidelity" in msg


def test_missing_elements(tmp_path: Path) -> None:
    msg, _ = _error(tmp_path, GOOD.split("[[elements]]")[0])
    assert "elements" in msg


def test_duplicate_element_names(tmp_path: Path) -> None:
    msg, _ = _error(tmp_path, GOOD + GOOD[GOOD.index("[[elements]]"):])
    assert "elements" in msg and "unique" in msg


def test_invalid_toml(tmp_path: Path) -> None:
    msg, _ = _error(tmp_path, GOOD + "\nthis is = = not toml\n")
    assert "TOML" in msg


HARM = """
[harm]
event = "Something bad"
baseline_rate_per_patient_week = { value = 0.01, source = "assumption" }
relative_risk = { value = 0.8, source = "assumption" }
"""


def test_good_user_file_with_harm_and_element_settings(tmp_path: Path) -> None:
    text = GOOD.replace('settings = ["hospital"]', 'settings = ["hospital", "nursing_home"]')
    text = text.replace('roles = ["nurse"]', 'roles = ["nurse"]\nsettings = ["nursing_home"]')
    b = load_bundle_file(_write(tmp_path, text + HARM.replace(
        '[harm]\n', '[harm]\nsettings = ["hospital"]\n'), "mine.toml"))
    assert b.elements[0].settings == ("nursing_home",)
    assert b.harm is not None and b.harm.settings == ("hospital",)
    assert b.harm.relative_risk == pytest.approx(0.8)


def test_harm_settings_default_to_bundle_settings(tmp_path: Path) -> None:
    b = load_bundle_file(_write(tmp_path, GOOD + HARM, "mine.toml"))
    assert b.harm is not None and b.harm.settings == b.settings
    assert b.elements[0].settings == b.settings


def test_harm_missing_relative_risk(tmp_path: Path) -> None:
    text = GOOD + HARM.replace('relative_risk = { value = 0.8, source = "assumption" }\n', "")
    msg, _ = _error(tmp_path, text)
    assert "harm" in msg and "relative_risk" in msg and "required" in msg


@pytest.mark.parametrize("value", ["1.2", "{ value = 1.5, source = \"assumption\" }", "-0.1"])
def test_harm_relative_risk_out_of_range(tmp_path: Path, value: str) -> None:
    text = GOOD + HARM.replace('relative_risk = { value = 0.8, source = "assumption" }',
                               f"relative_risk = {value}")
    msg, _ = _error(tmp_path, text)
    assert "harm" in msg and "relative_risk" in msg


def test_harm_unknown_key(tmp_path: Path) -> None:
    msg, _ = _error(tmp_path, GOOD + HARM + 'odds_ratio = 0.5\n')
    assert "harm" in msg and "odds_ratio" in msg and "relative_risk" in msg


def test_harm_settings_not_in_bundle_settings(tmp_path: Path) -> None:
    text = GOOD + HARM.replace("[harm]\n", '[harm]\nsettings = ["nursing_home"]\n')
    msg, _ = _error(tmp_path, text)
    assert "harm" in msg and "settings" in msg and "nursing_home" in msg and "hospital" in msg


def test_element_settings_not_in_bundle_settings(tmp_path: Path) -> None:
    text = GOOD.replace('roles = ["nurse"]', 'roles = ["nurse"]\nsettings = ["gp"]')
    msg, _ = _error(tmp_path, text)
    assert "elements[0]" in msg and "settings" in msg and "'gp'" in msg and "hospital" in msg


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(InputError, match="not found") as info:
        load_bundle_file(path)
    assert str(path) in str(info.value)


# --- resolve_bundle -------------------------------------------------------------------------------


def test_resolve_unknown_name_lists_shipped() -> None:
    with pytest.raises(InputError) as info:
        resolve_bundle("no_such_bundle", "scenario.toml: bundles[0]")
    msg = str(info.value)
    assert "scenario.toml: bundles[0]" in msg and "no_such_bundle" in msg
    for name in EXPECTED:
        assert name in msg


def test_resolve_shipped_name() -> None:
    assert resolve_bundle("deteriorating_patient", "x").name == "deteriorating_patient"


def test_resolve_relative_path_against_base_dir(tmp_path: Path) -> None:
    sub = tmp_path / "bundles"
    sub.mkdir()
    _write(sub, GOOD, "mine.toml")
    b = resolve_bundle("bundles/mine.toml", "scenario.toml: bundles[0]", base_dir=tmp_path)
    assert b.name == "my_bundle"
    assert Path(b.path) == sub / "mine.toml"


def test_resolve_missing_relative_path_names_resolved_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        resolve_bundle("gone.toml", "x", base_dir=tmp_path)
    assert str(tmp_path / "gone.toml") in str(info.value)


def test_resolve_inline_table() -> None:
    table = tomllib.loads(GOOD)
    b = resolve_bundle(table, "scenario.toml: bundles[0]")
    assert b.name == "my_bundle"
    assert b.elements[0].roles == ("nurse",)


def test_resolve_inline_table_errors_name_where() -> None:
    table = tomllib.loads(GOOD)
    table["elements"][0]["roles"] = ["wizard"]
    with pytest.raises(InputError, match=r"scenario\.toml: bundles\[0\].*roles"):
        resolve_bundle(table, "scenario.toml: bundles[0]")


def test_resolve_rejects_other_types() -> None:
    with pytest.raises(InputError):
        resolve_bundle(42, "x")  # type: ignore[arg-type]

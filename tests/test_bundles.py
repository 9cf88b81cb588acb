"""Shipped bundle files and the validation of user bundle files (SPEC §6)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from sim.bundles import Bundle, load_bundle_file, resolve_bundle, shipped_bundles
from sim.bundles.bundle import DATA_DIR
from sim.errors import InputError
from sim.params import ORG_KINDS, ROLES

EXPECTED = {
    "antibiotic_stewardship",
    "medication_list_accuracy",
    "deteriorating_patient",
    "mental_health_patient_involvement",
}
SHIPPED_FILES = sorted(DATA_DIR.glob("*.toml"))

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
    assert harm.baseline_rate > 0 and harm.sources["baseline_rate_per_patient_week"].strip()
    assert 0 < harm.relative_risk <= 1 and harm.sources["relative_risk"].strip()


def test_antibiotic_hospital_adherence_from_skodvin() -> None:
    b = shipped_bundles()["antibiotic_stewardship"]
    choice = {e.name: e for e in b.elements}["guideline_concordant_choice"]
    assert choice.baseline_fidelity == pytest.approx(0.60)
    assert "Skodvin" in choice.sources["baseline_fidelity"]


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

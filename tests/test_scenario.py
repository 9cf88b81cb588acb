"""Scenario files: every validation error names the file, the field and what is allowed;
defaults are filled from the declarations; the built-in default loads; unit targets resolve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.bundles import shipped_bundles
from sim.errors import InputError
from sim.interventions import REGISTRY
from sim.model import ImplementationModel
from sim.params import MODEL, NETWORK, ORG_KINDS, STRUCTURE
from sim.population import KIND_CODE
from sim.scenario import OUTPUT, TOP, Strategy, load_scenario

SHIPPED = [
    "antibiotic_stewardship",
    "medication_list_accuracy",
    "deteriorating_patient",
    "mental_health_patient_involvement",
]

SMALL_HEAD = """\
name = "small"
weeks = 12
replicates = 2

[structure]
hospital_trusts = 1
wards_per_trust = 3
mental_health_units_per_trust = 1
municipalities_per_trust = 2
nursing_homes_per_municipality = 1
home_care_teams_per_municipality = 1
gp_practices_per_municipality = 1
"""

SMALL_STRATEGIES = """
[[strategies]]
name = "none"

[[strategies]]
name = "support"

  [[strategies.interventions]]
  type = "training"
  start_week = 2
  end_week = 8

  [[strategies.interventions]]
  type = "facilitation"
  start_week = 2
  end_week = 8
"""


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    """Write a scenario file into ``tmp_path`` and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def small(tmp_path: Path, strategies: str = SMALL_STRATEGIES, name: str = "small.toml") -> Path:
    """A small, fast scenario (12 units, 12 weeks) with the given strategies."""
    return write(tmp_path, SMALL_HEAD + strategies, name)


def strategy_with(intervention: str) -> str:
    """A one-strategy block whose single intervention is the inline table ``intervention``."""
    return f'\n[[strategies]]\nname = "s"\ninterventions = [{intervention}]\n'


def load_error(path: Path) -> str:
    """Load ``path``, expect an InputError naming the file; return the message minus the path."""
    with pytest.raises(InputError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert str(path) in msg, f"error does not name the file: {msg}"
    assert "\n" not in msg, f"error is not one line: {msg!r}"
    return msg.replace(str(path), "<FILE>")  # fragments must come from the message itself


def assert_contains(msg: str, *fragments: str) -> None:
    for fragment in fragments:
        assert fragment in msg, f"{fragment!r} missing from error: {msg}"


# --- scalar fields: type and range -----------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        pytest.param('weeks = "ten"\n', ("weeks", "an integer in [1, 5200]", "'ten'"),
                     id="weeks-wrong-type"),
        pytest.param("weeks = 0\n", ("weeks", "an integer in [1, 5200]", "got 0"),
                     id="weeks-zero"),
        pytest.param("weeks = 10.5\n", ("weeks", "an integer", "10.5"), id="weeks-fraction"),
        pytest.param("[parameters]\np_awareness = 1.5\n",
                     ("parameters.p_awareness", "a number in [0, 1]", "1.5"),
                     id="probability-above-one"),
        pytest.param("[parameters]\nturnover_annual = -0.1\n",
                     ("parameters.turnover_annual", "a number in [0, 1]", "-0.1"),
                     id="negative-rate"),
        pytest.param('[parameters]\ncontagion = "viral"\n',
                     ("parameters.contagion", "'simple'", "'complex'", "'viral'"),
                     id="contagion-choice"),
        pytest.param("[structure]\nwards_per_trust = -1\n",
                     ("structure.wards_per_trust", "an integer in [0, 500]"),
                     id="structure-negative"),
        pytest.param("[output]\nevery_weeks = 0\n", ("output.every_weeks", "[1, 520]"),
                     id="output-range"),
        pytest.param("parameters = 3\n", ("parameters", "must be a table"),
                     id="section-not-table"),
    ],
)
def test_bad_values_name_file_field_and_allowed_values(tmp_path, text, fragments):
    msg = load_error(write(tmp_path, text))
    assert_contains(msg, *fragments)


# --- unknown keys list the known ones ---------------------------------------------------------
def test_unknown_top_level_key_lists_known_keys(tmp_path):
    msg = load_error(write(tmp_path, "wekks = 3\n"))
    assert_contains(msg, "wekks", "unknown key")
    for known in [*TOP.names(), "parameters", "structure", "network", "output", "bundles",
                  "strategies"]:
        assert known in msg


def test_unknown_parameter_lists_known_parameters(tmp_path):
    msg = load_error(write(tmp_path, "[parameters]\np_inovation = 0.01\n"))
    assert_contains(msg, "parameters.p_inovation", "unknown key", "p_innovation")
    for known in MODEL.names():
        assert known in msg


def test_unknown_bundle_lists_shipped_bundles(tmp_path):
    msg = load_error(write(tmp_path, 'bundles = ["falls_prevention"]\n'))
    assert_contains(msg, "bundles[0]", "'falls_prevention'", *shipped_bundles())


def test_empty_bundle_list_is_refused(tmp_path):
    msg = load_error(write(tmp_path, "bundles = []\n"))
    assert_contains(msg, "bundles", "non-empty")


# --- interventions ----------------------------------------------------------------------------
def test_unknown_intervention_type_lists_types(tmp_path):
    msg = load_error(small(tmp_path, strategy_with('{ type = "coaching" }')))
    from sim.interventions import REGISTRY

    assert_contains(msg, "interventions[0].type", "'coaching'", ", ".join(sorted(REGISTRY)))
    assert {"facilitation", "training"} <= set(REGISTRY)


def test_unknown_intervention_key_lists_its_known_keys(tmp_path):
    msg = load_error(small(tmp_path, strategy_with('{ type = "training", coverag = 0.5 }')))
    assert_contains(msg, "interventions[0].coverag", "unknown key", "'training'")
    for known in ["coverage", "interval_weeks", "knowledge_gain", "cost_per_trainee",
                  "start_week", "end_week", "bundles", "target", "name", "type"]:
        assert known in msg


def test_facilitation_key_is_unknown_to_training(tmp_path):
    msg = load_error(small(tmp_path, strategy_with('{ type = "training", intensity = 0.5 }')))
    assert_contains(msg, "interventions[0].intensity", "unknown key", "coverage")


def test_intervention_parameter_out_of_range(tmp_path):
    msg = load_error(small(tmp_path, strategy_with('{ type = "facilitation", intensity = 2 }')))
    assert_contains(msg, "interventions[0].intensity", "a number in [0, 1]", "got 2")


def test_end_week_before_start_week(tmp_path):
    msg = load_error(small(tmp_path, strategy_with(
        '{ type = "training", start_week = 10, end_week = 5 }')))
    assert_contains(msg, "interventions[0].end_week", "start_week", "10", "got 5")


def test_intervention_bundle_not_in_scenario(tmp_path):
    text = ('bundles = ["antibiotic_stewardship"]\n' + strategy_with(
        '{ type = "training", bundles = ["deteriorating_patient"] }'))
    msg = load_error(write(tmp_path, text))
    assert_contains(msg, "interventions[0].bundles", "'deteriorating_patient'",
                    "antibiotic_stewardship")


@pytest.mark.parametrize(
    ("target", "fragments"),
    [
        pytest.param('{ kinds = ["school"] }', ("target.kinds", "'school'", *ORG_KINDS),
                     id="unknown-kind"),
        pytest.param('"school"', ("target", "'school'", '"all"', *ORG_KINDS),
                     id="unknown-kind-string"),
        pytest.param("{ share = 0 }", ("target.share", "(0, 1]", "got 0"), id="share-zero"),
        pytest.param("{ share = 1.5 }", ("target.share", "(0, 1]", "1.5"), id="share-above-1"),
        pytest.param('{ rule = "best" }',
                     ("target.rule", "'best'", "random", "centrality", "readiness"),
                     id="unknown-rule"),
        pytest.param('{ wards = ["a"] }', ("target.wards", "unknown key", "kinds", "units"),
                     id="unknown-target-key"),
    ],
)
def test_bad_targets(tmp_path, target, fragments):
    msg = load_error(small(tmp_path, strategy_with(f'{{ type = "training", target = {target} }}')))
    assert_contains(msg, "interventions[0]", *fragments)


# --- strategies -------------------------------------------------------------------------------
def test_duplicate_strategy_names(tmp_path):
    text = '[[strategies]]\nname = "a"\n\n[[strategies]]\nname = "a"\n'
    msg = load_error(write(tmp_path, text))
    assert_contains(msg, "strategies", "unique")


def test_unknown_strategy_key(tmp_path):
    msg = load_error(write(tmp_path, '[[strategies]]\nname = "a"\nsupport = 1\n'))
    assert_contains(msg, "strategies[0].support", "unknown key", "interventions", "name")


# --- files ------------------------------------------------------------------------------------
def test_invalid_toml(tmp_path):
    msg = load_error(write(tmp_path, "weeks = = 3\n"))
    assert_contains(msg, "not valid TOML", "line 1")


def test_missing_scenario_file(tmp_path):
    path = tmp_path / "nowhere.toml"
    msg = load_error(path)
    assert_contains(msg, "not found")


def test_scenario_path_is_a_directory(tmp_path):
    msg = load_error(tmp_path)
    assert_contains(msg, "directory")


def test_missing_network_file_names_the_resolved_path(tmp_path):
    msg = load_error(write(tmp_path, '[network]\nfile = "ties.graphml"\n'))
    assert_contains(msg, "network.file", str(tmp_path / "ties.graphml"), "not found",
                    "relative to the scenario file")


def test_network_file_relative_to_scenario_file(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "ties.graphml").write_text("<graphml/>", encoding="utf-8")
    sc = load_scenario(write(sub, '[network]\nfile = "ties.graphml"\n'))
    assert Path(sc.network["file"]) == sub / "ties.graphml"


# --- the built-in default and defaults --------------------------------------------------------
def test_default_scenario_loads():
    sc = load_scenario(None)
    assert len(sc.bundles) == 4
    assert sc.bundle_names == SHIPPED
    assert [s.name for s in sc.strategies] == ["no extra support", "training + facilitation"]
    assert sc.strategies[0].interventions == []
    assert {iv["type"] for iv in sc.strategies[1].interventions} == {"training", "facilitation"}
    assert sc.weeks == 156


def test_default_scenario_resolved_is_json_and_complete():
    resolved = load_scenario(None).resolved()
    data = json.loads(json.dumps(resolved))  # no default=str: must be plain data
    assert set(MODEL.names()) <= set(data["parameters"])
    assert set(STRUCTURE.names()) <= set(data["structure"])
    assert set(NETWORK.names()) <= set(data["network"])
    assert [b["name"] for b in data["bundles"]] == SHIPPED
    support = data["strategies"][1]["interventions"]
    assert [iv["type"] for iv in support] == ["training", "facilitation"]
    # Interventions are resolved too: every declared key of each type is there.
    for iv in support:
        assert set(REGISTRY[iv["type"]].PARAMS.names()) <= set(iv)


def test_minimal_scenario_gets_every_default(tmp_path):
    sc = load_scenario(write(tmp_path, "weeks = 5\n"))
    assert sc.weeks == 5
    assert sc.parameters == MODEL.defaults()
    assert sc.structure == STRUCTURE.defaults()
    assert sc.network == NETWORK.defaults()
    assert sc.output == OUTPUT.defaults()
    top = TOP.defaults()
    assert (sc.name, sc.description, sc.seed, sc.replicates) == (
        top["name"], top["description"], top["seed"], top["replicates"])
    assert sc.bundle_names == SHIPPED
    assert sc.strategies == [Strategy("no extra support", [])]


def test_given_values_override_defaults_and_convert_types(tmp_path):
    sc = load_scenario(write(tmp_path, "weeks = 5\n[parameters]\np_innovation = 0\n"
                             "sustainability_weeks = 26.0\n"))
    assert sc.parameters["p_innovation"] == 0.0
    assert isinstance(sc.parameters["p_innovation"], float)
    assert sc.parameters["sustainability_weeks"] == 26
    assert isinstance(sc.parameters["sustainability_weeks"], int)
    others = {k: v for k, v in sc.parameters.items()
              if k not in ("p_innovation", "sustainability_weeks")}
    assert others == {k: v for k, v in MODEL.defaults().items() if k in others}


# --- with_overrides ---------------------------------------------------------------------------
def test_with_overrides_applies_and_validates(tmp_path):
    sc = load_scenario(small(tmp_path))
    before = dict(sc.parameters)
    new = sc.with_overrides(parameters={"p_awareness": 0.5}, structure={"wards_per_trust": 2})
    assert new.parameters["p_awareness"] == 0.5
    assert new.structure["wards_per_trust"] == 2
    assert sc.parameters == before  # the original is untouched
    assert sc.structure["wards_per_trust"] == 3

    with pytest.raises(InputError) as info:
        sc.with_overrides(parameters={"p_awareness": 1.5})
    assert_contains(str(info.value), str(tmp_path / "small.toml"), "parameters.p_awareness",
                    "[0, 1]")
    with pytest.raises(InputError) as info:
        sc.with_overrides(parameters={"p_inovation": 0.1})
    assert_contains(str(info.value), "p_inovation", "p_innovation")
    with pytest.raises(InputError) as info:
        sc.with_overrides(params={"p_awareness": 0.1})
    assert_contains(str(info.value), "params", "parameters", "structure", "network")


# --- targets by unit name ---------------------------------------------------------------------
def test_unit_target_by_name_reaches_exactly_that_unit(tmp_path):
    base = load_scenario(small(tmp_path))
    pop = ImplementationModel(base, "none", seed=1).pop
    idx = len(pop.unit_name) // 2
    name = pop.unit_name[idx]
    path = small(tmp_path, strategy_with(
        f'{{ type = "facilitation", target = {{ units = [{json.dumps(name)}] }} }}'),
        name="unit_target.toml")
    model = ImplementationModel(load_scenario(path), "s", seed=1)
    (iv,) = model.interventions
    expected = np.zeros(pop.n_units, bool)
    expected[idx] = True
    np.testing.assert_array_equal(iv.units, expected)
    np.testing.assert_array_equal(iv.staff, model.pop.staff_unit == idx)
    assert iv.staff.sum() > 0


def test_kind_target_reaches_every_unit_of_that_kind(tmp_path):
    path = small(tmp_path, strategy_with('{ type = "training", target = "nursing_home" }'))
    model = ImplementationModel(load_scenario(path), "s", seed=1)
    mask = model.pop.unit_kind == KIND_CODE["nursing_home"]
    assert 0 < mask.sum() < model.pop.n_units
    np.testing.assert_array_equal(model.interventions[0].units, mask)


def test_unknown_unit_name_raises_naming_the_field(tmp_path):
    path = small(tmp_path, strategy_with(
        '{ type = "facilitation", target = { units = ["Nowhere ward 9"] } }'))
    sc = load_scenario(path)
    with pytest.raises(InputError) as info:
        ImplementationModel(sc, "s", seed=1)
    assert_contains(str(info.value), str(path), "interventions[0]", "units",
                    "'Nowhere ward 9'", "Trust 1 hospital ward 1")


def test_a_bundle_with_no_units_in_the_structure_is_a_clear_error(tmp_path) -> None:
    """The central-line bundle is done in ICUs: without ICU units it would run as all NaN."""
    path = tmp_path / "no_icu.toml"
    path.write_text('bundles = ["central_line_infection"]\n[[strategies]]\nname = "a"\n')
    with pytest.raises(InputError, match=r"no_icu.toml: bundles: central_line_infection: "
                       r"applies only in icu.*icu_units_per_trust"):
        load_scenario(path)
    path.write_text('bundles = ["central_line_infection"]\n[structure]\n'
                    'icu_units_per_trust = 1\n[[strategies]]\nname = "a"\n')
    assert load_scenario(path).bundle_names == ["central_line_infection"]

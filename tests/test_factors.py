"""Factor keys: one parser, one declaration lookup, one way to apply, one error wording."""

from __future__ import annotations

import pytest

from sim.errors import InputError
from sim.factors import apply_point, declaration, intervention_name, interventions, parse_key
from sim.scenario import load_scenario


def test_parse_key_forms():
    assert parse_key("parameters.p_abandon", "f").param == "p_abandon"
    k = parse_key("interventions.my.coach.coverage", "f")
    assert (k.section, k.intervention, k.param) == ("interventions", "my.coach", "coverage")
    for bad in ("turnover", "colour.x", "interventions.coverage", 3):
        with pytest.raises(InputError, match=r"unknown factor .*'section\.parameter'") as err:
            parse_key(bad, "f.toml: design.factors")
        assert err.value.where == "f.toml: design.factors"


def test_intervention_name_is_its_name_else_its_type():
    assert intervention_name({"type": "training"}) == "training"
    assert intervention_name({"type": "training", "name": ""}) == "training"
    assert intervention_name({"type": "training", "name": "t2"}) == "t2"


def test_declaration_and_apply():
    sc = load_scenario()
    specs = interventions(sc)
    name = intervention_name(specs[0])
    param, origin = declaration(parse_key("parameters.p_abandon", "w"), specs, "w")
    assert param.name == "p_abandon" and origin == "[parameters]"
    p2, origin2 = declaration(parse_key(f"interventions.{name}.end_week", "w"), specs, "w")
    assert p2.name == "end_week" and name in origin2
    new = apply_point(sc, {"parameters.p_abandon": 0.01, f"interventions.{name}.end_week": 60},
                      "w")
    assert new.parameters["p_abandon"] == 0.01 and new is not sc
    assert all(s["end_week"] == 60 for s in interventions(new) if intervention_name(s) == name)
    assert interventions(sc)[0].get("end_week") != 60


@pytest.mark.parametrize(("key", "fragment"), [
    ("parameters.nope", "[parameters] has no parameter 'nope'"),
    ("interventions.ghost.coverage", "no intervention named 'ghost'"),
])
def test_unknown_factors_have_one_wording(key, fragment):
    sc = load_scenario()
    with pytest.raises(InputError, match="unknown factor") as err:
        declaration(parse_key(key, "w"), interventions(sc), "w")
    assert fragment in err.value.message

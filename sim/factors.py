"""Factor keys: the one way experiments, sensitivity analyses and calibrations name a parameter.

A key is ``section.param`` (``parameters``, ``structure``, ``network``, ``patients``) or
``interventions.NAME.param`` for a parameter of the intervention called NAME (its ``name``,
or its type when unnamed) in a scenario's strategies. This module parses a key, finds its
declaration (:mod:`sim.params`, an intervention's ``PARAMS`` or the common keys) and applies
values to a scenario, with one wording for every error.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim.errors import InputError
from sim.params import MODEL, NETWORK, PATIENTS, STRUCTURE, Param, ParamSet

if TYPE_CHECKING:
    from sim.scenario import Scenario

#: The scenario sections a factor may name, with their declarations.
SECTIONS: dict[str, ParamSet] = {"parameters": MODEL, "structure": STRUCTURE,
                                 "network": NETWORK, "patients": PATIENTS}
FORMS = (f"'section.parameter' with section one of {', '.join(SECTIONS)} (e.g. "
         "'parameters.turnover_annual'), or 'interventions.NAME.parameter'")


@dataclass(frozen=True)
class Key:
    """A parsed factor key: its section, the intervention's name (or ""), the parameter."""

    key: str
    section: str
    param: str
    intervention: str = ""


def parse_key(key: Any, where: str, also: str = "") -> Key:
    """Parse ``key`` or fail naming the forms allowed (``also``: a caller's extra forms)."""
    if isinstance(key, str):
        section, _, rest = key.partition(".")
        if section in SECTIONS and rest:
            return Key(key, section, rest)
        iv, _, param = rest.rpartition(".")
        if section == "interventions" and iv and param:
            return Key(key, section, param, iv)
    raise InputError(where, f"unknown factor {key!r}: a factor is {FORMS}{also}")


def intervention_name(spec: dict[str, Any]) -> str:
    """The name an intervention table goes by: its ``name``, else its ``type``."""
    return spec.get("name") or spec.get("type", "")


def find_interventions(specs: list[dict[str, Any]], name: str, key: str,
                       where: str) -> list[dict[str, Any]]:
    """The intervention tables named ``name``, or an error listing the names there are."""
    hits = [spec for spec in specs if intervention_name(spec) == name]
    if not hits:
        names = sorted({intervention_name(spec) for spec in specs})
        raise InputError(where, f"unknown factor {key!r}: no intervention named {name!r}; "
                         f"the strategy has: {', '.join(names) or 'none'}")
    return hits


def declaration(key: Key, specs: list[dict[str, Any]], where: str) -> tuple[Param, str]:
    """The declaration behind ``key`` and where it lives (for messages).

    ``specs`` are the intervention tables the ``interventions.NAME.param`` keys refer to.
    """
    if key.section in SECTIONS:
        pset = SECTIONS[key.section]
        if key.param not in pset.names():
            raise InputError(where, f"unknown factor {key.key!r}: [{key.section}] has no "
                             f"parameter {key.param!r}; known: {', '.join(pset.names())}")
        return pset[key.param], f"[{key.section}]"
    from sim.interventions import COMMON, REGISTRY

    spec = find_interventions(specs, key.intervention, key.key, where)[0]
    cls = REGISTRY[spec["type"]]
    for pset in (cls.PARAMS, COMMON):
        if key.param in pset.names():
            return pset[key.param], f"intervention {key.intervention!r} ({cls.type_name})"
    raise InputError(where, f"unknown factor {key.key!r}: intervention {key.intervention!r} "
                     f"({cls.type_name}) has no parameter {key.param!r}; known: "
                     f"{', '.join([*cls.PARAMS.names(), *COMMON.names()])}")


def interventions(scenario: Scenario) -> list[dict[str, Any]]:
    """Every intervention table of the scenario's strategies (what keys name)."""
    return [spec for s in scenario.strategies for spec in s.interventions]


def apply_point(scenario: Scenario, point: dict[str, Any], where: str) -> Scenario:
    """A copy of ``scenario`` with ``{key: value}`` applied, validated like a file.

    ``interventions.NAME.x`` sets ``x`` on every intervention named NAME in the strategies.
    """
    if not point:
        return scenario
    from sim.interventions import make_intervention

    by_section: dict[str, dict[str, Any]] = {}
    by_intervention: dict[str, dict[str, Any]] = {}
    for raw, value in point.items():
        key = parse_key(raw, where)
        if key.intervention:
            by_intervention.setdefault(key.intervention, {})[key.param] = value
        else:
            by_section.setdefault(key.section, {})[key.param] = value
    try:
        new = scenario.with_overrides(**by_section)
    except InputError as exc:
        field = exc.where.rsplit(": ", 1)[-1]
        raise InputError(f"{where}: {field}", exc.message) from None
    if by_intervention:
        if not by_section:
            new = copy.deepcopy(new)
        for iv_name, values in by_intervention.items():
            for spec in find_interventions(interventions(new), iv_name,
                                           f"interventions.{iv_name}",
                                           f"{where}: interventions.{iv_name}"):
                spec.update(values)
                make_intervention(spec, f"{where}: interventions.{iv_name}", new.bundle_names)
    return new

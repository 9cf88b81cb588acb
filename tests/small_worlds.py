"""Random small health systems for property tests of the outputs (levels, elements).

A hypothesis strategy draws a ``[structure]`` (trusts, regions, wards, municipalities and their
services, small staff), a subset of the shipped bundles and a supported strategy, and
:func:`run_small` runs it for a few weeks with the tables the outputs are built from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import assume
from hypothesis import strategies as st

from sim.bundles import shipped_bundles
from sim.checks import doable_kinds
from sim.params import ALL_LEVELS, MODEL
from sim.population import Population
from sim.scenario import Scenario, scenario_from_dict
from sim.simulate import run
from sim.world import build_world

BUNDLES = ["antibiotic_stewardship", "medication_list_accuracy", "deteriorating_patient",
           "mental_health_patient_involvement", "falls_in_institutions"]


@dataclass
class Small:
    """One run of a small random scenario: its tables and the world they describe."""

    scenario: Scenario
    pop: Population
    eligible: np.ndarray  # (U, B) eligible staff per unit
    element_bundle: np.ndarray  # (E,)
    timeseries: pd.DataFrame
    elements: pd.DataFrame
    summary: pd.DataFrame


@st.composite
def small_scenarios(draw) -> dict:
    """A scenario table with a random small structure (at least one unit)."""
    structure = {
        "regions": draw(st.integers(1, 2)),
        "hospital_trusts": draw(st.integers(1, 2)),
        "wards_per_trust": draw(st.integers(0, 3)),
        "mental_health_units_per_trust": draw(st.integers(0, 2)),
        "municipalities_per_trust": draw(st.integers(0, 3)),
        "nursing_homes_per_municipality": draw(st.integers(0, 2)),
        "units_per_nursing_home": draw(st.integers(1, 2)),
        "home_care_teams_per_municipality": draw(st.integers(0, 1)),
        "gp_practices_per_municipality": draw(st.integers(0, 2)),
        "staff_per_ward": draw(st.integers(3, 12)),
        "staff_per_mental_health_unit": draw(st.integers(3, 12)),
        "staff_per_nursing_home_unit": draw(st.integers(3, 12)),
        "staff_per_home_care_team": draw(st.integers(3, 12)),
        "staff_per_gp_practice": draw(st.integers(2, 6)),
    }
    s = structure
    municipal = s["municipalities_per_trust"] * (s["nursing_homes_per_municipality"]
                                                 + s["home_care_teams_per_municipality"]
                                                 + s["gp_practices_per_municipality"])
    assume(s["wards_per_trust"] + s["mental_health_units_per_trust"] + municipal > 0)
    kinds = {"hospital": s["wards_per_trust"], "mental_health": s["mental_health_units_per_trust"],
             "nursing_home": s["municipalities_per_trust"] * s["nursing_homes_per_municipality"],
             "home_care": s["municipalities_per_trust"] * s["home_care_teams_per_municipality"],
             "gp": s["municipalities_per_trust"] * s["gp_practices_per_municipality"]}
    shipped = shipped_bundles()
    present = {k for k, n in kinds.items() if n}
    usable = [b for b in BUNDLES if doable_kinds(shipped[b], present)]
    assume(usable)  # a bundle that can be done in no unit is an input error (sim.checks)
    bundles = draw(st.lists(st.sampled_from(usable), min_size=1, max_size=3, unique=True))
    parameters = {"p_awareness": draw(st.floats(0.05, 0.5)),
                  "penetration_threshold": draw(st.floats(0.05, 0.6))}
    if "element_correlation" in MODEL.names():  # independence: compliance is the product
        parameters["element_correlation"] = 0.0
    return {
        "name": "small", "weeks": 6, "seed": draw(st.integers(0, 2**16)),
        "structure": structure, "bundles": bundles, "parameters": parameters,
        "output": {"every_weeks": draw(st.sampled_from([1, 3])), "levels": list(ALL_LEVELS[:-1])},
        "strategies": [{"name": "support", "interventions": [
            {"type": "training", "start_week": 1, "end_week": 4, "coverage": 0.9}]}],
    }


def run_small(data: dict) -> Small:
    """Run a scenario table once (its root seed) and keep its world's groupings."""
    scenario = scenario_from_dict(data, "small.toml", Path.cwd())
    world = build_world(scenario, scenario.seed)
    result = run(scenario, scenario.seed)
    return Small(scenario, world.pop, world.eligible_per_unit.astype(np.float64),
                 world.element_bundle, result.timeseries, result.elements, result.summary)


def entity_of_unit(pop: Population, level: str) -> list[str]:
    """Each unit's entity name at ``level``, derived here from the population (not the recorder).

    Trust: the structure's name of the trust, "Trust t" for a generated one. Municipality: the
    municipality of a municipal unit, "<trust> specialist services" for the hospital and
    mental-health units (the generated structures give every municipal unit one).
    """
    names = pop.trust_name or [f"Trust {t + 1}" for t in range(int(pop.unit_trust.max()) + 1)]
    trust = [names[t] for t in pop.unit_trust]
    if level == "unit":
        return list(pop.unit_name)
    if level == "organisation":
        return [pop.org_name[o] for o in pop.unit_org]
    if level == "trust":
        return trust
    if level == "region":  # the trust's region as the population names it
        return [pop.trust_region[t] for t in pop.unit_trust]
    if level == "municipality":
        return [pop.municipality_name[m] if m >= 0 else f"{t} specialist services"
                for m, t in zip(pop.unit_municipality, trust, strict=True)]
    if level == "kind":
        from sim.params import ORG_KINDS

        return [ORG_KINDS[k] for k in pop.unit_kind]
    return ["all"] * pop.n_units


def cube(rows: pd.DataFrame, weeks: list[int], entities: list[str], columns: list[str],
         column: str, value: str) -> np.ndarray:
    """(T, G, K) array of ``value`` from tidy rows keyed by week, entity and ``column``."""
    index = pd.MultiIndex.from_product([weeks, entities, columns])
    keyed = rows.assign(entity=rows["entity"].astype(str), **{column: rows[column].astype(str)})
    s = keyed.set_index(["week", "entity", column])[value]
    assert not s.index.duplicated().any()
    return s.reindex(index).to_numpy().reshape(len(weeks), len(entities), len(columns))

"""Shared causes of context (issue 18): trust, municipality and organisation random effects.

The intra-cluster correlation (one-way ANOVA ICC(1), :func:`sim.outcomes.icc.icc`) of the
units' adoption and compliance between municipalities rises with the municipality effect's SD
and is consistent with 0 without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.outcomes.icc import icc
from sim.params import MODEL
from sim.population import generate_catchment, shared_context
from sim.scenario import scenario_from_dict
from sim.simulate import run
from sim.world import build_world

STRUCTURE = {"hospital_trusts": 3, "wards_per_trust": 4, "mental_health_units_per_trust": 1,
             "municipalities_per_trust": 8, "nursing_homes_per_municipality": 2,
             "home_care_teams_per_municipality": 1, "gp_practices_per_municipality": 2}
# Single-unit GP practices of 30 staff: nothing is shared within a municipality but its effect.
GP_ONLY = {"wards_per_trust": 0, "mental_health_units_per_trust": 0,
           "municipalities_per_trust": 40, "nursing_homes_per_municipality": 0,
           "home_care_teams_per_municipality": 0, "gp_practices_per_municipality": 5,
           "staff_per_gp_practice": 30}


def logit(x: np.ndarray) -> np.ndarray:
    return np.log(x / (1 - x))


def population(**sds: float):
    from sim.scenario import load_scenario

    sc = load_scenario(None).with_overrides(structure=STRUCTURE,
                                            parameters={f"context_sd_{k}": v
                                                        for k, v in sds.items()})
    pop = generate_catchment(sc.structure, sc.parameters, 4)
    return pop, shared_context(pop, sc.parameters, 4)


def test_zero_sds_leave_the_population_as_it_was():
    assert all(MODEL[f"context_sd_{k}"].default == 0.0
               for k in ("trust", "municipality", "organisation"))
    before, after = population()
    assert after is before


def test_a_municipality_effect_moves_its_organisations_together_and_not_the_specialists():
    before, after = population(municipality=1.0)
    shift = logit(after.org_leadership.astype(float)) - logit(before.org_leadership.astype(float))
    muni = before.org_municipality
    assert np.allclose(shift[muni < 0], 0.0, atol=1e-5)  # hospitals serve every municipality
    for m in range(len(before.municipality_name)):
        assert np.ptp(shift[muni == m]) < 1e-4  # one effect per municipality
    unit_shift = logit(after.unit_climate.astype(float)) - logit(before.unit_climate.astype(float))
    assert np.allclose(unit_shift, shift[before.unit_org], atol=1e-4)
    slack = logit(after.unit_workload.astype(float)) - logit(before.unit_workload.astype(float))
    assert np.allclose(slack, -unit_shift, atol=1e-4)  # more leadership, more slack
    assert np.std(shift[muni >= 0]) > 0.5


def test_each_level_draws_from_its_own_stream():
    _, muni = population(municipality=1.0)
    _, both = population(municipality=1.0, trust=0.5)
    _, trust = population(trust=0.5)
    _, none = population()
    # the trust effect adds to the municipality effect on the logit scale, nothing is redrawn
    lhs = logit(both.org_leadership.astype(float)) - logit(none.org_leadership.astype(float))
    rhs = (logit(muni.org_leadership.astype(float)) + logit(trust.org_leadership.astype(float))
           - 2 * logit(none.org_leadership.astype(float)))
    assert np.allclose(lhs, rhs, atol=1e-4)
    shift = logit(trust.org_leadership.astype(float)) - logit(none.org_leadership.astype(float))
    for t in range(3):
        assert np.ptp(shift[none.org_trust == t]) < 1e-4


def unit_icc(sd: float, seed: int, weeks: int = 104) -> tuple[float, float]:
    """Between-municipality ICC of GP practices' adoption and compliance at the last week."""
    data = {"name": "icc", "weeks": weeks, "seed": seed, "structure": GP_ONLY,
            "parameters": {"context_sd_municipality": sd, "p_awareness": 0.05},
            "bundles": ["medication_list_accuracy"], "output": {"levels": ["unit"]}}
    sc = scenario_from_dict(data, "icc.toml", Path.cwd())
    pop = build_world(sc, seed).pop
    ts = run(sc, seed).timeseries
    last = ts[(ts["week"] == weeks) & (ts["level"] == "unit")]
    rows = last.set_index(last["entity"].astype(str)).loc[list(pop.unit_name)]
    return tuple(icc(rows[m].to_numpy(float), pop.unit_municipality)
                 for m in ("adoption", "compliance"))


def test_a_municipality_effect_induces_an_intra_cluster_correlation():
    none, some = unit_icc(0.0, 1), unit_icc(1.0, 1)
    assert all(abs(x) < 0.1 for x in none)
    assert all(s > n + 0.2 for s, n in zip(some, none, strict=True))


@pytest.mark.slow
def test_the_between_municipality_icc_rises_with_the_sd_over_seeds():
    sds, seeds = (0.0, 0.5, 1.0, 2.0), (1, 2, 3)
    mean = np.array([np.mean([unit_icc(sd, s) for s in seeds], axis=0) for sd in sds])
    assert (np.diff(mean, axis=0) > 0).all(), mean  # monotone, adoption and compliance
    assert (np.abs(mean[0]) < 0.05).all(), mean[0]  # SD 0: consistent with no correlation

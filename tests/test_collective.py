"""Correlated element performance (issue 14): all-or-none compliance under ``element_correlation``.

ρ = 0 must be the independence (product) of earlier versions bit for bit, ρ = 1 the weakest
element exactly, and in between the compliance rises with ρ from the product to the minimum.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim.errors import InputError
from sim.mechanisms import collective
from sim.model import ImplementationModel
from sim.scenario import Scenario, scenario_from_dict

SMALL = {"hospital_trusts": 1, "wards_per_trust": 3, "mental_health_units_per_trust": 1,
         "municipalities_per_trust": 2, "nursing_homes_per_municipality": 1,
         "home_care_teams_per_municipality": 1, "gp_practices_per_municipality": 1}
BUNDLES = ["medication_list_accuracy", "deteriorating_patient", "antibiotic_stewardship"]


def old_bundle_compliance(eff: np.ndarray, element_bundle: np.ndarray,
                          n_bundles: int) -> tuple[np.ndarray, np.ndarray]:
    """A verbatim copy of the independence (product) code before element_correlation."""
    u = eff.shape[0]
    comp = np.full((u, n_bundles), np.nan, np.float32)
    fid = np.full((u, n_bundles), np.nan, np.float32)
    for b in range(n_bundles):
        cols = eff[:, element_bundle == b]
        applicable = ~np.isnan(cols)
        any_app = applicable.any(axis=1)
        prod = np.prod(np.where(applicable, cols, 1.0), axis=1)
        n = applicable.sum(axis=1)
        mean = np.where(applicable, cols, 0.0).sum(axis=1) / np.maximum(n, 1)
        comp[any_app, b] = prod[any_app]
        fid[any_app, b] = mean[any_app]
    return comp, fid


def weakest(eff: np.ndarray, element_bundle: np.ndarray, n_bundles: int) -> np.ndarray:
    """(U, B) minimum over applicable elements (NaN where none applies), by brute force."""
    out = np.full((eff.shape[0], n_bundles), np.nan, np.float32)
    for u in range(eff.shape[0]):
        for b in range(n_bundles):
            vals = [v for v in eff[u, element_bundle == b] if not np.isnan(v)]
            if vals:
                out[u, b] = min(vals)
    return out


def random_eff(rng: np.random.Generator, units: int, elements: int) -> np.ndarray:
    eff = rng.random((units, elements)).astype(np.float32)
    eff[rng.random(eff.shape) < 0.3] = np.nan  # elements that do not apply
    eff[rng.random(eff.shape) < 0.05] = 0.0
    eff[rng.random(eff.shape) < 0.05] = 1.0
    return eff


def bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, np.float32).view(np.uint32).tobytes()


def scenario(correlation: float, weeks: int = 30) -> Scenario:
    data = {"weeks": weeks, "structure": SMALL, "bundles": BUNDLES,
            "parameters": {"p_awareness": 0.05, "element_correlation": correlation},
            "strategies": [{"name": "training", "interventions": [
                {"type": "training", "bundles": BUNDLES, "start_week": 1, "end_week": 1,
                 "coverage": 0.8}]}]}
    return scenario_from_dict(data, "<test_collective>", Path(__file__).parent)


# --- ρ = 0: the old independence, bit for bit ---------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_zero_correlation_is_the_old_product_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    eff = random_eff(rng, 40, 9)
    element_bundle = rng.integers(0, 4, 9)
    old_comp, old_fid = old_bundle_compliance(eff, element_bundle, 4)
    comp, fid = collective.bundle_compliance(eff, element_bundle, 4, 0.0)
    assert bits(comp) == bits(old_comp) and bits(fid) == bits(old_fid)
    comp_default, _ = collective.bundle_compliance(eff, element_bundle, 4)
    assert bits(comp_default) == bits(old_comp)  # the default is ρ = 0


def test_zero_correlation_in_the_model_is_the_old_product() -> None:
    """Each week of a run, the unit compliance is the old product of that week's elements."""
    model = ImplementationModel(scenario(0.0))
    w = model.world
    for _ in range(12):
        model.step()
        old, _ = old_bundle_compliance(model.state.unit_element, w.element_bundle,
                                       len(w.bundles))
        assert bits(model.state.unit_compliance) == bits(old)


# --- ρ = 1: the weakest element, exactly ---------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_full_correlation_is_the_weakest_element_exactly(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    eff = random_eff(rng, 40, 9)
    element_bundle = rng.integers(0, 4, 9)
    comp, fid = collective.bundle_compliance(eff, element_bundle, 4, 1.0)
    assert bits(comp) == bits(weakest(eff, element_bundle, 4))
    assert bits(fid) == bits(old_bundle_compliance(eff, element_bundle, 4)[1])


def test_full_correlation_in_the_model_is_the_weakest_element() -> None:
    model = ImplementationModel(scenario(1.0))
    w = model.world
    for _ in range(12):
        model.step()
    assert bits(model.state.unit_compliance) == bits(
        weakest(model.state.unit_element, w.element_bundle, len(w.bundles)))


def test_hand_checked_mixture() -> None:
    eff = np.array([[0.9, 0.5, 0.8]], np.float32)  # bundle 0: 0.9, 0.5; bundle 1: 0.8
    comp, fid = collective.bundle_compliance(eff, np.array([0, 0, 1]), 2, 0.25)
    # 0.75 × 0.45 + 0.25 × 0.5 = 0.4625; a single element is itself whatever ρ
    np.testing.assert_allclose(comp, [[0.4625, 0.8]], rtol=1e-6)
    np.testing.assert_allclose(fid, [[0.7, 0.8]], rtol=1e-6)


def test_correlation_lifts_compliance_but_not_fidelity_in_a_run() -> None:
    """Same seed, same people: only the all-or-none figure moves (ρ enters nothing else)."""
    runs = {rho: ImplementationModel(scenario(rho, weeks=20)).run() for rho in (0.0, 0.6)}
    a, b = (runs[r].state for r in (0.0, 0.6))
    assert bits(a.unit_element) == bits(b.unit_element)
    assert bits(a.unit_fidelity) == bits(b.unit_fidelity)
    app = ~np.isnan(a.unit_compliance)
    assert np.all(b.unit_compliance[app] >= a.unit_compliance[app])
    assert np.any(b.unit_compliance[app] > a.unit_compliance[app])


def test_correlation_out_of_range_is_a_clear_error() -> None:
    with pytest.raises(InputError, match=r"element_correlation.*in \[0, 1\]"):
        scenario(1.5)


# --- property: monotone in ρ, between the product and the minimum -------------------------------
cells = hnp.arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 5)),
                   elements=st.one_of(st.floats(0, 1, width=32), st.just(np.nan)))


@settings(max_examples=200, deadline=None)
@given(eff=cells, rhos=st.lists(st.floats(0, 1), min_size=2, max_size=6),
       data=st.data())
def test_compliance_is_monotone_in_correlation_between_product_and_min(
        eff: np.ndarray, rhos: list[float], data: st.DataObject) -> None:
    n_el = eff.shape[1]
    element_bundle = np.asarray(data.draw(st.lists(st.integers(0, 2), min_size=n_el,
                                                   max_size=n_el)))
    prod, fid0 = collective.bundle_compliance(eff, element_bundle, 3, 0.0)
    low = weakest(eff, element_bundle, 3)
    previous = prod
    for rho in sorted(rhos):
        comp, fid = collective.bundle_compliance(eff, element_bundle, 3, rho)
        assert bits(fid) == bits(fid0)  # mean fidelity does not depend on ρ
        np.testing.assert_array_equal(np.isnan(comp), np.isnan(prod))
        app = ~np.isnan(prod)
        assert np.all(comp[app] >= previous[app])  # exactly, in floating point too
        assert np.all((prod[app] <= comp[app]) & (comp[app] <= low[app]))
        previous = comp

"""Patient outcomes: expected harm with the compliance reached, and harm averted.

Each unit cares for a census of patients (``[patients]``: inpatients, residents, clients, listed
patients; scaled by the unit's size). A bundle's harm event happens at ``baseline_rate`` per
patient-week, and at ``relative_risk`` times that rate for a patient whose care complied with every
element. With unit compliance ``c`` the expected events per week are
``census × rate × (1 − c (1 − RR))``. Harm averted is the difference from the same units staying
at their week-0 (baseline) compliance, summed over weeks; cost per harm averted divides the
intervention cost by it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sim.bundles import Bundle
from sim.population import KIND_CODE, Population

if TYPE_CHECKING:
    from sim.loop import Week

_CENSUS_KEYS = {
    "hospital": ("patients_per_ward", "staff_per_ward"),
    "mental_health": ("patients_per_mental_health_unit", "staff_per_mental_health_unit"),
    "nursing_home": ("residents_per_nursing_home_unit", "staff_per_nursing_home_unit"),
    "home_care": ("clients_per_home_care_team", "staff_per_home_care_team"),
    "gp": ("patients_per_gp_practice", "staff_per_gp_practice"),
}


def unit_census(pop: Population, patients: dict[str, Any],
                structure: dict[str, Any]) -> np.ndarray:
    """(U,) patients per week in each unit: the kind's census at mean size, scaled by size."""
    sizes = np.bincount(pop.staff_unit, minlength=pop.n_units).astype(float)
    census = np.zeros(pop.n_units)
    for kind, (census_key, size_key) in _CENSUS_KEYS.items():
        mask = pop.unit_kind == KIND_CODE[kind]
        census[mask] = patients[census_key] * sizes[mask] / structure[size_key]
    return census


def harm_tables(pop: Population, bundles: list[Bundle]) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """(U, B) where harm is counted, and (B,) baseline rates and relative risks (0 if none)."""
    counted = np.zeros((pop.n_units, len(bundles)), bool)
    rate = np.zeros(len(bundles))
    rr = np.ones(len(bundles))
    for b, bundle in enumerate(bundles):
        if bundle.harm is None:
            continue
        counted[:, b] = np.isin(pop.unit_kind, [KIND_CODE[k] for k in bundle.harm.settings])
        rate[b] = bundle.harm.baseline_rate
        rr[b] = bundle.harm.relative_risk
    return counted, rate, rr


def expected_events(census: np.ndarray, counted: np.ndarray, rate: np.ndarray, rr: np.ndarray,
                    compliance: np.ndarray) -> np.ndarray:
    """(U, B) expected harm events this week at the given unit compliance."""
    c = np.nan_to_num(compliance, nan=0.0)
    return np.where(counted, census[:, None] * rate[None, :] * (1.0 - c * (1.0 - rr[None, :])),
                    0.0)


def count_harm(w: Week) -> None:
    """Phase *harm*: add this week's expected events, and those averted against week 0."""
    m, st = w.model, w.state
    events = expected_events(m.census, m._harm_counted, m._harm_rate, m._harm_rr,
                             st.unit_compliance)
    st.harm_expected += events.sum(axis=0)
    st.harm_averted += (m._baseline_harm - events).sum(axis=0)

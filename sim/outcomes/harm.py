"""Patient outcomes: expected harm with the compliance reached, and harm averted.

Each unit cares for a census of patients (``[patients]``: inpatients, residents, clients, listed
patients; scaled by the unit's size). A bundle's harm event happens at ``baseline_rate`` per
patient-week, and at ``relative_risk`` times that rate for a patient whose care complied with every
element. With unit compliance ``c`` the expected events per week are
``census × rate × (1 − c (1 − RR))``, summed over weeks into ``harm_expected``. Beside it the run
keeps the events averted against the same units staying at their week-0 compliance
(``harm_averted_vs_baseline``); harm averted against a comparator strategy, and the cost per
harm averted, are incremental figures over paired runs (:mod:`sim.outcomes.statistics`).

Harm accounting without overlap
-------------------------------
Each setting (organisation kind) has one all-cause harm rate per patient-week at week 0,
``[patients] all_cause_harm_rate_<kind>``. Bundle-addressed rates are shares of it: the
scenario's bundles' baseline rates in a setting cannot sum past it (checked when the scenario is
read, :func:`sim.bundles.bundle.check_harm_budget`). An all-cause bundle (``scope =
"residual"``: patient-safety management) acts on the residual, the all-cause rate minus the other
scenario bundles' rates in the setting, so no harm is counted twice and the bundles' summed
hazard on a unit never exceeds the all-cause rate at any compliance. What no bundle addresses is
the GTT background (:mod:`sim.outcomes.gtt`).

Indicators in the literature's units
------------------------------------
A bundle's ``[harm] exposure`` gives exposure units (catheter-days) per patient-week;
:func:`rate_indicator` reports expected events per 1,000 exposure units over the units where the
harm is counted (default exposure: patient-days, 7 per patient-week).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sim.bundles import Bundle
from sim.bundles.bundle import ALL_CAUSE_KEY
from sim.params import ORG_KINDS
from sim.population import KIND_CODE, Population

if TYPE_CHECKING:
    from sim.loop import Week
    from sim.model import ImplementationModel

_CENSUS_KEYS = {
    "hospital": ("patients_per_ward", "staff_per_ward"),
    "mental_health": ("patients_per_mental_health_unit", "staff_per_mental_health_unit"),
    "nursing_home": ("residents_per_nursing_home_unit", "staff_per_nursing_home_unit"),
    "home_care": ("clients_per_home_care_team", "staff_per_home_care_team"),
    "gp": ("patients_per_gp_practice", "staff_per_gp_practice"),
    "icu": ("patients_per_icu_unit", "staff_per_icu_unit"),
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


def all_cause_rate(pop: Population, patients: dict[str, Any]) -> np.ndarray:
    """(U,) all-cause harm per patient-week of each unit's setting at week 0."""
    by_kind = np.array([patients[ALL_CAUSE_KEY.format(kind=k)] for k in ORG_KINDS])
    return by_kind[pop.unit_kind]


def harm_tables(pop: Population, bundles: list[Bundle], patients: dict[str, Any]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(U, B) where harm is counted, (U, B) baseline rates and (B,) relative risks (1 if none).

    An all-cause (residual) bundle's rate on a unit is the unit's all-cause rate minus the
    other bundles' rates counted there (never below 0; the scenario check keeps it ≥ 0).
    """
    n_b = len(bundles)
    counted = np.zeros((pop.n_units, n_b), bool)
    rate = np.zeros((pop.n_units, n_b))
    rr = np.ones(n_b)
    residual = []
    for b, bundle in enumerate(bundles):
        if bundle.harm is None:
            continue
        counted[:, b] = np.isin(pop.unit_kind, [KIND_CODE[k] for k in bundle.harm.settings])
        rr[b] = bundle.harm.relative_risk
        if bundle.harm.residual:
            residual.append(b)
        else:
            rate[counted[:, b], b] = bundle.harm.baseline_rate
    left = np.maximum(all_cause_rate(pop, patients) - rate.sum(axis=1), 0.0)
    for b in residual:
        rate[counted[:, b], b] = left[counted[:, b]]
    return counted, rate, rr


def expected_events(census: np.ndarray, counted: np.ndarray, rate: np.ndarray, rr: np.ndarray,
                    compliance: np.ndarray) -> np.ndarray:
    """(..., U, B) expected harm events a week at the given unit compliance.

    ``rate`` is (U, B) (or (B,): the same on every unit).
    """
    c = np.nan_to_num(compliance, nan=0.0)
    rate = np.broadcast_to(rate, counted.shape)
    return np.where(counted, census[:, None] * rate * (1.0 - c * (1.0 - rr[None, :])), 0.0)


def exposure_per_patient_week(bundles: list[Bundle]) -> np.ndarray:
    """(B,) exposure units (patient-days, catheter-days, ...) per patient-week of each bundle."""
    return np.array([b.harm.exposure_per_patient_week if b.harm is not None else 7.0
                     for b in bundles])


def indicator_labels(bundles: list[Bundle]) -> list[str]:
    """Each bundle's harm-rate indicator unit, e.g. 'infections per 1,000 catheter-days'."""
    return [b.harm.indicator if b.harm is not None else "" for b in bundles]


def rate_indicator(census: np.ndarray, counted: np.ndarray, rate: np.ndarray, rr: np.ndarray,
                   exposure: np.ndarray, compliance: np.ndarray) -> np.ndarray:
    """(B,) expected events per 1,000 exposure units at the given (U, B) unit compliance.

    Pooled over the units where the harm is counted (events / exposure, as a programme pools its
    units); NaN for a bundle counted nowhere.
    """
    events = expected_events(census, counted, rate, rr, compliance).sum(axis=0)
    exposed = (census[:, None] * counted).sum(axis=0) * exposure
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(exposed > 0, 1000.0 * events / exposed, np.nan)


def unit_rate_indicator(counted: np.ndarray, rate: np.ndarray, rr: np.ndarray,
                        exposure: np.ndarray, compliance: np.ndarray) -> np.ndarray:
    """(U, B) each unit's expected events per 1,000 exposure units (NaN where not counted)."""
    per_patient = expected_events(np.ones(counted.shape[0]), counted, rate, rr, compliance)
    return np.where(counted, 1000.0 * per_patient / exposure[None, :], np.nan)


def run_indicator(model: ImplementationModel) -> tuple[np.ndarray, list[str]]:
    """(B,) each bundle's harm rate per 1,000 exposure units in the run's last recorded week.

    With its unit label (``harm_rate_indicator`` and ``harm_rate_indicator_unit`` of the
    summary): what a programme reports, e.g. infections per 1,000 catheter-days.
    """
    bundles = model.world.bundles
    values = rate_indicator(model.census, model._harm_counted, model._harm_rate, model._harm_rr,
                            exposure_per_patient_week(bundles), model.recorder.compliance[-1])
    return values, indicator_labels(bundles)


def count_harm(w: Week) -> None:
    """Phase *harm*: add this week's expected events, and those averted against week 0."""
    m, st = w.model, w.state
    events = expected_events(m.census, m._harm_counted, m._harm_rate, m._harm_rr,
                             st.unit_compliance)
    st.harm_expected += events.sum(axis=0)
    st.harm_averted += (m._baseline_harm - events).sum(axis=0)

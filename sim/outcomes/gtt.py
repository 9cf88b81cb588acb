"""Global Trigger Tool (GTT): harm measured the way the programme measured it.

In Safe Hands measured harm in every hospital trust by reviewing a small random sample of closed
somatic hospital records each month (about 20 per trust: the national review read 11,728 records
by 47 GTT teams in 2012, ≈ 21 a team a month) and counting harms of severity E–I. The national
series is the share of admissions with at least one harm (SPEC §11: 15.9% in 2010 … 12.6% in
2022). This module turns the model's true harm rates into that series and into what a trust's
sample of records shows.

From harm rates to "share of admissions with ≥ 1 harm"
-----------------------------------------------------
- The model counts bundle harm per patient-week (:mod:`sim.outcomes.harm`): on unit *u* in week
  *t*, bundle *b* causes harm at ``rate_b (1 − c_ub(t) (1 − RR_b))`` per patient-week.
- Only somatic hospital units (kinds ``hospital`` and ``icu``) are in the GTT population: the
  national review samples somatic admissions.
- A unit admits ``census_u × 7 / LOS`` patients a week (``length_of_stay_days``, declared; the
  same for ICU stays, assumption).
- Harm types that no modelled bundle addresses form a **background** hazard ``λ_bg,u`` per
  patient-week: the unit's all-cause rate ``[patients] all_cause_harm_rate_<kind>`` (the one
  source of truth for harm at week 0) minus the bundles' week-0 hazard on the unit. It is fixed
  through the run, so the week-0 hazard of every unit equals its all-cause rate by construction
  and the week-0 true share of a somatic ward is ``1 − exp(−rate × LOS / 7)``: 16.0% with the
  defaults (0.2712 per patient-week, 4.5 days), the GTT's 15.9-16.1% of 2010-2011. The
  scenario check (bundle rates cannot sum past the all-cause rate) keeps ``λ_bg,u ≥ 0``;
  ``background_rate`` in the output is its admission-weighted mean over the trust's units.
- Harms during a stay are a Poisson process, so an admission of ``LOS`` weeks on unit *u* has
  ``Poisson(λ_u L)`` harms and ``P(≥ 1 harm) = 1 − exp(−λ_u L)`` with
  ``λ_u = λ_bg + Σ_b rate_b (1 − c_ub (1 − RR_b))`` (hazards add: independent harm types;
  assumption). ``λ_u`` of a month is the mean of its weeks.
- The **true** share of a trust in a month is the admission-weighted mean of ``P(≥ 1 harm)``
  over its hospital units; the true harms per 100 admissions is ``100 × Σ a_u λ_u L / Σ a_u``.

Sampling
--------
Each month ``records`` closed records are drawn at random from the month's admissions (a record
comes from unit *u* with probability ``a_u / Σ a``); each has ``Poisson(λ_u L)`` harms, and each
harm a severity from E–I with the declared shares. The observed share is records with ≥ 1 harm /
records, so it is binomial around the true share: its spread is ``sqrt(p (1 − p) / n)``.

Before the programme the GTT already ran (the national review began in 2010, In Safe Hands in
2011): ``baseline_months`` months are sampled at week-0 harm rates and labelled months
``−(K−1) … 0``; they give the frozen centre line of the harm chart (:mod:`sim.outcomes.detection`).
Draws come from ``measurement:gtt:<trust>`` streams only, so measuring never changes the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.outcomes import harm
from sim.outcomes.recorder import trust_names
from sim.population import KIND_CODE, Population

SEVERITIES = ("E", "F", "G", "H", "I")
"""NCC MERP harm categories counted by the GTT: E temporary harm needing intervention, F temporary
harm with initial or prolonged hospitalisation, G permanent harm, H intervention to sustain life,
I contributed to death."""

COLUMNS = ("trust", "month", "week", "baseline", "admissions", "true_share",
           "true_harms_per_100", "records", "records_harmed", "observed_share", "harms",
           *(f"harms_{s}" for s in SEVERITIES), "observed_harms_per_100", "background_rate")


SOMATIC_CODES = (KIND_CODE["hospital"], KIND_CODE["icu"])
"""Organisation kinds whose stays the GTT samples (somatic hospital care, ICUs included)."""


@dataclass(frozen=True)
class HospitalFlow:
    """Somatic hospital units of one trust, the GTT's sampling frame."""

    trust: str
    units: np.ndarray  # (H,) unit indices
    admissions: np.ndarray  # (H,) admissions per week
    los_weeks: float


def hospital_flows(pop: Population, census: np.ndarray, los_days: float) -> list[HospitalFlow]:
    """One flow per hospital trust with at least one somatic hospital (or ICU) unit."""
    kind = pop.unit_kind
    trust = pop.org_trust[pop.unit_org]
    names = trust_names(pop)
    out = []
    for t in np.unique(trust):
        units = np.flatnonzero((trust == t) & np.isin(kind, SOMATIC_CODES))
        adm = census[units] * 7.0 / los_days
        if len(units) and adm.sum() > 0:
            out.append(HospitalFlow(names[int(t)], units, adm, los_days / 7.0))
    return out


def modelled_hazard(compliance: np.ndarray, counted: np.ndarray, rate: np.ndarray,
                    rr: np.ndarray) -> np.ndarray:
    """(..., U) bundle harm hazard per patient-week from (..., U, B) unit compliance."""
    ones = np.ones(counted.shape[0])
    return harm.expected_events(ones, counted, rate, rr, compliance).sum(axis=-1)


def true_share(hazard: np.ndarray, admissions: np.ndarray, los_weeks: float) -> np.ndarray:
    """Admission-weighted share with ≥ 1 harm; ``hazard`` is (..., H) per patient-week."""
    p = 1.0 - np.exp(-np.asarray(hazard) * los_weeks)
    return (p * admissions).sum(axis=-1) / admissions.sum()


def background_hazard(hazard0: np.ndarray, all_cause: np.ndarray) -> np.ndarray:
    """(H,) background hazard per unit: all-cause rate minus the bundles' week-0 hazard.

    Harm no modelled bundle addresses; ≥ 0 when the scenario's bundle rates fit the all-cause
    budget (checked when it is read), clipped at 0 against rounding only.
    """
    return np.maximum(np.asarray(all_cause, float) - np.asarray(hazard0, float), 0.0)


def weekly(values: np.ndarray, weeks: Sequence[int], horizon: int) -> np.ndarray:
    """(horizon + 1, K) values at every week 0 … horizon, linear between recorded weeks.

    ``values`` is (T, K) at the recorded ``weeks`` (week 0 and the last week are always
    recorded; with ``[output] every_weeks = 1`` nothing is interpolated).
    """
    weeks_arr = np.asarray(weeks, float)
    target = np.arange(horizon + 1, dtype=float)
    if len(weeks_arr) == horizon + 1 and np.array_equal(weeks_arr, target):
        return np.asarray(values, float)
    return np.stack([np.interp(target, weeks_arr, values[:, k]) for k in range(values.shape[1])],
                    axis=1)


def sample_records(rng: np.random.Generator, admissions: np.ndarray, hazard: np.ndarray,
                   los_weeks: float, records: int, severity_shares: np.ndarray
                   ) -> tuple[int, int, np.ndarray]:
    """Review ``records`` random records of one month.

    Returns (records with ≥ 1 harm, total harms, harms per severity E–I).
    """
    if records == 0:
        return 0, 0, np.zeros(len(SEVERITIES), np.int64)
    unit = rng.choice(len(admissions), size=records, p=admissions / admissions.sum())
    harms = rng.poisson(hazard[unit] * los_weeks)
    total = int(harms.sum())
    return int((harms > 0).sum()), total, rng.multinomial(total, severity_shares)


def trust_series(flow: HospitalFlow, hazard_weekly: np.ndarray, background: np.ndarray,
                 records: int, month_weeks: int, baseline_months: int,
                 severity_shares: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Observed and true monthly GTT series of one trust.

    ``hazard_weekly`` is (weeks + 1, H): the modelled bundle hazard of the trust's hospital units
    at weeks 0 … horizon (row 0 is the baseline). Months ``−(baseline_months − 1) … 0`` are the
    pre-programme baseline at week-0 rates; month *m* ≥ 1 covers weeks ``(m−1)·M + 1 … m·M``.
    """
    horizon = hazard_weekly.shape[0] - 1
    adm = flow.admissions
    rows = []
    months = [(m, hazard_weekly[0]) for m in range(1 - baseline_months, 1)]
    months += [(m, hazard_weekly[(m - 1) * month_weeks + 1: m * month_weeks + 1].mean(axis=0))
               for m in range(1, horizon // month_weeks + 1)]
    for m, bundle_hazard in months:
        lam = bundle_hazard + background
        harmed, total, by_sev = sample_records(rng, adm, lam, flow.los_weeks, records,
                                               severity_shares)
        row = {
            "trust": flow.trust, "month": m, "week": m * month_weeks, "baseline": m <= 0,
            "admissions": float(adm.sum() * month_weeks),
            "true_share": float(true_share(lam, adm, flow.los_weeks)),
            "true_harms_per_100": float(100.0 * (lam * flow.los_weeks * adm).sum() / adm.sum()),
            "records": records, "records_harmed": harmed,
            "observed_share": harmed / records if records else np.nan, "harms": total,
            "observed_harms_per_100": 100.0 * total / records if records else np.nan,
            "background_rate": float((np.broadcast_to(background, adm.shape) * adm).sum()
                                     / adm.sum()),
        }
        row.update({f"harms_{s}": int(v) for s, v in zip(SEVERITIES, by_sev, strict=True)})
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))

"""Safety culture: a unit's culture, its implementation climate, and the survey that reports it.

In Safe Hands surveyed safety culture with the Safety Attitudes Questionnaire (SAQ). A unit's
result on a scale is the **% positive**: the share of respondents whose scale score is ≥ 75 of
100; a unit with ≥ 60% positive counts as having a "mature" climate (Sexton et al. 2006;
Deilkås, *Overlegen* 2017, on the Norwegian hospital surveys of 2012 and 2014). Two scales are
modelled: teamwork climate and safety climate.

Culture state
-------------
Each unit has a culture state ``s_u = (teamwork, safety climate)``: the share of its staff who
would answer positively on each scale.

- **Initialisation** (:mod:`sim.mechanisms.culture`, which shapes the world). With no
  culture figures in ``[measurement]`` the culture is read off the
  unit's implementation climate (both scales = climate), and nothing in the model changes.
  With ``teamwork_positive`` and ``safety_climate_positive`` (mean % positive across units),
  each unit's shares are drawn from Beta distributions with those means and concentration
  ``culture_concentration`` (own stream ``culture``); ``culture_file`` (CSV: ``unit``,
  ``teamwork_positive``, ``safety_climate_positive``, in %) sets named units exactly.
- **Culture → climate** (the one place measurement changes the model, and only when figures are
  given): ``climate_u = w · teamwork_u + (1 − w) · safety_climate_u`` with ``w =
  teamwork_weight`` (assumption: climate on the model's [0, 1] scale is the share of staff
  positive, so 50% positive is the neutral climate 0.5), applied to the population before the
  world is assembled, so it enters the context of every strategy alike.
- **Drift.** Culture is reported, not fed back during a run (the model's climate is static):
  ``s_u(t) = clip(s_u(0) + κ (c̄_u(t) − c̄_u(0)), 0, 1)`` where ``c̄_u`` is the unit's mean
  compliance over its applicable bundles and ``κ = culture_drift`` (assumption: units that
  implement well come to see their safety climate more positively).

Survey
------
At each survey week every unit is surveyed: ``round(response_rate × staff)`` respondents, each
positive with probability ``s_u(t)`` on a scale, so the reported % positive is binomial around
the state. Draws come from ``measurement:survey:<unit>`` streams.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.mechanisms.culture import initial_culture  # noqa: F401  (week-0 state, for observe)
from sim.params import ORG_KINDS
from sim.population import Population
from sim.rng import stream

SCALES = ("teamwork", "safety_climate")


def unit_mean_compliance(compliance: np.ndarray) -> np.ndarray:
    """(T, U) mean compliance over each unit's applicable bundles (NaN where none)."""
    ok = ~np.isnan(compliance)
    n = ok.sum(axis=-1)
    total = np.where(ok, compliance, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def culture_at(culture0: np.ndarray, mean_compliance: np.ndarray, mean_compliance0: np.ndarray,
               drift: float) -> np.ndarray:
    """(U, 2) culture at a later week from the change in unit mean compliance."""
    delta = np.nan_to_num(mean_compliance - mean_compliance0, nan=0.0)
    return np.clip(culture0 + drift * delta[:, None], 0.0, 1.0)


def survey_weeks(m: dict[str, Any], horizon: int) -> list[int]:
    """The weeks surveyed: as declared, or week 0 and every 52 weeks up to the horizon."""
    weeks = m["survey_weeks"] or list(range(0, horizon + 1, 52))
    return sorted(set(weeks))


def survey(pop: Population, culture0: np.ndarray, compliance: np.ndarray, weeks: list[int],
           m: dict[str, Any], horizon: int, seed: int) -> pd.DataFrame:
    """Survey every unit at the survey weeks: respondents, positive and % positive per scale.

    ``compliance`` is the recorder's (T, U, B) array at recorded ``weeks``.
    """
    at = survey_weeks(m, horizon)
    mean_c = unit_mean_compliance(compliance)  # (T, U)
    rec_weeks = np.asarray(weeks, float)
    size = np.bincount(pop.staff_unit, minlength=pop.n_units)
    respondents = np.rint(m["survey_response_rate"] * size).astype(np.int64)
    kinds = np.asarray(ORG_KINDS, object)[pop.unit_kind]
    states = []
    for w in at:
        now = np.array([np.interp(w, rec_weeks, mean_c[:, u]) for u in range(pop.n_units)])
        states.append(culture_at(culture0, now, mean_c[0], m["culture_drift"]))
    positive = np.zeros((len(at), pop.n_units, 2), np.int64)
    for u, name in enumerate(pop.unit_name):
        rng = stream(seed, f"measurement:survey:{name}")
        for i in range(len(at)):
            positive[i, u] = rng.binomial(respondents[u], states[i][u])
    rows = []
    for i, w in enumerate(at):
        for k, scale in enumerate(SCALES):
            with np.errstate(invalid="ignore", divide="ignore"):
                pct = np.where(respondents > 0, 100.0 * positive[i, :, k] / respondents, np.nan)
            rows.append(pd.DataFrame({
                "week": w, "unit": pop.unit_name, "kind": kinds, "scale": scale,
                "respondents": respondents, "positive": positive[i, :, k],
                "pct_positive": pct, "true_pct_positive": 100.0 * states[i][:, k]}))
    return pd.concat(rows, ignore_index=True)

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

- **Initialisation.** With no culture figures in ``[measurement]`` the culture is read off the
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

import csv
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import InputError
from sim.params import ORG_KINDS
from sim.population import Population
from sim.rng import stream

SCALES = ("teamwork", "safety_climate")
_FILE_COLUMNS = ("unit", "teamwork_positive", "safety_climate_positive")


def figures_given(m: dict[str, Any] | None) -> bool:
    """Whether ``[measurement]`` gives culture figures (and so sets the units' climate)."""
    return m is not None and (m["teamwork_positive"] is not None or bool(m["culture_file"]))


def read_culture_file(path: Path, unit_names: list[str], where: str
                      ) -> dict[int, tuple[float, float]]:
    """Per-unit % positive from a CSV file, as shares, keyed by unit index."""
    if not path.exists():
        raise InputError(where, f"file {str(path)!r} not found (relative paths are relative to "
                         "the scenario file)")
    index = {n: i for i, n in enumerate(unit_names)}
    out: dict[int, tuple[float, float]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _FILE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}", f"missing column {missing[0]!r}; columns must be "
                             f"{', '.join(_FILE_COLUMNS)} (% positive, 0-100)")
        for line, row in enumerate(reader, start=2):
            unit = row["unit"]
            if unit not in index:
                raise InputError(f"{path}: line {line}", f"no unit named {unit!r}; examples: "
                                 f"{', '.join(unit_names[:3])}")
            vals = []
            for col in _FILE_COLUMNS[1:]:
                try:
                    v = float(row[col])
                except (TypeError, ValueError):
                    v = float("nan")
                if not 0.0 <= v <= 100.0:
                    raise InputError(f"{path}: line {line}: {col}",
                                     f"must be a % positive in [0, 100], got {row[col]!r}")
                vals.append(v / 100.0)
            out[index[unit]] = (vals[0], vals[1])
    return out


def _beta(rng: np.random.Generator, mean: float, concentration: float, size: int) -> np.ndarray:
    mean = min(max(mean, 1e-6), 1.0 - 1e-6)
    return rng.beta(mean * concentration, (1.0 - mean) * concentration, size)


def initial_culture(pop: Population, m: dict[str, Any] | None, seed: int,
                    base_dir: Path = Path("."), where: str = "measurement") -> np.ndarray:
    """(U, 2) shares positive (teamwork, safety climate) at week 0."""
    culture = np.repeat(pop.unit_climate.astype(float)[:, None], 2, axis=1)
    if not figures_given(m):
        return culture
    assert m is not None
    if m["teamwork_positive"] is not None:
        rng = stream(seed, "culture")
        for k, key in enumerate(("teamwork_positive", "safety_climate_positive")):
            culture[:, k] = _beta(rng, m[key] / 100.0, m["culture_concentration"], pop.n_units)
    if m["culture_file"]:
        path = Path(m["culture_file"])
        path = path if path.is_absolute() else base_dir / path
        for u, vals in read_culture_file(path, pop.unit_name, f"{where}.culture_file").items():
            culture[u] = vals
    return culture


def climate_from_culture(culture: np.ndarray, teamwork_weight: float) -> np.ndarray:
    """(U,) implementation climate from (U, 2) shares positive."""
    c = teamwork_weight * culture[:, 0] + (1.0 - teamwork_weight) * culture[:, 1]
    return np.clip(c, 0.001, 0.999).astype(np.float32)


def apply_culture(pop: Population, scenario: Any, seed: int) -> Population:
    """The population with its units' climate set from the culture figures (if any given).

    Called when the world is built; without culture figures the population is returned as is.
    """
    m = getattr(scenario, "measurement", None)
    if not figures_given(m):
        return pop
    culture = initial_culture(pop, m, seed, scenario.base_dir, f"{scenario.path}: measurement")
    return dataclasses.replace(pop, unit_climate=climate_from_culture(
        culture, m["teamwork_weight"]))


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

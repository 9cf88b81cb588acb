"""Culture shapes the world: a unit's safety-culture figures set its implementation climate.

With ``teamwork_positive`` and ``safety_climate_positive`` (mean % positive across units) in
``[measurement]``, each unit's culture state (shares of staff positive on the two SAQ scales) is
drawn from Beta distributions (own stream ``culture``), and ``culture_file`` sets named units
exactly. The climate is then ``w · teamwork + (1 − w) · safety_climate`` (``w =
teamwork_weight``), applied to the population before the world is assembled, so it enters the
context of every strategy alike. Without figures nothing changes. This is the one place where
measurement figures change the model; the survey that reports culture during a run is an
outcome (:mod:`sim.outcomes.culture`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from sim.csvfile import read_csv
from sim.errors import InputError
from sim.population import Population
from sim.rng import stream

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
    table = read_csv(path)  # strictly, through the one input-file opener (no pipes, devices)
    missing = [c for c in _FILE_COLUMNS if c not in table.header]
    if missing:
        raise InputError(f"{path}", f"missing column {missing[0]!r}; columns must be "
                         f"{', '.join(_FILE_COLUMNS)} (% positive, 0-100)")
    for row in table.rows:
        line, cells = row.line, row.cells
        unit = cells["unit"]
        if unit not in index:
            raise InputError(f"{path}: line {line}", f"no unit named {unit!r}; examples: "
                             f"{', '.join(unit_names[:3])}")
        vals = []
        for col in _FILE_COLUMNS[1:]:
            try:
                v = float(cells[col])
            except (TypeError, ValueError):
                v = float("nan")
            if not 0.0 <= v <= 100.0:
                raise InputError(f"{path}: line {line}: {col}",
                                 f"must be a % positive in [0, 100], got {cells[col]!r}")
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

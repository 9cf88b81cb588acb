"""Care pathways: patient flows between specific units across the specialist/municipal boundary.

A cross-boundary element (a discharge medication list the ward sends and the municipality takes
in) is done for a patient only if both units on that patient's pathway do it. So what matters is
*which* units exchange patients, and how many. A pathway is a dyad (from unit, to unit) with a
volume in patients per week.

Generated with the structure (:func:`generate_pathways`), flows conserve admissions:

- each specialist unit ``s`` (hospital ward, mental-health unit) discharges
  ``d_s = census_s × 7 / length of stay`` patients a week (steady state: discharges = admissions);
- its discharges go to the municipalities of its trust in proportion to their size (the summed
  census of their services), with ward-to-ward variation: unit ``s``'s shares are
  ``Dirichlet(a / δ²)`` around the size shares ``a`` (``δ`` = ``[network] pathways_dispersion``;
  δ = 0: exactly ``a``);
- within a municipality, over its services (nursing-home units, home-care teams, GP practices)
  in proportion to their census.

Hence every specialist unit's outgoing flows sum to its discharges (conservation, tested).
Municipal units of a loaded network with no municipality attribute count as one municipality of
their trust. Or a CSV file gives the flows (:func:`load_pathways`; columns ``from_unit, to_unit,
patients_per_week``). Each dyad's volume is the weight of both units in each other's partner
mean: the both-sides rule on dyad (w, s) is ``perf_w × perf_s``, and a unit's effective
performance is the volume-weighted mean over its dyads (:mod:`sim.mechanisms.collective`, one
sparse product a week).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from sim.csvfile import read_csv
from sim.errors import InputError
from sim.params import MEASUREMENT, SPECIALIST_KINDS
from sim.population import KIND_CODE, Population
from sim.rng import stream

if TYPE_CHECKING:
    from sim.scenario import Scenario
    from sim.world import World

COLUMNS = ("from_unit", "to_unit", "patients_per_week")


@dataclass(frozen=True)
class CarePathways:
    """Dyads between units: (D,) from unit, to unit and patients per week."""

    from_unit: np.ndarray  # (D,) int32
    to_unit: np.ndarray  # (D,) int32
    volume: np.ndarray  # (D,) float64 patients per week
    n_units: int

    def matrix(self) -> sp.csr_matrix:
        """(U, U) symmetric float32 weights: a dyad's volume links both of its units.

        Flows both ways between two units add up (patients exchanged, either way).
        """
        r = np.concatenate([self.from_unit, self.to_unit])
        c = np.concatenate([self.to_unit, self.from_unit])
        v = np.concatenate([self.volume, self.volume]).astype(np.float32)
        return sp.csr_matrix((v, (r, c)), shape=(self.n_units, self.n_units))

    def outflow(self) -> np.ndarray:
        """(U,) patients per week leaving each unit along its pathways."""
        return np.bincount(self.from_unit, self.volume, minlength=self.n_units)


#: Specialist kinds whose patients are discharged to municipal services. Intensive-care patients
#: move on to a ward, not home (assumption), so an ICU has no municipal pathway of its own.
DISCHARGING_KINDS = ("hospital", "mental_health")


def _specialist(pop: Population) -> np.ndarray:
    return np.isin(pop.unit_kind, [KIND_CODE[k] for k in SPECIALIST_KINDS])


def discharges(pop: Population, census: np.ndarray, los_days: dict[str, float]) -> np.ndarray:
    """(U,) patients a ward or mental-health unit discharges a week, ``census × 7 / LOS``.

    0 elsewhere: municipal services receive, intensive-care units pass patients to wards.

    ``los_days`` maps specialist kinds to their mean length of stay; a kind not listed uses the
    somatic hospital's.
    """
    out = np.zeros(pop.n_units)
    for kind in DISCHARGING_KINDS:
        mask = pop.unit_kind == KIND_CODE[kind]
        out[mask] = census[mask] * 7.0 / los_days.get(kind, los_days["hospital"])
    return out


def generate_pathways(pop: Population, census: np.ndarray, discharged: np.ndarray,
                      dispersion: float, rng: np.random.Generator) -> CarePathways:
    """Flows from each specialist unit to the municipal services of its trust (module doc)."""
    specialist = _specialist(pop)
    trust = pop.unit_trust
    muni = pop.unit_municipality
    froms, tos, vols = [], [], []
    for t in np.unique(trust):
        senders = np.flatnonzero((trust == t) & specialist & (discharged > 0))
        municipal = (trust == t) & ~specialist & (census > 0)
        groups = [np.flatnonzero(municipal & (muni == m)) for m in np.unique(muni[municipal])]
        if not len(senders) or not groups:
            continue
        size = np.array([census[g].sum() for g in groups])
        a = size / size.sum()
        if dispersion > 0:
            shares = rng.dirichlet(a / dispersion**2, size=len(senders))
        else:
            shares = np.tile(a, (len(senders), 1))
        for k, g in enumerate(groups):
            within = census[g] / size[k]  # (G,) split over the municipality's services
            flow = discharged[senders, None] * shares[:, k, None] * within[None, :]
            froms.append(np.repeat(senders, len(g)))
            tos.append(np.tile(g, len(senders)))
            vols.append(flow.ravel())
    return _dyads(froms, tos, vols, pop.n_units)


def _dyads(froms: list[np.ndarray], tos: list[np.ndarray], vols: list[np.ndarray],
           n_units: int) -> CarePathways:
    if not froms:
        return CarePathways(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0), n_units)
    f, t, v = (np.concatenate(x) for x in (froms, tos, vols))
    keep = v > 0
    return CarePathways(f[keep].astype(np.int32), t[keep].astype(np.int32), v[keep], n_units)


def load_pathways(path: str | Path, pop: Population) -> CarePathways:
    """Flows from a CSV file (columns from_unit, to_unit, patients_per_week), by unit name."""
    table = read_csv(path, " (pathways_file is relative to the scenario file)")
    table.require(COLUMNS, "care pathways")
    index = {name: i for i, name in enumerate(pop.unit_name)}
    seen: dict[tuple[int, int], str] = {}
    froms, tos, vols = [], [], []
    for row in table.rows:
        at = f"{table.where}: {row.label}"
        ends = []
        for col in COLUMNS[:2]:
            name = row.cells[col]
            if name not in index:
                examples = ", ".join(repr(n) for n in pop.unit_name[:3])
                raise InputError(f"{at}: {col}", f"no unit named {name!r}; use the "
                                 f"population's unit names (e.g. {examples})")
            ends.append(index[name])
        if ends[0] == ends[1]:
            raise InputError(f"{at}: to_unit", f"a pathway joins two different units; "
                             f"{row.cells['to_unit']!r} is also the from_unit")
        text = row.cells["patients_per_week"]
        try:
            volume = float(text)
        except ValueError:
            volume = float("nan")
        if not np.isfinite(volume) or volume < 0:
            raise InputError(f"{at}: patients_per_week", f"must be a number ≥ 0 (patients "
                             f"per week), got {text!r}")
        pair = (ends[0], ends[1])
        if pair in seen:
            raise InputError(f"{at}: from_unit", f"the pathway {row.cells['from_unit']!r} -> "
                             f"{row.cells['to_unit']!r} is already given in {seen[pair]}; "
                             "give each pathway once")
        seen[pair] = row.label
        froms.append(np.array([ends[0]]))
        tos.append(np.array([ends[1]]))
        vols.append(np.array([volume]))
    return _dyads(froms, tos, vols, pop.n_units)


def scenario_los(scenario: Scenario) -> dict[str, float]:
    """Mean length of stay (days) per specialist kind, as the scenario declares it."""
    measurement = scenario.measurement or MEASUREMENT.defaults()
    return {"hospital": measurement["length_of_stay_days"],
            "mental_health": scenario.patients["mental_health_length_of_stay_days"]}


def build_pathways(pop: Population, scenario: Scenario, seed: int) -> CarePathways:
    """The run's care pathways: the scenario's pathways file, or generated from the structure."""
    net: dict[str, Any] = scenario.network
    if net["pathways_file"]:
        return load_pathways(net["pathways_file"], pop)
    from sim.outcomes.harm import unit_census  # the one census definition

    census = unit_census(pop, scenario.patients, scenario.structure)
    return generate_pathways(pop, census, discharges(pop, census, scenario_los(scenario)),
                             net["pathways_dispersion"], stream(seed, "pathways"))


def pathway_table(world: World, fidelity: np.ndarray) -> pd.DataFrame:
    """One row per dyad: from, to, volume, and per cross-boundary element its compliance.

    ``fidelity`` is a state's per-pair fidelity (``State.fidelity``). A dyad's compliance of
    element *e* is ``perf_from,e × perf_to,e``, both units' own performance (the both-sides
    rule on that pathway; NaN where the element does not apply on either side); a unit's
    effective performance (``State.unit_element``) is the volume-weighted mean of its dyads'.
    Columns: from_unit, to_unit, to_municipality (empty if none), patients_per_week, then one
    ``"<bundle>.<element>"`` column per cross-boundary element.
    """
    from sim.mechanisms.collective import unit_performance

    pop, pw = world.pop, world.dyads
    perf, _ = unit_performance(fidelity, world.performed)
    names = [f"{b.name}.{e.name}" for b in world.bundles for e in b.elements]
    label = np.array([*pop.municipality_name, ""], dtype=object)  # index -1: none
    out: dict[str, Any] = {
        "from_unit": [pop.unit_name[i] for i in pw.from_unit],
        "to_unit": [pop.unit_name[i] for i in pw.to_unit],
        "to_municipality": label[pop.unit_municipality[pw.to_unit]],
        "patients_per_week": pw.volume,
    }
    for e in np.flatnonzero(world.element_cross):
        out[names[e]] = perf[pw.from_unit, e] * perf[pw.to_unit, e]
    return pd.DataFrame(out)

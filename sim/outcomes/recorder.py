"""Recording a run: unit-level arrays each recorded week, aggregated to a tidy table at the end.

The per-week work is a few sparse products over all staff (no per-agent loop); organisation-kind
and whole-system rows are derived from the unit arrays when the table is built, so recording
never dominates a step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.mechanisms.collective import implemented
from sim.outcomes.catalogue import SERIES
from sim.params import ORG_KINDS

if TYPE_CHECKING:
    from sim.loop import Week

METRICS = SERIES  # the weekly series the catalogue declares, in its order
LEVELS = ("unit", "kind", "system")


class Recorder:
    """Stores (T, U, B) arrays of unit adoption, compliance and mean fidelity."""

    def __init__(self, n_units: int, n_bundles: int, weeks: list[int]) -> None:
        shape = (len(weeks), n_units, n_bundles)
        self.weeks = weeks
        self._row = {w: i for i, w in enumerate(weeks)}
        self.users = np.zeros(shape, np.float32)
        self.compliance = np.full(shape, np.nan, np.float32)
        self.fidelity = np.full(shape, np.nan, np.float32)
        self.cost = np.zeros((len(weeks), n_bundles), np.float64)  # cumulative
        self.harm_averted = np.zeros((len(weeks), n_bundles), np.float64)  # cumulative

    def wants(self, week: int) -> bool:
        """Whether ``week`` is recorded."""
        return week in self._row

    def record(self, week: int, users: np.ndarray, compliance: np.ndarray,
               fidelity: np.ndarray, cost: np.ndarray, harm_averted: np.ndarray) -> None:
        """Store one week's unit arrays (users = count of eligible staff using)."""
        i = self._row[week]
        self.users[i] = users
        self.compliance[i] = compliance
        self.fidelity[i] = fidelity
        self.cost[i] = cost
        self.harm_averted[i] = harm_averted

    def system_series(self, eligible: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
        """(T, B) whole-system series of each metric (used by the summary and plots)."""
        return _aggregate(self, eligible, np.ones(eligible.shape[0], bool), threshold)

    def table(self, unit_names: list[str], unit_kind: np.ndarray, bundle_names: list[str],
              eligible: np.ndarray, threshold: float, unit_level: bool) -> pd.DataFrame:
        """The tidy long table: one row per week × bundle × level × entity.

        ``cost`` and ``harm_averted`` (cumulative to that week) are on the system rows only.
        """
        frames = []
        u = self.users.shape[1]
        kinds = [k for k in range(len(ORG_KINDS)) if (unit_kind == k).any()]
        # Text columns are categoricals built from codes over fixed category lists: pandas turns
        # repeated strings into string arrays slowly, and the lists keep concatenation cheap.
        entities = [*(unit_names if unit_level else []), *(ORG_KINDS[k] for k in kinds), "all"]
        if len(set(entities)) < len(entities):  # a unit named like a kind: keep plain text
            entities = None
        first = 0
        if unit_level:
            with np.errstate(invalid="ignore", divide="ignore"):
                adoption = np.where(eligible > 0, self.users / eligible, np.nan)
            pen = np.where(np.isnan(self.compliance), np.nan,
                           implemented(self.compliance, threshold).astype(np.float32))
            frames.append(_frame("unit", list(unit_names), first, entities, self.weeks,
                                 bundle_names, adoption, self.compliance, self.fidelity, pen))
            first += len(unit_names)
        for k in kinds:
            agg = _aggregate(self, eligible, unit_kind == k, threshold)
            frames.append(_frame("kind", [ORG_KINDS[k]], first, entities, self.weeks,
                                 bundle_names, *(agg[m][:, None, :] for m in METRICS)))
            first += 1
        agg = _aggregate(self, eligible, np.ones(u, bool), threshold)
        system = _frame("system", ["all"], first, entities, self.weeks, bundle_names,
                        *(agg[m][:, None, :] for m in METRICS))
        system["cost"] = self.cost.reshape(-1)
        system["harm_averted"] = self.harm_averted.reshape(-1)
        frames.append(system)
        return pd.concat(frames, ignore_index=True)


def _aggregate(rec: Recorder, eligible: np.ndarray, mask: np.ndarray,
               threshold: float) -> dict[str, np.ndarray]:
    """Aggregate the units in ``mask``.

    Adoption is pooled over staff; compliance and fidelity are weighted
    by eligible staff (a proxy for patient volume: assumption); penetration = share of applicable
    units that have implemented the bundle (:func:`sim.mechanisms.collective.implemented`).
    """
    elig = eligible[mask]  # (u, B)
    users = rec.users[:, mask, :].sum(axis=1)
    total = elig.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        adoption = np.where(total > 0, users / total, np.nan)
        comp = rec.compliance[:, mask, :]
        fid = rec.fidelity[:, mask, :]
        app = ~np.isnan(comp)
        w = np.where(app, elig[None, :, :], 0.0)
        wsum = w.sum(axis=1)
        compliance = np.where(wsum > 0, np.nansum(comp * w, axis=1) / wsum, np.nan)
        fidelity = np.where(wsum > 0, np.nansum(fid * w, axis=1) / wsum, np.nan)
        n_app = app.sum(axis=1)
        above = implemented(comp, threshold).sum(axis=1)
        penetration = np.where(n_app > 0, above / np.maximum(n_app, 1), np.nan)
    return {"adoption": adoption, "compliance": compliance, "fidelity": fidelity,
            "penetration": penetration}


def _frame(level: str, names: list[str], first: int, entities: list[str] | None,
           weeks: list[int], bundles: list[str], *metrics: np.ndarray) -> pd.DataFrame:
    """Long frame from (T, entities, B) metric arrays.

    ``names`` are entities ``first``, ``first + 1``, ... of the table's ``entities`` categories
    (plain text if ``entities`` is None).
    """
    t, e, b = metrics[0].shape
    codes = np.tile(np.repeat(np.arange(first, first + e, dtype=np.int32), b), t)
    entity = (pd.Categorical.from_codes(codes, categories=entities) if entities is not None
              else np.asarray(names, object)[codes - first])
    data = {"week": np.repeat(np.asarray(weeks, np.int32), e * b),
            "bundle": pd.Categorical.from_codes(np.tile(np.arange(b, dtype=np.int32), t * e),
                                                categories=bundles),
            "level": pd.Categorical.from_codes(np.full(t * e * b, LEVELS.index(level), np.int8),
                                               categories=list(LEVELS)),
            "entity": entity}
    for name, arr in zip(METRICS, metrics, strict=True):
        data[name] = arr.reshape(-1).astype(np.float64)
    return pd.DataFrame(data)


def record_week(w: Week) -> None:
    """Phase *recording*: store the week if it is a recorded week."""
    rec = w.model.recorder
    if rec.wants(w.number):
        world, st = w.world, w.state
        users = world.membership @ (st.using() & world.eligible).astype(np.float32)
        rec.record(w.number, users, st.unit_compliance, st.unit_fidelity, st.cost,
                   st.harm_averted)

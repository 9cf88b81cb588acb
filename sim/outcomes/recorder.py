"""Recording a run: unit-level arrays each recorded week, aggregated to tidy tables at the end.

The per-week work is a few sparse products over all staff (no per-agent loop); organisation,
municipality, trust, organisation-kind and whole-system rows are derived from the unit arrays
when the tables are built, so recording never dominates a step.

Every aggregate level uses one rule (:func:`_pool`), so each level's rows aggregate exactly to
the system row with the same weights:

- *adoption* is pooled over eligible staff (users / eligible staff of the entity);
- *compliance* and *fidelity* are means over the units where the bundle applies, weighted by
  their eligible staff (a proxy for patient volume: assumption);
- *penetration* is the share of applicable units that have implemented the bundle
  (:func:`sim.mechanisms.collective.implemented`);
- an *element*'s performance (``elements.parquet``) is the mean over the units where the element
  applies, weighted by the eligible staff of its bundle, the same weights as compliance, so
  wherever an element applies with its bundle, bundle compliance ≤ element performance holds at
  every level as it does in each unit.

Levels (:data:`sim.params.ALL_LEVELS`): ``unit``; ``organisation``; ``municipality``: each
municipality's municipal services, plus per trust one entity "<trust> specialist services" for
its hospital and mental-health units, which serve every municipality of the catchment, so that
the municipality level, like every other, partitions the units; ``trust`` (the trust's name from
the structure's data, "Trust t" for a generated catchment: :func:`trust_names`); ``region`` (the
trust's regional health authority, opt-in: :func:`region_names`); ``kind``; ``system`` ("all").
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.mechanisms.collective import implemented
from sim.outcomes.catalogue import SERIES
from sim.params import ALL_LEVELS, LEVELS, ORG_KINDS, SPECIALIST_KINDS

if TYPE_CHECKING:
    from sim.bundles import Bundle
    from sim.loop import Week
    from sim.population import Population

METRICS = SERIES  # the weekly series the catalogue declares, in its order


class Recorder:
    """Stores (T, U, B) arrays of unit adoption, compliance and mean fidelity.

    With ``n_elements``, also the (T, U, E) effective performance of each element.
    """

    def __init__(self, n_units: int, n_bundles: int, weeks: list[int],
                 n_elements: int = 0) -> None:
        shape = (len(weeks), n_units, n_bundles)
        self.weeks = weeks
        self._row = {w: i for i, w in enumerate(weeks)}
        self.users = np.zeros(shape, np.float32)
        self.compliance = np.full(shape, np.nan, np.float32)
        self.fidelity = np.full(shape, np.nan, np.float32)
        self.element = np.full((len(weeks), n_units, n_elements), np.nan, np.float32)
        self.cost = np.zeros((len(weeks), n_bundles), np.float64)  # cumulative
        self.harm_averted = np.zeros((len(weeks), n_bundles), np.float64)  # cumulative

    def wants(self, week: int) -> bool:
        """Whether ``week`` is recorded."""
        return week in self._row

    def record(self, week: int, users: np.ndarray, compliance: np.ndarray,
               fidelity: np.ndarray, cost: np.ndarray, harm_averted: np.ndarray,
               element: np.ndarray | None = None) -> None:
        """Store one week's unit arrays (users = count of eligible staff using)."""
        i = self._row[week]
        self.users[i] = users
        self.compliance[i] = compliance
        self.fidelity[i] = fidelity
        self.cost[i] = cost
        self.harm_averted[i] = harm_averted
        if element is not None and self.element.shape[2]:
            self.element[i] = element

    def system_series(self, eligible: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
        """(T, B) whole-system series of each metric (used by the summary and plots).

        The table's system row, by the same rule and in the same (double) precision, so the
        summary and the time series agree exactly.
        """
        return _pool(self.users, self.compliance, self.fidelity, eligible.astype(np.float64),
                     threshold)

    def table(self, pop: Population, bundle_names: list[str], eligible: np.ndarray,
              threshold: float, output: Mapping[str, Any]) -> pd.DataFrame:
        """The tidy long table: one row per week × bundle × level × entity.

        ``output`` is the scenario's ``[output]`` (which levels; :func:`recorded_levels`).
        ``cost`` and ``harm_averted`` (cumulative to that week) are on the system rows only.
        """
        levels = recorded_levels(output)
        groups = groupings(pop, levels)
        entities, code = _entities(pop, levels, groups)
        cats = level_categories(levels)
        elig = eligible.astype(np.float64)  # double-precision weights: levels add up exactly
        frames = []
        if "unit" in levels:
            with np.errstate(invalid="ignore", divide="ignore"):
                adoption = np.where(elig > 0, self.users / elig, np.nan)
            pen = np.where(np.isnan(self.compliance), np.nan,
                           implemented(self.compliance, threshold).astype(np.float32))
            frames.append(_frame("unit", code(pop.unit_name), entities, self.weeks,
                                 {"bundle": (bundle_names, np.arange(len(bundle_names)))},
                                 dict(zip(METRICS, (adoption, self.compliance, self.fidelity,
                                                    pen), strict=True)), cats))
        for g in groups:
            agg = g.apply(lambda sel: _pool(self.users[:, sel], self.compliance[:, sel],
                                            self.fidelity[:, sel], elig[sel], threshold))
            frames.append(_frame(g.level, code(g.names), entities, self.weeks,
                                 {"bundle": (bundle_names, np.arange(len(bundle_names)))},
                                 {m: agg[m] for m in METRICS}, cats))
        system = frames[-1]  # groupings end with the system
        system["cost"] = self.cost.reshape(-1)
        system["harm_averted"] = self.harm_averted.reshape(-1)
        return pd.concat(frames, ignore_index=True)

    def element_table(self, pop: Population, bundles: Sequence[Bundle],
                      element_bundle: np.ndarray, eligible: np.ndarray,
                      output: Mapping[str, Any]) -> pd.DataFrame:
        """Tidy element performance: one row per week × element × level × entity.

        Columns: week, bundle, element, level, entity, performance (effective, both-sides rule
        applied; NaN where the element does not apply), and where the bundle file maps the
        element to a process indicator, its name, unit and value (performance × 100 for a
        percentage).
        """
        levels = recorded_levels(output)
        groups = groupings(pop, levels)
        entities, code = _entities(pop, levels, groups)
        cats = level_categories(levels)
        elements = [e for b in bundles for e in b.elements]
        names = list(dict.fromkeys(e.name for e in elements))
        columns = {"bundle": ([b.name for b in bundles], element_bundle),
                   "element": (names, np.asarray([names.index(e.name) for e in elements]))}
        weight = eligible[:, element_bundle].astype(np.float64)  # (U, E): the bundle's staff
        frames = []
        if "unit" in levels:
            frames.append(_frame("unit", code(pop.unit_name), entities, self.weeks, columns,
                                 {"performance": self.element}, cats))
        for g in groups:
            perf = g.apply(lambda sel: {"p": _weighted_mean(self.element[:, sel], weight[sel])})
            frames.append(_frame(g.level, code(g.names), entities, self.weeks, columns,
                                 {"performance": perf["p"]}, cats))
        out = pd.concat(frames, ignore_index=True)
        return _with_indicators(out, elements)


def recorded_levels(output: Mapping[str, Any]) -> tuple[str, ...]:
    """The levels a run records, in :data:`ALL_LEVELS` order: ``[output] levels`` and the system.

    Unit rows need ``unit_level`` too (the older switch, kept: false leaves them out).
    """
    chosen = set(output.get("levels", LEVELS[:-1]))
    if not output.get("unit_level", True):
        chosen.discard("unit")
    return tuple(lv for lv in ALL_LEVELS if lv in chosen or lv == "system")


def level_categories(levels: Sequence[str]) -> list[str]:
    """The categories of a table's ``level`` column.

    :data:`LEVELS` unless an opt-in level (``region``) is recorded, then :data:`ALL_LEVELS`: the
    tables of a scenario that does not ask for it are as they were, bit for bit.
    """
    return list(ALL_LEVELS if set(levels) - set(LEVELS) else LEVELS)


def trust_names(pop: Population) -> list[str]:
    """Each trust's name: the structure's data names them, a generated catchment's are "Trust t"."""
    if pop.trust_name:
        return list(pop.trust_name)
    return [f"Trust {t + 1}" for t in range(int(pop.org_trust.max()) + 1 if len(pop.org_trust)
                                             else 0)]


def region_names(pop: Population) -> list[str]:
    """Each trust's regional health authority ("Region r" generated; a loaded network: "all")."""
    return list(pop.trust_region) or ["all"] * len(trust_names(pop))


@dataclass(frozen=True)
class Grouping:
    """One aggregate level: its entities' names and each unit's entity (an index into names)."""

    level: str
    names: list[str]
    of_unit: np.ndarray  # (U,) int

    def apply(self, pool) -> dict[str, np.ndarray]:
        """Run ``pool`` (unit selection → dict of (T, K) arrays) per entity; stack to (T, G, K).

        Units are sorted by entity once, so each entity is a slice (a view, no copy), and the
        whole system is the unit arrays in their own order: its row equals the summary's series.
        """
        order = np.argsort(self.of_unit, kind="stable")
        bounds = np.searchsorted(self.of_unit[order], np.arange(len(self.names) + 1))
        if len(self.names) == 1:
            parts = [pool(slice(None))]
        else:
            parts = [pool(order[a:b]) for a, b in itertools.pairwise(bounds)]
        return {k: np.stack([p[k] for p in parts], axis=1) for k in parts[0]}


def groupings(pop: Population, levels: Sequence[str]) -> list[Grouping]:
    """The aggregate levels among ``levels``, in :data:`ALL_LEVELS` order, then the system."""
    trusts = trust_names(pop)
    make = {
        "organisation": lambda: _used("organisation", list(pop.org_name), pop.unit_org),
        "municipality": lambda: _municipalities(pop, trusts),
        "trust": lambda: _used("trust", trusts, pop.unit_trust),
        "region": lambda: _regions(pop),
        "kind": lambda: _used("kind", list(ORG_KINDS), pop.unit_kind),
        "system": lambda: Grouping("system", ["all"], np.zeros(pop.n_units, np.int64)),
    }
    return [make[lv]() for lv in ALL_LEVELS[1:] if lv in levels or lv == "system"]


def _regions(pop: Population) -> Grouping:
    """Units by their trust's regional health authority, in the order authorities first appear."""
    regions = region_names(pop)
    names = list(dict.fromkeys(regions))
    of_trust = np.asarray([names.index(r) for r in regions], np.int64)
    return _used("region", names, of_trust[pop.unit_trust])


def _used(level: str, names: list[str], of_unit: np.ndarray) -> Grouping:
    """The entities that have units, in their own order."""
    used, inverse = np.unique(np.asarray(of_unit), return_inverse=True)
    return Grouping(level, [names[i] for i in used], inverse.astype(np.int64))


def _municipalities(pop: Population, trust_names: list[str]) -> Grouping:
    """Municipal services by municipality; each trust's specialist units as one more entity.

    Municipal units without a municipality (a loaded network without the attribute) form one
    entity per trust too, so the level always partitions the units.
    """
    specialist = np.isin(pop.unit_kind, [ORG_KINDS.index(k) for k in SPECIALIST_KINDS])
    n_m = len(pop.municipality_name)
    code = np.where(pop.unit_municipality >= 0, pop.unit_municipality,
                    n_m + 2 * pop.unit_trust + (~specialist))
    extra = [f"{t} {what}" for t in trust_names
             for what in ("specialist services", "municipal services without a municipality")]
    return _used("municipality", [*pop.municipality_name, *extra], code)


def _entities(pop: Population, levels: Sequence[str], groups: list[Grouping]):
    """The entity categories of a table and a names → codes function.

    A name may recur across levels (a GP practice is an organisation and its one unit): an
    entity is identified by level and name, so one category serves both.
    """
    names = [*(pop.unit_name if "unit" in levels else []), *(n for g in groups for n in g.names)]
    entities = list(dict.fromkeys(names))
    index = {n: i for i, n in enumerate(entities)}

    def code(of: Sequence[str]) -> np.ndarray:
        return np.fromiter((index[n] for n in of), np.int32, len(of))

    return entities, code


def _weighted_mean(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(T, K) mean of (T, u, K) ``x`` over the units where it is defined, weighted (u, K)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        defined = ~np.isnan(x)
        w = np.where(defined, weight[None, :, :], 0.0)
        wsum = w.sum(axis=1)
        return np.where(wsum > 0, np.where(defined, x * w, 0.0).sum(axis=1) / wsum, np.nan)


def _pool(users: np.ndarray, comp: np.ndarray, fid: np.ndarray, elig: np.ndarray,
          threshold: float) -> dict[str, np.ndarray]:
    """(T, B) metrics of a set of units (the documented rule of every aggregate level).

    Adoption is pooled over staff; compliance and fidelity are weighted by eligible staff (a
    proxy for patient volume: assumption); penetration = share of applicable units that have
    implemented the bundle (:func:`sim.mechanisms.collective.implemented`).
    """
    total = elig.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        adoption = np.where(total > 0, users.sum(axis=1) / total, np.nan)
        n_app = (~np.isnan(comp)).sum(axis=1)
        above = implemented(comp, threshold).sum(axis=1)
        penetration = np.where(n_app > 0, above / np.maximum(n_app, 1), np.nan)
    return {"adoption": adoption, "compliance": _weighted_mean(comp, elig),
            "fidelity": _weighted_mean(fid, elig), "penetration": penetration}


def _frame(level: str, entity_codes: np.ndarray, entities: list[str], weeks: list[int],
           labels: dict[str, tuple[list[str], np.ndarray]],
           values: dict[str, np.ndarray], level_cats: list[str]) -> pd.DataFrame:
    """Long frame from (T, G, K) value arrays of G entities and K columns (bundles, elements).

    ``labels`` name each of the K columns: text column → (categories, (K,) codes). Text columns
    are categoricals built from codes over fixed category lists: pandas turns repeated strings
    into string arrays slowly, and the fixed lists keep concatenation cheap.
    """
    t, g, k = next(iter(values.values())).shape
    data: dict[str, Any] = {"week": np.repeat(np.asarray(weeks, np.int32), g * k)}
    for name, (categories, codes) in labels.items():
        data[name] = pd.Categorical.from_codes(np.tile(np.asarray(codes, np.int32), t * g),
                                               categories=categories)
    data["level"] = pd.Categorical.from_codes(
        np.full(t * g * k, level_cats.index(level), np.int8), categories=level_cats)
    data["entity"] = pd.Categorical.from_codes(np.tile(np.repeat(entity_codes, k), t),
                                               categories=entities)
    for name, arr in values.items():
        data[name] = arr.reshape(-1).astype(np.float64)
    return pd.DataFrame(data)


def _with_indicators(table: pd.DataFrame, elements: Sequence) -> pd.DataFrame:
    """Add each element's process indicator (name, unit) and its value in that unit.

    A percentage indicator's value is performance × 100 (:class:`sim.bundles.bundle.Indicator`);
    elements without one get empty text and NaN. Every frame of the table lists the elements
    innermost and in order, so row r is element r mod E.
    """
    ind = [e.indicator for e in elements]
    which = np.arange(len(table)) % len(elements)
    names = ["", *dict.fromkeys(i.name for i in ind if i is not None)]
    units = ["", *dict.fromkeys(i.unit for i in ind if i is not None)]
    name_code = np.asarray([0 if i is None else names.index(i.name) for i in ind], np.int32)
    unit_code = np.asarray([0 if i is None else units.index(i.unit) for i in ind], np.int32)
    scale = np.asarray([np.nan if i is None else i.scale for i in ind])
    table["indicator"] = pd.Categorical.from_codes(name_code[which], categories=names)
    table["indicator_unit"] = pd.Categorical.from_codes(unit_code[which], categories=units)
    table["indicator_value"] = table["performance"].to_numpy() * scale[which]
    return table


def level_summary(timeseries: pd.DataFrame) -> pd.DataFrame:
    """End-of-run figures per level and entity: each metric at week 0 and at the last week.

    One row per (strategy, replicate, seed, bundle, level, entity) present in ``timeseries``
    (:meth:`Recorder.table` rows), with ``<metric>_start`` (week 0) and ``<metric>`` (the last
    recorded week) for adoption, compliance, fidelity and penetration; the same rule, and so the
    same system figures, as the time series.
    """
    keys = [c for c in ("strategy", "replicate", "seed", "bundle", "level", "entity")
            if c in timeseries]
    first, last = timeseries["week"].min(), timeseries["week"].max()
    end = timeseries.loc[timeseries["week"] == last, [*keys, *METRICS]]
    start = timeseries.loc[timeseries["week"] == first, [*keys, *METRICS]]
    out = end.merge(start, on=keys, suffixes=("", "_start"), how="left")
    out.insert(len(keys), "week", last)
    return out.reset_index(drop=True)


def record_week(w: Week) -> None:
    """Phase *recording*: store the week if it is a recorded week."""
    rec = w.model.recorder
    if rec.wants(w.number):
        world, st = w.world, w.state
        users = world.membership @ (st.using() & world.eligible).astype(np.float32)
        rec.record(w.number, users, st.unit_compliance, st.unit_fidelity, st.cost,
                   st.harm_averted, st.unit_element)

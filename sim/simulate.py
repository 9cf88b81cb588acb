"""The pure entry point: ``run(scenario, seed) -> RunResult``, and replicated runs.

A run simulates every strategy of the scenario on the same world (people and ties drawn from
``seed``) with the same random streams per purpose, so strategies are compared pairwise. Nothing
is kept between calls: the same scenario and seed give the same tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.errors import InputError
from sim.model import ImplementationModel
from sim.outcomes import audit, icc, observe
from sim.outcomes.proctor import summarise
from sim.outcomes.recorder import level_categories, recorded_levels
from sim.rng import replicate_seeds
from sim.scenario import Scenario
from sim.world import World, build_world


@dataclass
class RunResult:
    """Tidy results.

    The long time series, the per-bundle Proctor summary, and the audited (observed) compliance
    of the units asked for (``spc``: the ``[measurement]`` audit of those units, the same rows
    its ``compliance_observed`` has for them).
    """

    timeseries: pd.DataFrame
    summary: pd.DataFrame
    spc: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: With a [measurement] section: gtt, compliance_observed, detection, survey tables.
    measurement: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: Element performance per unit and level (``[output] elements``; empty when off).
    elements: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Per strategy × replicate × bundle × level × metric × week × cluster: the sums the ICC
    #: needs (:func:`sim.outcomes.icc.cluster_sums`; ``icc.csv``: :func:`icc_table`).
    clusters: pd.DataFrame = field(default_factory=pd.DataFrame)


def preflight(scenario: Scenario, seed: int | None = None) -> World:
    """Build the world and set up every strategy once.

    Errors that need the population (a target naming a unit that does not exist) then surface
    before any output is written.
    """
    world = build_world(scenario, scenario.seed if seed is None else seed)
    for strategy in scenario.strategies:
        ImplementationModel(scenario, strategy, scenario.seed if seed is None else seed, world)
    observe.check(scenario, world)
    return world


def check_units(world: World, names: Sequence[str], where: str) -> list[int]:
    """Indices of the named units, or a clear error naming an unknown one."""
    index = {n: i for i, n in enumerate(world.pop.unit_name)}
    bad = [n for n in names if n not in index]
    if bad:
        raise InputError(where, f"no unit named {bad[0]!r}; examples: "
                         f"{', '.join(world.pop.unit_name[:3])}")
    return [index[n] for n in names]


def run(scenario: Scenario, seed: int, replicate: int = 0,
        on_week: Callable[[], None] | None = None,
        spc_units: Sequence[str] = ()) -> RunResult:
    """Run every strategy of ``scenario`` once with run seed ``seed``."""
    world = build_world(scenario, seed)
    spc_idx = check_units(world, spc_units, "--spc-units") if spc_units else []
    series, summaries, spc, elements, clusters = [], [], [], [], []
    icc_weeks = scenario.output["icc_weeks"] or [scenario.weeks]
    measured: list[dict[str, pd.DataFrame]] = []
    for strategy in scenario.strategies:
        model = ImplementationModel(scenario, strategy, seed, world)
        model.datacollector = None  # the recorder keeps what a run reports; no Mesa collection
        model.run(on_week)
        ts = model.recorder.table(world.pop, scenario.bundle_names, world.eligible_per_unit,
                                  scenario.parameters["penetration_threshold"], scenario.output)
        if scenario.output["elements"]:
            el = model.recorder.element_table(world.pop, scenario.bundles, world.element_bundle,
                                              world.eligible_per_unit, scenario.output)
            elements.append(_label(el, _strategy_column(scenario, strategy.name, len(el)),
                                   replicate, seed))
        summaries.append(_label(summarise(model), strategy.name, replicate, seed))
        clusters.append(_label(icc.cluster_sums(model.recorder, world.pop,
                                                world.eligible_per_unit, scenario.bundle_names,
                                                icc_weeks), strategy.name, replicate, seed))
        series.append(_label(ts, _strategy_column(scenario, strategy.name, len(ts)), replicate,
                             seed))
        if spc_idx:  # the [measurement] audit of these units (sim.outcomes.audit)
            obs = audit.audits(model.recorder.compliance, model.recorder.weeks, spc_idx,
                               world.pop.unit_name, scenario.bundle_names,
                               audit.AuditSpec.of(scenario.measurement), seed)
            if len(obs):
                spc.append(_label(obs, strategy.name, replicate, seed))
        if scenario.measurement is not None:
            measured.append({k: _label(v, strategy.name, replicate, seed) for k, v in
                             observe.observe(scenario, world, model, seed).items()})
    return RunResult(_tidy(pd.concat(series, ignore_index=True), scenario),
                     pd.concat(summaries, ignore_index=True),
                     pd.concat(spc, ignore_index=True) if spc else pd.DataFrame(),
                     observe.concat(measured),
                     pd.concat(elements, ignore_index=True) if elements else pd.DataFrame(),
                     pd.concat(clusters, ignore_index=True))


def _strategy_column(scenario: Scenario, name: str, n: int) -> pd.Categorical:
    """A strategy column as a categorical over the scenario's strategies.

    Cheap to build and to concatenate, unlike repeated strings.
    """
    names = [s.name for s in scenario.strategies]
    return pd.Categorical.from_codes(np.full(n, names.index(name), np.int16), categories=names)


def _label(df: pd.DataFrame, strategy: str | pd.Categorical, replicate: int,
           seed: int) -> pd.DataFrame:
    df.insert(0, "seed", seed)
    df.insert(0, "replicate", replicate)
    df.insert(0, "strategy", strategy)
    return df


def _tidy(ts: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Fixed categories for the text columns (a no-op when they already have them)."""
    for column, categories in (("strategy", [s.name for s in scenario.strategies]),
                               ("bundle", scenario.bundle_names),
                               ("level", level_categories(
                                   recorded_levels(scenario.output)))):
        dtype = pd.CategoricalDtype(categories)
        if ts[column].dtype != dtype:
            ts[column] = pd.Categorical(ts[column].astype(str), categories=categories)
    return ts


def run_replicates(scenario: Scenario, root_seed: int, replicates: int,
                   on_week: Callable[[], None] | None = None,
                   spc_units: Sequence[str] = ()) -> RunResult:
    """Run ``replicates`` replicates with seeds spawned from ``root_seed``."""
    results = [run(scenario, s, k, on_week, spc_units)
               for k, s in enumerate(replicate_seeds(root_seed, replicates))]
    ts = pd.concat([r.timeseries for r in results], ignore_index=True)
    spc = [r.spc for r in results if len(r.spc)]
    elements = [r.elements for r in results if len(r.elements)]
    return RunResult(_tidy(ts, scenario),
                     pd.concat([r.summary for r in results], ignore_index=True),
                     pd.concat(spc, ignore_index=True) if spc else pd.DataFrame(),
                     observe.concat([r.measurement for r in results]),
                     _tidy(pd.concat(elements, ignore_index=True), scenario) if elements
                     else pd.DataFrame(),
                     pd.concat([r.clusters for r in results], ignore_index=True))

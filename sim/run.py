"""The pure entry point: ``run(scenario, seed) -> RunResult``, and replicated runs.

A run simulates every strategy of the scenario on the same world (people and ties drawn from
``seed``) with the same random streams per purpose, so strategies are compared pairwise. Nothing
is kept between calls: the same scenario and seed give the same tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from sim.model import ImplementationModel
from sim.outcomes.proctor import summarise
from sim.rng import replicate_seeds
from sim.scenario import Scenario
from sim.world import build_world


@dataclass
class RunResult:
    """Tidy results: the long time series and the per-bundle Proctor summary."""

    timeseries: pd.DataFrame
    summary: pd.DataFrame


def run(scenario: Scenario, seed: int, replicate: int = 0,
        on_strategy_done: Callable[[], None] | None = None) -> RunResult:
    """Run every strategy of ``scenario`` once with run seed ``seed``."""
    world = build_world(scenario, seed)
    series, summaries = [], []
    for strategy in scenario.strategies:
        model = ImplementationModel(scenario, strategy, seed, world).run()
        ts = model.recorder.table(
            world.pop.unit_name, world.pop.unit_kind, scenario.bundle_names,
            world.eligible_per_unit, scenario.parameters["penetration_threshold"],
            scenario.output["unit_level"])
        ts.insert(0, "seed", seed)
        ts.insert(0, "replicate", replicate)
        ts.insert(0, "strategy", strategy.name)
        series.append(ts)
        sm = summarise(model)
        sm.insert(0, "seed", seed)
        sm.insert(0, "replicate", replicate)
        sm.insert(0, "strategy", strategy.name)
        summaries.append(sm)
        if on_strategy_done:
            on_strategy_done()
    return RunResult(_tidy(pd.concat(series, ignore_index=True), scenario),
                     pd.concat(summaries, ignore_index=True))


def _tidy(ts: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    ts["strategy"] = pd.Categorical(ts["strategy"], categories=[s.name for s in
                                                               scenario.strategies])
    ts["bundle"] = pd.Categorical(ts["bundle"].astype(str), categories=scenario.bundle_names)
    ts["level"] = pd.Categorical(ts["level"].astype(str), categories=["unit", "kind", "system"])
    return ts


def run_replicates(scenario: Scenario, root_seed: int, replicates: int,
                   on_strategy_done: Callable[[], None] | None = None) -> RunResult:
    """Run ``replicates`` replicates with seeds spawned from ``root_seed``."""
    results = [run(scenario, s, k, on_strategy_done)
               for k, s in enumerate(replicate_seeds(root_seed, replicates))]
    ts = pd.concat([r.timeseries for r in results], ignore_index=True)
    return RunResult(_tidy(ts, scenario),
                     pd.concat([r.summary for r in results], ignore_index=True))

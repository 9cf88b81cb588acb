"""The Mesa model: the composition root, where the order of a week is written once (:data:`PHASES`).

:class:`ImplementationModel` composes a static :class:`~sim.world.World` (people and ties), the
run's :class:`~sim.state.State` and this week's :class:`~sim.state.Levers`, the strategy's
interventions and the recorder. One ``step()`` is one week: the :class:`~sim.loop.Loop` runs the
phases of :data:`PHASES` in order, each a function of one mechanism module holding its equation
(docs/ODD.md, section 3, lists the same phases; a test checks it).

Everything runs on arrays; Mesa agents (organisations, units, staff) are views onto them for
users, Mesa tools and visualisation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from types import MappingProxyType
from typing import Any

import mesa
import networkx as nx
import numpy as np
import scipy.sparse as sp
from mesa.agentset import AgentSet

from sim.agents import Organisation, Staff, Unit
from sim.interventions import apply_interventions
from sim.loop import Loop, Phase, Week
from sim.mechanisms import (
    adoption,
    awareness,
    capacity,
    collective,
    destination,
    fidelity,
    influence,
    sustainment,
    turnover,
)
from sim.networks.network import LAYERS
from sim.outcomes import harm
from sim.outcomes.proctor import sustainability_weeks
from sim.outcomes.recorder import Recorder, record_week
from sim.rng import stream, uniform_at, week_key
from sim.scenario import Scenario, Strategy
from sim.state import Levers, State
from sim.world import World, build_world

#: The week, in order (ODD section 3). Before the first phase the week counter moves on, the
#: launched bundles are set and the levers are reset (:meth:`ImplementationModel.step`).
PHASES: tuple[Phase, ...] = (
    Phase("turnover", turnover.turn_over),
    Phase("interventions", apply_interventions),
    Phase("awareness", awareness.hear),
    Phase("adoption", adoption.adopt),
    Phase("abandonment, then routinisation", sustainment.sustain),
    Phase("knowledge", awareness.learn),
    Phase("fidelity", fidelity.practise),
    Phase("compliance", collective.measure),
    Phase("learning transfer", capacity.transfer),
    Phase("harm", harm.count_harm),
    Phase("recording", record_week),
)


def _default_datacollector() -> mesa.DataCollector:
    """A cheap Mesa collector of whole-model figures each week (``mesa.batch_run`` reads it).

    ``mean_unit_compliance`` is the plain mean over applicable (unit, bundle) cells, a quick
    read-out; the system compliance of the outputs is weighted (:mod:`sim.outcomes.recorder`).
    """
    return mesa.DataCollector(model_reporters={
        "week": lambda m: m.week,
        "mean_unit_compliance": lambda m: float(np.nanmean(m.state.unit_compliance))
        if np.isfinite(m.state.unit_compliance).any() else float("nan"),
        "cost": lambda m: float(m.state.cost.sum()),
        "harm_averted": lambda m: float(m.state.harm_averted.sum()),
    })


class ImplementationModel(mesa.Model):
    """Staff in units and organisations adopting bundles under one support strategy.

    Mesa interop: ``running`` turns False at the scenario's horizon; organisations, units and
    staff are registered Mesa agents once made (first access to :attr:`organisations`,
    :attr:`units`, :attr:`staff`, so ``model.agents`` sees them from then on); ``datacollector``
    (a Mesa ``DataCollector``, by default whole-system figures; replace it or set it to None) is
    collected after every week; ``mesa.batch_run(ImplementationModel, {"scenario": sc, ...})``
    works (``seed`` is the keyword it passes).
    """

    def __init__(self, scenario: Scenario, strategy: Strategy | str | None = None,
                 seed: int | None = None, world: World | None = None) -> None:
        seed = scenario.seed if seed is None else int(seed)
        super().__init__(rng=stream(seed, "mesa"))
        self.scenario = scenario
        self.seed = seed
        if strategy is None:
            strategy = scenario.strategies[0]
        elif isinstance(strategy, str):
            by_name = {s.name: s for s in scenario.strategies}
            if strategy not in by_name:
                raise KeyError(f"no strategy {strategy!r}; have {', '.join(by_name)}")
            strategy = by_name[strategy]
        self.strategy = strategy
        self.world = world if world is not None else build_world(scenario, seed)
        self.pop = self.world.pop
        # read-only: a run never changes its parameters (copy the scenario to vary them)
        self.par: MappingProxyType[str, Any] = MappingProxyType(scenario.parameters)
        w = self.world
        n_units, n_b = self.pop.n_units, len(w.bundles)
        self.state = State.of_world(w)
        self.levers = Levers.zeros(self.pop.n_staff, n_units, n_b)
        self.loop = Loop(PHASES)
        self._neighbour_sums = influence.NeighbourSums(self.state.adjacency,
                                                       self.state.influence_weight)
        self._refresh_network()
        # Launch week per bundle (None = never introduced by this strategy).
        self.launch_week = [strategy.launch_week(b) for b in scenario.bundle_names]
        self.census = harm.unit_census(self.pop, scenario.patients, scenario.structure)
        self._harm_counted, self._harm_rate, self._harm_rr = harm.harm_tables(
            self.pop, w.bundles, scenario.patients)
        self._streams: dict[str, np.random.Generator] = {}
        self._keys: dict[tuple[str, int], int] = {}
        if destination.active(self.par):  # same seed, same draws: every strategy alike
            self.state.fit = self.draw("destination", self.state.stage.shape)
        self.complexity = np.array([b.complexity for b in w.bundles], np.float32)
        # flat (staff, bundle) entry → its staff member, and its (unit, bundle) cell: a lookup
        # is cheaper than integer division on the hot path
        self._entry_staff = np.repeat(np.arange(self.pop.n_staff, dtype=np.int32), n_b)
        self._entry_unit_cell = (self.pop.staff_unit.astype(np.int32)[:, None] * n_b
                                 + np.arange(n_b, dtype=np.int32)).reshape(-1)
        self.interventions = scenario.build_interventions(strategy)
        for iv in self.interventions:
            iv.setup(self)
        every = scenario.output["every_weeks"]
        weeks = sorted({*range(0, scenario.weeks + 1, every), scenario.weeks,
                        *sustainability_weeks(self)})
        self.recorder = Recorder(n_units, n_b, weeks,
                                 len(w.element_bundle) if scenario.output["elements"] else 0)
        # Mesa agents (organisations, units, staff) are made on first access: a batch of runs
        # or a national run needs none.
        week0 = Week(self)
        collective.measure(week0)
        record_week(week0)
        self._baseline_harm = harm.expected_events(
            self.census, self._harm_counted, self._harm_rate, self._harm_rr,
            self.state.unit_compliance)
        self.running = scenario.weeks > 0
        self.datacollector: mesa.DataCollector | None = _default_datacollector()
        self.datacollector.collect(self)

    # --- read-only views for agents, UI, recorder and outcomes ---------------------------------
    @property
    def scenario(self) -> Scenario:
        """The implsim scenario this run simulates.

        Mesa's own ``Model.scenario`` setter gives the scenario a back-reference to the model;
        on implsim's scenario that kept the last model (its arrays) alive for as long as the
        scenario, and stopped the scenario from being copied (``with_overrides``) after a run.
        """
        return self._implsim_scenario

    @scenario.setter
    def scenario(self, scenario: Scenario) -> None:
        self._implsim_scenario = scenario

    @property
    def eligible(self) -> np.ndarray:
        """(N, B) who each bundle applies to."""
        return self.world.eligible

    @property
    def unit_degree(self) -> np.ndarray:
        """(U,) mean ties per staff member, for centrality targeting."""
        return self.world.unit_degree

    @property
    def week(self) -> int:
        """Weeks simulated so far."""
        return self.state.week

    @property
    def launched(self) -> np.ndarray:
        """(B,) bool: bundles the strategy has launched by this week."""
        return self.state.launched

    @property
    def unit_compliance(self) -> np.ndarray:
        """(U, B) this week's all-or-none compliance (NaN where a bundle does not apply)."""
        return self.state.unit_compliance

    @property
    def unit_fidelity(self) -> np.ndarray:
        """(U, B) this week's mean element fidelity."""
        return self.state.unit_fidelity

    @property
    def cost(self) -> np.ndarray:
        """(B,) intervention cost booked to each bundle so far (NOK)."""
        return self.state.cost

    @property
    def cost_by_intervention(self) -> dict[str, float]:
        """Cost so far by intervention name (NOK)."""
        return self.state.cost_by_intervention

    @property
    def harm_expected(self) -> np.ndarray:
        """(B,) cumulative expected harm events with the compliance reached."""
        return self.state.harm_expected

    @property
    def harm_averted(self) -> np.ndarray:
        """(B,) cumulative events averted against week-0 compliance."""
        return self.state.harm_averted

    @property
    def capacity(self) -> np.ndarray:
        """(U,) implementation capacity (learning transfer)."""
        return self.state.capacity

    @property
    def implemented(self) -> np.ndarray:
        """(U, B) bool: units that have implemented each bundle."""
        return self.state.implemented

    @property
    def openness(self) -> np.ndarray:
        """(N,) openness of the current holders of the positions."""
        return self.state.openness

    @property
    def adjacency(self) -> sp.csr_matrix:
        """(N, N) who listens to whom now (ties added in the run included)."""
        return self.state.adjacency

    @property
    def extra_ties(self) -> list[tuple[np.ndarray, str]]:
        """Ties added during the run, as (pairs, layer)."""
        return self.state.extra_ties

    @property
    def influence_weight(self) -> np.ndarray:
        """(N, B) how much each person's example weighs for each bundle."""
        return self.state.influence_weight

    @property
    def unit_support(self) -> np.ndarray:
        """(U, B) this week's support lever."""
        return self.levers.support

    @property
    def unit_boost(self) -> np.ndarray:
        """(U, B) this week's push to try."""
        return self.levers.boost

    @property
    def unit_context(self) -> np.ndarray:
        """(U, B) this week's dynamic log context (capacity, leadership)."""
        return self.levers.context

    # --- services for mechanisms and interventions ---------------------------------------------
    def stream(self, name: str) -> np.random.Generator:
        """The named random stream of this run (created on first use)."""
        if name not in self._streams:
            self._streams[name] = stream(self.seed, name)
        return self._streams[name]

    def draw(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The current week's float32 uniforms of stream ``name``, one per cell of ``shape``.

        Counter-based (:func:`sim.rng.uniform_at`): cell *c* of week *t* is a pure function of
        (seed, name, t, c), so asking twice in a week gives the same draws (ask under another
        name for independent ones) and every strategy sees the same draw for the same cell.
        """
        entries = np.arange(int(np.prod(shape)), dtype=np.int64)
        return uniform_at(self.week_key(name, self.state.week), entries).reshape(shape)

    def week_key(self, name: str, week: int) -> int:
        """The counter key of stream ``name`` in ``week`` (cached: a week asks a few times)."""
        k = (name, week)
        if k not in self._keys:
            if len(self._keys) > 64:  # only this week's keys are asked for again
                self._keys.clear()
            self._keys[k] = week_key(self.seed, name, week)
        return self._keys[k]

    def add_cost(self, intervention: str, bundle: int, amount: float) -> None:
        """Book intervention cost against a bundle."""
        self.state.cost[bundle] += amount
        self.state.cost_by_intervention[intervention] = (
            self.state.cost_by_intervention.get(intervention, 0.0) + amount)

    def add_capacity(self, units: np.ndarray, amount: float) -> None:
        """Add implementation capacity to ``units`` (skills that stay, e.g. facilitation)."""
        self.state.capacity[units] += amount

    def add_ties(self, pairs: np.ndarray, layer: str) -> None:
        """Add collaboration ties during the run (e.g. from a learning collaborative)."""
        if len(pairs) == 0:
            return
        st = self.state
        st.extra_ties.append((np.asarray(pairs, np.int32), layer))
        pairs = np.asarray(pairs)
        i = np.concatenate([pairs[:, 0], pairs[:, 1]])
        j = np.concatenate([pairs[:, 1], pairs[:, 0]])
        keep = i != j
        new = sp.csr_matrix((np.ones(keep.sum(), np.float32), (i[keep], j[keep])),
                            shape=st.adjacency.shape)
        adj = (st.adjacency + new).tocsr()
        adj.data[:] = 1.0
        st.adjacency = adj
        self._refresh_network()

    def scale_influence(self, staff: np.ndarray, bundles: np.ndarray, factor: float) -> None:
        """Multiply how much ``staff``'s example weighs for ``bundles`` (champions).

        Dividing by the same factor undoes it, so overlapping programmes compose.
        """
        self.state.influence_weight[np.ix_(np.flatnonzero(staff), bundles)] *= np.float32(factor)
        self._refresh_network()

    def neighbour_sums(self, using: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, B) using ties and weighted using ties for this week's use (read, do not modify)."""
        return self._neighbour_sums(using)

    def _refresh_network(self) -> None:
        # How much weight each person's ties carry in total, per bundle (the exposure's
        # denominator); recomputed only when ties or weights change.
        st = self.state
        self.weight_total = (st.adjacency @ st.influence_weight).astype(np.float32)
        self._neighbour_sums.rebuild(st.adjacency, st.influence_weight)

    def network_graph(self) -> nx.Graph:
        """The collaboration network now, as networkx (ties added in the run included)."""
        from sim.networks.network import CollaborationNetwork

        net = self.world.network
        if self.extra_ties:
            edges = np.concatenate([net.edges, *[p for p, _ in self.extra_ties]])
            layer = np.concatenate([net.layer, *[np.full(len(p), LAYERS.index(name), np.int8)
                                                 for p, name in self.extra_ties]])
            net = CollaborationNetwork(net.n, edges, layer, net.directed)
        return net.to_networkx(self.pop.staff_label)

    @cached_property
    def organisations(self) -> AgentSet:
        """Organisations as Mesa agents (made and registered on first access)."""
        return AgentSet([Organisation(self, i) for i in range(len(self.pop.org_name))],
                        random=self.random)

    @cached_property
    def units(self) -> AgentSet:
        """Units as Mesa agents (made and registered on first access)."""
        return AgentSet([Unit(self, i) for i in range(self.pop.n_units)], random=self.random)

    @cached_property
    def staff(self) -> AgentSet:
        """Staff as Mesa agents (made and registered on first access; a national run needs none)."""
        return AgentSet([Staff(self, i) for i in range(self.pop.n_staff)], random=self.random)

    # --- one week ------------------------------------------------------------------------------
    def step(self) -> None:
        """Simulate one week: start it, then run :data:`PHASES` in order."""
        st = self.state
        st.week += 1
        st.launched = np.array([lw is not None and st.week >= lw for lw in self.launch_week])
        week = Week(self)
        self.levers.reset(capacity.context_term(week))
        self.loop.run(week)
        self.running = st.week < self.scenario.weeks
        if self.datacollector is not None:
            self.datacollector.collect(self)

    def run(self, on_week: Callable[[], None] | None = None) -> ImplementationModel:
        """Step until ``running`` turns False at the horizon (``on_week`` after each week)."""
        while self.running:
            self.step()
            if on_week:
                on_week()
        return self

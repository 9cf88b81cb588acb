"""The Mesa model: the composition root, where the order of a week is written once.

:class:`ImplementationModel` composes a static :class:`~sim.world.World` (people and ties), the
mutable :class:`~sim.state.State`, the strategy's interventions and the recorder. One ``step()``
is one week:

1. turnover — leavers replaced by unaware newcomers;
2. interventions — training, facilitation, champions, feedback, collaboratives, leadership,
   reminders: they set this week's support, adoption boost and context, and may add ties;
3. awareness — from the organisation and from using colleagues (launched bundles only);
4. adoption — aware staff start trying (context × (spontaneous + social influence)), slowed by
   other bundles they are trying at the same time;
5. abandonment, then routinisation;
6. knowledge — learning by doing, forgetting;
7. fidelity — per element, gain while using, decay without reinforcement;
8. compliance — per unit, collective elements need both sides; learning transfer (capacity);
   patient harm; recording.

Everything runs on arrays; Mesa agents (organisations, units, staff) are views onto them for
users, Mesa tools and visualisation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import mesa
import networkx as nx
import numpy as np
import scipy.sparse as sp
from mesa.agentset import AgentSet

from sim.agents import Organisation, Staff, Unit
from sim.arrays import count_bundles
from sim.mechanisms import (
    adoption,
    awareness,
    capacity,
    collective,
    fidelity,
    influence,
    sustainment,
)
from sim.mechanisms import turnover as turnover_mech
from sim.networks.network import LAYERS
from sim.outcomes import harm
from sim.outcomes.proctor import sustainability_weeks
from sim.outcomes.recorder import Recorder
from sim.population import draw_staff_traits
from sim.rng import stream
from sim.scenario import Scenario, Strategy
from sim.state import TRYING, State
from sim.world import World, build_world


class ImplementationModel(mesa.Model):
    """Staff in units and organisations adopting bundles under one support strategy."""

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
        self.par: dict[str, Any] = scenario.parameters
        w = self.world
        n_units, n_b = self.pop.n_units, len(w.bundles)
        self.state = State.initial(self.pop.n_staff, n_b, w.performed.baseline)
        # Copies of what turnover and interventions change; the shared world stays untouched.
        self.openness = self.pop.staff_openness.copy()
        self.threshold = self.pop.staff_threshold.copy()
        self.log_ctx = w.log_ctx.copy()
        self.influence_weight = np.repeat(w.leader_weight[:, None], n_b, axis=1)  # (N, B)
        self.adjacency = w.adjacency
        self.extra_ties: list[tuple[np.ndarray, str]] = []
        self._neighbour_sums = influence.NeighbourSums(self.adjacency, self.influence_weight)
        self._refresh_network()
        # Per-week levers that interventions set (reset every week).
        self.unit_support = np.zeros((n_units, n_b), np.float32)  # protects fidelity, keeping
        self.unit_boost = np.zeros((n_units, n_b), np.float32)  # log-hazard of trying
        self.unit_context = np.zeros((n_units, n_b), np.float32)  # log context: try and keep
        self.unit_awareness = np.zeros((n_units, n_b), np.float32)  # extra weekly awareness
        self.protected = np.zeros((self.pop.n_staff, n_b), bool)  # may not abandon this week
        # Launch week per bundle (None = never introduced by this strategy).
        self.launch_week = [strategy.launch_week(b) for b in scenario.bundle_names]
        self.launched = np.zeros(n_b, bool)
        # Learning transfer and patient outcomes.
        self.capacity = np.zeros(n_units, np.float64)
        self.implemented = np.zeros((n_units, n_b), bool)
        self.census = harm.unit_census(self.pop, scenario.patients, scenario.structure)
        self._harm_counted, self._harm_rate, self._harm_rr = harm.harm_tables(self.pop, w.bundles)
        self.harm_expected = np.zeros(n_b)  # cumulative expected events with compliance reached
        self.harm_averted = np.zeros(n_b)  # cumulative events averted vs baseline compliance
        self.cost = np.zeros(n_b, np.float64)
        self.cost_by_intervention: dict[str, float] = {}
        self.unit_compliance = np.full((n_units, n_b), np.nan, np.float32)
        self.unit_fidelity = np.full((n_units, n_b), np.nan, np.float32)
        self._streams: dict[str, np.random.Generator] = {}
        self._p_leave = turnover_mech.weekly_rate(self.par["turnover_annual"])
        self._complexity = np.array([b.complexity for b in w.bundles], np.float32)
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
        self.recorder = Recorder(n_units, n_b, weeks)
        # Mesa agents (organisations, units, staff) are made on first access: a batch of runs
        # or a national run needs none.
        self._measure()
        self._baseline_harm = harm.expected_events(
            self.census, self._harm_counted, self._harm_rate, self._harm_rr, self.unit_compliance)

    # --- services for mechanisms and interventions ---------------------------------------------
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

    def stream(self, name: str) -> np.random.Generator:
        """The named random stream of this run (created on first use)."""
        if name not in self._streams:
            self._streams[name] = stream(self.seed, name)
        return self._streams[name]

    def draw(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Uniform [0, 1) draws from a named stream."""
        return self.stream(name).random(shape, dtype=np.float32)

    def add_cost(self, intervention: str, bundle: int, amount: float) -> None:
        """Book intervention cost against a bundle."""
        self.cost[bundle] += amount
        self.cost_by_intervention[intervention] = (
            self.cost_by_intervention.get(intervention, 0.0) + amount)

    def add_ties(self, pairs: np.ndarray, layer: str) -> None:
        """Add collaboration ties during the run (e.g. from a learning collaborative)."""
        if len(pairs) == 0:
            return
        self.extra_ties.append((np.asarray(pairs, np.int32), layer))
        pairs = np.asarray(pairs)
        i = np.concatenate([pairs[:, 0], pairs[:, 1]])
        j = np.concatenate([pairs[:, 1], pairs[:, 0]])
        keep = i != j
        new = sp.csr_matrix((np.ones(keep.sum(), np.float32), (i[keep], j[keep])),
                            shape=self.adjacency.shape)
        adj = (self.adjacency + new).tocsr()
        adj.data[:] = 1.0
        self.adjacency = adj
        self._refresh_network()

    def scale_influence(self, staff: np.ndarray, bundles: np.ndarray, factor: float) -> None:
        """Multiply how much ``staff``'s example weighs for ``bundles`` (champions).

        Dividing by the same factor undoes it, so overlapping programmes compose.
        """
        self.influence_weight[np.ix_(np.flatnonzero(staff), bundles)] *= np.float32(factor)
        self._refresh_network()

    def _refresh_network(self) -> None:
        # How much weight each person's ties carry in total, per bundle (the exposure's
        # denominator); recomputed only when ties or weights change.
        self.weight_total = (self.adjacency @ self.influence_weight).astype(np.float32)
        self._neighbour_sums.rebuild(self.adjacency, self.influence_weight)

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
        """Organisations as Mesa agents (created on first access)."""
        return AgentSet([Organisation(self, i) for i in range(len(self.pop.org_name))],
                        random=self.random)

    @cached_property
    def units(self) -> AgentSet:
        """Units as Mesa agents (created on first access)."""
        return AgentSet([Unit(self, i) for i in range(self.pop.n_units)], random=self.random)

    @cached_property
    def staff(self) -> AgentSet:
        """Staff as Mesa agents (created on first access: a national run needs none)."""
        return AgentSet([Staff(self, i) for i in range(self.pop.n_staff)], random=self.random)

    # --- one week ------------------------------------------------------------------------------
    def step(self) -> None:
        """Simulate one week (the order is the module docstring's)."""
        w, st, par = self.world, self.state, self.par
        st.week += 1
        n = self.pop.n_staff
        self.launched = np.array([lw is not None and st.week >= lw for lw in self.launch_week])
        self.unit_support.fill(0.0)
        self.unit_boost.fill(0.0)
        self.unit_awareness.fill(0.0)
        self.protected.fill(False)
        eff_cap = capacity.effective_capacity(self.capacity, self.pop.unit_org,
                                              len(self.pop.org_name), par["org_spillover"])
        self.unit_context[:] = (par["beta_capacity"] * eff_cap)[:, None]

        # 1. turnover
        leavers = turnover_mech.draw_leavers(self.stream("turnover"), n, self._p_leave)
        if len(leavers):
            turnover_mech.replace_leavers(st, leavers, w.performed)
            rng = self.stream("turnover:traits")
            op, th = draw_staff_traits(rng, par, len(leavers))
            self.openness[leavers], self.threshold[leavers] = op, th
            shift = par["beta_openness"] * (op - self.pop.staff_openness[leavers])
            self.log_ctx[leavers] = w.log_ctx[leavers] + shift[:, None]

        # 2. interventions (only on launched bundles: see Intervention.bundles_now)
        for iv in self.interventions:
            iv.apply(self, st.week)
        eligible = w.eligible & self.launched[None, :]
        # Steps 3-5 work on flat indices of the (staff, bundle) entries a rule applies to: the
        # hazards are computed only there, which late in a run is a fraction of N × B. The draws
        # are made for every entry whatever the state, so draw (i, b) of a week serves the same
        # purpose in every strategy (common random numbers: paired strategy comparisons).
        shape = (n, len(w.bundles))
        u_awareness, u_adoption, u_abandon, u_routinise = (
            self.draw(name, shape).reshape(-1)
            for name in ("awareness", "adoption", "abandon", "routinise"))

        # 3. awareness (from colleagues using at the start of the week)
        using = st.using() & eligible
        using_ties, weighted_using = self._neighbour_sums(using)
        idx = awareness.candidates(st.stage, eligible)
        if len(idx):
            prob = awareness.awareness_probability(par["p_awareness"], par["p_word_of_mouth"],
                                                   using_ties.reshape(-1)[idx])
            if self.unit_awareness.any():  # interventions that tell people (independent channel)
                told = self.unit_awareness.reshape(-1)[self._unit_cell(idx)]
                prob = 1.0 - (1.0 - prob) * (1.0 - told)
            awareness.become_aware(st.stage, idx, prob, u_awareness[idx])

        # 4. adoption
        idx = adoption.candidates(st.stage)
        if len(idx):
            rows, cell = self._entry_staff[idx], self._unit_cell(idx)
            expo = influence.weighted_share(weighted_using.reshape(-1)[idx],
                                            self.weight_total.reshape(-1)[idx])
            infl = influence.influence_hazard(expo[:, None], par["q_imitation"],
                                              par["contagion"], self.threshold[rows])[:, 0]
            trying_now = count_bundles(st.stage == TRYING)  # the aware are not trying
            load = par["beta_concurrent"] * trying_now[rows]
            ctx = (self.log_ctx.reshape(-1)[idx] + self.unit_context.reshape(-1)[cell]
                   + self.unit_boost.reshape(-1)[cell] - load)
            hazard = adoption.adoption_hazard(ctx, par["p_innovation"], par["beta_knowledge"],
                                              st.knowledge.reshape(-1)[idx], infl)
            adoption.start_trying(st.stage, idx, hazard, u_adoption[idx])

        # 5. abandonment, then routinisation
        idx = sustainment.users(st.stage)
        if len(idx):
            cell = self._unit_cell(idx)
            ab = sustainment.abandonment_hazard(
                st.stage.reshape(-1)[idx],
                self.log_ctx.reshape(-1)[idx] + self.unit_context.reshape(-1)[cell],
                self.unit_support.reshape(-1)[cell], par["p_abandon"],
                par["routine_protection"])
            ab[self.protected.reshape(-1)[idx]] = 0.0
            sustainment.abandon(st.stage, idx, ab, u_abandon[idx])
        idx = sustainment.trying(st.stage)
        if len(idx):
            sustainment.routinise(st.stage, idx, par["p_routinise"],
                                  fidelity.staff_fidelity(st.fidelity, w.performed, idx),
                                  u_routinise[idx])

        # 6. knowledge
        using = st.using()
        awareness.update_knowledge(st.knowledge, using, par["learning_by_doing"],
                                   par["knowledge_decay"])

        # 7. fidelity
        fidelity.update_fidelity(st.fidelity, w.performed, using, st.knowledge,
                                 self.unit_support, par["fidelity_gain"],
                                 par["fidelity_decay"], self._complexity)

        # 8. compliance, learning transfer, harm, recording
        self._measure()
        new = capacity.record_successes(self.implemented, self.unit_fidelity,
                                        par["success_fidelity"], self.launched)
        capacity.update_capacity(self.capacity, new, par["capacity_gain"], self._p_leave)
        events = harm.expected_events(self.census, self._harm_counted, self._harm_rate,
                                      self._harm_rr, self.unit_compliance)
        self.harm_expected += events.sum(axis=0)
        self.harm_averted += (self._baseline_harm - events).sum(axis=0)
        self._record()

    def _unit_cell(self, idx: np.ndarray) -> np.ndarray:
        """Flat (unit, bundle) indices of flat (staff, bundle) indices: unit levers per entry."""
        return self._entry_unit_cell[idx]

    def _measure(self) -> None:
        """Compute unit compliance and mean fidelity for this week."""
        w = self.world
        perf, _ = collective.unit_performance(self.state.fidelity, w.performed)
        eff = collective.effective_performance(perf, w.pathways, w.element_cross)
        self.unit_compliance, self.unit_fidelity = collective.bundle_compliance(
            eff, w.element_bundle, len(w.bundles))
        if self.state.week == 0:
            self._record()

    def _record(self) -> None:
        if self.recorder.wants(self.state.week):
            w = self.world
            users = w.membership @ (self.state.using() & w.eligible).astype(np.float32)
            self.recorder.record(self.state.week, users, self.unit_compliance,
                                 self.unit_fidelity, self.cost, self.harm_averted)

    def run(self, on_week: Callable[[], None] | None = None) -> ImplementationModel:
        """Step through the scenario's weeks (``on_week`` is called after each, for progress)."""
        for _ in range(self.scenario.weeks - self.state.week):
            self.step()
            if on_week:
                on_week()
        return self

"""A per-agent Mesa reference of implsim's adoption rules, for one bundle: speed comparison only.

Written the way a Mesa model usually is — each staff member an Agent with ``step()`` and
``advance()`` (simultaneous activation: everybody decides from last week's neighbours), the
schedule as ``agents.shuffle_do``, outcomes through a ``DataCollector`` — on the same people and
ties as an implsim :class:`~sim.world.World`. It implements the same weekly rules as
``sim.model`` for one bundle with no interventions and no routinisation: turnover, awareness
(organisation and using colleagues), trying (context × (p·e^{β_K k} + q·exposure) with opinion
leaders weighing more), abandonment, learning by doing and forgetting. The benchmark times it
against the vectorised model, and ``tests/test_reference_model.py`` checks both give the same
mean adoption curve.
"""

from __future__ import annotations

import math
from typing import Any

import mesa
import numpy as np

from sim.population import draw_staff_traits
from sim.world import World

UNAWARE, AWARE, TRYING, ABANDONED = 0, 1, 2, 4


class StaffAgent(mesa.Agent):
    """One staff member, deciding each week from last week's state of the people they heed."""

    def __init__(self, model: ReferenceModel, index: int, eligible: bool) -> None:
        super().__init__(model)
        self.index = index
        self.eligible = eligible
        self.stage = UNAWARE
        self.knowledge = 0.0
        self.neighbours: list[StaffAgent] = []
        self.weight = 1.0
        self.log_ctx = 0.0
        self._next: tuple[int, float] = (UNAWARE, 0.0)

    def using(self) -> bool:
        """Whether this person is using the bundle."""
        return self.stage == TRYING

    def step(self) -> None:
        """Decide next week's stage and knowledge from this week's neighbours."""
        m: ReferenceModel = self.model
        p = m.par
        rnd = m.random
        stage, knowledge = self.stage, self.knowledge
        if rnd.random() < m.p_leave:  # turnover: the position gets an unaware newcomer
            self._next = (UNAWARE, 0.0)
            self.log_ctx = m.newcomer_log_ctx(self.index)
            return
        using_ties = 0
        weighted = 0.0
        total = 0.0
        for nb in self.neighbours:
            total += nb.weight
            if nb.eligible and nb.stage == TRYING:
                using_ties += 1
                weighted += nb.weight
        if stage == UNAWARE and self.eligible:
            chance = 1.0 - (1.0 - p["p_awareness"]) * (1.0 - p["p_word_of_mouth"]) ** using_ties
            if rnd.random() < chance:
                stage = AWARE
        if stage == AWARE:
            exposure = weighted / total if total > 0 else 0.0
            influence = p["q_imitation"] * exposure
            base = p["p_innovation"] * math.exp(p["beta_knowledge"] * knowledge)
            hazard = min(1.0, math.exp(self.log_ctx) * (base + influence))
            if rnd.random() < hazard:
                stage = TRYING
        if stage == TRYING:
            if rnd.random() < min(1.0, p["p_abandon"] * math.exp(-self.log_ctx)):
                stage = ABANDONED
        if stage == TRYING:
            knowledge += p["learning_by_doing"] * (1.0 - knowledge)
        else:
            knowledge -= p["knowledge_decay"] * knowledge
        self._next = (stage, knowledge)

    def advance(self) -> None:
        """Apply the decision (simultaneous update)."""
        self.stage, self.knowledge = self._next


class ReferenceModel(mesa.Model):
    """Per-agent model of one bundle on an implsim world."""

    def __init__(self, world: World, params: dict[str, Any], bundle: int = 0,
                 seed: int = 0) -> None:
        super().__init__(rng=seed)
        self.par = params
        self.p_leave = 1.0 - (1.0 - params["turnover_annual"]) ** (1.0 / 52.0)
        self.world = world
        self.bundle = bundle
        self._traits_rng = np.random.default_rng(seed + 1)
        pop = world.pop
        staff = [StaffAgent(self, i, bool(world.eligible[i, bundle])) for i in range(pop.n_staff)]
        adj = world.adjacency
        for i, agent in enumerate(staff):
            agent.neighbours = [staff[j] for j in adj.indices[adj.indptr[i]:adj.indptr[i + 1]]]
            agent.weight = float(world.leader_weight[i])
            agent.log_ctx = float(world.log_ctx[i, bundle])
        self.staff = staff
        self.n_eligible = int(world.eligible[:, bundle].sum())
        self.datacollector = mesa.DataCollector(
            model_reporters={"adoption": ReferenceModel.adoption})
        self.datacollector.collect(self)

    def newcomer_log_ctx(self, index: int) -> float:
        """Context of a newcomer: the position's context with fresh openness."""
        openness, _ = draw_staff_traits(self._traits_rng, self.par, 1)
        shift = self.par["beta_openness"] * (openness[0] - self.world.pop.staff_openness[index])
        return float(self.world.log_ctx[index, self.bundle] + shift)

    def adoption(self) -> float:
        """Share of eligible staff using the bundle."""
        users = sum(1 for a in self.staff if a.eligible and a.stage == TRYING)
        return users / self.n_eligible if self.n_eligible else 0.0

    def step(self) -> None:
        """One week: everybody decides from last week, then everybody moves."""
        self.agents.shuffle_do("step")
        self.agents.do("advance")
        self.datacollector.collect(self)

"""Champions (opinion leaders): staff chosen in each targeted unit to lead by example.

At the start, ``per_unit`` eligible staff per targeted unit are chosen by ``rule``: ``random``,
``degree`` (most ties), ``betweenness`` (brokers within their unit), or ``readiness`` (most open
to evidence-based practice). While active, champions try every launched supported bundle with
full knowledge, their example weighs ``influence_multiplier`` times more in colleagues' exposure,
and their units get ``support`` (a colleague who reminds and helps). Local opinion leaders improve
compliance with desired practice (Flodgren et al. 2019, Cochrane: median +10.8 percentage
points); the size of each lever here is an assumption. Cost is champion time per week.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from sim.interventions.base import Intervention
from sim.params import FITTED, P, ParamSet

if TYPE_CHECKING:
    from sim.model import ImplementationModel

CHAMPION_RULES = ("random", "degree", "betweenness", "readiness")


class Champions(Intervention):
    """Champions / opinion leaders in targeted units."""

    type_name = "champions"
    PARAMS = ParamSet("champions", "Champions.", (
        P("per_unit", 1, "Champions per targeted unit.", unit="staff", low=1, high=50),
        P("rule", "degree", "How champions are chosen within a unit.", choices=CHAMPION_RULES),
        P("influence_multiplier", 5.1, "How many times more a champion's example weighs.",
          unit="×", low=1.0, high=50.0,
          plausible=(1.0, 20.0),
          source=f"{FITTED}; posterior median 10, 90% interval "
          "[2, 18]; plausible range = the prior"),
        P("support", 0.2, "Support a champion gives their unit (0–1).", unit="share",
          low=0.0, high=1.0),
        P("cost_per_champion_week", 1500.0, "Cost of a champion's time per week (NOK).",
          unit="NOK", low=0.0, high=1e6, source="assumption: ~3 h a week"),
    ))

    def setup(self, model: ImplementationModel) -> None:
        """Choose the champions once, from this intervention's own stream."""
        super().setup(model)
        rng = model.stream(f"intervention:{self.name}:choose")
        pop = model.pop
        eligible_any = model.eligible[:, self.bundle_idx].any(axis=1)
        draws = rng.random(pop.n_staff)  # drawn whatever the rule, to keep streams aligned
        score = self._scores(model, draws)
        chosen = np.zeros(pop.n_staff, bool)
        for u in np.flatnonzero(self.units):
            members = np.flatnonzero((pop.staff_unit == u) & eligible_any)
            if len(members) == 0:
                continue
            order = np.lexsort((members, -score[members]))
            chosen[members[order[: self.pars["per_unit"]]]] = True
        self.champions = chosen
        self._weighted: set[int] = set()  # bundles whose champion weight is in force

    def _scores(self, model: ImplementationModel, draws: np.ndarray) -> np.ndarray:
        rule = self.pars["rule"]
        if rule == "random":
            return -draws
        if rule == "readiness":
            return model.openness.astype(float)
        adj = model.adjacency
        if rule == "degree":
            return np.asarray(adj.sum(axis=0)).ravel() + np.asarray(adj.sum(axis=1)).ravel()
        score = np.zeros(model.pop.n_staff)
        for u in np.flatnonzero(self.units):  # betweenness within each targeted unit
            members = np.flatnonzero(model.pop.staff_unit == u)
            sub = adj[members][:, members]
            g = nx.from_scipy_sparse_array(sub)
            bc = nx.betweenness_centrality(g)
            score[members] = [bc[i] for i in range(len(members))]
        return score

    def apply(self, model: ImplementationModel, week: int) -> None:
        """Champions use the bundles, weigh more and support their units while active.

        Their extra weight applies to each supported bundle from its launch until the end, and
        only to that bundle; active champions do not abandon it.
        """
        multiplier = self.pars["influence_multiplier"]
        if not self.active(week):
            if self._weighted:
                model.scale_influence(self.champions, np.array(sorted(self._weighted)),
                                      1.0 / multiplier)
                self._weighted.clear()
            return
        new = [int(b) for b in self.bundles_now(model) if int(b) not in self._weighted]
        if new:
            model.scale_influence(self.champions, np.array(new), multiplier)
            self._weighted.update(new)
        for b in self.bundles_now(model):
            champs = self.champions & model.eligible[:, b]
            model.state.start_using(champs, b)
            model.levers.protect(champs, b)
        self.give_support(model, self.units, support=self.pars["support"],
                          cost=self.pars["cost_per_champion_week"] * self.champions.sum())

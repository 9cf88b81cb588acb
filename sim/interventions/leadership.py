"""Leadership engagement: leaders of targeted organisations make the bundle a priority.

While active, the leadership score of every organisation with a targeted unit rises by
``leadership_gain`` (capped so the score stays ≤ 1), which acts through the context multiplier
(``beta_leadership``): staff of all its units try the bundle more readily and keep it longer.
Leadership support is a core determinant of implementation (Aarons et al. 2011, EPIS); the size
of the lift is an assumption. Cost is leaders' time per organisation and week.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.interventions.base import Intervention
from sim.params import P, ParamSet

if TYPE_CHECKING:
    from sim.model import ImplementationModel


class LeadershipEngagement(Intervention):
    """Engagement of the leaders of targeted organisations."""

    type_name = "leadership"
    PARAMS = ParamSet("leadership", "Leadership engagement.", (
        P("leadership_gain", 0.3, "Rise of the leadership score (0–1 scale) while engaged.",
          unit="score", low=0.0, high=1.0),
        P("awareness", 0.05, "Weekly chance that an unaware eligible staff member of an engaged "
          "organisation hears of the bundle from its leaders.", unit="1/week", low=0.0,
          high=1.0),
        P("cost_per_organisation_week", 1000.0, "Leaders' time per organisation and week "
          "(NOK).", unit="NOK", low=0.0, high=1e6, source="assumption: ~1.5 h a week"),
    ))

    def setup(self, model: ImplementationModel) -> None:
        """Engage every organisation that has a targeted unit."""
        super().setup(model)
        pop = model.pop
        self.orgs = np.unique(pop.unit_org[self.units])
        self.org_units = np.isin(pop.unit_org, self.orgs)
        lead = pop.org_leadership[pop.unit_org]
        lift = np.minimum(1.0, lead + self.pars["leadership_gain"]) - lead
        self.lift = np.where(self.org_units, lift, 0.0).astype(np.float32)

    def apply(self, model: ImplementationModel, week: int) -> None:
        """Raise the context of engaged organisations' units while active."""
        if not self.active(week) or len(self.bundles_now(model)) == 0:
            return
        for b in self.bundles_now(model):
            model.levers.add_context(slice(None), b, model.par["beta_leadership"] * self.lift)
        cost = self.pars["cost_per_organisation_week"] * len(self.orgs)
        self.give_support(model, self.org_units, awareness=self.pars["awareness"], cost=cost)

"""Reminders and decision support at the point of care (e.g. prompts in the record).

While active in targeted units, a prompt nudges everybody who performs an element, users or not,
closing ``prompt_gain`` of their fidelity gap each week, and the prompt substitutes for memory
(``support`` against decay). On-screen reminders give small gains (Shojania et al. 2009,
Cochrane: median +4.2 percentage points). Cost: a set-up cost when it starts, then per unit-week.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.interventions.base import Intervention
from sim.mechanisms import fidelity
from sim.params import FITTED, P, ParamSet

if TYPE_CHECKING:
    from sim.model import ImplementationModel


class Reminders(Intervention):
    """Reminders / decision support in targeted units."""

    type_name = "reminders"
    PARAMS = ParamSet("reminders", "Reminders and decision support.", (
        P("prompt_gain", 0.0049, "Weekly share of the fidelity gap a prompt closes.",
          unit="1/week", low=0.0, high=1.0,
          plausible=(0.0002, 0.05),
          source=f"{FITTED}; posterior median 0.0021, 90% interval "
          "[0.00026, 0.035]; plausible range = the prior"),
        P("support", 0.1, "Support against fidelity decay (0–1).", unit="share", low=0.0,
          high=1.0, source="assumption, small as in Shojania et al. 2009"),
        P("awareness", 0.05, "Weekly chance that an unaware eligible staff member of a targeted "
          "unit learns of the bundle from a prompt.", unit="1/week", low=0.0, high=1.0),
        P("setup_cost", 200000.0, "One-off cost of building the prompts (NOK).", unit="NOK",
          low=0.0, high=1e8, source="assumption"),
        P("cost_per_unit_week", 100.0, "Running cost per unit and week (NOK).", unit="NOK",
          low=0.0, high=1e6, source="assumption"),
    ))

    def apply(self, model: ImplementationModel, week: int) -> None:
        """Prompt and support targeted units while active."""
        bundles = self.bundles_now(model)
        if not self.active(week) or len(bundles) == 0:
            return
        st, w = model.state, model.world
        staff = self.staff
        for b in bundles:
            fidelity.lift(st.fidelity, w.performed, staff, b, self.pars["prompt_gain"])
        cost = self.pars["cost_per_unit_week"] * self.units.sum()
        if week == self.start_week or not getattr(self, "_set_up", False):
            cost += self.pars["setup_cost"]
            self._set_up = True
        self.give_support(model, self.units, support=self.pars["support"],
                          awareness=self.pars["awareness"], cost=cost)

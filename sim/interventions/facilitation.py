"""Facilitation: a facilitator helps targeted units implement (Harvey & Kitson's i-PARIHS).

While active, targeted units get a higher chance to try the bundle (``adoption_effect`` ×
``intensity`` added to the log-hazard) and *support* ``intensity`` that protects fidelity from
decay and users from abandoning. Ruud et al. 2021 (SPEC §11) found fidelity rose 0.86 points more
(on a 1–5 scale) with implementation support over 18 months in Norwegian mental-health clinics,
most of it in the first 12. *External* facilitation comes from outside the organisation; *internal*
facilitation is done by the organisation's own staff: cheaper and less intense, but it leaves
implementation capacity behind (``capacity_per_year``).

Cost follows the dose: ``cost_per_unit_week`` is the cost of a unit-week at intensity 1, and a
unit-week at intensity *x* costs *x* times that (intensity 0 delivers nothing and costs nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.interventions.base import Intervention
from sim.params import FITTED, P, ParamSet

if TYPE_CHECKING:
    from sim.model import ImplementationModel


class Facilitation(Intervention):
    """External facilitation of targeted units."""

    type_name = "facilitation"
    PARAMS = ParamSet("facilitation", "External facilitation.", (
        P("intensity", 0.5, "Support intensity (0 = none, 1 = a facilitator always present).",
          unit="share", low=0.0, high=1.0),
        P("adoption_effect", 0.29, "Log-hazard increase of trying at intensity 1.",
          unit="log-hazard", low=0.0, high=5.0,
          plausible=(0.0, 3.0),
          source=f"{FITTED}; posterior median 0.97, 90% interval "
          "[0.062, 2.4]; plausible range = the prior"),
        P("cost_per_unit_week", 5000.0, "Cost per targeted unit per week at intensity 1 (NOK); "
          "the cost follows the intensity.", unit="NOK", low=0.0, high=1e6,
          source="assumption: ~0.1 FTE external facilitator per unit at intensity 1 (~0.05 FTE "
          "at the default 0.5)"),
        P("capacity_per_year", 0.0, "Implementation capacity the units gain per year of "
          "facilitation (skills that stay).", unit="capacity/year", low=0.0, high=5.0),
        P("awareness", 0.2, "Weekly chance that an unaware eligible staff member of a targeted "
          "unit is told of the bundle by the facilitator (at intensity 1).", unit="1/week",
          low=0.0, high=1.0),
    ))

    def apply(self, model: ImplementationModel, week: int) -> None:
        """Raise support and adoption in targeted units while active."""
        if not self.active(week) or len(self.bundles_now(model)) == 0:
            return
        level = self.pars["intensity"]
        self.give_support(model, self.units, support=level,
                          boost=self.pars["adoption_effect"] * level,
                          awareness=self.pars["awareness"] * level,
                          cost=self.pars["cost_per_unit_week"] * level * self.units.sum())
        if self.pars["capacity_per_year"]:
            model.add_capacity(self.units, self.pars["capacity_per_year"] / 52.0)


class InternalFacilitation(Facilitation):
    """Facilitation by the organisation's own trained staff."""

    type_name = "internal_facilitation"
    PARAMS = ParamSet("internal_facilitation", "Internal facilitation.", (
        P("intensity", 0.3, "Support intensity (0 = none, 1 = a facilitator always present).",
          unit="share", low=0.0, high=1.0,
          source="assumption: part-time, alongside clinical work"),
        P("adoption_effect", 0.8, "Log-hazard increase of trying at intensity 1.",
          unit="log-hazard", low=0.0, high=5.0),
        P("cost_per_unit_week", 2700.0, "Cost per targeted unit per week at intensity 1 (NOK); "
          "the cost follows the intensity.", unit="NOK", low=0.0, high=1e6,
          source="assumption: ~2 h a week of an internal facilitator at the default intensity "
          "0.3 (~6.7 h at intensity 1)"),
        P("capacity_per_year", 0.3, "Implementation capacity the units gain per year of "
          "facilitation (skills that stay).", unit="capacity/year", low=0.0, high=5.0,
          source="assumption: internal facilitators stay and keep the skills"),
        P("awareness", 0.2, "Weekly chance that an unaware eligible staff member of a targeted "
          "unit is told of the bundle by the facilitator (at intensity 1).", unit="1/week",
          low=0.0, high=1.0),
    ))

"""Audit and feedback with SPC charts: units measure their compliance and react to it.

While active, every ``interval_weeks`` each targeted unit audits ``sample_size`` patients per
launched bundle: the compliant count is binomial with the unit's true compliance, so what the unit
sees carries sampling noise. The observations are kept (``observations``) for SPC charts. Until
the next audit the unit reacts to the gap between its observed compliance and
``target_compliance``: trying
rises by ``response`` × gap on the log-hazard scale and seeing the data reinforces practice
(``support``). Audit and feedback gives small to moderate gains, larger when baseline performance
is low (Ivers et al. 2012, Cochrane: median +4.3 percentage points); the levers are assumptions.
This is the feedback loop of SPEC §5.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.interventions.base import Intervention
from sim.params import P, ParamSet

if TYPE_CHECKING:
    from sim.model import ImplementationModel


class AuditFeedback(Intervention):
    """Audit of compliance with feedback on SPC charts."""

    type_name = "audit_feedback"
    PARAMS = ParamSet("audit_feedback", "Audit and feedback.", (
        P("interval_weeks", 4, "Weeks between audits (4 = monthly).", unit="weeks", low=1,
          high=52),
        P("sample_size", 20, "Patients audited per unit, bundle and audit.", unit="patients",
          low=1, high=1000, source="assumption: In Safe Hands units audited ~20 a month"),
        P("target_compliance", 0.9, "Compliance the unit aims for.", unit="share", low=0.0,
          high=1.0),
        P("response", 1.0, "Log-hazard increase of trying per unit of gap below the target.",
          unit="log-hazard", low=0.0, high=10.0,
          source="assumption, sized so the gain is modest (Ivers et al. 2012: +4.3 points)"),
        P("support", 0.2, "Reinforcement from seeing one's own data (0–1).", unit="share",
          low=0.0, high=1.0, source="assumption, small as in Ivers et al. 2012"),
        P("cost_per_audit", 800.0, "Cost per unit, bundle and audit (NOK).", unit="NOK",
          low=0.0, high=1e6, source="assumption: ~1.5 h of a nurse's time"),
    ))

    def setup(self, model: ImplementationModel) -> None:
        """Start with no observations and no gap."""
        super().setup(model)
        self.gap = np.zeros((model.pop.n_units, len(model.scenario.bundles)), np.float32)
        self._rows: list[tuple[int, int, int, int, int]] = []

    def apply(self, model: ImplementationModel, week: int) -> None:
        """Audit in audit weeks; react to the last observed gap in every active week."""
        if not self.active(week):
            return
        bundles = self.bundles_now(model)
        if len(bundles) == 0:
            return
        units = np.flatnonzero(self.units)
        if (week - self.start_week) % self.pars["interval_weeks"] == 0:
            rng = model.stream(f"intervention:{self.name}:audit")
            n = self.pars["sample_size"]
            true = np.nan_to_num(model.unit_compliance[np.ix_(units, bundles)], nan=0.0)
            x = rng.binomial(n, np.clip(true, 0.0, 1.0))
            self.gap[np.ix_(units, bundles)] = np.maximum(0.0,
                                                          self.pars["target_compliance"] - x / n)
            applicable = ~np.isnan(model.unit_compliance[np.ix_(units, bundles)])
            for i, u in enumerate(units):
                for j, b in enumerate(bundles):
                    if applicable[i, j]:
                        self._rows.append((week, int(u), int(b), int(x[i, j]), n))
            for b in bundles:
                audited = applicable[:, list(bundles).index(b)].sum()
                model.add_cost(self.name, int(b), self.pars["cost_per_audit"] * audited)
        for b in bundles:
            model.levers.push(self.units, b, self.pars["response"] * self.gap[self.units, b])
        self.give_support(model, self.units, support=self.pars["support"])

    def observations(self, model: ImplementationModel) -> pd.DataFrame:
        """The audits so far: week, unit, bundle, compliant, audited."""
        df = pd.DataFrame(self._rows, columns=["week", "unit", "bundle", "compliant",
                                               "audited"])
        df["unit"] = [model.pop.unit_name[u] for u in df["unit"]]
        df["bundle"] = [model.scenario.bundle_names[b] for b in df["bundle"]]
        return df

"""Breakthrough-Series learning collaborative (IHI 2003): learning sessions and action periods.

Targeted units send ``attendees_per_unit`` staff to ``sessions`` learning sessions,
``session_interval_weeks`` apart from ``start_week``. At a session attendees become aware and
gain knowledge, and each draws ``ties_per_attendee`` partners among the session's attendees,
keeping those from *other organisations* as new ties (so up to that many): collaboratives
build the cross-organisation network (layer ``collaborative``).
Between sessions, during the action periods up to ``end_week``, coaching gives the units support
and a push to try, and the unit's improvement team tells colleagues who have not heard of the
bundle (``awareness``). In Safe Hands ran its target areas as such collaboratives (SPEC §1).
Cost: each attendee's day per session plus the faculty's cost per session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.interventions.base import Intervention
from sim.params import FITTED, P, ParamSet

if TYPE_CHECKING:
    from sim.model import ImplementationModel


class Collaborative(Intervention):
    """A Breakthrough-Series collaborative across organisations."""

    type_name = "collaborative"
    PARAMS = ParamSet("collaborative", "Breakthrough-Series collaborative.", (
        P("sessions", 3, "Learning sessions.", unit="sessions", low=1, high=50,
          source="IHI Breakthrough Series (2003): typically three learning sessions"),
        P("session_interval_weeks", 13, "Weeks between learning sessions (action periods).",
          unit="weeks", low=1, high=104),
        P("attendees_per_unit", 3, "Staff each unit sends to a session.", unit="staff",
          low=1, high=50, source="IHI Breakthrough Series (2003): teams of ~3"),
        P("knowledge_gain", 0.6, "Share of an attendee's knowledge gap a session closes.",
          unit="share", low=0.0, high=1.0),
        P("ties_per_attendee", 2, "New ties each attendee makes to attendees of other "
          "organisations per session.", unit="ties", low=0, high=50),
        P("coaching_support", 0.3, "Support to participating units during action periods.",
          unit="share", low=0.0, high=1.0),
        P("action_boost", 2.6, "Log-hazard push to try during action periods.",
          unit="log-hazard", low=0.0, high=5.0,
          plausible=(0.0, 3.0),
          source=f"{FITTED}; posterior median 2.2, 90% interval "
          "[1.2, 2.9]; plausible range = the prior"),
        P("awareness", 0.22, "Weekly chance during action periods that an unaware eligible "
          "staff member of a participating unit hears of the bundle from the unit's "
          "improvement team.", unit="1/week", low=0.0, high=1.0,
          plausible=(0.0, 0.3),
          source=f"{FITTED}; posterior median 0.13, 90% interval "
          "[0.015, 0.28]; plausible range = the prior"),
        P("cost_per_attendee_session", 6000.0, "Cost of an attendee's day (NOK).", unit="NOK",
          low=0.0, high=1e6, source="assumption: a day's pay plus travel"),
        P("cost_per_session", 60000.0, "Faculty and venue per session (NOK).", unit="NOK",
          low=0.0, high=1e7, source="assumption"),
    ))

    def session_weeks(self) -> list[int]:
        """Weeks of the learning sessions (within start..end)."""
        weeks = [self.start_week + k * self.pars["session_interval_weeks"]
                 for k in range(self.pars["sessions"])]
        return [w for w in weeks if w <= self.end_week]

    def apply(self, model: ImplementationModel, week: int) -> None:
        """Hold a learning session, or coach during an action period."""
        if not self.active(week):
            return
        bundles = self.bundles_now(model)
        if len(bundles) == 0:
            return
        if week in self.session_weeks():
            self._session(model, week, bundles)
        else:
            self.give_support(model, self.units, support=self.pars["coaching_support"],
                              boost=self.pars["action_boost"],
                              awareness=self.pars["awareness"])

    def _session(self, model: ImplementationModel, week: int, bundles: np.ndarray) -> None:
        rng = model.stream(f"intervention:{self.name}:session")
        pop, st = model.pop, model.state
        elig = model.eligible[:, bundles].any(axis=1)
        draws = rng.random(pop.n_staff)
        attendees = []
        for u in np.flatnonzero(self.units):
            members = np.flatnonzero((pop.staff_unit == u) & elig)
            pick = members[np.argsort(draws[members], kind="stable")]
            attendees.append(pick[: self.pars["attendees_per_unit"]])
        att = np.concatenate(attendees) if attendees else np.empty(0, np.intp)
        for b in bundles:
            who = att[model.eligible[att, b]]
            st.make_aware(who, b)
            st.teach(who, b, self.pars["knowledge_gain"])
        # New ties to attendees of other organisations.
        org = pop.unit_org[pop.staff_unit[att]]
        k = self.pars["ties_per_attendee"]
        pairs = []
        if k and len(att) > 1:
            partner = rng.integers(0, len(att), size=(len(att), k))
            a = np.repeat(att, k)
            b_ = att[partner.ravel()]
            other = org[np.repeat(np.arange(len(att)), k)] != org[partner.ravel()]
            pairs = np.stack([a[other], b_[other]], axis=1)
            model.add_ties(pairs, "collaborative")
        cost = self.pars["cost_per_session"] + self.pars["cost_per_attendee_session"] * len(att)
        for b in bundles:
            model.add_cost(self.name, int(b), cost / len(bundles))

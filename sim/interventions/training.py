"""Training: sessions that make staff aware of a bundle and give them knowledge.

At ``start_week`` (and every ``interval_weeks`` after, up to ``end_week``; 0 = one wave) a share
``coverage`` of the eligible staff in targeted units is trained for each supported bundle:
unaware or lapsed staff become aware, and knowledge closes ``knowledge_gain`` of its gap. Cost is
``cost_per_trainee`` per person per bundle trained.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.interventions.base import Intervention
from sim.params import P, ParamSet
from sim.state import ABANDONED, AWARE, UNAWARE

if TYPE_CHECKING:
    from sim.model import ImplementationModel


class Training(Intervention):
    """Training sessions (workshop by default)."""

    type_name = "training"
    PARAMS = ParamSet("training", "Training sessions.", (
        P("coverage", 0.8, "Share of targeted eligible staff trained at each session.",
          unit="share", low=0.0, high=1.0),
        P("interval_weeks", 0, "Weeks between sessions (0 = a single wave at start_week).",
          unit="weeks", low=0, high=520),
        P("knowledge_gain", 0.5, "Share of the knowledge gap a session closes (dose).",
          unit="share", low=0.0, high=1.0),
        P("cost_per_trainee", 1500.0, "Cost per person trained per bundle (staff time plus "
          "trainer; NOK).", unit="NOK", low=0.0, high=1e6,
          source="assumption: ~3 h of staff time at ~500 NOK/h"),
    ))

    def session(self, week: int) -> bool:
        """Whether a training session is held in ``week``."""
        if not self.active(week):
            return False
        step = self.pars["interval_weeks"]
        return week == self.start_week or (step > 0 and (week - self.start_week) % step == 0)

    def apply(self, model: ImplementationModel, week: int) -> None:
        """Train a share of targeted eligible staff in session weeks."""
        if not self.session(week):
            return
        u = model.draw(f"intervention:{self.name}", (model.pop.n_staff,))
        chosen = self.staff & (u < self.pars["coverage"])
        st = model.state
        for b in self.bundle_idx:
            trainees = chosen & model.eligible[:, b]
            lapsed = trainees & ((st.stage[:, b] == UNAWARE) | (st.stage[:, b] == ABANDONED))
            st.stage[lapsed, b] = AWARE
            k = st.knowledge[trainees, b]
            st.knowledge[trainees, b] = k + self.pars["knowledge_gain"] * (1.0 - k)
            model.add_cost(self.name, int(b), self.pars["cost_per_trainee"] * trainees.sum())

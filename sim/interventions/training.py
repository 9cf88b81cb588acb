"""Training: sessions that make staff aware of a bundle and give them knowledge and skills.

At ``start_week`` (and every ``interval_weeks`` after, up to ``end_week``; 0 = one wave) a share
``coverage`` of the eligible staff in targeted units is trained for each supported bundle:
unaware or lapsed staff become aware, knowledge closes ``knowledge_gain`` of its gap, and (for
simulation training) the fidelity of the elements they perform closes ``skill_gain`` of its gap.
Cost is ``cost_per_trainee`` per person per bundle. Three modes, three types:

- ``training`` — a workshop: half a day, moderate dose;
- ``e_learning`` — cheap and scalable, a low dose, fewer complete it;
- ``simulation_training`` — hands-on drills: costly, high dose, builds skill directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.interventions.base import Intervention
from sim.mechanisms import fidelity
from sim.params import FITTED, P, ParamSet

if TYPE_CHECKING:
    from sim.model import ImplementationModel


def _params(name: str, doc: str, coverage: float, gain: float, skill: float, cost: float,
            cost_source: str, dose_source: str, gain_source: str = "",
            gain_plausible: tuple[float, float] | None = None) -> ParamSet:
    return ParamSet(name, doc, (
        P("coverage", coverage, "Share of targeted eligible staff trained at each session.",
          unit="share", low=0.0, high=1.0, source=dose_source),
        P("interval_weeks", 0, "Weeks between sessions (0 = a single wave at start_week).",
          unit="weeks", low=0, high=520),
        P("knowledge_gain", gain, "Share of the knowledge gap a session closes (dose).",
          unit="share", low=0.0, high=1.0, source=gain_source or dose_source,
          plausible=gain_plausible),
        P("skill_gain", skill, "Share of the fidelity gap of performed elements a session "
          "closes (practised skill).", unit="share", low=0.0, high=1.0, source=dose_source),
        P("cost_per_trainee", cost, "Cost per person trained per bundle (staff time plus "
          "trainer; NOK).", unit="NOK", low=0.0, high=1e6, source=cost_source),
    ))


#: The workshop's knowledge gain from the joint calibration (issue 15); e-learning and simulation
#: training keep their earlier dose ratios to it.
WORKSHOP_GAIN = 0.31


class Training(Intervention):
    """Workshop training (the default mode)."""

    type_name = "training"
    PARAMS = _params("training", "Workshop training.", 0.8, WORKSHOP_GAIN, 0.0, 1500.0,
                     "assumption: ~3 h of staff time at ~500 NOK/h",
                     "assumption: a half-day workshop",
                     f"{FITTED}; posterior median 0.44, 90% interval [0.074, 0.91]; plausible "
                     "range = the prior", (0.05, 1.0))

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
        st, w = model.state, model.world
        for b in self.bundles_now(model):
            trainees = chosen & model.eligible[:, b]
            st.make_aware(trainees, b)
            st.teach(trainees, b, self.pars["knowledge_gain"])
            if self.pars["skill_gain"]:
                fidelity.lift(st.fidelity, w.performed, trainees, b, self.pars["skill_gain"])
            model.add_cost(self.name, int(b), self.pars["cost_per_trainee"] * trainees.sum())


class ELearning(Training):
    """E-learning modules."""

    type_name = "e_learning"
    PARAMS = _params("e_learning", "E-learning.", 0.6, round(0.6 * WORKSHOP_GAIN, 2), 0.0,
                     300.0, "assumption: ~40 min of staff time, licence negligible",
                     "assumption: lower completion and dose than a workshop",
                     "assumption: 0.6 x the workshop's calibrated knowledge_gain (the ratio of "
                     "the uncalibrated defaults, 0.3 / 0.5)")


class SimulationTraining(Training):
    """Simulation training (drills with scenarios, e.g. the deteriorating patient)."""

    type_name = "simulation_training"
    PARAMS = _params("simulation_training", "Simulation training.", 0.7,
                     round(1.4 * WORKSHOP_GAIN, 2), 0.3, 4000.0,
                     "assumption: a day with instructors and equipment",
                     "assumption: hands-on practice builds skill as well as knowledge",
                     "assumption: 1.4 x the workshop's calibrated knowledge_gain (the ratio of "
                     "the uncalibrated defaults, 0.7 / 0.5)")

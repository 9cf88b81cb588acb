"""Support interventions (SPEC §7), registered by the ``type`` name scenario files use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.errors import InputError
from sim.interventions.audit_feedback import AuditFeedback
from sim.interventions.base import COMMON, Intervention
from sim.interventions.champions import Champions
from sim.interventions.collaborative import Collaborative
from sim.interventions.facilitation import Facilitation, InternalFacilitation
from sim.interventions.leadership import LeadershipEngagement
from sim.interventions.reminders import Reminders
from sim.interventions.training import ELearning, SimulationTraining, Training

if TYPE_CHECKING:
    from sim.loop import Week

REGISTRY: dict[str, type[Intervention]] = {cls.type_name: cls for cls in (
    Training, ELearning, SimulationTraining, Facilitation, InternalFacilitation, Champions,
    AuditFeedback, Collaborative, LeadershipEngagement, Reminders)}


def make_intervention(spec: Any, where: str, bundle_names: list[str]) -> Intervention:
    """Build an intervention from its scenario table ``{type = ..., ...}``."""
    if not isinstance(spec, dict):
        raise InputError(where, "must be a table such as { type = \"training\", start_week = 4 }")
    kind = spec.get("type")
    if kind is None:
        raise InputError(f"{where}.type", f"missing; every intervention names its type, one "
                         f"of: {', '.join(sorted(REGISTRY))}")
    if not isinstance(kind, str) or kind not in REGISTRY:  # a list or table is not a name
        raise InputError(f"{where}.type", f"unknown intervention type {kind!r}; known types: "
                         f"{', '.join(sorted(REGISTRY))}")
    return REGISTRY[kind](spec, where, bundle_names)


def apply_interventions(w: Week) -> None:
    """Phase *interventions*: the strategy's interventions, in the declared order.

    They set this week's levers and may act on people, ties, influence, capacity and cost.
    """
    for iv in w.model.interventions:
        iv.apply(w.model, w.number)


__all__ = ["COMMON", "REGISTRY", "AuditFeedback", "Champions", "Collaborative", "ELearning",
           "Facilitation", "InternalFacilitation", "Intervention", "LeadershipEngagement",
           "Reminders", "SimulationTraining", "Training", "apply_interventions",
           "make_intervention"]

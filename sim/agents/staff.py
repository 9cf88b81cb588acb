"""Staff agent: one staff position (nurse, physician, care worker, ...) in a unit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from sim.params import ROLES
from sim.state import STAGES

if TYPE_CHECKING:
    from sim.model import ImplementationModel


class Staff(mesa.Agent):
    """View of staff position ``index``."""

    def __init__(self, model: ImplementationModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def role(self) -> str:
        """Role (see :data:`sim.params.ROLES`)."""
        return ROLES[self.model.pop.staff_role[self.index]]

    @property
    def unit(self) -> str:
        """Name of the unit."""
        return self.model.pop.unit_name[self.model.pop.staff_unit[self.index]]

    @property
    def openness(self) -> float:
        """Openness to evidence-based practice, in [0, 1]."""
        return float(self.model.openness[self.index])

    def stage(self, bundle: str) -> str:
        """Adoption stage for ``bundle`` (unaware, aware, trying, routine, abandoned)."""
        b = self.model.scenario.bundle_names.index(bundle)
        return STAGES[self.model.state.stage[self.index, b]]

    def knowledge(self, bundle: str) -> float:
        """Knowledge of ``bundle``, in [0, 1]."""
        b = self.model.scenario.bundle_names.index(bundle)
        return float(self.model.state.knowledge[self.index, b])

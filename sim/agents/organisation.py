"""Organisation agent.

A hospital trust's hospital, a mental-health service, a nursing home, a municipality's home
care or a GP practice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from sim.params import ORG_KINDS

if TYPE_CHECKING:
    from sim.model import ImplementationModel


class Organisation(mesa.Agent):
    """View of organisation ``index``."""

    def __init__(self, model: ImplementationModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def name(self) -> str:
        """Organisation name."""
        return self.model.pop.org_name[self.index]

    @property
    def kind(self) -> str:
        """Organisation kind (see :data:`sim.params.ORG_KINDS`)."""
        return ORG_KINDS[self.model.pop.org_kind[self.index]]

    @property
    def leadership(self) -> float:
        """Leadership support for implementation, in [0, 1]."""
        return float(self.model.pop.org_leadership[self.index])

    @property
    def catchment(self) -> int:
        """Index of the hospital-trust catchment the organisation belongs to."""
        return int(self.model.pop.org_trust[self.index])

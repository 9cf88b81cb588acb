"""Unit agent: a ward or team, where bundles are implemented and compliance is measured."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from sim.model import ImplementationModel


class Unit(mesa.Agent):
    """View of unit ``index``."""

    def __init__(self, model: ImplementationModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def name(self) -> str:
        """Unit name."""
        return self.model.pop.unit_name[self.index]

    @property
    def organisation(self) -> str:
        """Name of the organisation the unit belongs to."""
        return self.model.pop.org_name[self.model.pop.unit_org[self.index]]

    @property
    def size(self) -> int:
        """Number of staff positions."""
        return int((self.model.pop.staff_unit == self.index).sum())

    @property
    def climate(self) -> float:
        """Implementation climate, in [0, 1]."""
        return float(self.model.pop.unit_climate[self.index])

    @property
    def workload(self) -> float:
        """Workload, in [0, 1] (1 = no slack)."""
        return float(self.model.pop.unit_workload[self.index])

    def compliance(self, bundle: str) -> float:
        """Return this week's all-or-none compliance with ``bundle`` (NaN if it does not apply)."""
        b = self.model.scenario.bundle_names.index(bundle)
        return float(self.model.unit_compliance[self.index, b])

    def adoption(self, bundle: str) -> float:
        """Share of the unit's eligible staff using ``bundle`` now."""
        b = self.model.scenario.bundle_names.index(bundle)
        members = self.model.pop.staff_unit == self.index
        elig = members & self.model.eligible[:, b]
        if not elig.any():
            return float("nan")
        return float(np.mean(self.model.state.using()[elig, b]))

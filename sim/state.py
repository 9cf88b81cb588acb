"""Array-backed state of a run: what changes week by week, for all staff and bundles at once.

Shapes: N staff, B bundles, P performed (staff, element) pairs. The hot loop updates these arrays
in place; Mesa agents (:mod:`sim.agents`) are views onto them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Stages of SPEC §3: unaware → aware → trying → routine (adopted) → abandoned.
UNAWARE, AWARE, TRYING, ROUTINE, ABANDONED = 0, 1, 2, 3, 4
STAGES = ("unaware", "aware", "trying", "routine", "abandoned")


@dataclass
class State:
    """Mutable per-run state."""

    stage: np.ndarray  # (N, B) int8
    knowledge: np.ndarray  # (N, B) float32 in [0, 1]
    # (P,) float32 in [0, 1]: the chance an element is done when due, for each (staff, element)
    # pair somebody performs, in the order of ``World.performed`` (sim.mechanisms.fidelity)
    fidelity: np.ndarray
    week: int = 0

    @classmethod
    def initial(cls, n_staff: int, n_bundles: int, pair_baseline: np.ndarray) -> State:
        """Everybody unaware, no knowledge, every performed element at its baseline fidelity."""
        return cls(
            stage=np.zeros((n_staff, n_bundles), np.int8),
            knowledge=np.zeros((n_staff, n_bundles), np.float32),
            fidelity=np.array(pair_baseline, np.float32),
        )

    def using(self) -> np.ndarray:
        """(N, B) bool: trying or routine — currently using the bundle."""
        return (self.stage == TRYING) | (self.stage == ROUTINE)


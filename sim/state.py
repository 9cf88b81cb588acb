"""Array-backed state of a run: what changes week by week, for all staff and bundles at once.

Shapes: N staff, B bundles, E elements (all bundles' elements side by side), U units. The hot loop
updates these arrays in place; Mesa agents (:mod:`sim.agents`) are views onto them.
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
    fidelity: np.ndarray  # (N, E) float32 in [0, 1]: chance an element is done when due
    week: int = 0

    @classmethod
    def initial(cls, n_staff: int, n_bundles: int, baseline: np.ndarray) -> State:
        """Everybody unaware, no knowledge, every element at its baseline fidelity."""
        return cls(
            stage=np.zeros((n_staff, n_bundles), np.int8),
            knowledge=np.zeros((n_staff, n_bundles), np.float32),
            fidelity=np.tile(baseline.astype(np.float32), (n_staff, 1)),
        )

    def using(self) -> np.ndarray:
        """(N, B) bool: trying or routine — currently using the bundle."""
        return (self.stage == TRYING) | (self.stage == ROUTINE)


def any_bundle(mask: np.ndarray) -> np.ndarray:
    """(N,) whether each row of an (N, B) bool array has any True.

    Column by column: numpy's ``any(axis=1)`` over a short last axis is ~10× slower.
    """
    out = mask[:, 0].copy()
    for b in range(1, mask.shape[1]):
        out |= mask[:, b]
    return out


def count_bundles(mask: np.ndarray) -> np.ndarray:
    """(N,) the number of True entries in each row of an (N, B) bool array (cf. ``any_bundle``)."""
    out = mask[:, 0].astype(np.int32)
    for b in range(1, mask.shape[1]):
        out += mask[:, b]
    return out

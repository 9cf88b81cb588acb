"""Routinisation and abandonment: whether a bundle in use becomes routine or is dropped.

Trying staff make the bundle routine with weekly chance ``p_routinise × fidelity`` (practice done
well sticks). Users abandon with hazard ``p_abandon · exp(−x) · (1 − support) ·
(1 − routine_protection if routine)``: good context and active support (facilitation, feedback)
keep the bundle; when support ends, abandonment rises — the sustainability problem of SPEC §1.
"""

from __future__ import annotations

import numpy as np

from sim.state import ABANDONED, ROUTINE, TRYING


def routinise(stage: np.ndarray, p_routinise: float, staff_fidelity: np.ndarray,
              u: np.ndarray) -> None:
    """Trying → routine with weekly chance ``p_routinise × fidelity``."""
    stage[(stage == TRYING) & (u < p_routinise * staff_fidelity)] = ROUTINE


def abandonment_hazard(stage: np.ndarray, log_ctx: np.ndarray, support: np.ndarray,
                       p_abandon: float, routine_protection: float) -> np.ndarray:
    """(N, B) weekly chance that a user drops the bundle."""
    protect = np.where(stage == ROUTINE, 1.0 - routine_protection, 1.0)
    return np.minimum(1.0, p_abandon * np.exp(-log_ctx) * (1.0 - support) * protect)


def abandon(stage: np.ndarray, hazard: np.ndarray, u: np.ndarray) -> None:
    """Users whose draw falls below the hazard abandon the bundle."""
    users = (stage == TRYING) | (stage == ROUTINE)
    stage[users & (u < hazard)] = ABANDONED

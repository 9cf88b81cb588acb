"""Routinisation and abandonment: whether a bundle in use becomes routine or is dropped.

Trying staff make the bundle routine with weekly chance ``p_routinise × fidelity`` (practice done
well sticks). Users abandon with hazard ``p_abandon · exp(−x) · (1 − support) ·
(1 − routine_protection if routine)``: good context and active support (facilitation, feedback)
keep the bundle; when support ends, abandonment rises — the sustainability problem of SPEC §1.
"""

from __future__ import annotations

import numpy as np

from sim.state import ABANDONED, ROUTINE, TRYING


def trying(stage: np.ndarray) -> np.ndarray:
    """Flat indices of the (staff, bundle) entries trying the bundle (who may routinise it)."""
    return np.flatnonzero(stage == TRYING)


def routinise(stage: np.ndarray, idx: np.ndarray, p_routinise: float, fidelity: np.ndarray,
              u: np.ndarray) -> None:
    """Trying entries ``idx`` (flat indices) become routine with chance ``p_routinise × fidelity``.

    ``fidelity`` (the person's mean fidelity on the bundle) and ``u`` are given at ``idx``.
    """
    stage.reshape(-1)[idx[u < p_routinise * fidelity]] = ROUTINE


def users(stage: np.ndarray) -> np.ndarray:
    """Flat indices of the (staff, bundle) entries using the bundle (who may abandon it)."""
    return np.flatnonzero((stage == TRYING) | (stage == ROUTINE))


def abandonment_hazard(stage: np.ndarray, log_ctx: np.ndarray, support: np.ndarray,
                       p_abandon: float, routine_protection: float) -> np.ndarray:
    """(N, B) weekly chance that a user drops the bundle."""
    dtype = np.result_type(log_ctx, support)  # float32 in the model: no float64 temporaries
    protect = (stage == ROUTINE) * dtype.type(-routine_protection)  # a multiply, not a where
    protect += dtype.type(1.0)
    hazard = np.exp(-log_ctx)
    hazard *= p_abandon
    hazard *= 1.0 - support
    hazard *= protect
    return np.minimum(hazard, 1.0, out=hazard)


def abandon(stage: np.ndarray, idx: np.ndarray, hazard: np.ndarray, u: np.ndarray) -> None:
    """Users ``idx`` (flat indices) whose draw falls below their hazard abandon the bundle."""
    stage.reshape(-1)[idx[u < hazard]] = ABANDONED

"""Adoption: aware staff start trying a bundle.

Weekly hazard ``h = min(1, exp(x) · (p · exp(β_K · knowledge) + influence))``, where ``exp(x)`` is
the context multiplier (:mod:`sim.mechanisms.context`; the model adds the unit's dynamic context
(capacity, leadership engagement) and the week's push to try from interventions, and subtracts
``β_concurrent`` per other bundle the person is trying), ``p`` the
spontaneous (Bass external) hazard and ``influence`` the social-influence hazard
(:mod:`sim.mechanisms.influence`). With a neutral context, no knowledge and no ties this is
``h = p``, so the adopted share follows ``1 − (1 − p)^t``.
"""

from __future__ import annotations

import numpy as np

from sim.state import AWARE, TRYING


def adoption_hazard(log_ctx: np.ndarray, p_innovation: float, beta_knowledge: float,
                    knowledge: np.ndarray, influence: np.ndarray) -> np.ndarray:
    """(N, B) weekly chance that an aware staff member starts trying."""
    base = p_innovation * np.exp(beta_knowledge * knowledge)
    return np.minimum(1.0, np.exp(log_ctx) * (base + influence))


def candidates(stage: np.ndarray) -> np.ndarray:
    """Flat indices of the (staff, bundle) entries that can start trying: the aware."""
    return np.flatnonzero(stage == AWARE)


def start_trying(stage: np.ndarray, idx: np.ndarray, hazard: np.ndarray, u: np.ndarray) -> None:
    """Candidates ``idx`` (flat indices) whose draw falls below their hazard start trying."""
    stage.reshape(-1)[idx[u < hazard]] = TRYING

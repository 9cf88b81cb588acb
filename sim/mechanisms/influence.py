"""Social influence: exposure to colleagues who use a bundle.

Exposure of staff member *i* is the weighted share of the people *i* listens to who use the
bundle, opinion leaders weighing ``opinion_leader_weight`` times more. Two contagion models:

- *simple* (Bass-like): influence hazard ``q · exposure``; on a complete graph this is the
  discrete Bass model ``F(t+1) = F(t) + (p + q F(t)) (1 − F(t))``.
- *complex* (threshold): influence hazard ``q`` once exposure reaches the person's threshold,
  else nothing: reinforcement from several ties is needed (Centola & Macy 2007).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp


def leader_weights(degree: np.ndarray, share: float, weight: float) -> np.ndarray:
    """Influence weight per staff member: ``weight`` for the top ``share`` by degree, else 1.

    The count is ``share × n`` rounded half up, at least one when ``share > 0``; ties in degree
    are broken by index so the choice is deterministic.
    """
    n = len(degree)
    w = np.ones(n, np.float32)
    k = max(1, math.floor(share * n + 0.5)) if share > 0 and n > 0 else 0
    if k > 0:
        top = np.lexsort((np.arange(n), -degree))[:k]
        w[top] = weight
    return w


def weighted_matrix(adjacency: sp.csr_matrix, weights: np.ndarray) -> sp.csr_matrix:
    """``W[i, j] = A[i, j] · weight_j``: how much *i* heeds *j*."""
    return (adjacency @ sp.diags(weights.astype(np.float32))).tocsr()


def exposure(weighted: sp.csr_matrix, row_total: np.ndarray, using: np.ndarray) -> np.ndarray:
    """(N, B) weighted share of using neighbours (0 for people with no ties)."""
    num = weighted @ using.astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = num / row_total[:, None]
    return np.nan_to_num(share, nan=0.0).astype(np.float32)


def influence_hazard(expo: np.ndarray, q: float, contagion: str,
                     threshold: np.ndarray) -> np.ndarray:
    """Weekly hazard from social influence under the chosen contagion model."""
    if contagion == "simple":
        return q * expo
    # Exposure must be positive: a threshold of 0 must not make influence act with nobody using.
    reached = (expo > 0) & (expo >= threshold[:, None])
    return np.where(reached, np.float32(q), np.float32(0.0))

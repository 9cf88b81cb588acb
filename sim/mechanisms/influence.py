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

from sim import kernels
from sim.arrays import any_bundle, concat_ranges


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


def neighbour_sums(adjacency: sp.csr_matrix, using: np.ndarray,
                   weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Using ties and weighted using ties, (N, B) each, in one sparse product.

    ``weights`` is (N, B): how much each person's example weighs for each bundle (opinion
    leaders, champions of that bundle). Stacking both right-hand sides halves the passes over the
    network, the largest array the week touches.
    """
    u = using.astype(np.float32)
    both = adjacency @ np.concatenate([u, weights * u], axis=1)
    b = using.shape[1]
    return both[:, :b], both[:, b:]


def weighted_share(weighted_using: np.ndarray, weight_total: np.ndarray) -> np.ndarray:
    """(N, B) weighted share of using neighbours; 0 for people with no ties."""
    with np.errstate(invalid="ignore", divide="ignore"):
        share = weighted_using / weight_total
    share[~np.isfinite(share)] = 0.0
    return share


def influence_hazard(expo: np.ndarray, q: float, contagion: str,
                     threshold: np.ndarray) -> np.ndarray:
    """Weekly hazard from social influence under the chosen contagion model."""
    if contagion == "simple":
        return q * expo
    # Exposure must be positive: a threshold of 0 must not make influence act with nobody using.
    reached = (expo > 0) & (expo >= threshold[:, None])
    return np.where(reached, np.float32(q), np.float32(0.0))


class NeighbourSums:
    """Using ties and weighted using ties per (staff, bundle), carried from week to week.

    Most people's use of a bundle is the same as last week, so instead of passing the whole network
    every week the sums are corrected by the network columns of the people whose use changed
    (``Δsums = A[:, changed] · Δusing``), read from a column-major copy of the network. When more
    than ``full_share`` of staff changed, or the ties or weights changed (:meth:`rebuild`), the
    sums are computed afresh. Tie counts are exact integers; weighted sums accumulate in float64
    and are set to exactly 0 where no tie uses, so no rounding residue can act as exposure.
    """

    def __init__(self, adjacency: sp.csr_matrix, weights: np.ndarray,
                 full_share: float = 0.1) -> None:
        self.full_share = full_share
        self.rebuild(adjacency, weights)

    def rebuild(self, adjacency: sp.csr_matrix, weights: np.ndarray) -> None:
        """New ties or weights: the next call computes the sums afresh."""
        self.adjacency = adjacency
        self.weights = weights
        self._by_column: sp.csc_matrix | None = None  # made on first incremental update
        self._using: np.ndarray | None = None

    def __call__(self, using: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, B) using ties (float32) and weighted using ties (float64) for this week's use.

        The arrays are the object's own state: read them, do not modify them.
        """
        if self._using is not None:
            changed = np.flatnonzero(any_bundle(using != self._using))
        if self._using is None or len(changed) > self.full_share * len(using):
            ties, weighted = neighbour_sums(self.adjacency, using, self.weights)
            # own C-ordered arrays: the incremental update writes through flat views
            self._ties = np.ascontiguousarray(ties)
            self._weighted = np.ascontiguousarray(weighted, dtype=np.float64)
        elif len(changed):
            self._add_columns(changed, using[changed].astype(np.float32) - self._using[changed])
        self._using = using.copy()
        return self._ties, self._weighted

    def _add_columns(self, changed: np.ndarray, delta: np.ndarray) -> None:
        """Add ``A[:, changed] · delta`` to the sums, reading the columns' entries directly."""
        if self._by_column is None:
            self._by_column = self.adjacency.tocsc()
        indptr, indices = self._by_column.indptr, self._by_column.indices
        if (kernels.PATH == "numba" and self._ties.dtype == np.float32
                and delta.dtype == self.weights.dtype == self._by_column.data.dtype == np.float32):
            from sim.kernels.neighbours import add_columns

            add_columns(indptr, indices, self._by_column.data, changed, delta, self.weights,
                        self._ties, self._weighted)
            return
        start, length = indptr[changed], indptr[changed + 1] - indptr[changed]
        entry = concat_ranges(start, length)  # the changed columns' entries
        if len(entry) == 0:
            return
        n_b = delta.shape[1]
        cell = (indices[entry].astype(np.intp)[:, None] * n_b + np.arange(n_b)).reshape(-1)
        which = np.repeat(np.arange(len(changed)), length)
        tie = self._by_column.data[entry][:, None]  # 1 in a binary network
        np.add.at(self._ties.reshape(-1), cell, (delta[which] * tie).reshape(-1))
        weighted = (self.weights[changed] * delta)[which] * tie
        np.add.at(self._weighted.reshape(-1), cell, weighted.reshape(-1).astype(np.float64))
        nobody = cell[self._ties.reshape(-1)[cell] == 0]
        self._weighted.reshape(-1)[nobody] = 0.0

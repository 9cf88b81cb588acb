"""Compiled incremental neighbour sums: add the changed people's network columns in one pass.

Why compiled: :meth:`sim.mechanisms.influence.NeighbourSums._add_columns` in numpy gathers the
columns' entries into four temporaries and adds them with ``np.add.at`` (unbuffered, slow per
element); it was the largest own-time function of a catchment week under the profiler (issue 16).
Here one loop walks each changed column's entries. Equality: bit-identical. ``np.add.at`` adds
in the order of its index array, which is column by column, entry by entry, bundle by bundle:
the loop's order; the products are float32 as numpy forms them and the weighted term is rounded
to float64 before it is added, as there.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def add_columns(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, changed: np.ndarray,
                delta: np.ndarray, weights: np.ndarray, ties: np.ndarray,
                weighted: np.ndarray) -> None:  # pragma: no cover - compiled
    """``ties += A[:, changed] · delta``, ``weighted += A[:, changed] · (w[changed] · delta)``.

    Then every touched cell that no using tie reaches has its weighted sum set to exactly 0.
    """
    n_b = delta.shape[1]
    for k in range(changed.size):
        c = changed[k]
        for e in range(indptr[c], indptr[c + 1]):
            row, tie = indices[e], data[e]
            for b in range(n_b):
                d = delta[k, b]
                ties[row, b] += d * tie
                weighted[row, b] += np.float64((weights[c, b] * d) * tie)
    for k in range(changed.size):
        c = changed[k]
        for e in range(indptr[c], indptr[c + 1]):
            row = indices[e]
            for b in range(n_b):
                if ties[row, b] == 0:
                    weighted[row, b] = 0.0

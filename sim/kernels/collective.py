"""Compiled unit compliance: unit performance per element and all-or-none compliance per bundle.

Why compiled: unit compliance was 11% of a national week (issue 16): a sparse product, a
division with NaNs, then per bundle a column selection, ``where``, product, min, sum and masked
assignments. Here one pass over the pairs (adding each to its (unit, element) cell: no gather)
and one loop over units × bundles. The both-sides rule of cross-boundary elements stays numpy's
sparse product (:func:`sim.mechanisms.collective.effective_performance`) between the two: a
compiled version measured no faster (it is bound by reading the pathways, ~430k at national
scale).

Equality: bit-identical to :func:`sim.mechanisms.collective.unit_performance` and
:func:`~sim.mechanisms.collective.bundle_compliance`. Each cell's pairs are summed in float32 in
pair order, which is the order of the row's entries in the summing matrix
(``PerformedPairs.unit_sum`` is built with one column per pair, in order) and so the order in
which scipy's ``csr_matvec`` adds them; then divided in float64 by the count. Per unit
and bundle, the product is sequential in element order (as numpy's multiply reduction). The
mean's float32 sum follows numpy's order, which depends on the layout of numpy's temporary (the
bundle's columns, selected by a mask, come out column-major): with more than one unit numpy adds
column after column (sequential); with one unit the row is contiguous and numpy sums it
pairwise (:func:`pairwise_sum`, which is sequential below 8 elements, so the shipped bundles of
4–5 elements never differ). Tested for numpy 2 on 1 to 128 elements; longer bundles take the
numpy path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from sim.kernels.fidelity import lookups

if TYPE_CHECKING:
    from sim.mechanisms.fidelity import PerformedPairs


@njit(cache=True)
def _unit_performance(cell: np.ndarray, fidelity: np.ndarray,
                      count: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    total = np.zeros(count.size, np.float32)
    for p in range(fidelity.size):  # pairs in order: each cell's sum in scipy's order
        total[cell[p]] += fidelity[p]
    out = np.empty(count.size, np.float32)
    for r in range(count.size):
        out[r] = np.float32(total[r] / max(count[r], 1)) if count[r] > 0 else np.nan
    return out


def unit_performance(fidelity: np.ndarray,
                     pairs: PerformedPairs) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`sim.mechanisms.collective.unit_performance`: (U, E) performance and counts."""
    count = pairs.per_unit_element
    perf = _unit_performance(lookups(pairs).cell, fidelity, count.reshape(-1))
    return perf.reshape(count.shape), count


#: The longest sum :func:`pairwise_sum` repeats: numpy splits longer ones in halves (recursion,
#: which numba's on-disk cache does not load safely), so longer bundles take the numpy path.
PAIRWISE_BLOCK = 128


@njit(cache=True)
def pairwise_sum(a: np.ndarray, lo: int, n: int) -> np.float32:  # pragma: no cover - compiled
    """The float32 sum of ``a[lo:lo + n]`` in numpy's pairwise order (``n ≤ PAIRWISE_BLOCK``).

    As numpy's ``pairwise_sum`` (``loops_utils.h``): sequential from 0 below 8 terms, else eight
    running sums combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the rest.
    """
    if n < 8:
        res = np.float32(0.0)
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def _bundle_compliance(eff: np.ndarray, element_bundle: np.ndarray, n_bundles: int,
                       correlation: np.float32,
                       mode: int) -> tuple:  # pragma: no cover - compiled
    """``mode`` 0: the product (ρ = 0), 1: the weakest (ρ = 1), 2: the clipped mixture."""
    n_units, n_elements = eff.shape
    comp = np.full((n_units, n_bundles), np.nan, np.float32)
    fid = np.full((n_units, n_bundles), np.nan, np.float32)
    one = np.float32(1.0)
    mean_terms = np.empty(n_elements, np.float32)
    for u in range(n_units):
        for b in range(n_bundles):
            k = 0
            n = 0
            prod = one
            weakest = one
            for e in range(n_elements):
                if element_bundle[e] != b:
                    continue
                v = eff[u, e]
                if np.isnan(v):
                    mean_terms[k] = np.float32(0.0)
                else:
                    mean_terms[k] = v
                    prod *= v
                    weakest = min(weakest, v)
                    n += 1
                k += 1
            if n == 0:
                continue
            if mode == 1:
                prod = weakest
            elif mode == 2:
                mixed = prod + correlation * (weakest - prod)
                prod = min(max(mixed, prod), weakest)
            comp[u, b] = prod
            if n_units == 1:  # numpy's temporary is one contiguous row: a pairwise sum
                total = pairwise_sum(mean_terms, 0, k)
            else:  # numpy's temporary is column-major: columns are added in turn
                total = np.float32(0.0)
                for j in range(k):
                    total += mean_terms[j]
            fid[u, b] = np.float32(total / n)
    return comp, fid


def bundle_compliance(eff: np.ndarray, element_bundle: np.ndarray, n_bundles: int,
                      correlation: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`sim.mechanisms.collective.bundle_compliance`: (U, B) compliance and fidelity."""
    mode = 0 if correlation == 0.0 else 1 if correlation == 1.0 else 2
    return _bundle_compliance(np.ascontiguousarray(eff, np.float32), np.asarray(element_bundle),
                              n_bundles, np.float32(correlation), mode)

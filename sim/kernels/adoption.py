"""Compiled adoption: the aware, their hazard of starting to try, and the draw, in two passes.

Why compiled: adoption is the largest phase of a national week now that the destination is in
(8.2 of 32.6 CPU ms per step, ``benchmarks/kernels.py``): numpy finds the aware, makes eleven
gathers, counts the bundles each person tries over all staff and builds float64 temporaries for
exposure, load and hazard. Pass one here finds the aware, gathers what the hazard needs and
counts only the candidates' tried bundles; numpy takes the two ``exp`` of those short arrays
(and the destination share: transcendentals stay numpy's, see :mod:`sim.kernels`); pass two
combines them with the influence hazard and draws.

Equality: bit-identical to :func:`sim.mechanisms.adoption.adopt`, with numpy's dtypes at every
step (exposure, load, the log context with load and the hazard in float64; the knowledge term
and the complex-contagion hazard in float32, as numpy promotes them).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernels.draws import uniform
from sim.state import AWARE, TRYING


@njit(cache=True)
def candidates(stage: np.ndarray, n_bundles: int, entry_staff: np.ndarray,
               unit_cell: np.ndarray, weighted_using: np.ndarray, weight_total: np.ndarray,
               log_ctx: np.ndarray, context: np.ndarray, boost: np.ndarray,
               support: np.ndarray, knowledge: np.ndarray,
               beta_concurrent: float) -> tuple:  # pragma: no cover - compiled
    """The aware entries and what their hazard needs.

    At each: exposure, log context with load, the destination's context and support, and
    knowledge (see :func:`sim.mechanisms.adoption.adopt`).
    """
    n = 0
    for i in range(stage.size):
        if stage[i] == AWARE:
            n += 1
    idx = np.empty(n, np.int64)
    expo = np.empty(n, np.float64)
    x = np.empty(n, np.float64)
    x_dest = np.empty(n, np.float32)
    sup = np.empty(n, np.float32)
    know = np.empty(n, np.float32)
    k = 0
    for i in range(stage.size):
        if stage[i] != AWARE:
            continue
        staff = entry_staff[i]
        trying = 0
        for b in range(staff * n_bundles, (staff + 1) * n_bundles):
            if stage[b] == TRYING:
                trying += 1
        total = np.float64(weight_total[i])
        share = weighted_using[i] / total if total != 0.0 else 0.0
        if not np.isfinite(share):
            share = 0.0
        c = unit_cell[i]
        ctx = log_ctx[i] + context[c]
        idx[k] = i
        expo[k] = share
        x[k] = np.float64(ctx + boost[c]) - beta_concurrent * np.float64(trying)
        x_dest[k] = ctx
        sup[k] = support[c]
        know[k] = knowledge[i]
        k += 1
    return idx, expo, x, x_dest, sup, know


@njit(cache=True)
def start_trying(stage: np.ndarray, idx: np.ndarray, expo: np.ndarray, exp_x: np.ndarray,
                 base: np.ndarray, threshold: np.ndarray, entry_staff: np.ndarray,
                 q: float, simple: bool, fit: np.ndarray, m: np.ndarray,
                 key: np.uint64) -> None:  # pragma: no cover - compiled
    """Candidates whose draw falls below ``min(1, exp(x) (base + influence))`` start trying.

    ``m`` is empty when the destination is off, else each candidate's destination share.
    """
    q32 = np.float32(q)
    dest = m.size > 0
    for k in range(idx.size):
        i = idx[k]
        e = expo[k]
        if simple:
            hazard = exp_x[k] * (np.float64(base[k]) + q * e)
        else:
            reached = e > 0.0 and e >= np.float64(threshold[entry_staff[i]])
            influence = q32 if reached else np.float32(0.0)
            hazard = exp_x[k] * np.float64(base[k] + influence)
        if hazard > 1.0:
            hazard = 1.0
        if dest and not fit[i] < m[k]:
            hazard = 0.0
        if np.float64(uniform(key, i)) < hazard:
            stage[i] = TRYING

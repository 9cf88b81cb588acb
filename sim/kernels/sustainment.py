"""Compiled sustainment: abandonment, then routinisation, in two passes over the users.

Why compiled: abandonment (13% of a national week) and routinisation (12%, most of it the mean
fidelity of :func:`sim.mechanisms.fidelity.staff_fidelity`) were ~20 numpy passes with their
gathers and temporaries (issue 16). Here pass one finds the users and gathers their context and
support; numpy then takes ``exp`` of that short array (and the destination share, which also
needs ``exp``: see :mod:`sim.kernels` for why transcendentals stay numpy's); pass two computes
each user's hazard, draws against it and, for those still trying, their mean fidelity and the
routinisation draw. Abandoning first and routinising after is the same as numpy's two sweeps
because each entry's outcome depends only on its own values.

Equality: bit-identical to :func:`sim.mechanisms.sustainment.sustain` (float32 with numpy's order
of operations; the same uniform draws, read at the same entries).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from sim.kernels.draws import uniform
from sim.kernels.fidelity import lookups, mean_of_entry
from sim.state import ABANDONED, ROUTINE, TRYING

if TYPE_CHECKING:
    from sim.mechanisms.fidelity import PerformedPairs


@njit(cache=True)
def users_context(stage: np.ndarray, log_ctx: np.ndarray, context: np.ndarray,
                  support: np.ndarray,
                  unit_cell: np.ndarray) -> tuple:  # pragma: no cover - compiled
    """Flat indices of the users (trying or routine), their log context and their support."""
    n = 0
    for i in range(stage.size):
        if stage[i] == TRYING or stage[i] == ROUTINE:
            n += 1
    idx = np.empty(n, np.int64)
    x = np.empty(n, np.float32)
    s = np.empty(n, np.float32)
    k = 0
    for i in range(stage.size):
        if stage[i] == TRYING or stage[i] == ROUTINE:
            c = unit_cell[i]
            idx[k] = i
            x[k] = log_ctx[i] + context[c]
            s[k] = support[c]
            k += 1
    return idx, x, s


@njit(cache=True)
def abandon_then_routinise(stage: np.ndarray, idx: np.ndarray, exp_neg_x: np.ndarray,
                           support: np.ndarray, within: np.ndarray, protected: np.ndarray,
                           key_abandon: np.uint64, key_routinise: np.uint64,
                           p_abandon: np.float32, routine_protection: np.float32,
                           p_routinise: np.float32, fidelity: np.ndarray,
                           entry_start: np.ndarray,
                           per_entry: np.ndarray) -> None:  # pragma: no cover - compiled
    """Users ``idx`` abandon (hazard as in numpy), then those still trying may routinise.

    ``within`` is empty when the destination is off, else whether each user is within it.
    """
    one, zero = np.float32(1.0), np.float32(0.0)
    routine_factor = -routine_protection + one  # numpy: (stage == ROUTINE) · (−ρ) + 1
    dest = within.size > 0
    for k in range(idx.size):
        i = idx[k]
        s = stage[i]
        routine = s == ROUTINE and (not dest or within[k])
        hazard = exp_neg_x[k] * p_abandon
        hazard *= one - support[k]
        hazard *= routine_factor if routine else one
        if hazard > one:
            hazard = one
        if protected[i]:
            hazard = zero
        if uniform(key_abandon, i) < hazard:
            stage[i] = ABANDONED
        elif s == TRYING:
            f = mean_of_entry(fidelity, entry_start, per_entry, i)
            if uniform(key_routinise, i) < p_routinise * f:
                stage[i] = ROUTINE


def finish(stage: np.ndarray, idx: np.ndarray, x: np.ndarray, support: np.ndarray,
           within: np.ndarray | None, protected: np.ndarray, key_abandon: int,
           key_routinise: int, par: object, fidelity: np.ndarray,
           pairs: PerformedPairs) -> None:
    """Pass two on flat (N, B) arrays, after numpy's ``exp`` of the users' context ``x``."""
    p = par  # the validated parameters (Python floats)
    look = lookups(pairs)
    abandon_then_routinise(
        stage.reshape(-1), idx, np.exp(-x), support,
        np.zeros(0, np.bool_) if within is None else within, protected.reshape(-1),
        np.uint64(key_abandon), np.uint64(key_routinise), np.float32(p["p_abandon"]),  # type: ignore[index]
        np.float32(p["routine_protection"]), np.float32(p["p_routinise"]),  # type: ignore[index]
        fidelity, look.entry_start, look.per_entry)

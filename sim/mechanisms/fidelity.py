"""Fidelity per element: how reliably each staff member performs each element of a bundle.

Fidelity is the chance an element is done when it is due. Users close a share of the gap to full
fidelity each week, ``fidelity_gain · (0.3 + 0.7 · knowledge) · (1 − complexity/2)``
(assumption: knowledge and simplicity make practice improve faster), and everybody drifts back to
the element's baseline at ``fidelity_decay · (1 − support)``: without reinforcement (reminders,
feedback, supervision) fidelity decays.

Fidelity exists only where somebody performs an element: the state holds one number per performed
(staff, element) pair (:class:`PerformedPairs`, about a third of staff × elements in the built-in
scenarios), so the weekly update and the sums over units and people run over one short vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from sim import kernels
from sim.arrays import concat_ranges

if TYPE_CHECKING:
    from sim.loop import Week


@dataclass(frozen=True)
class PerformedPairs:
    """The (staff, element) pairs somebody performs, in staff-major order, and their indices."""

    staff: np.ndarray  # (P,) staff index (non-decreasing)
    element: np.ndarray  # (P,) element index
    bundle: np.ndarray  # (P,) bundle of the element
    staff_bundle: np.ndarray  # (P,) index into (N, B) arrays, raveled
    unit_bundle: np.ndarray  # (P,) index into (U, B) arrays, raveled
    baseline: np.ndarray  # (P,) float32 baseline fidelity of the element
    staff_start: np.ndarray  # (N + 1,) the pairs of staff i are staff_start[i]:staff_start[i+1]
    per_staff_bundle: np.ndarray  # (N, B) int: elements of the bundle the person performs
    before_in_staff: np.ndarray  # (N, B) int: the person's pairs of earlier bundles
    unit_sum: sp.csr_matrix  # (U·E, P): sums pairs into (unit, element) cells
    per_unit_element: np.ndarray  # (U, E) int: staff of the unit who perform the element

    @classmethod
    def of(cls, performs: np.ndarray, element_bundle: np.ndarray, baseline: np.ndarray,
           n_bundles: int, staff_unit: np.ndarray, n_units: int) -> PerformedPairs:
        """Index the ``True`` entries of the (N, E) ``performs`` mask.

        Elements must be grouped by bundle, so a person's pairs of one bundle are contiguous.
        """
        if np.any(np.diff(element_bundle) < 0):
            raise ValueError("elements must be grouped by bundle (element_bundle non-decreasing)")
        n, n_e = performs.shape
        staff, element = np.nonzero(performs)
        bundle = np.asarray(element_bundle)[element]
        staff_bundle = staff * n_bundles + bundle
        per = np.bincount(staff_bundle, minlength=n * n_bundles).reshape(n, n_bundles)
        unit = np.asarray(staff_unit)[staff]
        cell = unit * n_e + element
        unit_sum = sp.csr_matrix((np.ones(len(staff), np.float32), (cell, np.arange(len(staff)))),
                                 shape=(n_units * n_e, len(staff)))
        return cls(staff=staff, element=element, bundle=bundle, staff_bundle=staff_bundle,
                   unit_bundle=unit * n_bundles + bundle,
                   baseline=np.asarray(baseline, np.float32)[element],
                   staff_start=np.concatenate([[0], np.cumsum(performs.sum(axis=1))]),
                   per_staff_bundle=per, before_in_staff=np.cumsum(per, axis=1) - per,
                   unit_sum=unit_sum,
                   per_unit_element=np.bincount(cell, minlength=n_units * n_e).reshape(n_units,
                                                                                        n_e))

    def of_staff(self, staff: np.ndarray) -> np.ndarray:
        """Indices of the pairs of the given staff (an index array or an (N,) bool mask)."""
        staff = np.flatnonzero(staff) if staff.dtype == bool else np.asarray(staff)
        start = self.staff_start[staff]
        return concat_ranges(start, self.staff_start[staff + 1] - start)

    def as_matrix(self, values: np.ndarray, n_elements: int,
                  fill: float = np.nan) -> np.ndarray:
        """(N, E) view for people: pair ``values`` in place, ``fill`` where nobody performs."""
        out = np.full((len(self.staff_start) - 1, n_elements), fill, np.float32)
        out[self.staff, self.element] = values
        return out


def update_fidelity(fidelity: np.ndarray, pairs: PerformedPairs, using: np.ndarray,
                    knowledge: np.ndarray, unit_support: np.ndarray, gain: float, decay: float,
                    complexity: np.ndarray) -> None:
    """Update the (P,) pair ``fidelity`` in place.

    ``using`` and ``knowledge`` are per staff × bundle (N, B), ``unit_support`` per unit × bundle
    (U, B) (support is given to units) and ``complexity`` per bundle (B,): rates are computed once
    per staff or unit × bundle and gathered to the pairs. Runs :mod:`sim.kernels.fidelity`
    (bit-identical, one pass) when compiled kernels are on and the arrays are float32.
    """
    if (kernels.compiled(gain, decay) and fidelity.dtype == knowledge.dtype
            == unit_support.dtype == complexity.dtype == np.float32):
        from sim.kernels import fidelity as compiled

        compiled.update_fidelity(fidelity, pairs, using, knowledge, unit_support, gain, decay,
                                 complexity)
        return
    rate = gain * (0.3 + 0.7 * knowledge) * (1.0 - 0.5 * complexity)
    rate *= using
    down = decay * (1.0 - unit_support)
    step = rate.reshape(-1)[pairs.staff_bundle]
    step *= 1.0 - fidelity
    step -= down.reshape(-1)[pairs.unit_bundle] * (fidelity - pairs.baseline)
    fidelity += step
    np.clip(fidelity, 0.0, 1.0, out=fidelity)


def staff_fidelity(fidelity: np.ndarray, pairs: PerformedPairs, entries: np.ndarray) -> np.ndarray:
    """Mean fidelity of each (staff, bundle) entry over the bundle's elements the person performs.

    ``entries`` are flat indices into (N, B); the result is 0 where the person performs none.
    Reads only those entries' pairs (a person's pairs of one bundle are contiguous). Runs
    :mod:`sim.kernels.fidelity` (bit-identical) when compiled kernels are on.
    """
    if kernels.compiled() and fidelity.dtype == np.float32:
        from sim.kernels import fidelity as compiled

        return compiled.staff_fidelity(fidelity, pairs, entries)
    n_pairs = pairs.per_staff_bundle.reshape(-1)[entries].astype(np.intp)
    start = pairs.staff_start[entries // pairs.per_staff_bundle.shape[1]]
    start = start + pairs.before_in_staff.reshape(-1)[entries]
    owner = np.repeat(np.arange(len(entries)), n_pairs)
    total = np.bincount(owner, weights=fidelity[concat_ranges(start, n_pairs)],
                        minlength=len(entries))
    return (total / np.maximum(n_pairs, 1)).astype(np.float32)


def lift(fidelity: np.ndarray, pairs: PerformedPairs, staff: np.ndarray, bundle: int,
         gain: float) -> None:
    """Close ``gain`` of the gap to full fidelity on ``bundle``'s elements for ``staff`` (mask).

    How training (skill) and reminders (prompts) act on practice.
    """
    sel = np.flatnonzero((pairs.bundle == bundle) & staff[pairs.staff])
    f = fidelity[sel]
    fidelity[sel] = f + gain * (1.0 - f)


def practise(w: Week) -> None:
    """Phase *fidelity*: users' fidelity rises, everybody's drifts back unless supported.

    For each performed pair (i, e) of bundle b in unit u, ``f ← clip(f + using_ib · γ (0.3 +
    0.7 K_ib)(1 − ½ complexity_b)(1 − f) − δ (1 − σ_ub)(f − f⁰_e), 0, 1)``, with knowledge after
    this week's update.
    """
    update_fidelity(w.state.fidelity, w.world.performed, w.using_now, w.state.knowledge,
                    w.levers.support, w.par["fidelity_gain"], w.par["fidelity_decay"],
                    w.model.complexity)

"""Fidelity per element: how reliably each staff member performs each element of a bundle.

Fidelity is the chance an element is done when it is due. Users close a share of the gap to full
fidelity each week, ``fidelity_gain · (0.3 + 0.7 · knowledge) · (1 − complexity/2)``
(assumption: knowledge and simplicity make practice improve faster), and everybody drifts back to
the element's baseline at ``fidelity_decay · (1 − support)``: without reinforcement (reminders,
feedback, supervision) fidelity decays.

Only elements a person performs change: the others stay at their baseline and are never read
(unit performance and a person's mean fidelity average over performers only). The update
therefore runs over the performed (staff, element) pairs, about a third of the (N, E) array in the
built-in scenarios, gathered once per week into one short vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PerformedPairs:
    """The (staff, element) pairs somebody performs, as flat indices into the state arrays."""

    flat: np.ndarray  # (P,) index into the (N, E) fidelity array, raveled
    staff_bundle: np.ndarray  # (P,) index into (N, B) arrays, raveled
    staff: np.ndarray  # (P,) staff index
    element: np.ndarray  # (P,) element index
    baseline: np.ndarray  # (P,) float32 baseline fidelity of the element
    per_staff_bundle: np.ndarray  # (N, B) float32: elements of the bundle the person performs
    unit_element: np.ndarray  # (P,) index into (U, E) arrays, raveled
    per_unit_element: np.ndarray  # (U, E) int: staff of the unit who perform the element

    @classmethod
    def of(cls, performs: np.ndarray, element_bundle: np.ndarray, baseline: np.ndarray,
           n_bundles: int, staff_unit: np.ndarray, n_units: int) -> PerformedPairs:
        """Index the ``True`` entries of the (N, E) ``performs`` mask (row-major order)."""
        n, n_e = performs.shape
        flat = np.flatnonzero(performs)
        staff, element = np.divmod(flat, n_e)
        staff_bundle = staff * n_bundles + np.asarray(element_bundle)[element]
        per = np.bincount(staff_bundle, minlength=n * n_bundles)
        unit_element = np.asarray(staff_unit)[staff] * n_e + element
        per_unit = np.bincount(unit_element, minlength=n_units * n_e).reshape(n_units, n_e)
        return cls(flat=flat, staff_bundle=staff_bundle, staff=staff, element=element,
                   baseline=np.asarray(baseline, np.float32)[element],
                   per_staff_bundle=per.reshape(-1, n_bundles).astype(np.float32),
                   unit_element=unit_element, per_unit_element=per_unit)


def update_fidelity(fidelity: np.ndarray, pairs: PerformedPairs, using: np.ndarray,
                    knowledge: np.ndarray, support: np.ndarray, gain: float, decay: float,
                    complexity: np.ndarray) -> None:
    """Update the (N, E) C-contiguous ``fidelity`` in place, on the performed ``pairs`` only.

    ``using``, ``knowledge`` and ``support`` are per staff × bundle (N, B) and ``complexity`` per
    bundle (B,): rates are computed once per staff × bundle and gathered to the pairs.
    """
    rate = gain * (0.3 + 0.7 * knowledge) * (1.0 - 0.5 * complexity)
    rate *= using
    down = decay * (1.0 - support)
    if not fidelity.flags.c_contiguous:
        raise ValueError("fidelity must be C-contiguous: it is updated through a flat view")
    flat = fidelity.reshape(-1)
    f = flat[pairs.flat]
    step = rate.reshape(-1)[pairs.staff_bundle] * (1.0 - f)
    step -= down.reshape(-1)[pairs.staff_bundle] * (f - pairs.baseline)
    f += step
    np.clip(f, 0.0, 1.0, out=f)
    flat[pairs.flat] = f


def staff_fidelity(fidelity: np.ndarray, pairs: PerformedPairs) -> np.ndarray:
    """(N, B) each person's mean fidelity over the elements of a bundle they perform (0 if none)."""
    n, b = pairs.per_staff_bundle.shape
    total = np.bincount(pairs.staff_bundle, weights=fidelity.reshape(-1)[pairs.flat],
                        minlength=n * b).reshape(n, b)
    return (total / np.maximum(pairs.per_staff_bundle, 1.0)).astype(np.float32)

"""Compiled fidelity: the weekly update of every performed pair, and a person's mean fidelity.

Why compiled: the fidelity update was the largest phase of a national week (17%, issue 16):
numpy makes six passes and three pair-sized temporaries; here it is one pass over the pairs.
``staff_fidelity`` (routinisation's mean fidelity per entry) needs ranges, a repeat and a
bincount in numpy; here a loop over each entry's contiguous pairs. Prototypes measured 2.8× and
2.9× (issue 16).

Equality: bit-identical to :func:`sim.mechanisms.fidelity.update_fidelity` and
:func:`~sim.mechanisms.fidelity.staff_fidelity`. The update is float32 throughout with numpy's
order of operations (the Python-float parameters enter as float32, as numpy's weak scalars do);
the mean sums a person's pairs in pair order in float64 from 0, as ``np.bincount`` does, then
divides in float64 and rounds to float32.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

if TYPE_CHECKING:
    from sim.mechanisms.fidelity import PerformedPairs


class Lookups(NamedTuple):
    """Index arrays of one :class:`PerformedPairs` in the form the kernels read fastest."""

    unit_bundle: np.ndarray  # (P,) int32 (int64 beyond 2³¹ cells)
    entry_start: np.ndarray  # (N·B,) int64: first pair of each flat entry
    per_entry: np.ndarray  # (N·B,) int64: its number of pairs
    cell: np.ndarray  # (P,) int64: the pair's (unit, element) cell, flat in (U, E)
    per_entry_narrow: np.ndarray  # (N·B,) per_entry as int8 where it fits (the update reads it)


_lookups: dict[int, tuple[weakref.ref, Lookups]] = {}


def lookups(pairs: PerformedPairs) -> Lookups:
    """The kernels' index arrays for ``pairs``, made once per pairs object (a world has one).

    Narrower indices cut the bytes the loops read; each entry's first pair replaces an integer
    division and a gather per entry.
    """
    hit = _lookups.get(id(pairs))
    if hit is not None and hit[0]() is pairs:
        return hit[1]
    wide = int(pairs.unit_bundle.max(initial=0)) + 1
    made = Lookups(pairs.unit_bundle.astype(np.int32 if wide < 2**31 else np.int64),
                   (pairs.staff_start[:-1, None] + pairs.before_in_staff).reshape(-1),
                   np.ascontiguousarray(pairs.per_staff_bundle.reshape(-1), np.int64),
                   (pairs.unit_bundle // pairs.per_staff_bundle.shape[1]
                    * pairs.per_unit_element.shape[1] + pairs.element).astype(np.int64),
                   pairs.per_staff_bundle.reshape(-1).astype(
                       np.int8 if pairs.per_staff_bundle.max(initial=0) < 128 else np.int64))
    for key in [k for k, (ref, _) in _lookups.items() if ref() is None]:
        del _lookups[key]
    _lookups[id(pairs)] = (weakref.ref(pairs), made)
    return made


@njit(cache=True)
def _update(fidelity: np.ndarray, per_entry: np.ndarray, unit_bundle: np.ndarray,
            baseline: np.ndarray, using: np.ndarray, knowledge: np.ndarray,
            support: np.ndarray, gain: np.float32, decay: np.float32,
            complexity: np.ndarray) -> None:  # pragma: no cover - compiled
    one, zero = np.float32(1.0), np.float32(0.0)
    c03, c07, half = np.float32(0.3), np.float32(0.7), np.float32(0.5)
    n_bundles = complexity.size
    p = 0  # pairs are staff-major and grouped by bundle: entry e's pairs follow entry e − 1's
    b = 0
    for e in range(per_entry.size):
        n = per_entry[e]
        if n:
            rate = gain * (c03 + c07 * knowledge[e]) * (one - half * complexity[b])
            rate = rate * np.float32(using[e])
            down = decay * (one - support[unit_bundle[p]])
            for j in range(p, p + n):
                f = fidelity[j]
                step = rate * (one - f)
                step -= down * (f - baseline[j])
                f += step
                if f < zero:
                    f = zero
                elif f > one:
                    f = one
                fidelity[j] = f
            p += n
        b += 1
        if b == n_bundles:
            b = 0


def update_fidelity(fidelity: np.ndarray, pairs: PerformedPairs, using: np.ndarray,
                    knowledge: np.ndarray, unit_support: np.ndarray, gain: float, decay: float,
                    complexity: np.ndarray) -> None:
    """As :func:`sim.mechanisms.fidelity.update_fidelity` (same arguments), in one pass.

    Walks the (staff, bundle) entries in order, each entry's rate once and its pairs after it.
    """
    look = lookups(pairs)
    _update(fidelity, look.per_entry_narrow, look.unit_bundle, pairs.baseline,
            using.reshape(-1), knowledge.reshape(-1), unit_support.reshape(-1),
            np.float32(gain), np.float32(decay), complexity)


@njit(cache=True, inline="always")  # inlined in numba's IR: a call per entry costs 3×
def mean_of_entry(fidelity: np.ndarray, entry_start: np.ndarray, per_entry: np.ndarray,
                  entry: int) -> np.float32:  # pragma: no cover - compiled
    """Mean fidelity of flat (staff, bundle) ``entry`` over its pairs (0 if none), as numpy."""
    n = per_entry[entry]
    start = entry_start[entry]
    total = 0.0
    for j in range(start, start + n):
        total += np.float64(fidelity[j])
    return np.float32(total / max(n, 1))


@njit(cache=True)
def _staff_fidelity(fidelity: np.ndarray, entry_start: np.ndarray, per_entry: np.ndarray,
                    entries: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    out = np.empty(entries.size, np.float32)
    for k in range(entries.size):
        out[k] = mean_of_entry(fidelity, entry_start, per_entry, entries[k])
    return out


def staff_fidelity(fidelity: np.ndarray, pairs: PerformedPairs, entries: np.ndarray) -> np.ndarray:
    """As :func:`sim.mechanisms.fidelity.staff_fidelity`: mean fidelity per flat entry."""
    look = lookups(pairs)
    return _staff_fidelity(fidelity, look.entry_start, look.per_entry, np.asarray(entries))

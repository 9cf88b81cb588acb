"""Compiled kernels of the week's hottest loops (numba), and the switch that chooses them.

Why: a week is ~60 separate numpy passes over (staff × bundle) or (pair) arrays, each with its
temporaries; a compiled loop does one pass per phase where the equations allow (issue 16). The
numpy code in :mod:`sim.mechanisms` stays the readable reference: each mechanism function asks
:func:`compiled` and hands its arrays to the kernel of the same name here, and
``tests/test_kernels.py`` checks that the two paths give the same numbers (bit for bit: every
kernel repeats the numpy arithmetic in the same order and dtype; see each module). Transcendental
functions (``exp``) stay numpy's, computed on short gathered arrays between two kernel passes:
numba's ``exp`` (libm) differs from numpy's SIMD ``exp`` in the last bit for ~40% of float32
inputs on this machine, and a last-bit difference can flip a draw's comparison.

One module per concept: :mod:`sim.kernels.fidelity`, :mod:`sim.kernels.sustainment`,
:mod:`sim.kernels.collective`. Kernels are ``@njit(cache=True)``: compiled on first use and kept
on disk next to the source (``__pycache__``), so later processes and Dask workers load them in
milliseconds instead of recompiling. What remains is numba's own start at the first kernel call
of a process, ~0.2–0.5 s CPU (measured on this machine): it pays off over a national run or a
worker's batch of runs, not over one short catchment run (``IMPLSIM_KERNELS=numpy`` there).

The path is chosen once per process from the environment variable ``IMPLSIM_KERNELS``
(``numba`` or ``numpy``; unset: ``numba`` when it can be imported, else ``numpy``), and can be
changed at run time by setting :data:`PATH` (tests do). It never changes results, so it is not
part of a scenario.
"""

from __future__ import annotations

import importlib.util
import os

from sim.errors import InputError

ENV = "IMPLSIM_KERNELS"
CHOICES = ("numba", "numpy")


def _available() -> bool:
    """Whether numba can be imported (looked up without importing it: that takes ~0.5 s)."""
    return importlib.util.find_spec("numba") is not None


def choose(value: str | None) -> str:
    """The path for an ``IMPLSIM_KERNELS`` value (None or empty: numba if importable)."""
    value = (value or "").strip().lower()
    if not value:
        return "numba" if _available() else "numpy"
    if value not in CHOICES:
        raise InputError(ENV, f"is {value!r}; allowed: {', '.join(CHOICES)} (or unset)")
    if value == "numba" and not _available():
        raise InputError(ENV, "is 'numba' but numba is not installed; pip install numba, or "
                              "set IMPLSIM_KERNELS=numpy")
    return value


#: ``"numba"`` or ``"numpy"``: read once from the environment at import.
PATH: str = choose(os.environ.get(ENV))


def compiled(*scalars: object) -> bool:
    """Whether to run the compiled kernel: the numba path is on and ``scalars`` are plain.

    The kernels repeat numpy's float32 arithmetic, in which a Python float meets a float32 array
    as float32 (NEP 50). A numpy float64 parameter would make numpy compute in float64, so then
    the reference path runs instead (validated scenario parameters are always Python floats).
    """
    return PATH == "numba" and all(type(s) in (float, int, bool) for s in scalars)

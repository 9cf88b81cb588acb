"""SplitMix64 counter-based uniforms inside compiled kernels: :func:`sim.rng.uniform_at` per entry.

A kernel that decides for an entry draws its uniform there, from the week's key and the entry's
flat index, so nothing is drawn for entries no rule reaches (issue 16). All arithmetic is uint64
(numba would turn a uint64 meeting an int64 into float64), and the result is the float32 of
:func:`sim.rng.uniform_at` bit for bit (``tests/test_rng.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S40 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(40)
_UNIT24 = np.float32(2.0**-24)


@njit(cache=True, inline="always")
def uniform(key: np.uint64, entry: np.int64) -> np.float32:  # pragma: no cover - compiled
    """The float32 uniform at ``entry`` of the sequence ``key``."""
    z = (np.uint64(entry) + np.uint64(1)) * _GAMMA + key
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return np.float32(z >> _S40) * _UNIT24

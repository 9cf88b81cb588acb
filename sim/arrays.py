"""Array primitives of the vectorised hot path that numpy lacks or does slowly."""

from __future__ import annotations

import numpy as np


def any_bundle(mask: np.ndarray) -> np.ndarray:
    """(N,) whether each row of an (N, B) bool array has any True.

    Column by column: numpy's ``any(axis=1)`` over a short last axis is ~10× slower.
    """
    out = mask[:, 0].copy()
    for b in range(1, mask.shape[1]):
        out |= mask[:, b]
    return out


def count_bundles(mask: np.ndarray) -> np.ndarray:
    """(N,) the number of True entries in each row of an (N, B) bool array (cf. ``any_bundle``)."""
    out = mask[:, 0].astype(np.int32)
    for b in range(1, mask.shape[1]):
        out += mask[:, b]
    return out


def concat_ranges(start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + n) for s, n in zip(start, length)])`` without the loop.

    Reads the entries of chosen rows of a CSR-like layout (rows' runs of an index array).
    """
    start = np.asarray(start, np.intp)
    length = np.asarray(length, np.intp)
    total = int(length.sum())
    if total == 0:
        return np.zeros(0, np.intp)
    offset = np.repeat(start - (np.cumsum(length) - length), length)
    return offset + np.arange(total)

"""Array primitives of the hot path agree with the plain numpy they replace."""

from __future__ import annotations

import numpy as np
import pytest

from sim.arrays import any_bundle, concat_ranges, count_bundles


@pytest.mark.parametrize("n_b", [1, 2, 4, 7])
def test_row_reductions_match_numpy(n_b: int) -> None:
    mask = np.random.default_rng(n_b).random((50, n_b)) < 0.3
    np.testing.assert_array_equal(any_bundle(mask), mask.any(axis=1))
    np.testing.assert_array_equal(count_bundles(mask), mask.sum(axis=1))
    assert any_bundle(mask).base is not mask  # a new array, not a view that could alias


def test_concat_ranges_matches_a_loop() -> None:
    rng = np.random.default_rng(2)
    start = rng.integers(0, 100, 30)
    length = rng.integers(0, 5, 30)  # empty runs included
    expected = np.concatenate([np.arange(s, s + n) for s, n in zip(start, length, strict=True)])
    np.testing.assert_array_equal(concat_ranges(start, length), expected)
    assert len(concat_ranges(np.array([3]), np.array([0]))) == 0

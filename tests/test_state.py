"""Row reductions over the bundle axis of (N, B) state arrays."""

from __future__ import annotations

import numpy as np
import pytest

from sim.state import any_bundle, count_bundles


@pytest.mark.parametrize("n_b", [1, 2, 4, 7])
def test_row_reductions_match_numpy(n_b: int) -> None:
    mask = np.random.default_rng(n_b).random((50, n_b)) < 0.3
    np.testing.assert_array_equal(any_bundle(mask), mask.any(axis=1))
    np.testing.assert_array_equal(count_bundles(mask), mask.sum(axis=1))
    assert any_bundle(mask).base is not mask  # a new array, not a view that could alias

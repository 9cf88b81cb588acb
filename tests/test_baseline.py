"""The pinned regression baseline: the shipped scenarios give the committed figures, bit for bit.

A failure here means model behaviour changed. If that was meant, refresh the baseline with
``python scripts/update_baseline.py`` and put the old -> new figures in the commit message.
"""

from __future__ import annotations

import pytest
from baseline import CASES, SLOW_CASES, case_figures, load


def _check(name: str) -> None:
    pinned = load()[name]
    now = case_figures(name)
    assert now["summary"] == pinned["summary"], f"{name}: summary figures changed"
    assert now == pinned, f"{name}: time series or measurement tables changed"


@pytest.mark.parametrize("name", list(CASES))
def test_shipped_scenario_matches_baseline(name: str) -> None:
    _check(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_CASES))
def test_national_matches_baseline(name: str) -> None:
    _check(name)


def test_baseline_covers_every_case() -> None:
    assert set(load()) == set(CASES) | set(SLOW_CASES)


def test_frame_hash_sees_one_ulp_and_text() -> None:
    import numpy as np
    import pandas as pd
    from baseline import frame_hash

    df = pd.DataFrame({"x": [0.1, 0.2], "name": pd.Series(["a", "b"], dtype="str")})
    same = df.copy()
    nudged = df.copy()
    nudged.loc[1, "x"] = np.nextafter(0.2, 1.0)
    renamed = df.copy()
    renamed.loc[0, "name"] = "c"
    assert frame_hash(df) == frame_hash(same)
    assert frame_hash(df) != frame_hash(nudged)
    assert frame_hash(df) != frame_hash(renamed)

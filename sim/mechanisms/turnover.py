"""Staff turnover: leavers take their knowledge with them; newcomers arrive unaware.

Each week every position turns over with probability ``1 − (1 − annual)^(1/52)``. The newcomer
takes the same position (unit, role and ties: assumption, the network is of positions) with fresh
traits, no knowledge, and element fidelity at baseline.
"""

from __future__ import annotations

import numpy as np

from sim.state import UNAWARE, State


def weekly_rate(annual: float) -> float:
    """Weekly leaving probability that compounds to the annual turnover rate."""
    return 1.0 - (1.0 - annual) ** (1.0 / 52.0)


def replace_leavers(state: State, leavers: np.ndarray, baseline: np.ndarray) -> None:
    """Reset the state of positions whose holder left (``leavers`` is an (N,) bool mask)."""
    state.stage[leavers] = UNAWARE
    state.knowledge[leavers] = 0.0
    state.fidelity[leavers] = baseline

"""Staff turnover: leavers take their knowledge with them; newcomers arrive unaware.

Each week every position turns over with probability ``1 − (1 − annual)^(1/52)``. The newcomer
takes the same position (unit, role and ties: assumption, the network is of positions) with fresh
traits, no knowledge, and element fidelity at baseline.
"""

from __future__ import annotations

import numpy as np

from sim.mechanisms.fidelity import PerformedPairs
from sim.state import UNAWARE, State


def weekly_rate(annual: float) -> float:
    """Weekly leaving probability that compounds to the annual turnover rate."""
    return 1.0 - (1.0 - annual) ** (1.0 / 52.0)


def draw_leavers(rng: np.random.Generator, n: int, p_leave: float) -> np.ndarray:
    """Sorted indices of this week's leavers among ``n`` positions, each leaving with ``p_leave``.

    Drawn as a binomial count and a uniform choice of that many positions: the same distribution
    as one Bernoulli draw per position, at the cost of the leavers only.
    """
    k = rng.binomial(n, p_leave)
    return np.sort(rng.choice(n, size=k, replace=False))


def replace_leavers(state: State, leavers: np.ndarray, pairs: PerformedPairs) -> None:
    """Reset the state of positions whose holder left (``leavers``: indices or an (N,) mask)."""
    state.stage[leavers] = UNAWARE
    state.knowledge[leavers] = 0.0
    mine = pairs.of_staff(leavers)
    state.fidelity[mine] = pairs.baseline[mine]

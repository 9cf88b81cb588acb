"""Staff turnover: leavers take their knowledge with them; newcomers arrive unaware.

Each week every position turns over with probability ``1 − (1 − annual)^(1/52)``. The newcomer
takes the same position (unit, role and ties: assumption, the network is of positions) with fresh
traits, no knowledge, and element fidelity at baseline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.mechanisms.fidelity import PerformedPairs
from sim.population import draw_staff_traits
from sim.state import UNAWARE, State

if TYPE_CHECKING:
    from sim.loop import Week


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


def turn_over(w: Week) -> None:
    """Phase *turnover*: leavers go, newcomers take their positions with fresh traits.

    The newcomer's log context differs from the world's by ``β_O (openness − world openness)``.
    """
    st, par = w.state, w.par
    leavers = draw_leavers(w.model.stream("turnover"), len(st.stage),
                           weekly_rate(par["turnover_annual"]))
    if len(leavers) == 0:
        return
    replace_leavers(st, leavers, w.world.performed)
    op, th = draw_staff_traits(w.model.stream("turnover:traits"), par, len(leavers))
    st.openness[leavers], st.threshold[leavers] = op, th
    shift = par["beta_openness"] * (op - w.world.pop.staff_openness[leavers])
    st.log_ctx[leavers] = w.world.log_ctx[leavers] + shift[:, None]
    if st.fit.size:  # the newcomer's own fit with each bundle (sim.mechanisms.destination)
        n_b = st.fit.shape[1]
        entries = (leavers[:, None] * n_b + np.arange(n_b)).reshape(-1)
        st.fit[leavers] = w.draw("turnover:destination", entries).reshape(len(leavers), n_b)

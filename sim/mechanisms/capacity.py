"""Learning transfer: implementation capacity grows with each bundle a unit implements.

When a unit first implements a bundle (its all-or-none compliance reaches
``penetration_threshold``: :func:`sim.mechanisms.collective.implemented`), its capacity rises by
``capacity_gain``. A unit's effective capacity is its own
plus ``org_spillover`` times its organisation's mean: what one ward learned helps its sister wards.
Capacity enters the context as ``β_cap × capacity`` on the log scale, so it speeds the next
bundle's uptake and lowers abandonment (stabilises); it erodes with staff turnover, since leavers
take what they learned. This is the antibiotics → other bundles question of SPEC §1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.mechanisms.collective import implemented
from sim.mechanisms.turnover import weekly_rate

if TYPE_CHECKING:
    from sim.loop import Week


def record_successes(done: np.ndarray, unit_compliance: np.ndarray, threshold: float,
                     launched: np.ndarray) -> np.ndarray:
    """Mark (U, B) first successes in place; return the (U,) count of new successes this week."""
    new = ~done & launched[None, :] & implemented(unit_compliance, threshold)
    done |= new
    return new.sum(axis=1)


def update_capacity(capacity: np.ndarray, new_successes: np.ndarray, gain: float,
                    weekly_turnover: float) -> None:
    """Add ``gain`` per new success; erode at the expected weekly turnover rate."""
    capacity *= 1.0 - weekly_turnover
    capacity += gain * new_successes


def effective_capacity(capacity: np.ndarray, unit_org: np.ndarray, n_orgs: int,
                       spillover: float) -> np.ndarray:
    """Unit capacity plus ``spillover`` × the mean capacity of its organisation's units."""
    total = np.bincount(unit_org, weights=capacity, minlength=n_orgs)
    count = np.bincount(unit_org, minlength=n_orgs)
    org_mean = total / np.maximum(count, 1)
    return capacity + spillover * org_mean[unit_org]


def transfer(w: Week) -> None:
    """Phase *learning transfer*: ``C_u ← C_u (1 − p_leave) + capacity_gain · new_u``.

    ``new_u`` counts the launched bundles unit *u* implemented for the first time this week.
    """
    st, par = w.state, w.par
    new = record_successes(st.implemented, st.unit_compliance, par["penetration_threshold"],
                           st.launched)
    update_capacity(st.capacity, new, par["capacity_gain"], weekly_rate(par["turnover_annual"]))


def context_term(w: Week) -> np.ndarray:
    """(U,) ``β_cap · C̃_u``: the unit context lever every week starts from."""
    pop = w.world.pop
    eff = effective_capacity(w.state.capacity, pop.unit_org, len(pop.org_name),
                             w.par["org_spillover"])
    return w.par["beta_capacity"] * eff

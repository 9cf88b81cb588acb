"""Learning transfer: implementation capacity grows with each bundle a unit implements.

When a unit first reaches mean element fidelity ``success_fidelity`` in a bundle (it has
implemented it), its capacity rises by ``capacity_gain``. A unit's effective capacity is its own
plus ``org_spillover`` times its organisation's mean: what one ward learned helps its sister wards.
Capacity enters the context as ``β_cap × capacity`` on the log scale, so it speeds the next
bundle's uptake and lowers abandonment (stabilises); it erodes with staff turnover, since leavers
take what they learned. This is the antibiotics → other bundles question of SPEC §1.
"""

from __future__ import annotations

import numpy as np


def record_successes(done: np.ndarray, unit_fidelity: np.ndarray, threshold: float,
                     launched: np.ndarray) -> np.ndarray:
    """Mark (U, B) first successes in place; return the (U,) count of new successes this week."""
    new = ~done & launched[None, :] & (np.nan_to_num(unit_fidelity, nan=0.0) >= threshold)
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

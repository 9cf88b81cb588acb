"""Unit compliance, with collective (cross-boundary) elements.

A unit's performance of an element is the mean fidelity of its staff who perform that element.
An element that crosses the specialist/municipal boundary (e.g. a discharge medication list that
the hospital sends and the municipality takes in) is done for a patient only if *both* sides do
it: its effective performance is the unit's own times the mean performance of its care-pathway
partners on the other side, so a pathway is limited by its weakest side. A unit with no partner
where the element applies has the element excluded (nothing to coordinate with in the model).

A unit's all-or-none compliance is the product of its applicable elements' effective performance
(independence between elements: assumption); its mean fidelity is their mean.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from sim.mechanisms.fidelity import PerformedPairs

if TYPE_CHECKING:
    from sim.loop import Week


def unit_performance(fidelity: np.ndarray,
                     pairs: PerformedPairs) -> tuple[np.ndarray, np.ndarray]:
    """(U, E) mean fidelity over performing staff, and (U, E) count of performing staff.

    ``fidelity`` is per performed pair (P,); one sparse pass sums it into (unit, element) cells.
    """
    count = pairs.per_unit_element
    total = (pairs.unit_sum @ fidelity).reshape(count.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        perf = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return perf.astype(np.float32), count


def effective_performance(perf: np.ndarray, pathways: sp.csr_matrix,
                          cross: np.ndarray) -> np.ndarray:
    """Apply the both-sides rule to cross-boundary elements (``cross`` is an (E,) bool mask)."""
    if not cross.any():
        return perf
    out = perf.copy()
    sub = perf[:, cross]
    applicable = ~np.isnan(sub)
    k = sub.shape[1]  # both sums in one pass over the pathways
    both = pathways @ np.concatenate([np.where(applicable, sub, 0.0), applicable], axis=1,
                                     dtype=np.float32)
    partner_sum, partner_n = both[:, :k], both[:, k:]
    with np.errstate(invalid="ignore", divide="ignore"):
        partner = np.where(partner_n > 0, partner_sum / np.maximum(partner_n, 1e-12), np.nan)
    out[:, cross] = sub * partner
    return out


def bundle_compliance(eff: np.ndarray, element_bundle: np.ndarray,
                      n_bundles: int) -> tuple[np.ndarray, np.ndarray]:
    """(U, B) all-or-none compliance (product) and mean fidelity over applicable elements.

    Units where no element of a bundle applies get NaN for that bundle.
    """
    u = eff.shape[0]
    comp = np.full((u, n_bundles), np.nan, np.float32)
    fid = np.full((u, n_bundles), np.nan, np.float32)
    for b in range(n_bundles):
        cols = eff[:, element_bundle == b]
        applicable = ~np.isnan(cols)
        any_app = applicable.any(axis=1)
        prod = np.prod(np.where(applicable, cols, 1.0), axis=1)
        n = applicable.sum(axis=1)
        mean = np.where(applicable, cols, 0.0).sum(axis=1) / np.maximum(n, 1)
        comp[any_app, b] = prod[any_app]
        fid[any_app, b] = mean[any_app]
    return comp, fid


def implemented(compliance: np.ndarray, threshold: float) -> np.ndarray:
    """Where a unit counts as having implemented a bundle: all-or-none compliance ≥ threshold.

    The one definition, used by penetration (:mod:`sim.outcomes.recorder`) and by learning
    transfer (:mod:`sim.mechanisms.capacity`). Compliance, not mean element fidelity: a bundle
    is implemented when its elements are done *together* for patients (SPEC §5, Proctor's
    penetration), and high fidelity on most elements with one neglected is not that. NaN (the
    bundle does not apply) is never implemented.
    """
    return np.nan_to_num(compliance, nan=-1.0) >= threshold


def measure(w: Week) -> None:
    """Phase *compliance*: unit performance per element, then the both-sides rule.

    Each bundle's all-or-none compliance is the product, and its mean fidelity the mean, over
    the unit's applicable elements.
    """
    world, st = w.world, w.state
    perf, _ = unit_performance(st.fidelity, world.performed)
    eff = effective_performance(perf, world.pathways, world.element_cross)
    st.unit_element = eff
    st.unit_compliance, st.unit_fidelity = bundle_compliance(eff, world.element_bundle,
                                                             len(world.bundles))

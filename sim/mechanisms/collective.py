"""Unit compliance, with collective (cross-boundary) elements.

A unit's performance of an element is the mean fidelity of its staff who perform that element.
An element that crosses the specialist/municipal boundary (e.g. a discharge medication list that
the hospital sends and the municipality takes in) is done for a patient only if *both* sides do
it: its effective performance is the unit's own times the mean performance of its care-pathway
partners on the other side, so a pathway is limited by its weakest side. A unit with no partner
where the element applies has the element excluded (nothing to coordinate with in the model).

A unit's all-or-none compliance is the probability that a patient gets every applicable element,
given each element's effective performance ``p_e``. How often elements are done *together*
depends on how a patient's element care is correlated: ``element_correlation`` (ρ) mixes two
copulas, ``(1 − ρ) Π_e p_e + ρ min_e p_e``. With probability ρ one common factor (the same
nurse's attention that shift, the same checklist) decides every element, so all are done up to
the weakest (the comonotonic copula); otherwise elements are independent (the product). ρ = 0
is the independence of earlier versions, bit for bit. Mean fidelity is the elements' mean, and
does not depend on ρ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from sim import kernels
from sim.mechanisms.fidelity import PerformedPairs

if TYPE_CHECKING:
    from sim.loop import Week


def unit_performance(fidelity: np.ndarray,
                     pairs: PerformedPairs) -> tuple[np.ndarray, np.ndarray]:
    """(U, E) mean fidelity over performing staff, and (U, E) count of performing staff.

    ``fidelity`` is per performed pair (P,); one sparse pass sums it into (unit, element) cells.
    Runs :mod:`sim.kernels.collective` (bit-identical) when compiled kernels are on.
    """
    if kernels.compiled() and fidelity.dtype == np.float32:
        from sim.kernels import collective as compiled

        return compiled.unit_performance(fidelity, pairs)
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


def all_or_none(prod: np.ndarray, weakest: np.ndarray, correlation: float) -> np.ndarray:
    """Share of patients given every element: ``(1 − ρ) · prod + ρ · weakest``.

    ``prod`` is the product and ``weakest`` the minimum of the elements' performance. Written as
    ``prod + ρ (weakest − prod)`` clipped to ``[prod, weakest]``, so it rises with ρ exactly in
    floating point too; ρ = 0 returns ``prod`` itself and ρ = 1 ``weakest`` itself.
    """
    if correlation == 0.0:
        return prod
    if correlation == 1.0:
        return weakest
    return np.clip(prod + correlation * (weakest - prod), prod, weakest)


def bundle_compliance(eff: np.ndarray, element_bundle: np.ndarray, n_bundles: int,
                      correlation: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(U, B) all-or-none compliance and mean fidelity over applicable elements.

    ``correlation`` is ``element_correlation`` (ρ; see the module doc). Units where no element
    of a bundle applies get NaN for that bundle. Runs :mod:`sim.kernels.collective`
    (bit-identical, one loop) when compiled kernels are on and ``eff`` is float32 with at most
    128 elements.
    """
    if kernels.compiled(correlation) and eff.dtype == np.float32 and eff.shape[1] <= 128:
        from sim.kernels import collective as compiled  # (pairwise sums of up to 128 terms)

        return compiled.bundle_compliance(eff, element_bundle, n_bundles, correlation)
    u = eff.shape[0]
    comp = np.full((u, n_bundles), np.nan, np.float32)
    fid = np.full((u, n_bundles), np.nan, np.float32)
    for b in range(n_bundles):
        cols = eff[:, element_bundle == b]
        applicable = ~np.isnan(cols)
        any_app = applicable.any(axis=1)
        done = np.where(applicable, cols, 1.0)
        prod = np.prod(done, axis=1)
        if correlation:
            prod = all_or_none(prod, done.min(axis=1, initial=1.0), correlation)
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

    Each bundle's all-or-none compliance mixes the product and the weakest of the unit's
    applicable elements (``element_correlation``); its mean fidelity is their mean.
    """
    world, st = w.world, w.state
    perf, _ = unit_performance(st.fidelity, world.performed)
    eff = effective_performance(perf, world.pathways, world.element_cross)
    st.unit_element = eff
    st.unit_compliance, st.unit_fidelity = bundle_compliance(
        eff, world.element_bundle, len(world.bundles), w.par["element_correlation"])

"""Adoption: aware staff start trying a bundle.

Weekly hazard ``h = min(1, exp(x) · (p · exp(β_K · knowledge) + influence))``, where ``exp(x)`` is
the context multiplier (:mod:`sim.mechanisms.context`, plus the unit's dynamic context (capacity,
leadership engagement) and the week's push to try from interventions, minus ``β_concurrent`` per
other bundle the person is trying: :func:`adopt` writes it whole), ``p`` the
spontaneous (Bass external) hazard and ``influence`` the social-influence hazard
(:mod:`sim.mechanisms.influence`). With a neutral context, no knowledge and no ties this is
``h = p``, so the adopted share follows ``1 − (1 − p)^t``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import kernels
from sim.arrays import count_bundles
from sim.mechanisms import destination
from sim.mechanisms.influence import influence_hazard, weighted_share
from sim.state import AWARE, TRYING

if TYPE_CHECKING:
    from sim.loop import Week


def adoption_hazard(log_ctx: np.ndarray, p_innovation: float, beta_knowledge: float,
                    knowledge: np.ndarray, influence: np.ndarray) -> np.ndarray:
    """(N, B) weekly chance that an aware staff member starts trying."""
    base = p_innovation * np.exp(beta_knowledge * knowledge)
    return np.minimum(1.0, np.exp(log_ctx) * (base + influence))


def candidates(stage: np.ndarray) -> np.ndarray:
    """Flat indices of the (staff, bundle) entries that can start trying: the aware."""
    return np.flatnonzero(stage == AWARE)


def start_trying(stage: np.ndarray, idx: np.ndarray, hazard: np.ndarray, u: np.ndarray) -> None:
    """Candidates ``idx`` (flat indices) whose draw falls below their hazard start trying."""
    stage.reshape(-1)[idx[u < hazard]] = TRYING


def adopt(w: Week) -> None:
    """Phase *adoption*: aware staff start trying, the whole hazard in one place.

    For aware person *i* and bundle *b*:

    ``h = min(1, exp(x_ib + c_ub + boost_ub − β_concurrent · trying_i)
    · (p_innovation · exp(β_K K_ib) + influence(exposure_ib)))``

    with ``x`` the static log context (:mod:`sim.mechanisms.context`), ``c`` the unit's dynamic
    context (capacity, leadership), ``boost`` the week's push to try, ``trying_i`` the bundles
    *i* is trying now, and the influence hazard of :mod:`sim.mechanisms.influence` on the
    weighted share of colleagues using at the start of the week; 0 for entries outside the
    destination (:mod:`sim.mechanisms.destination`).
    """
    st, lv, par = w.state, w.levers, w.par
    if kernels.compiled(par["q_imitation"], par["beta_concurrent"], par["p_innovation"],
                        par["beta_knowledge"]):
        _adopt_compiled(w)
        return
    idx = candidates(st.stage)
    if len(idx) == 0:
        return
    _, weighted_using = w.colleagues_using
    staff = w.staff_of(idx)
    expo = weighted_share(w.at(weighted_using, idx), w.at(w.model.weight_total, idx))
    infl = influence_hazard(expo[:, None], par["q_imitation"], par["contagion"],
                            st.threshold[staff])[:, 0]
    trying_now = count_bundles(st.stage == TRYING)  # the aware are not trying
    load = par["beta_concurrent"] * trying_now[staff]
    x = (w.at(st.log_ctx, idx) + w.unit_at(lv.context, idx) + w.unit_at(lv.boost, idx)
         - load)
    hazard = adoption_hazard(x, par["p_innovation"], par["beta_knowledge"],
                             w.at(st.knowledge, idx), infl)
    if destination.active(par):  # outside the destination nobody starts
        m = destination.share(w.at(st.log_ctx, idx) + w.unit_at(lv.context, idx),
                              w.unit_at(lv.support, idx), par["adoption_ceiling"],
                              par["beta_ceiling_support"])
        hazard = np.where(destination.within(w.at(st.fit, idx), m), hazard, 0.0)
    start_trying(st.stage, idx, hazard, w.draw("adoption", idx))


def _adopt_compiled(w: Week) -> None:
    """:func:`adopt` by the kernels of :mod:`sim.kernels.adoption` (bit-identical)."""
    from sim.kernels import adoption as compiled

    st, lv, par = w.state, w.levers, w.par
    _, weighted_using = w.colleagues_using
    idx, expo, x, x_dest, support, know = compiled.candidates(
        st.stage.reshape(-1), st.stage.shape[1], w._entry_staff, w._entry_unit_cell,
        weighted_using.reshape(-1), w.model.weight_total.reshape(-1), st.log_ctx.reshape(-1),
        lv.context.reshape(-1), lv.boost.reshape(-1), lv.support.reshape(-1),
        st.knowledge.reshape(-1), par["beta_concurrent"])
    if len(idx) == 0:
        return
    base = par["p_innovation"] * np.exp(par["beta_knowledge"] * know)
    m = np.zeros(0, np.float32)
    if destination.active(par):
        m = destination.share(x_dest, support, par["adoption_ceiling"],
                              par["beta_ceiling_support"])
    compiled.start_trying(st.stage.reshape(-1), idx, expo, np.exp(x), base, st.threshold,
                          w._entry_staff, par["q_imitation"], par["contagion"] == "simple",
                          st.fit.reshape(-1), m, np.uint64(w.key("adoption")))

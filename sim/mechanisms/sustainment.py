"""Routinisation and abandonment: whether a bundle in use becomes routine or is dropped.

Trying staff make the bundle routine with weekly chance ``p_routinise × fidelity`` (practice done
well sticks). Users abandon with hazard ``p_abandon · exp(−x) · (1 − support) ·
(1 − routine_protection if routine)``: good context and active support (facilitation, feedback)
keep the bundle; when support ends, abandonment rises — the sustainability problem of SPEC §1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import kernels
from sim.mechanisms import destination
from sim.mechanisms.fidelity import staff_fidelity
from sim.state import ABANDONED, ROUTINE, TRYING

if TYPE_CHECKING:
    from sim.loop import Week


def trying(stage: np.ndarray) -> np.ndarray:
    """Flat indices of the (staff, bundle) entries trying the bundle (who may routinise it)."""
    return np.flatnonzero(stage == TRYING)


def routinise(stage: np.ndarray, idx: np.ndarray, p_routinise: float, fidelity: np.ndarray,
              u: np.ndarray) -> None:
    """Trying entries ``idx`` (flat indices) become routine with chance ``p_routinise × fidelity``.

    ``fidelity`` (the person's mean fidelity on the bundle) and ``u`` are given at ``idx``.
    """
    stage.reshape(-1)[idx[u < p_routinise * fidelity]] = ROUTINE


def users(stage: np.ndarray) -> np.ndarray:
    """Flat indices of the (staff, bundle) entries using the bundle (who may abandon it)."""
    return np.flatnonzero((stage == TRYING) | (stage == ROUTINE))


def abandonment_hazard(stage: np.ndarray, log_ctx: np.ndarray, support: np.ndarray,
                       p_abandon: float, routine_protection: float) -> np.ndarray:
    """(N, B) weekly chance that a user drops the bundle."""
    dtype = np.result_type(log_ctx, support)  # float32 in the model: no float64 temporaries
    protect = (stage == ROUTINE) * dtype.type(-routine_protection)  # a multiply, not a where
    protect += dtype.type(1.0)
    hazard = np.exp(-log_ctx)
    hazard *= p_abandon
    hazard *= 1.0 - support
    hazard *= protect
    return np.minimum(hazard, 1.0, out=hazard)


def abandon(stage: np.ndarray, idx: np.ndarray, hazard: np.ndarray, u: np.ndarray) -> None:
    """Users ``idx`` (flat indices) whose draw falls below their hazard abandon the bundle."""
    stage.reshape(-1)[idx[u < hazard]] = ABANDONED


def sustain(w: Week) -> None:
    """Phase *abandonment, then routinisation*.

    Users abandon with ``min(1, p_abandon · exp(−(x_ib + c_ub)) · (1 − σ_ub) · (1 − ρ if
    routine and within the destination))`` (0 for the protected; a routine user outside the
    destination of :mod:`sim.mechanisms.destination` counts as trying); then those still
    trying make it routine with ``p_routinise × f_ib``, ``f_ib`` their mean fidelity on the
    bundle before this week's update.
    """
    st, lv, par = w.state, w.levers, w.par
    if kernels.compiled(par["p_abandon"], par["routine_protection"], par["p_routinise"]):
        _sustain_compiled(w)
        return
    idx = users(st.stage)
    if len(idx):
        stage = w.at(st.stage, idx)
        x = w.at(st.log_ctx, idx) + w.unit_at(lv.context, idx)
        support = w.unit_at(lv.support, idx)
        if destination.active(par):  # beyond the destination a routine gives no protection
            m = destination.share(x, support, par["adoption_ceiling"],
                                  par["beta_ceiling_support"])
            stage = np.where(destination.within(w.at(st.fit, idx), m), stage, TRYING)
        ab = abandonment_hazard(stage, x, support, par["p_abandon"],
                                par["routine_protection"])
        ab[w.at(lv.protected, idx)] = 0.0
        abandon(st.stage, idx, ab, w.draw("abandon", idx))
    idx = trying(st.stage)
    if len(idx):
        routinise(st.stage, idx, par["p_routinise"],
                  staff_fidelity(st.fidelity, w.world.performed, idx), w.draw("routinise", idx))


def _sustain_compiled(w: Week) -> None:
    """:func:`sustain` by the kernels of :mod:`sim.kernels.sustainment` (bit-identical)."""
    from sim.kernels import sustainment as compiled

    st, lv, par = w.state, w.levers, w.par
    idx, x, support = compiled.users_context(
        st.stage.reshape(-1), st.log_ctx.reshape(-1), lv.context.reshape(-1),
        lv.support.reshape(-1), w._entry_unit_cell)
    within = None
    if destination.active(par) and len(idx):
        within = destination.within(w.at(st.fit, idx), destination.share(
            x, support, par["adoption_ceiling"], par["beta_ceiling_support"]))
    compiled.finish(st.stage, idx, x, support, within, lv.protected, w.key("abandon"),
                    w.key("routinise"), par, st.fidelity, w.world.performed)

"""Awareness and knowledge: how staff hear of a bundle and learn it.

Unaware eligible staff become aware through organisational channels (weekly chance
``p_awareness``) or a colleague who uses the bundle (``p_word_of_mouth`` per using tie);
training (an intervention) makes trainees aware directly. Knowledge grows by doing
(``learning_by_doing``) and fades when the bundle is not used (``knowledge_decay``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim import kernels
from sim.state import AWARE, UNAWARE

if TYPE_CHECKING:
    from sim.loop import Week


def awareness_probability(p_awareness: float, p_word_of_mouth: float,
                          using_ties: np.ndarray) -> np.ndarray:
    """Weekly chance of becoming aware: independent channels, one per using tie."""
    if p_word_of_mouth >= 1.0:  # one using tie is enough
        return np.where(using_ties > 0, 1.0, p_awareness)
    # (1 − w)^k as exp(k · log(1 − w)): the same number, four times faster than a power
    return 1.0 - (1.0 - p_awareness) * np.exp(using_ties * math.log1p(-p_word_of_mouth))


def candidates(stage: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Flat indices of the (staff, bundle) entries that can become aware: unaware and eligible."""
    return np.flatnonzero((stage == UNAWARE) & eligible)


def become_aware(stage: np.ndarray, idx: np.ndarray, prob: np.ndarray, u: np.ndarray) -> None:
    """Candidates ``idx`` (flat indices) become aware where the draw falls below ``prob``.

    ``prob`` and ``u`` are given at ``idx``.
    """
    stage.reshape(-1)[idx[u < prob]] = AWARE


def update_knowledge(knowledge: np.ndarray, using: np.ndarray, learning_by_doing: float,
                     decay: float) -> None:
    """Users close a share of the gap to full knowledge; non-users forget a share of theirs."""
    # change = using · (λ(1 − k) + δk) − δk: arithmetic on the mask, since np.where (or a masked
    # ufunc) over an unpredictable mask is several times slower than a multiply
    kind = knowledge.dtype.type
    loss = knowledge * kind(decay)
    change = 1.0 - knowledge
    change *= kind(learning_by_doing)
    change += loss
    change *= using
    change -= loss
    knowledge += change


def hear(w: Week) -> None:
    """Phase *awareness*: unaware eligible staff hear of launched bundles.

    ``P = 1 − (1 − p_awareness) (1 − p_word_of_mouth)^k`` with ``k`` colleagues using the
    bundle, combined with the chance ``a_u`` that an intervention tells the unit's staff as an
    independent channel: ``1 − (1 − P)(1 − a_u)``.
    """
    st, par = w.state, w.par
    using_ties, _ = w.colleagues_using  # every week: the sums carry from week to week
    idx = candidates(st.stage, w.eligible)
    if len(idx) == 0:
        return
    prob = awareness_probability(par["p_awareness"], par["p_word_of_mouth"],
                                 w.at(using_ties, idx))
    if w.levers.awareness.any():  # interventions that tell people (independent channel)
        told = w.unit_at(w.levers.awareness, idx)
        prob = 1.0 - (1.0 - prob) * (1.0 - told)
    become_aware(st.stage, idx, prob, w.draw("awareness", idx))


def learn(w: Week) -> None:
    """Phase *knowledge*: users close ``learning_by_doing`` of their gap, the rest forget."""
    st, par = w.state, w.par
    if (kernels.compiled(par["learning_by_doing"], par["knowledge_decay"])
            and st.knowledge.dtype == np.float32):
        from sim.kernels.knowledge import update_knowledge as compiled

        compiled(st.knowledge.reshape(-1), w.using_now.reshape(-1),
                 np.float32(par["learning_by_doing"]), np.float32(par["knowledge_decay"]))
        return
    update_knowledge(st.knowledge, w.using_now, par["learning_by_doing"],
                     par["knowledge_decay"])

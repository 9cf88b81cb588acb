"""Destination: the share of eligible staff who would take up a bundle at all, in their context.

Without it every strategy heads for the same end, near everybody using, so strategies differ in
speed, not destination, and contagion left unchecked makes any early lead grow for years (issue
15). Here, as the market potential ``m`` of the Bass model, only a share of staff are potential
adopters of a bundle; the share depends on the context that speeds trying and on this week's
support (i-PARIHS: facilitation and context decide where implementation gets to, not only how
fast):

``m_ib = expit(logit(m₀) + X_ib + β_σ · σ_ib)``

with ``X_ib`` the log context (static plus the unit's capacity and leadership levers, as in
abandonment) and ``σ_ib`` the unit's support. Each staff × bundle entry has a fixed *fit*
``v_ib ~ U(0, 1)`` (stream ``destination``; a newcomer draws a new one, stream
``turnover:destination``); the entry is within the destination while ``v_ib < m_ib``. Outside it
a person does not start trying, and a user (started while support held them within) keeps no
routine protection, so when support ends practice beyond the unsupported destination decays at
the abandonment hazard: post-support decay. ``m₀ = 1`` switches the mechanism off (nothing is
drawn; earlier versions bit for bit).
"""

from __future__ import annotations

import numpy as np


def active(par: object) -> bool:
    """Whether the destination limits anybody (``adoption_ceiling`` below 1)."""
    return float(par["adoption_ceiling"]) < 1.0  # type: ignore[index]


def share(log_ctx: np.ndarray, support: np.ndarray, ceiling: float,
          beta_support: float) -> np.ndarray:
    """``m = expit(logit(ceiling) + log_ctx + beta_support · support)``, elementwise."""
    if ceiling <= 0.0:
        return np.zeros(np.broadcast_shapes(np.shape(log_ctx), np.shape(support)), np.float32)
    z = np.log(ceiling / (1.0 - ceiling)) + log_ctx + beta_support * support
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32, copy=False)


def within(fit: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Entries whose fit lies below the destination share: potential adopters this week."""
    return fit < m

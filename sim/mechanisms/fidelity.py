"""Fidelity per element: how reliably each staff member performs each element of a bundle.

Fidelity is the chance an element is done when it is due. Users close a share of the gap to full
fidelity each week, ``fidelity_gain · (0.3 + 0.7 · knowledge) · (1 − complexity/2)``
(assumption: knowledge and simplicity make practice improve faster), and everybody drifts back to
the element's baseline at ``fidelity_decay · (1 − support)``: without reinforcement (reminders,
feedback, supervision) fidelity decays.
"""

from __future__ import annotations

import numpy as np


def update_fidelity(fidelity: np.ndarray, baseline: np.ndarray, using_e: np.ndarray,
                    knowledge_e: np.ndarray, support_e: np.ndarray, gain: float,
                    decay: float, complexity_e: np.ndarray) -> None:
    """Update (N, E) fidelity in place; ``*_e`` arrays are per staff × element (or per element)."""
    rate = gain * (0.3 + 0.7 * knowledge_e) * (1.0 - 0.5 * complexity_e)
    up = np.where(using_e, rate * (1.0 - fidelity), 0.0)
    down = decay * (1.0 - support_e) * (fidelity - baseline)
    fidelity += (up - down).astype(fidelity.dtype)
    np.clip(fidelity, 0.0, 1.0, out=fidelity)

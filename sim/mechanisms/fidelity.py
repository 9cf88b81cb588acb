"""Fidelity per element: how reliably each staff member performs each element of a bundle.

Fidelity is the chance an element is done when it is due. Users close a share of the gap to full
fidelity each week, ``fidelity_gain · (0.3 + 0.7 · knowledge) · (1 − complexity/2)``
(assumption: knowledge and simplicity make practice improve faster), and everybody drifts back to
the element's baseline at ``fidelity_decay · (1 − support)``: without reinforcement (reminders,
feedback, supervision) fidelity decays.
"""

from __future__ import annotations

import numpy as np


def update_fidelity(fidelity: np.ndarray, baseline: np.ndarray, performs: np.ndarray,
                    using: np.ndarray, knowledge: np.ndarray, support: np.ndarray,
                    element_bundle: np.ndarray, gain: float, decay: float,
                    complexity: np.ndarray) -> None:
    """Update (N, E) fidelity in place.

    ``using``, ``knowledge`` and ``support`` are per staff × bundle (N, B) and ``complexity`` per
    bundle (B,): rates are computed once per bundle and spread to its elements, since the
    element arrays are the largest the week touches.
    """
    rate = gain * (0.3 + 0.7 * knowledge) * (1.0 - 0.5 * complexity)
    rate *= using
    up = rate[:, element_bundle]
    up *= performs
    up *= 1.0 - fidelity
    down = (decay * (1.0 - support))[:, element_bundle]
    down *= fidelity - baseline
    fidelity += up
    fidelity -= down
    np.clip(fidelity, 0.0, 1.0, out=fidelity)

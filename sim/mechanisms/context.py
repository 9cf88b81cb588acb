"""Context: what scales the chance to try a bundle and to keep it.

Leadership, implementation climate, workload, openness and the bundle itself act together.

The context multiplier is ``exp(x)`` with
``x = β_L (leadership − ½) + β_C (climate − ½) − β_W (workload − ½) + β_O (openness − ½)
+ β_B (evidence − complexity)``, so a neutral context (every score ½, evidence = complexity)
multiplies hazards by exactly 1. Support interventions add to ``x`` while they run.

Competing demands: new practices compete for attention, so the log-hazard of trying a bundle
falls by ``β_concurrent`` per *other* bundle the person is trying (not yet routine) that week
(assumption); launching many bundles at once can then be slower than sequencing them. The model
applies it in the adoption hazard (:func:`sim.mechanisms.adoption.adopt`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.bundles import Bundle
from sim.population import Population


def log_context(pop: Population, params: dict[str, Any], bundles: list[Bundle]) -> np.ndarray:
    """(N, B) static log-multiplier of adoption hazards for each staff member and bundle."""
    unit_x = (
        params["beta_leadership"] * (pop.org_leadership[pop.unit_org] - 0.5)
        + params["beta_climate"] * (pop.unit_climate - 0.5)
        - params["beta_workload"] * (pop.unit_workload - 0.5)
    )
    staff_x = unit_x[pop.staff_unit] + params["beta_openness"] * (pop.staff_openness - 0.5)
    bundle_x = np.array(
        [params["beta_bundle"] * (b.evidence_strength - b.complexity) for b in bundles],
        np.float32,
    )
    return (staff_x[:, None] + bundle_x[None, :]).astype(np.float32)

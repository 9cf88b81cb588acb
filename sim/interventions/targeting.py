"""Targeting rules: which units an intervention reaches.

A scenario's ``target`` is ``"all"`` or a table::

    target = { kinds = ["nursing_home"], share = 0.5, rule = "centrality" }

``kinds`` (organisation kinds), ``organisations`` and ``units`` (names) filter the candidates;
``share`` then keeps that share of them (rounded half up, at least one if any), chosen by ``rule``:
``random`` (from the intervention's own stream), ``centrality`` (units whose staff have the most
ties), or ``readiness`` (best leadership × climate × slack). Ties are broken by unit order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.errors import InputError
from sim.params import ORG_KINDS
from sim.population import KIND_CODE, Population

RULES = ("random", "centrality", "readiness")
_KEYS = ("kinds", "organisations", "units", "share", "rule")


@dataclass(frozen=True)
class Target:
    """A validated targeting rule."""

    kinds: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    share: float = 1.0
    rule: str = "random"

    def describe(self) -> dict[str, Any]:
        """The rule as a plain table (for manifests)."""
        return {"kinds": list(self.kinds), "organisations": list(self.organisations),
                "units": list(self.units), "share": self.share, "rule": self.rule}


def parse_target(raw: Any, where: str) -> Target:
    """Validate a scenario's ``target`` value."""
    if raw is None or raw == "all":
        return Target()
    if isinstance(raw, str):
        if raw in ORG_KINDS:
            return Target(kinds=(raw,))
        raise InputError(where, f"must be \"all\", an organisation kind ({', '.join(ORG_KINDS)}) "
                         f"or a table with keys {', '.join(_KEYS)}; got {raw!r}")
    if not isinstance(raw, dict):
        raise InputError(where, "must be \"all\" or a table")
    for key in raw:
        if key not in _KEYS:
            raise InputError(f"{where}.{key}", f"unknown key; known keys are: {', '.join(_KEYS)}")

    def names(key: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
        val = raw.get(key, [])
        if isinstance(val, str):
            val = [val]
        if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
            raise InputError(f"{where}.{key}", "must be a list of names")
        if allowed:
            bad = [v for v in val if v not in allowed]
            if bad:
                raise InputError(f"{where}.{key}", f"unknown {bad[0]!r}; allowed: "
                                 f"{', '.join(allowed)}")
        return tuple(val)

    share = raw.get("share", 1.0)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise InputError(f"{where}.share", f"must be a number in (0, 1], got {share!r}")
    rule = raw.get("rule", "random")
    if rule not in RULES:
        raise InputError(f"{where}.rule", f"must be one of {', '.join(RULES)}, got {rule!r}")
    return Target(names("kinds", ORG_KINDS), names("organisations"), names("units"),
                  float(share), rule)


def resolve_units(target: Target, pop: Population, unit_degree: np.ndarray,
                  rng: np.random.Generator, where: str) -> np.ndarray:
    """(U,) bool mask of targeted units."""
    mask = np.ones(pop.n_units, bool)
    if target.kinds:
        mask &= np.isin(pop.unit_kind, [KIND_CODE[k] for k in target.kinds])
    if target.organisations:
        known = set(pop.org_name)
        bad = [o for o in target.organisations if o not in known]
        if bad:
            raise InputError(f"{where}.organisations", f"no organisation named {bad[0]!r}; "
                             f"examples: {', '.join(pop.org_name[:3])}")
        orgs = [pop.org_name.index(o) for o in target.organisations]
        mask &= np.isin(pop.unit_org, orgs)
    if target.units:
        index = {n: i for i, n in enumerate(pop.unit_name)}
        bad = [u for u in target.units if u not in index]
        if bad:
            raise InputError(f"{where}.units", f"no unit named {bad[0]!r}; examples: "
                             f"{', '.join(pop.unit_name[:3])}")
        named = np.zeros(pop.n_units, bool)
        named[[index[u] for u in target.units]] = True
        mask &= named
    # Draw for every unit whatever the filters, so the stream stays aligned across strategies.
    draws = rng.random(pop.n_units)
    candidates = np.flatnonzero(mask)
    if target.share >= 1.0 or len(candidates) == 0:
        return mask
    k = max(1, math.floor(target.share * len(candidates) + 0.5))  # half up, at least one
    if target.rule == "random":
        score = -draws[candidates]
    elif target.rule == "centrality":
        score = unit_degree[candidates]
    else:
        score = (pop.org_leadership[pop.unit_org] * pop.unit_climate
                 * (1.0 - pop.unit_workload))[candidates]
    order = np.lexsort((candidates, -score))
    chosen = np.zeros(pop.n_units, bool)
    chosen[candidates[order[:k]]] = True
    return chosen

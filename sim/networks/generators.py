"""Generators for the collaboration layers of a generated catchment (SPEC §4).

Each layer is drawn with numpy from its own random stream, vectorised over all units at once, so
a national network of ~150,000 staff builds in well under a second and adding a layer does not
change the others' draws.

- *within_unit*: a Watts–Strogatz small world per unit (ring lattice of degree ``k``, each tie
  rewired to a random unit colleague with probability ``p``): clustered teams.
- *cross_unit*: random ties to staff of other units of the same organisation.
- *care_pathway*: ties between specialist (hospital, mental-health) staff and municipal staff
  (nursing homes, home care, GP services) of the same catchment. Given the run's care pathways
  (:mod:`sim.networks.pathways`), each tie joins a random staff member of each unit of a dyad
  drawn in proportion to its patient volume: staff know the colleagues they exchange patients
  with. Without pathways (none in a trust) the pair is drawn uniformly across the boundary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sim.networks.network import LAYERS, CollaborationNetwork
from sim.params import SPECIALIST_KINDS
from sim.population import KIND_CODE, Population
from sim.rng import stream

if TYPE_CHECKING:
    from sim.networks.pathways import CarePathways


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Order members by group: (order, start of each member's group, group size, rank in group)."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    _, first, group_of, counts = np.unique(
        sorted_keys, return_index=True, return_inverse=True, return_counts=True
    )
    start = first[group_of]
    size = counts[group_of]
    rank = np.arange(len(keys)) - start
    return order, start, size, rank


def _runs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For an array of contiguous groups: each position's group start and group size."""
    change = np.r_[True, x[1:] != x[:-1]]
    starts = np.flatnonzero(change)
    sizes = np.diff(np.r_[starts, len(x)])
    gid = np.cumsum(change) - 1
    return starts[gid], sizes[gid]


def within_unit(pop: Population, degree: int, rewiring: float, seed: int) -> np.ndarray:
    """Watts–Strogatz ties inside every unit at once; returns (E, 2) staff index pairs."""
    rng = stream(seed, "network:within_unit")
    order, start, size, rank = _groups(pop.staff_unit)
    half = degree // 2
    pairs = []
    for d in range(1, half + 1):
        ok = d < size
        src = rank[ok]
        dst = (src + d) % size[ok]
        base = start[ok]
        pairs.append(np.stack([base + src, base + dst], axis=1))
    if not pairs:
        return np.empty((0, 2), np.int32)
    e = np.concatenate(pairs)
    # Rewire: replace the second end by a uniformly drawn colleague of the same unit.
    rewire = rng.random(len(e)) < rewiring
    grp_start = start[e[:, 0]]
    grp_size = size[e[:, 0]]
    e[rewire, 1] = grp_start[rewire] + (rng.random(rewire.sum()) * grp_size[rewire]).astype(int)
    e = order[e]  # back from sorted positions to staff indices
    return e[e[:, 0] != e[:, 1]].astype(np.int32)


def _random_pairs(rng: np.random.Generator, left: np.ndarray, right: np.ndarray,
                  n_ties: int) -> np.ndarray:
    if n_ties == 0 or len(left) == 0 or len(right) == 0:
        return np.empty((0, 2), np.int32)
    return np.stack([rng.choice(left, n_ties), rng.choice(right, n_ties)], axis=1)


def cross_unit(pop: Population, degree: float, seed: int) -> np.ndarray:
    """Random ties to staff in other units of one's organisation.

    ``degree`` is the mean number of such ties of staff in organisations with more than one unit
    (staff of single-unit organisations, e.g. a GP practice, have none).
    """
    rng = stream(seed, "network:cross_unit")
    staff_org = pop.unit_org[pop.staff_unit].astype(np.int64)
    # Sort by (organisation, unit): each unit is then a contiguous block inside its organisation.
    key = staff_org * (pop.n_units + 1) + pop.staff_unit
    order = np.lexsort((np.arange(pop.n_staff), key))
    o_start, o_size = _runs(staff_org[order])
    u_start, u_size = _runs(pop.staff_unit[order])
    can = np.flatnonzero(o_size > u_size)  # sorted positions with colleagues in other units
    n_ties = rng.poisson(degree * len(can) / 2) if len(can) else 0
    if n_ties == 0:
        return np.empty((0, 2), np.int32)
    a_pos = can[rng.integers(0, len(can), n_ties)]
    # Draw among the organisation's staff outside the own unit's block, then skip over the block.
    r = (rng.random(n_ties) * (o_size[a_pos] - u_size[a_pos])).astype(np.int64)
    offset = u_start[a_pos] - o_start[a_pos]
    r = np.where(r >= offset, r + u_size[a_pos], r)
    b_pos = o_start[a_pos] + r
    return np.stack([order[a_pos], order[b_pos]], axis=1).astype(np.int32)


def care_pathway(pop: Population, degree: float, seed: int,
                 dyads: CarePathways | None = None) -> np.ndarray:
    """Ties across the specialist/municipal boundary within each catchment (mean degree).

    The number of ties per catchment is Poisson(degree × its boundary staff / 2) either way; with
    ``dyads``, each tie's two units are a dyad of that catchment drawn by volume (module doc).
    """
    rng = stream(seed, "network:care_pathway")
    specialist_codes = [KIND_CODE[k] for k in SPECIALIST_KINDS]
    specialist = np.isin(pop.staff_kind, specialist_codes)
    trust = pop.org_trust[pop.unit_org[pop.staff_unit]]
    members = _unit_members(pop) if dyads is not None and len(dyads.volume) else None
    dyad_trust = pop.unit_trust[dyads.from_unit] if members is not None else None
    out = []
    for t in np.unique(trust):
        s = np.flatnonzero((trust == t) & specialist)
        m = np.flatnonzero((trust == t) & ~specialist)
        n_ties = rng.poisson(degree * (len(s) + len(m)) / 2) if len(s) and len(m) else 0
        mine = np.flatnonzero(dyad_trust == t) if members is not None else np.zeros(0, int)
        if len(mine) and n_ties:
            out.append(_dyad_pairs(rng, members, dyads, mine, n_ties))
        else:
            out.append(_random_pairs(rng, s, m, n_ties))
    return np.concatenate(out).astype(np.int32) if out else np.empty((0, 2), np.int32)


def _unit_members(pop: Population) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Staff ordered by unit, each unit's first position in that order, and its size."""
    order = np.argsort(pop.staff_unit, kind="stable")
    size = np.bincount(pop.staff_unit, minlength=pop.n_units)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    return order, start, size


def _dyad_pairs(rng: np.random.Generator, members: tuple[np.ndarray, np.ndarray, np.ndarray],
                dyads: CarePathways, mine: np.ndarray, n_ties: int) -> np.ndarray:
    """``n_ties`` staff pairs, one member of each unit of a dyad drawn by volume."""
    order, start, size = members
    p = dyads.volume[mine] / dyads.volume[mine].sum()
    pick = mine[rng.choice(len(mine), size=n_ties, p=p)]
    ends = []
    for unit in (dyads.from_unit[pick], dyads.to_unit[pick]):
        k = (rng.random(n_ties) * size[unit]).astype(np.int64)
        ends.append(order[start[unit] + k])
    return np.stack(ends, axis=1)


def generate_network(pop: Population, net: dict[str, Any], seed: int,
                     dyads: CarePathways | None = None) -> CollaborationNetwork:
    """All generated layers for a population, from the scenario's ``[network]`` parameters.

    ``dyads`` (the run's care pathways) place the care-pathway ties where patients flow.
    """
    layers = [
        ("within_unit", within_unit(pop, net["within_unit_degree"], net["within_unit_rewiring"],
                                    seed)),
        ("cross_unit", cross_unit(pop, net["cross_unit_degree"], seed)),
        ("care_pathway", care_pathway(pop, net["cross_boundary_degree"], seed, dyads)),
    ]
    edges = np.concatenate([e for _, e in layers]) if layers else np.empty((0, 2), np.int32)
    layer = np.concatenate([np.full(len(e), LAYERS.index(name), np.int8) for name, e in layers])
    return CollaborationNetwork(pop.n_staff, edges.astype(np.int32), layer, directed=False)

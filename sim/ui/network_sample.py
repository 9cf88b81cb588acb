"""A drawable sample of the collaboration network: a few hundred staff, whole units first.

A catchment has thousands of staff and a national scenario a hundred thousand; a drawing of all
of them is a grey blur and slow to make. Sampling people at random would keep almost no ties
(most ties are within a unit), so the sample grows by units instead: start from a random unit,
then add units tied to those already taken (care pathways across the boundary show up), until
the node budget is spent; the last unit may be cut to fit. The layout is computed once per
sample so the picture stays still while colours change week by week.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp

MIN_PART = 10  # fewest staff of a unit drawn when the budget runs out inside it


@dataclass(frozen=True)
class NetworkSample:
    """Staff drawn (indices into the model's staff), their layout, and the budget used."""

    nodes: np.ndarray  # (n,) sorted staff indices
    positions: np.ndarray  # (n, 2) layout coordinates
    n_total: int  # staff in the whole network
    max_nodes: int

    @property
    def sampled(self) -> bool:
        """Whether only part of the network is drawn."""
        return len(self.nodes) < self.n_total

    def edges(self, adjacency: sp.spmatrix) -> np.ndarray:
        """(k, 2) ties among the sampled staff, as positions in :attr:`nodes` (i < j)."""
        sub = sp.csr_matrix(adjacency)[self.nodes][:, self.nodes]
        sub = sp.triu(sub + sub.T, k=1).tocoo()
        return np.column_stack([sub.row, sub.col]).astype(np.int64)


def sample_network(adjacency: sp.spmatrix, staff_unit: np.ndarray, max_nodes: int,
                   rng: np.random.Generator) -> NetworkSample:
    """Choose at most ``max_nodes`` staff, unit by unit along ties, and lay them out."""
    if max_nodes < 1:
        raise ValueError(f"max_nodes must be at least 1, got {max_nodes}")
    adj = sp.csr_matrix(adjacency)
    n = adj.shape[0]
    staff_unit = np.asarray(staff_unit)
    if n <= max_nodes:
        nodes = np.arange(n)
    else:
        nodes = _grow_by_units(adj, staff_unit, max_nodes, rng)
    sub = adj[nodes][:, nodes]
    graph = nx.from_scipy_sparse_array(sub + sub.T)
    seed = int(rng.integers(2**31 - 1))
    layout = nx.spring_layout(graph, seed=seed, iterations=60) if len(nodes) > 1 else {0: (0, 0)}
    positions = np.array([layout[i] for i in range(len(nodes))], float)
    return NetworkSample(nodes=nodes, positions=positions, n_total=n, max_nodes=max_nodes)


def _grow_by_units(adj: sp.csr_matrix, staff_unit: np.ndarray, budget: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Staff of whole units reached along ties from a random first unit, within ``budget``."""
    n_units = int(staff_unit.max()) + 1
    order = np.argsort(staff_unit, kind="stable")  # staff grouped by unit, in one pass
    bounds = np.searchsorted(staff_unit[order], np.arange(n_units + 1))
    members = [order[bounds[u]:bounds[u + 1]] for u in range(n_units)]
    taken: list[np.ndarray] = []
    used = 0
    seen = np.zeros(n_units, bool)
    frontier: list[int] = [int(rng.integers(n_units))]
    while used < budget and (frontier or not seen.all()):
        if not frontier:  # no tie leads further: jump to a random unit not yet taken
            frontier = [int(rng.choice(np.flatnonzero(~seen)))]
        unit = frontier.pop(int(rng.integers(len(frontier))))
        if seen[unit]:
            continue
        seen[unit] = True
        staff = members[unit]
        if len(staff) == 0:
            continue
        if used + len(staff) > budget:
            if budget - used < min(MIN_PART, len(staff)):
                break  # a few people cut off from their unit would only float about
            staff = np.sort(rng.choice(staff, budget - used, replace=False))
        taken.append(staff)
        used += len(staff)
        neighbours = np.unique(staff_unit[adj[staff].indices])
        frontier.extend(int(u) for u in neighbours if not seen[u] and u not in frontier)
    return np.sort(np.concatenate(taken))

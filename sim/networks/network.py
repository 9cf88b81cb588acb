"""The multilayer collaboration network.

Edge arrays with layer labels, a sparse view for the hot loop and a networkx view for users.

Edges are stored once as integer arrays (fast to build at national scale); the simulation uses a
CSR *influence* matrix (row *i* = whom staff member *i* listens to), and users, plots and network
analysis get a ``networkx`` graph with a ``layers`` attribute per edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp

LAYERS = ("within_unit", "cross_unit", "care_pathway", "loaded", "collaborative")


@dataclass
class CollaborationNetwork:
    """Staff ties: ``edges[k] = (i, j)`` in layer ``LAYERS[layer[k]]``.

    ``directed`` means *i listens to j* only (e.g. *i named j as an adviser*); otherwise ties carry
    influence both ways.
    """

    n: int
    edges: np.ndarray  # (E, 2) int32
    layer: np.ndarray  # (E,) int8 index into LAYERS
    directed: bool = False

    def influence_matrix(self) -> sp.csr_matrix:
        """Binary CSR matrix ``A`` with ``A[i, j] = 1`` when *i* listens to *j* (no self-ties)."""
        i, j = self.edges[:, 0], self.edges[:, 1]
        if not self.directed:
            i, j = np.concatenate([i, j]), np.concatenate([j, i])
        keep = i != j
        a = sp.csr_matrix((np.ones(keep.sum(), np.float32), (i[keep], j[keep])),
                          shape=(self.n, self.n))
        a.sum_duplicates()
        a.data[:] = 1.0
        return a

    def degree(self) -> np.ndarray:
        """How many listen to each staff member (in-degree of influence): who is central."""
        return np.asarray(self.influence_matrix().sum(axis=0)).ravel()

    def layer_counts(self) -> dict[str, int]:
        """Number of (undirected, possibly repeated) ties per layer."""
        counts = np.bincount(self.layer, minlength=len(LAYERS))
        return {name: int(c) for name, c in zip(LAYERS, counts, strict=True) if c}

    def to_networkx(self, labels: list[str] | None = None) -> nx.Graph:
        """A networkx view: one edge per pair, attribute ``layers`` = sorted layer names."""
        g: nx.Graph = nx.DiGraph() if self.directed else nx.Graph()
        names = labels if labels is not None else list(range(self.n))
        g.add_nodes_from(names)
        for (a, b), lay in zip(self.edges.tolist(), self.layer.tolist(), strict=True):
            if a == b:
                continue
            u, v = names[a], names[b]
            if g.has_edge(u, v):
                layers = set(g.edges[u, v]["layers"]) | {LAYERS[lay]}
                g.edges[u, v]["layers"] = sorted(layers)
            else:
                g.add_edge(u, v, layers=[LAYERS[lay]])
        return g

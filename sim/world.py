"""The static world of a run: population, network and the matrices derived from them.

Built once per seed and shared read-only by every strategy run with that seed, so strategies are
compared on the same people and ties (common random numbers) and the build cost is paid once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from sim.bundles import Bundle
from sim.mechanisms.context import log_context
from sim.mechanisms.culture import apply_culture
from sim.mechanisms.fidelity import PerformedPairs
from sim.mechanisms.influence import leader_weights
from sim.networks.generators import generate_network
from sim.networks.network import LAYERS, CollaborationNetwork
from sim.networks.pathways import CarePathways, build_pathways
from sim.population import KIND_CODE, ROLE_CODE, Population, generate_catchment, shared_context
from sim.scenario import Scenario


@dataclass
class World:
    """Everything about a run that does not change over time."""

    pop: Population
    network: CollaborationNetwork
    bundles: list[Bundle]
    adjacency: sp.csr_matrix  # (N, N) binary: i listens to j
    leader_weight: np.ndarray  # (N,) float32 influence weight (opinion leaders weigh more)
    membership: sp.csr_matrix  # (U, N) unit membership
    pathways: sp.csr_matrix  # (U, U) care-pathway weights (patients per week), symmetric
    dyads: CarePathways  # the patient flows the weights come from (sim.networks.pathways)
    eligible: np.ndarray  # (N, B) bool: bundle applies to this person's setting and role
    performed: PerformedPairs  # the (staff, element) pairs somebody performs
    element_bundle: np.ndarray  # (E,) int: bundle of each element
    element_cross: np.ndarray  # (E,) bool: cross-boundary element
    log_ctx: np.ndarray  # (N, B) static log context multiplier
    unit_degree: np.ndarray  # (U,) mean ties per staff member of the unit
    eligible_per_unit: np.ndarray  # (U, B) eligible staff counts


def _element_tables(bundles: list[Bundle]) -> tuple[np.ndarray, ...]:
    eb, cross, base = [], [], []
    for b, bundle in enumerate(bundles):
        for e in bundle.elements:
            eb.append(b)
            cross.append(e.cross_boundary)
            base.append(e.baseline_fidelity)
    return np.asarray(eb, np.intp), np.asarray(cross, bool), np.asarray(base, np.float32)


def eligibility(pop: Population, bundles: list[Bundle]) -> tuple[np.ndarray, np.ndarray]:
    """(N, B) who a bundle applies to, and (N, E) who performs each element."""
    kind, role = pop.staff_kind, pop.staff_role
    elig = np.zeros((pop.n_staff, len(bundles)), bool)
    perf_cols = []
    for b, bundle in enumerate(bundles):
        # Eligible: performs at least one element of the bundle where that element is done.
        for e in bundle.elements:
            where = np.isin(kind, [KIND_CODE[k] for k in e.settings])
            elig[:, b] |= where & np.isin(role, [ROLE_CODE[r] for r in e.roles])
        for e in bundle.elements:
            where = np.isin(kind, [KIND_CODE[k] for k in e.settings])
            perf_cols.append(where & np.isin(role, [ROLE_CODE[r] for r in e.roles]))
    return elig, np.stack(perf_cols, axis=1)


def assemble_world(pop: Population, network: CollaborationNetwork, scenario: Scenario,
                   seed: int, dyads: CarePathways | None = None) -> World:
    """Derive the static matrices for a population and network.

    Care pathways (``dyads``, if not given) come from the scenario's pathways file, or are drawn
    from ``seed``'s ``pathways`` stream.
    """
    params = scenario.parameters
    adjacency = network.influence_matrix()
    degree = np.asarray(adjacency.sum(axis=0)).ravel()  # how many listen to j
    lw = leader_weights(degree, params["opinion_leader_share"], params["opinion_leader_weight"])
    elig, performs = eligibility(pop, scenario.bundles)
    eb, cross, base = _element_tables(scenario.bundles)
    membership = pop.membership()
    sizes = np.asarray(membership.sum(axis=1)).ravel()
    out_degree = np.asarray(adjacency.sum(axis=1)).ravel()
    unit_degree = (membership @ out_degree) / np.maximum(sizes, 1)
    if dyads is None:
        dyads = build_pathways(pop, scenario, seed)
    return World(
        pop=pop, network=network, bundles=scenario.bundles, adjacency=adjacency,
        leader_weight=lw, membership=membership, pathways=dyads.matrix(), dyads=dyads,
        eligible=elig,
        performed=PerformedPairs.of(performs, eb, base, len(scenario.bundles), pop.staff_unit,
                                    pop.n_units),
        element_bundle=eb, element_cross=cross,
        log_ctx=log_context(pop, params, scenario.bundles),
        unit_degree=unit_degree, eligible_per_unit=membership @ elig.astype(np.float32),
    )


def build_world(scenario: Scenario, seed: int) -> World:
    """Generate (or load) the population and network for ``seed`` and derive the rest."""
    net = scenario.network
    if net["file"]:
        from sim.networks.loaders import load_network  # file formats only when asked for
        from sim.population import population_from_graph

        graph = load_network(net["file"], net["nodes"] or None,
                             node_id_column=net["node_id_column"])
        pop, nodes = population_from_graph(graph, scenario.parameters, seed, net["file"],
                                           unit_attribute=net["unit_attribute"])
        index = {n: i for i, n in enumerate(nodes)}
        pairs = np.array([(index[a], index[b]) for a, b in graph.edges()], np.int32)
        pairs = pairs.reshape(-1, 2)
        directed = graph.is_directed() and net["directed_influence"]
        network = CollaborationNetwork(
            pop.n_staff, pairs, np.full(len(pairs), LAYERS.index("loaded"), np.int8), directed
        )
        dyads = None  # built from the loaded population in assemble_world
    else:
        if scenario.structure["municipalities"]:  # real municipalities, sized by ratios
            from sim.structure_data import build_population

            pop = build_population(scenario.structure, scenario.parameters, seed)
        else:
            pop = generate_catchment(scenario.structure, scenario.parameters, seed)
        dyads = build_pathways(pop, scenario, seed)  # care-pathway ties follow patient flows
        network = generate_network(pop, net, seed, dyads)
    pop = shared_context(pop, scenario.parameters, seed)  # trust/municipality/org effects
    pop = apply_culture(pop, scenario, seed)  # [measurement] culture figures set the climate
    return assemble_world(pop, network, scenario, seed, dyads)

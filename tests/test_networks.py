"""Generated network layers and loaded networks in the model."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from sim.model import ImplementationModel
from sim.networks.generators import generate_network
from sim.networks.network import LAYERS
from sim.params import NETWORK, SPECIALIST_KINDS
from sim.population import KIND_CODE, generate_catchment
from sim.scenario import load_scenario
from sim.world import build_world

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = load_scenario(None)


@pytest.fixture(scope="module")
def pop():
    return generate_catchment(DEFAULT.structure, DEFAULT.parameters, seed=1)


def layer_edges(net, name):
    return net.edges[net.layer == LAYERS.index(name)]


def test_default_catchment_size_matches_spec(pop):
    # SPEC §10: ~20 wards, ~10 municipalities, ~5-10k staff in a catchment
    assert 4000 <= pop.n_staff <= 10000
    kinds = {k for k, code in KIND_CODE.items() if (pop.org_kind == code).any()}
    assert kinds == {"hospital", "mental_health", "nursing_home", "home_care", "gp"}
    assert ((pop.unit_kind == KIND_CODE["hospital"]).sum()) == 20


def test_layers_respect_their_definitions(pop):
    net = generate_network(pop, DEFAULT.network, seed=1)
    within = layer_edges(net, "within_unit")
    assert (pop.staff_unit[within[:, 0]] == pop.staff_unit[within[:, 1]]).all()
    cross = layer_edges(net, "cross_unit")
    org = pop.unit_org[pop.staff_unit]
    assert (org[cross[:, 0]] == org[cross[:, 1]]).all()
    assert (pop.staff_unit[cross[:, 0]] != pop.staff_unit[cross[:, 1]]).all()
    path = layer_edges(net, "care_pathway")
    spec = np.isin(pop.staff_kind, [KIND_CODE[k] for k in SPECIALIST_KINDS])
    assert len(path) > 0
    assert (spec[path[:, 0]] != spec[path[:, 1]]).all()  # every pathway tie crosses the boundary
    trust = pop.org_trust[pop.unit_org[pop.staff_unit]]
    assert (trust[path[:, 0]] == trust[path[:, 1]]).all()


def test_mean_degrees_follow_parameters(pop):
    par = {**DEFAULT.network, "within_unit_degree": 8, "cross_unit_degree": 2.0,
           "cross_boundary_degree": 1.0, "within_unit_rewiring": 0.0}
    net = generate_network(pop, par, seed=2)
    n = pop.n_staff
    assert 2 * len(layer_edges(net, "within_unit")) / n == pytest.approx(8, rel=0.02)
    # cross-unit ties: mean over staff of organisations with more than one unit
    org = pop.unit_org[pop.staff_unit]
    units_per_org = np.bincount(pop.unit_org)
    multi = (units_per_org[org] > 1).sum()
    assert 2 * len(layer_edges(net, "cross_unit")) / multi == pytest.approx(2.0, rel=0.05)
    assert 2 * len(layer_edges(net, "care_pathway")) / n == pytest.approx(1.0, rel=0.1)


def test_rewiring_controls_clustering(pop):
    def clustering(p):
        par = {**DEFAULT.network, "within_unit_rewiring": p, "cross_unit_degree": 0.0,
               "cross_boundary_degree": 0.0, "within_unit_degree": 6}
        return nx.average_clustering(generate_network(pop, par, seed=3).to_networkx())

    lattice = clustering(0.0)
    # ring lattice of degree k: C = 3(k-2) / (4(k-1)) = 0.6 for k = 6 (Watts & Strogatz 1998)
    assert lattice == pytest.approx(0.6, abs=0.03)
    assert clustering(1.0) < lattice - 0.2


def test_network_is_reproducible_from_seed(pop):
    a = generate_network(pop, DEFAULT.network, seed=5)
    b = generate_network(pop, DEFAULT.network, seed=5)
    c = generate_network(pop, DEFAULT.network, seed=6)
    np.testing.assert_array_equal(a.edges, b.edges)
    assert a.edges.shape != c.edges.shape or not np.array_equal(a.edges, c.edges)


def test_changing_one_layer_leaves_the_others(pop):
    """Each layer draws from its own stream."""
    a = generate_network(pop, DEFAULT.network, seed=7)
    b = generate_network(pop, {**DEFAULT.network, "cross_unit_degree": 3.0}, seed=7)
    for name in ("within_unit", "care_pathway"):
        np.testing.assert_array_equal(layer_edges(a, name), layer_edges(b, name))


def test_networkx_view_has_layers(pop):
    g = generate_network(pop, DEFAULT.network, seed=1).to_networkx(pop.staff_label)
    assert g.number_of_nodes() == pop.n_staff
    layers = {lay for _, _, d in g.edges(data=True) for lay in d["layers"]}
    assert layers == {"within_unit", "cross_unit", "care_pathway"}


def test_network_parameters_are_declared_once():
    assert {"within_unit_degree", "cross_boundary_degree", "file"} <= set(NETWORK.names())


def test_medical_innovation_network_runs_in_the_model():
    sc = load_scenario(ROOT / "experiments" / "medical_innovation.toml")
    world = build_world(sc, 1)
    assert world.pop.n_staff == 125
    assert world.network.directed
    # four towns become four units
    assert len(world.pop.unit_name) == 4
    # influence follows nominations: the doctor who named someone listens to them
    assert world.adjacency.nnz == world.network.edges.shape[0]
    model = ImplementationModel(sc, seed=1, world=world).run()
    users = model.recorder.users[-1, :, 0].sum()
    assert 0 < users <= 125

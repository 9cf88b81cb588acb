"""Collaboration networks: layered generators, file loaders, and the network data structure."""

from sim.networks.network import LAYERS, CollaborationNetwork

__all__ = ["LAYERS", "CollaborationNetwork"]

"""Random streams: one root seed, one independent numpy Generator per named component.

Each component (network builder, mechanism, intervention) draws from its own stream, keyed by the
run's seed and a stable hash of the component's name. Adding an intervention therefore does not
shift any other component's draws, and replicate *k* of every strategy sees the same draws for the
same purposes: common random numbers, so strategy comparisons are paired.
"""

from __future__ import annotations

import hashlib

import numpy as np


def name_key(name: str) -> int:
    """A stable 32-bit key for a component name (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def stream(seed: int, name: str) -> np.random.Generator:
    """The generator for component ``name`` in a run with root ``seed``."""
    seq = np.random.SeedSequence(seed, spawn_key=(name_key(name),))
    return np.random.Generator(np.random.PCG64(seq))


def replicate_seeds(root_seed: int, replicates: int) -> list[int]:
    """Per-replicate run seeds spawned from one root seed.

    Replicate *k*'s seed does not depend on how many replicates are asked for, so adding
    replicates keeps the earlier ones.
    """
    children = np.random.SeedSequence(root_seed).spawn(replicates)
    return [int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in children]

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


def _sequence(root: int, key: tuple[int | str, ...]) -> np.random.SeedSequence:
    """The seed sequence of child ``key`` of ``root``; names stand for their :func:`name_key`."""
    return np.random.SeedSequence(root, spawn_key=tuple(
        name_key(k) if isinstance(k, str) else k for k in key))


def stream(seed: int, name: str) -> np.random.Generator:
    """The generator for component ``name`` in a run with root ``seed``."""
    return np.random.Generator(np.random.PCG64(_sequence(seed, (name,))))


def child_seed(root: int, *key: int | str) -> int:
    """An integer seed (in [0, 2⁶³)) for child ``key`` of ``root``: the one derivation of seeds.

    Replicate seeds, experiment run seeds and calibration batch seeds all come from here. A
    key is a path of integers and names, e.g. ``child_seed(root, k)`` for replicate *k*
    (what ``SeedSequence(root).spawn(n)[k]`` gives) or ``child_seed(root, "calibrate:batch",
    t, b)``; different keys give independent seeds.
    """
    return int(_sequence(root, key).generate_state(1, np.uint64)[0] >> np.uint64(1))


def replicate_seeds(root_seed: int, replicates: int) -> list[int]:
    """Per-replicate run seeds spawned from one root seed.

    Replicate *k*'s seed does not depend on how many replicates are asked for, so adding
    replicates keeps the earlier ones.
    """
    return [child_seed(root_seed, k) for k in range(replicates)]

"""Random streams: one root seed, one independent numpy Generator per named component.

Each component (network builder, mechanism, intervention) draws from its own stream, keyed by the
run's seed and a stable hash of the component's name. Adding an intervention therefore does not
shift any other component's draws, and replicate *k* of every strategy sees the same draws for the
same purposes: common random numbers, so strategy comparisons are paired.

Two kinds of draws, both from one root seed:

- **Generator streams** (:func:`stream`) for building a world (structure, traits, ties) and for
  events whose number varies (turnover's leavers and their traits, collaborative sessions).
- **Counter-based draws** (:func:`week_key`, :func:`uniform_at`) for the weekly decisions of the
  hot loop and for anything drawn per (staff, bundle) entry: each draw is a pure function of
  (seed, stream name, week, entry), made only where a rule applies.
"""

from __future__ import annotations

import functools
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


# --- counter-based draws ------------------------------------------------------------------------
#
# The weekly draws of the hot loop (who hears, who starts trying, who abandons, who makes it
# routine) are each a pure function of (run seed, stream name, week, entry): SplitMix64 (Steele,
# Lea & Flood 2014, "Fast splittable pseudorandom number generators", OOPSLA; the generator
# behind Java's SplittableRandom) evaluated at position ``entry`` of the sequence seeded by the
# week's key. A draw is made only where a rule applies, and it is the same draw in every
# strategy and for any subset of entries: common random numbers by construction, and a batch of
# worlds can draw for each world's entries with that world's key. The week's key comes from the
# same SeedSequence derivation as every other seed, so (seed, name, week) keys are independent.
# Two keys' sequences overlap in a run only if their difference is within n_entries multiples
# of the gamma: a chance of about n_entries / 2⁶⁴ per pair.

#: SplitMix64's increment (the odd integer nearest 2⁶⁴/φ).
GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
#: Float32 draws keep the top 24 bits: exactly representable, in [0, 1), as numpy's float32.
UNIT24 = np.float32(2.0**-24)
_MASK = 2**64 - 1


@functools.lru_cache(maxsize=4096)
def stream_key(seed: int, name: str) -> int:
    """The 64-bit key of counter stream ``name`` in a run with root ``seed`` (SeedSequence)."""
    return int(_sequence(seed, ("counter", name)).generate_state(1, np.uint64)[0])


def _mix64(z: int) -> int:
    """SplitMix64's output function on a Python integer (modulo 2⁶⁴)."""
    z &= _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def week_key(seed: int, name: str, week: int) -> int:
    """The 64-bit key of stream ``name`` in ``week``: SplitMix64 of the stream's key at ``week``.

    A SeedSequence costs ~50 µs, a tenth of a catchment week if made for every stream every
    week (measured); the stream's key is made once per run, and each week's key is the
    stream's own SplitMix64 sequence at position ``week``.
    """
    return _mix64(stream_key(seed, name) + (int(week) + 1) * int(GAMMA))


@functools.lru_cache(maxsize=16384)  # a run's audits ask for the same pairs every period
def named_key(seed: int, name: str) -> int:
    """The key of one of many small counter streams (one per unit, say) in a run of ``seed``.

    SplitMix64's mix of the run's ``named`` stream key XOR the name's 64-bit hash: a bijection of
    distinct hashes, so distinct names give distinct keys, at ~2 µs instead of a SeedSequence
    (~50 µs) per name per run (audits ask for hundreds).
    """
    h = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return _mix64(stream_key(seed, "named") ^ h)


def uniform_at(key: int | np.ndarray, entries: np.ndarray) -> np.ndarray:
    """Float32 uniforms in [0, 1) at flat ``entries`` of the sequence ``key`` (SplitMix64).

    ``key`` may be an array of keys broadcast against ``entries`` (several streams at once).
    Vectorised numpy; :func:`sim.kernels.draws.uniform` is the same function inside compiled
    kernels (tested equal bit for bit).
    """
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps modulo 2⁶⁴ by design
        z = (np.asarray(entries).astype(np.uint64) + np.uint64(1)) * GAMMA
        z = z + np.asarray(key, np.uint64)
        z ^= z >> np.uint64(30)
        z *= _M1
        z ^= z >> np.uint64(27)
        z *= _M2
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(40)).astype(np.float32) * UNIT24

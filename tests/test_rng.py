"""Child seeds: one derivation in sim.rng, giving the numbers the earlier idioms gave."""

from __future__ import annotations

import numpy as np

from sim.rng import child_seed, name_key, replicate_seeds, stream


def _old(seq: np.random.SeedSequence) -> int:
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))


def test_replicate_seeds_are_spawned_children():
    root = 4242
    assert replicate_seeds(root, 4) == [_old(c) for c in np.random.SeedSequence(root).spawn(4)]
    assert replicate_seeds(root, 2) == replicate_seeds(root, 4)[:2]
    assert replicate_seeds(1, 1) == [child_seed(1, 0)]


def test_named_keys_use_the_name_key():
    root = 7
    expected = _old(np.random.SeedSequence(root, spawn_key=(2, 0, 1, name_key("independent"))))
    assert child_seed(root, 2, 0, 1, "independent") == expected
    batch = _old(np.random.SeedSequence(root, spawn_key=(name_key("calibrate:batch"), 3, 4)))
    assert child_seed(root, "calibrate:batch", 3, 4) == batch
    assert child_seed(root, "calibrate:batch", 3, 4) != child_seed(root, "calibrate:batch", 4, 3)


def test_stream_is_the_named_child_sequence():
    seq = np.random.SeedSequence(5, spawn_key=(name_key("x"),))
    want = np.random.Generator(np.random.PCG64(seq)).random(3)
    assert np.array_equal(stream(5, "x").random(3), want)
    assert 0 <= child_seed(2**63 - 1, "x") < 2**63

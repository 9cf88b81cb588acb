"""Child seeds: one derivation in sim.rng, giving the numbers the earlier idioms gave."""

from __future__ import annotations

import numpy as np
import pytest

from sim.rng import child_seed, name_key, replicate_seeds, stream, uniform_at, week_key


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


# --- counter-based draws ------------------------------------------------------------------------

def _splitmix64(key: int, entry: int) -> float:
    """SplitMix64 in Python integers, written from the published algorithm (the reference)."""
    mask = 2**64 - 1
    z = (key + (entry + 1) * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return (z >> 40) / 2**24


def test_uniform_at_is_splitmix64_at_the_entry():
    key = week_key(11, "adoption", 3)
    entries = np.array([0, 1, 2, 17, 2**31 + 5, 10**12])
    want = np.array([_splitmix64(key, int(e)) for e in entries], np.float32)
    assert np.array_equal(uniform_at(key, entries), want)
    assert uniform_at(key, entries).dtype == np.float32


def test_a_draw_depends_only_on_its_key_and_entry():
    key = week_key(3, "abandon", 9)
    every = uniform_at(key, np.arange(5000))
    subset = np.array([4999, 7, 7, 1234, 0])
    assert np.array_equal(uniform_at(key, subset), every[subset])  # any subset, any order


def test_keys_differ_by_seed_name_and_week():
    keys = {week_key(s, n, t) for s in (0, 1) for n in ("adoption", "awareness") for t in (0, 1, 2)}
    assert len(keys) == 12
    assert week_key(5, "adoption", 4) == week_key(5, "adoption", 4)


def test_counter_draws_are_uniform_and_independent_across_keys():
    from scipy import stats

    n = 200_000
    a = uniform_at(week_key(1, "adoption", 1), np.arange(n)).astype(np.float64)
    b = uniform_at(week_key(1, "adoption", 2), np.arange(n)).astype(np.float64)
    c = uniform_at(week_key(1, "awareness", 1), np.arange(n)).astype(np.float64)
    assert 0.0 <= a.min() and a.max() < 1.0
    assert stats.kstest(a, "uniform").pvalue > 1e-3
    counts = np.bincount((a * 100).astype(int), minlength=100)
    assert stats.chisquare(counts).pvalue > 1e-3
    for x, y in ((a, b), (a, c), (a[:-1], a[1:])):  # across weeks, streams, neighbours
        assert abs(np.corrcoef(x, y)[0, 1]) < 4 / np.sqrt(n)


def test_compiled_uniform_equals_numpy():
    draws = pytest.importorskip("sim.kernels.draws")
    key = week_key(8, "routinise", 30)
    entries = np.array([0, 3, 99, 123_456, 2**40], np.int64)
    got = np.array([draws.uniform(np.uint64(key), e) for e in entries], np.float32)
    assert np.array_equal(got, uniform_at(key, entries))


def test_week_keys_are_the_stream_keys_splitmix64_sequence():
    from sim.rng import stream_key

    base = stream_key(4, "adoption")
    for week in (0, 1, 52):
        z = (base + (week + 1) * 0x9E3779B97F4A7C15) & (2**64 - 1)
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
        assert week_key(4, "adoption", week) == z ^ (z >> 31)
    assert stream_key(4, "adoption") != stream_key(4, "abandon") != stream_key(5, "abandon")


def test_named_keys_are_distinct_per_name_and_seed_and_repeatable():
    from sim.rng import named_key

    names = [f"audit:Ward {i}:antibiotic_stewardship" for i in range(500)]
    keys = [named_key(9, n) for n in names]
    assert len(set(keys)) == len(names)
    assert keys[3] == named_key(9, names[3]) != named_key(10, names[3])


def test_an_array_of_keys_draws_each_keys_own_sequence():
    keys = np.array([week_key(1, "a", 0), week_key(1, "b", 0)], np.uint64)
    entries = np.array([0, 5, 9])
    both = uniform_at(keys[:, None], entries[None, :])
    assert both.shape == (2, 3)
    for i, k in enumerate(keys):
        assert np.array_equal(both[i], uniform_at(int(k), entries))

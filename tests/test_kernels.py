"""The compiled kernels (sim.kernels) against their numpy references: kernel by kernel, whole runs.

Every kernel claims bit-identity with the numpy code (same arithmetic, same order, same dtype),
so every comparison here is exact (``array_equal``, NaNs equal), on random inputs from seeded
generators and on runs of the default scenario on a small structure.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from sim import kernels
from sim.errors import InputError

numba = pytest.importorskip("numba")

from sim.kernels import collective as kc  # noqa: E402
from sim.kernels import fidelity as kf  # noqa: E402
from sim.mechanisms import adoption, collective, fidelity, sustainment  # noqa: E402
from sim.model import ImplementationModel  # noqa: E402
from sim.rng import uniform_at  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402
from sim.state import ABANDONED, AWARE, ROUTINE, TRYING  # noqa: E402

SMALL = {"hospital_trusts": 1, "wards_per_trust": 3, "mental_health_units_per_trust": 1,
         "municipalities_per_trust": 2, "staff_per_ward": 8}


@pytest.fixture
def numpy_path(monkeypatch):
    """Run the reference (numpy) path for the duration of a test."""
    monkeypatch.setattr(kernels, "PATH", "numpy")


def random_pairs(rng: np.random.Generator, n: int = 60, n_b: int = 3, n_units: int = 7,
                 per_bundle: int = 4) -> tuple[fidelity.PerformedPairs, int]:
    """Random performed pairs: ``n`` staff, ``n_b`` bundles of ``per_bundle`` elements."""
    n_e = n_b * per_bundle
    element_bundle = np.repeat(np.arange(n_b), per_bundle)
    performs = rng.random((n, n_e)) < 0.4
    baseline = rng.random(n_e).astype(np.float32)
    staff_unit = rng.integers(0, n_units, n)
    return fidelity.PerformedPairs.of(performs, element_bundle, baseline, n_b, staff_unit,
                                      n_units), n_e


def f32(rng: np.random.Generator, shape, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    return rng.uniform(low, high, shape).astype(np.float32)


def test_the_path_is_read_from_the_environment_and_bad_values_are_one_line():
    assert kernels.choose("numpy") == "numpy"
    assert kernels.choose(" NUMBA ") == "numba"
    assert kernels.choose(None) == "numba"  # numba is installed here (importorskip above)
    with pytest.raises(InputError, match="IMPLSIM_KERNELS"):
        kernels.choose("fortran")


def test_compiled_only_for_plain_scalars(monkeypatch):
    monkeypatch.setattr(kernels, "PATH", "numba")
    assert kernels.compiled(0.1, 1, True)
    assert not kernels.compiled(np.float64(0.1))  # numpy would compute in float64
    monkeypatch.setattr(kernels, "PATH", "numpy")
    assert not kernels.compiled()


@pytest.mark.parametrize("seed", range(5))
def test_update_fidelity_is_bit_identical(seed, numpy_path):
    rng = np.random.default_rng(seed)
    pairs, _ = random_pairs(rng)
    n, n_b, n_u = 60, 3, 7
    start = f32(rng, len(pairs.staff))
    start[:5] = [0.0, 1.0, 0.999, 1e-7, 0.5]
    using = rng.random((n, n_b)) < 0.5
    knowledge, support = f32(rng, (n, n_b)), f32(rng, (n_u, n_b))
    complexity = f32(rng, n_b)
    gain, decay = float(rng.uniform(0, 1)), float(rng.uniform(0, 1))
    ref, new = start.copy(), start.copy()
    fidelity.update_fidelity(ref, pairs, using, knowledge, support, gain, decay, complexity)
    kf.update_fidelity(new, pairs, using, knowledge, support, gain, decay, complexity)
    assert new.dtype == ref.dtype == np.float32
    assert np.array_equal(new, ref)
    assert not np.array_equal(new, start)  # the update did something


@pytest.mark.parametrize("seed", range(5))
def test_update_knowledge_is_bit_identical(seed, numpy_path):
    from sim.kernels.knowledge import update_knowledge as compiled
    from sim.mechanisms.awareness import update_knowledge

    rng = np.random.default_rng(seed)
    start = f32(rng, (200, 4))
    start[0, :] = [0.0, 1.0, 0.999, 1e-7]
    using = rng.random(start.shape) < 0.5
    gain, decay = float(rng.uniform(0, 1)), float(rng.uniform(0, 0.2))
    ref, new = start.copy(), start.copy()
    update_knowledge(ref, using, gain, decay)
    compiled(new.reshape(-1), using.reshape(-1), np.float32(gain), np.float32(decay))
    assert new.dtype == ref.dtype == np.float32
    assert np.array_equal(new, ref)
    assert np.all(new[using] >= start[using]) and np.all(new[~using] <= start[~using])


@pytest.mark.parametrize("seed", range(3))
def test_incremental_neighbour_sums_are_bit_identical(seed, monkeypatch):
    import scipy.sparse as sp

    from sim.mechanisms import influence

    rng = np.random.default_rng(seed)
    n, n_b = 300, 3
    a = sp.random(n, n, density=0.03, format="csr", random_state=seed, dtype=np.float32)
    a.data[:] = 1.0  # directed: columns differ from rows
    weights = rng.choice([1.0, 2.0, 1.7, 5.1], size=(n, n_b)).astype(np.float32)
    paths = {p: influence.NeighbourSums(a, weights, full_share=0.5) for p in ("numpy", "numba")}
    using = rng.random((n, n_b)) < 0.3
    incremental = 0
    for week in range(40):
        using = using ^ (rng.random((n, n_b)) < 0.03)
        got = {}
        for path, sums in paths.items():
            monkeypatch.setattr(kernels, "PATH", path)
            ties, weighted = sums(using)
            got[path] = ties.copy(), weighted.copy()
        incremental += week > 0
        assert np.array_equal(got["numba"][0], got["numpy"][0])
        assert np.array_equal(got["numba"][1], got["numpy"][1])
        assert not got["numba"][1][got["numba"][0] == 0].any()
    assert incremental == 39  # every later week was an incremental update


@pytest.mark.parametrize("seed", range(5))
def test_staff_fidelity_is_bit_identical(seed, numpy_path):
    rng = np.random.default_rng(seed)
    pairs, _ = random_pairs(rng, per_bundle=int(rng.integers(1, 12)))
    fid = f32(rng, len(pairs.staff))
    entries = np.sort(rng.choice(pairs.per_staff_bundle.size, 100, replace=False))
    ref = fidelity.staff_fidelity(fid, pairs, entries)
    new = kf.staff_fidelity(fid, pairs, entries)
    assert new.dtype == ref.dtype == np.float32
    assert np.array_equal(new, ref)
    assert np.any(pairs.per_staff_bundle.reshape(-1)[entries] == 0)  # the 0-pair case is in


@pytest.mark.parametrize("seed", range(5))
def test_unit_performance_is_bit_identical(seed, numpy_path):
    rng = np.random.default_rng(seed)
    pairs, _ = random_pairs(rng, n=200, n_units=5)  # many staff per cell: long float32 sums
    fid = f32(rng, len(pairs.staff))
    ref, ref_n = collective.unit_performance(fid, pairs)
    new, new_n = kc.unit_performance(fid, pairs)
    assert new.dtype == ref.dtype == np.float32
    assert np.array_equal(new, ref, equal_nan=True)
    assert np.array_equal(new_n, ref_n)


@pytest.mark.parametrize("correlation", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("n_units", [1, 2, 30])
@pytest.mark.parametrize("seed", range(3))
def test_bundle_compliance_is_bit_identical(seed, n_units, correlation, numpy_path):
    rng = np.random.default_rng(seed)
    # bundles of 1 to 60 elements (numpy's sum of one row turns pairwise at 8), some not
    # applicable; one unit (a contiguous row in numpy) and several (column-major)
    sizes = [1, 3, 5, 8, 9, 17, 20, 60]
    element_bundle = np.repeat(np.arange(len(sizes)), sizes)
    eff = f32(rng, (n_units, len(element_bundle)))
    eff[rng.random(eff.shape) < 0.3] = np.nan
    if n_units > 1:
        eff[0, :] = np.nan  # a unit where nothing applies
    ref = collective.bundle_compliance(eff, element_bundle, len(sizes), correlation)
    new = kc.bundle_compliance(eff, element_bundle, len(sizes), correlation)
    for a, b in zip(new, ref, strict=True):
        assert a.dtype == b.dtype == np.float32
        assert np.array_equal(a, b, equal_nan=True)


def test_pairwise_sum_is_numpys():
    rng = np.random.default_rng(0)
    for n in [0, 1, 7, 8, 9, 15, 16, 17, 100, 127, 128]:
        a = f32(rng, n, 0, 3)
        assert kc.pairwise_sum(a, 0, n) == a.sum()


class FakeWeek:
    """What :func:`sustainment.sustain` reads of a week, built from random arrays."""

    def __init__(self, rng: np.random.Generator, ceiling: float) -> None:
        from types import SimpleNamespace

        n, n_b, n_u = 80, 3, 6
        self.pairs, _ = random_pairs(rng, n=n, n_b=n_b, n_units=n_u)
        staff_unit = rng.integers(0, n_u, n)
        self._entry_unit_cell = (staff_unit[:, None] * n_b + np.arange(n_b)).reshape(-1)
        self.state = SimpleNamespace(
            stage=rng.integers(0, 5, (n, n_b)).astype(np.int8), log_ctx=f32(rng, (n, n_b), -2, 2),
            fit=f32(rng, (n, n_b)), fidelity=f32(rng, len(self.pairs.staff)))
        self.levers = SimpleNamespace(context=f32(rng, (n_u, n_b), -1, 1),
                                      support=f32(rng, (n_u, n_b)),
                                      protected=rng.random((n, n_b)) < 0.2)
        self.world = SimpleNamespace(performed=self.pairs)
        # large hazards, so that both draws decide often
        self.par = {"p_abandon": 0.4, "routine_protection": 0.8, "p_routinise": 0.9,
                    "adoption_ceiling": ceiling, "beta_ceiling_support": 4.6}
        self._keys = {k: int(rng.integers(2**63)) for k in ("abandon", "routinise", "adoption")}

    def key(self, name: str) -> int:
        return self._keys[name]

    def draw(self, name: str, entries: np.ndarray) -> np.ndarray:
        return uniform_at(self._keys[name], entries)

    def at(self, values: np.ndarray, entries: np.ndarray) -> np.ndarray:
        return values.reshape(-1)[entries]

    def unit_at(self, values: np.ndarray, entries: np.ndarray) -> np.ndarray:
        return values.reshape(-1)[self._entry_unit_cell[entries]]


@pytest.mark.parametrize("ceiling", [1.0, 0.65, 0.0])
@pytest.mark.parametrize("seed", range(4))
def test_sustain_is_bit_identical(seed, ceiling, monkeypatch):
    weeks = [FakeWeek(np.random.default_rng(seed), ceiling) for _ in range(2)]
    before = weeks[0].state.stage.copy()
    monkeypatch.setattr(kernels, "PATH", "numpy")
    sustainment.sustain(weeks[0])
    monkeypatch.setattr(kernels, "PATH", "numba")
    sustainment.sustain(weeks[1])
    assert np.array_equal(weeks[1].state.stage, weeks[0].state.stage)
    after = weeks[0].state.stage
    changed = after[after != before]
    assert np.any(changed == ABANDONED) and np.any(changed == ROUTINE)  # both rules acted
    became_routine = (after == ROUTINE) & (before != ROUTINE)
    assert np.all(before[became_routine] == TRYING)


class FakeAdoptionWeek(FakeWeek):
    """What :func:`adoption.adopt` reads of a week, built from random arrays."""

    def __init__(self, rng: np.random.Generator, ceiling: float, contagion: str) -> None:
        from types import SimpleNamespace

        super().__init__(rng, ceiling)
        n, n_b = self.state.stage.shape
        self._entry_staff = np.repeat(np.arange(n, dtype=np.int32), n_b)
        self.state.threshold = f32(rng, n, 0, 0.6)
        self.levers.boost = f32(rng, self.levers.context.shape, -1, 1)
        self.state.knowledge = f32(rng, (n, n_b))
        total = f32(rng, (n, n_b), 0, 5)
        total[rng.random((n, n_b)) < 0.1] = 0.0  # people without ties
        using = (rng.random((n, n_b)) * total).astype(np.float64)
        self.model = SimpleNamespace(weight_total=total)
        self.colleagues_using = (None, using)
        self.par.update({"q_imitation": 0.6, "beta_concurrent": 0.3, "p_innovation": 0.2,
                         "beta_knowledge": 1.5, "contagion": contagion})

    def staff_of(self, entries: np.ndarray) -> np.ndarray:
        return self._entry_staff[entries]


@pytest.mark.parametrize("contagion", ["simple", "complex"])
@pytest.mark.parametrize("ceiling", [1.0, 0.65])
@pytest.mark.parametrize("seed", range(4))
def test_adopt_is_bit_identical(seed, ceiling, contagion, monkeypatch):
    weeks = [FakeAdoptionWeek(np.random.default_rng(seed), ceiling, contagion)
             for _ in range(2)]
    before = weeks[0].state.stage.copy()
    monkeypatch.setattr(kernels, "PATH", "numpy")
    adoption.adopt(weeks[0])
    monkeypatch.setattr(kernels, "PATH", "numba")
    adoption.adopt(weeks[1])
    after = weeks[0].state.stage
    assert np.array_equal(weeks[1].state.stage, after)
    started = after != before
    assert started.any() and np.all(before[started] == AWARE)  # the rule acted on the aware
    assert np.any((before == AWARE) & ~started)  # and not on all of them


def run_state(ceiling: float, path: str, strategy: str, weeks: int = 80,
              contagion: str = "simple") -> ImplementationModel:
    saved = kernels.PATH
    kernels.PATH = path
    try:
        sc = load_scenario(None).with_overrides(
            structure=SMALL, parameters={"adoption_ceiling": ceiling, "contagion": contagion})
        sc.weeks = weeks
        return ImplementationModel(sc, strategy, sc.seed).run()
    finally:
        kernels.PATH = saved


@pytest.mark.parametrize(("ceiling", "strategy", "contagion"), [
    (1.0, "no extra support", "simple"), (0.65, "no extra support", "simple"),
    (1.0, "training + facilitation", "simple"), (0.65, "training + facilitation", "simple"),
    (0.65, "training + facilitation", "complex")])
def test_whole_runs_are_bit_identical_on_both_paths(ceiling, strategy, contagion):
    ref = run_state(ceiling, "numpy", strategy, contagion=contagion)
    new = run_state(ceiling, "numba", strategy, contagion=contagion)
    for name in ("stage", "knowledge", "fidelity", "unit_compliance", "unit_fidelity",
                 "unit_element", "capacity", "harm_expected", "harm_averted"):
        a, b = getattr(new.state, name), getattr(ref.state, name)
        assert a.dtype == b.dtype
        assert np.array_equal(a, b, equal_nan=True), name
    assert np.any(ref.state.stage >= TRYING)  # the kernels' rules had users to act on
    assert not np.array_equal(ref.state.fidelity, ref.world.performed.baseline)
    collected = [m.datacollector.get_model_vars_dataframe() for m in (new, ref)]
    assert collected[0].equals(collected[1])


def test_benchmark_pairs_both_paths_and_prints_each_kernel_phase():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "kernels.py"
    out = subprocess.run([sys.executable, str(script), "--warmup", "3", "--weeks", "4"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    assert "results identical every week" in out
    for name in ("adoption", "abandonment, then routinisation", "fidelity", "compliance"):
        assert re.search(rf"[\d.]+\s+[\d.]+\s+[\d.]+×  {re.escape(name)}\n", out), out

"""ABC-SMC: a population of parameter sets that moves from the prior towards the posterior.

The algorithm is the adaptive population Monte Carlo ABC of Beaumont et al. (2009) and the
ABC-SMC of Toni et al. (2009), with the tolerance chosen as in Del Moral et al. (2012):

1. Generation 0 draws ``population`` particles from the prior and simulates each (all kept).
2. Generation *t* sets its tolerance ε_t to the ``quantile`` (default the median) of the
   previous generation's weighted distances. It proposes a particle by picking one of the
   previous generation by weight and perturbing it with a Gaussian kernel whose covariance is
   twice the previous generation's weighted covariance (Beaumont et al.), redrawing both when
   the result falls outside the prior's support; it simulates it and keeps it if its distance
   is at most ε_t, until ``population`` particles are kept.
3. A kept particle θ gets the importance weight π(θ) / Σ_j w_j K(θ | θ_j), the prior over the
   kernel mixture it was drawn from. (Redrawing *both* the parent and the perturbation when the
   proposal leaves the support makes the proposal that mixture conditioned on the support, so
   the weights need no per-parent truncation constant.)
4. It stops after ``generations`` generations, when ε_t ≤ ``min_epsilon``, when a generation's
   acceptance rate (kept / simulated) falls below ``min_acceptance``, or before a batch of
   simulations would exceed ``max_simulations``. The last finished generation is the posterior
   sample.

Why not pyabc: pyabc draws its proposals from numpy's global random state and its multi-core
and Dask samplers accept whichever simulations finish first, so a run cannot be repeated from a
seed, and a restarted run does not restore the random state. Here every random draw comes from
a stream named by (generation, batch) and spawned from the one calibration seed
(:func:`sim.rng.stream`); simulations are evaluated in batches (through the experiment engine in
:mod:`sim.calibrate.pipeline`, each batch a set of design points with its own seeds), and
particles are kept in proposal order, so the posterior is the same bit for bit whatever the
number of workers. Each finished generation is written to ``generations/`` (a Parquet table and
a JSON record with its checksum, written atomically); a restart loads the finished generations
and continues with the next one, and the experiment store resumes a generation's unfinished
batch. The batch sizes depend only on earlier results, never on worker counts or budgets.

References: Toni T, Welch D, Strelkowa N, Ipsen A, Stumpf MPH (2009) J R Soc Interface 6:187–202;
Beaumont MA, Cornuet J-M, Marin J-M, Robert CP (2009) Biometrika 96:983–990; Del Moral P,
Doucet A, Jasra A (2012) Stat Comput 22:1009–1020.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from sim.calibrate.priors import Prior, log_prior, sample_prior
from sim.errors import InputError
from sim.experiment.store import atomic_write_bytes, write_parquet_atomic
from sim.rng import stream

__all__ = ["ABCResult", "ABCSettings", "Generation", "GenerationStore", "abc_smc",
           "weighted_quantile"]

#: ``simulate(generation, batch, theta)`` → distances: ``theta`` is (n, d) in natural units.
Simulator = Callable[[int, int, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ABCSettings:
    """Method settings (the ``[abc]`` table of a calibration file)."""

    population: int = 200
    generations: int = 8
    quantile: float = 0.5
    min_epsilon: float = 0.0
    min_acceptance: float = 0.02
    max_simulations: int = 100_000


@dataclass
class Generation:
    """One finished generation: particles (internal coordinates), weights and distances."""

    index: int
    epsilon: float
    z: np.ndarray
    weights: np.ndarray
    distances: np.ndarray
    simulations: int
    passed: int
    seconds: float = 0.0

    @property
    def acceptance(self) -> float:
        """Share of this generation's simulations within its tolerance (kept or spare)."""
        return self.passed / max(self.simulations, 1)

    @property
    def ess(self) -> float:
        """Effective sample size 1 / Σ w² of the normalised weights."""
        return float(1.0 / np.sum(self.weights ** 2))

    def natural(self, priors: list[Prior]) -> pd.DataFrame:
        """Particles in natural units with weight and distance (one row per particle)."""
        data = {p.name: p.to_natural(self.z[:, k]) for k, p in enumerate(priors)}
        return pd.DataFrame({**data, "weight": self.weights, "distance": self.distances})


@dataclass
class ABCResult:
    """Every finished generation and why the sampler stopped."""

    generations: list[Generation]
    stopped: str

    @property
    def final(self) -> Generation:
        """The last finished generation: the posterior sample."""
        return self.generations[-1]


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest value whose cumulative normalised weight reaches ``q`` (values sorted)."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order]) / np.sum(weights)
    return float(values[order][min(np.searchsorted(cum, q), len(cum) - 1)])



class GenerationStore:
    """Finished generations on disk: ``gen-003.parquet`` plus ``gen-003.json`` (written last).

    A generation is finished when its JSON record exists and the Parquet file matches the
    checksum in it; the sampler never rewrites a finished generation.
    """

    def __init__(self, directory: str | Path, priors: list[Prior]) -> None:
        self.dir = Path(directory)
        self.priors = priors

    def _paths(self, index: int) -> tuple[Path, Path]:
        return self.dir / f"gen-{index:03d}.parquet", self.dir / f"gen-{index:03d}.json"

    def save(self, gen: Generation) -> None:
        """Write a finished generation (table first, then the record that marks it done)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        table, record = self._paths(gen.index)
        df = gen.natural(self.priors)
        for k, p in enumerate(self.priors):
            df[f"internal:{p.name}"] = gen.z[:, k]
        write_parquet_atomic(df, table)
        meta = {"generation": gen.index, "epsilon": gen.epsilon, "simulations": gen.simulations,
                "passed": gen.passed, "accepted": len(gen.weights),
                "acceptance": gen.acceptance, "ess": gen.ess,
                "seconds": round(gen.seconds, 3),
                "sha256": hashlib.sha256(table.read_bytes()).hexdigest()}
        atomic_write_bytes(record, (json.dumps(meta, indent=1) + "\n").encode())

    def load(self) -> list[Generation]:
        """The finished generations 0, 1, … (stops at the first one missing)."""
        out: list[Generation] = []
        while True:
            table, record = self._paths(len(out))
            if not record.exists():
                return out
            try:
                meta = json.loads(record.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise InputError(str(record), "damaged generation record; move it away to "
                                 "recompute that generation") from None
            if (not table.exists()
                    or hashlib.sha256(table.read_bytes()).hexdigest() != meta.get("sha256")):
                raise InputError(str(table), f"missing or does not match {record.name}; move "
                                 "both away to recompute the generation. Nothing was deleted")
            df = pd.read_parquet(table)
            z = np.column_stack([df[f"internal:{p.name}"].to_numpy(float) for p in self.priors])
            out.append(Generation(len(out), float(meta["epsilon"]), z,
                                  df["weight"].to_numpy(float), df["distance"].to_numpy(float),
                                  int(meta["simulations"]), int(meta["passed"]),
                                  float(meta.get("seconds", 0.0))))


def _kernel_chol(gen: Generation) -> np.ndarray:
    """Cholesky factor of twice the weighted covariance (a tiny ridge keeps it positive)."""
    cov = np.atleast_2d(np.cov(gen.z.T, aweights=gen.weights, bias=True)) * 2.0
    scale = np.maximum(np.diag(cov), 1e-300)
    ridge = 1e-10 * np.diag(scale) + 1e-300 * np.eye(len(cov))
    return np.linalg.cholesky(cov + ridge)


def _propose(rng: np.random.Generator, prev: Generation, chol: np.ndarray,
             priors: list[Prior], n: int) -> np.ndarray:
    """``n`` perturbed particles inside the prior's support, in proposal order."""
    d = prev.z.shape[1]
    p = prev.weights / prev.weights.sum()
    kept: list[np.ndarray] = []
    count = 0
    for _ in range(10_000):
        m = max(2 * (n - count), 16)
        parents = rng.choice(len(p), size=m, p=p)
        z = prev.z[parents] + rng.standard_normal((m, d)) @ chol.T
        z = z[np.isfinite(log_prior(priors, z))][: n - count]
        kept.append(z)
        count += len(z)
        if count == n:
            return np.concatenate(kept)
    raise RuntimeError("the perturbation kernel almost never lands inside the prior support")


def _importance_weights(z: np.ndarray, prev: Generation, chol: np.ndarray,
                        priors: list[Prior]) -> np.ndarray:
    """Normalised weights prior / kernel mixture of the previous generation."""
    inv = np.linalg.inv(chol)
    log_w_prev = np.log(prev.weights / prev.weights.sum())
    ref = prev.z @ inv.T
    log_q = np.empty(len(z))
    for start in range(0, len(z), 512):
        block = z[start:start + 512] @ inv.T
        sq = ((block[:, None, :] - ref[None, :, :]) ** 2).sum(axis=2)
        log_q[start:start + 512] = logsumexp(log_w_prev[None, :] - 0.5 * sq, axis=1)
    log_w = log_prior(priors, z) - log_q
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def _batch_size(needed: int, passed: int, simulated: int, expected: float,
                population: int) -> int:
    """Simulations for the next batch: enough for the particles still needed, with 20% spare.

    Uses this generation's acceptance rate so far, else ``expected`` (the previous
    generation's); depends only on results, so a restart asks for the same batches.
    """
    rate = passed / simulated if passed > 0 else expected / (4.0 if simulated else 1.0)
    rate = min(max(rate, 1e-3), 1.0)
    n = math.ceil(needed / rate * 1.2)
    return int(min(max(n, max(10, population // 10)), 20 * population))


def _stop_reason(gen: Generation, total: int, settings: ABCSettings) -> str:
    if gen.index + 1 >= settings.generations:
        return f"reached {settings.generations} generations"
    if gen.epsilon <= settings.min_epsilon:
        return f"tolerance {gen.epsilon:.4g} reached min_epsilon {settings.min_epsilon:g}"
    if gen.index > 0 and gen.acceptance < settings.min_acceptance:
        return (f"acceptance rate {gen.acceptance:.3f} fell below min_acceptance "
                f"{settings.min_acceptance:g}")
    if total >= settings.max_simulations:
        return f"used the simulation budget ({total} of {settings.max_simulations})"
    return ""


def abc_smc(priors: list[Prior], simulate: Simulator, settings: ABCSettings, seed: int,
            directory: str | Path | None = None,
            on_batch: Callable[[int, int, int, int], None] | None = None,
            on_generation: Callable[[Generation], None] | None = None) -> ABCResult:
    """Run (or continue) ABC-SMC and return every finished generation.

    ``on_batch(generation, accepted, population, simulated)`` reports progress after each batch
    and ``on_generation`` each finished generation. With ``directory`` finished generations are
    saved there and loaded again on the next call, which continues after the last one.
    """
    store = GenerationStore(directory, priors) if directory is not None else None
    gens = store.load() if store is not None else []
    total = sum(g.simulations for g in gens)
    n_pop = settings.population
    if gens and len(gens[0].weights) != n_pop:
        raise InputError(str(directory), f"holds generations of {len(gens[0].weights)} "
                         f"particles, the calibration asks for {n_pop}; use a new --out")
    if gens:
        reason = _stop_reason(gens[-1], total, settings)
        if reason:
            return ABCResult(gens, reason)
    while True:
        t = len(gens)
        start = time.monotonic()
        if t == 0:
            epsilon, prev, chol, expected = math.inf, None, None, 1.0
        else:
            prev = gens[-1]
            epsilon = weighted_quantile(prev.distances, prev.weights, settings.quantile)
            chol = _kernel_chol(prev)
            expected = prev.acceptance
        kept_z: list[np.ndarray] = []
        kept_d: list[np.ndarray] = []
        accepted = simulated = passed = 0
        batch = 0
        while accepted < n_pop:
            n = n_pop if t == 0 and batch == 0 else _batch_size(
                n_pop - accepted, passed, simulated, expected, n_pop)
            if total + n > settings.max_simulations:
                reason = (f"the next batch of {n} simulations would exceed the budget "
                          f"(max_simulations = {settings.max_simulations}; {total} used); "
                          f"generation {t} is unfinished")
                if not gens:
                    raise InputError("abc.max_simulations", f"{reason}: raise it to at least "
                                     f"{total + n}")
                return ABCResult(gens, reason)
            rng = stream(seed, f"calibrate:abc:{t}:{batch}")
            if prev is None:
                z = sample_prior(priors, rng, n)
            else:
                z = _propose(rng, prev, chol, priors, n)
            theta = np.column_stack([p.to_natural(z[:, k]) for k, p in enumerate(priors)])
            d = np.asarray(simulate(t, batch, theta), float)
            if d.shape != (n,):
                raise RuntimeError(f"simulate returned shape {d.shape}, expected ({n},)")
            within = np.flatnonzero(np.isfinite(d) & (d <= epsilon))
            ok = within[: n_pop - accepted]
            passed += len(within)
            kept_z.append(z[ok])
            kept_d.append(d[ok])
            accepted += len(ok)
            simulated += n
            total += n
            batch += 1
            if on_batch:
                on_batch(t, accepted, n_pop, simulated)
        z = np.concatenate(kept_z)
        if prev is None:
            weights = np.full(n_pop, 1.0 / n_pop)
        else:
            weights = _importance_weights(z, prev, chol, priors)
        gen = Generation(t, epsilon, z, weights, np.concatenate(kept_d), simulated, passed,
                         time.monotonic() - start)
        if store is not None:
            store.save(gen)
        gens.append(gen)
        if on_generation:
            on_generation(gen)
        reason = _stop_reason(gen, total, settings)
        if reason:
            return ABCResult(gens, reason)

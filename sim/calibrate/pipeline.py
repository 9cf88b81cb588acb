"""Calibration from file to outputs: ABC-SMC whose simulations run on the experiment engine.

Each batch of proposed particles becomes an experiment (:mod:`sim.experiment`): one arm (the
calibrated strategy), one design point per particle (the fixed values plus the particle's), one
replicate, and independent run seeds spawned from the calibration seed, the generation and the
batch. :func:`sim.experiment.run_experiment` runs it serially in this process (the default: a
small model's runs take well under a second, less than starting workers), on a local Dask
cluster started once for the whole calibration (``workers``), or on a running cluster
(``scheduler``), into a resumable store under ``DIR/generations/gen-NNN/batch-NNN``. Results
depend only on the run seeds, so the posterior is the same bit for bit however it ran.

Output directory::

    calibration.json        the calibration's fingerprint (a changed file is refused)
    generations/            finished generations (gen-NNN.parquet + .json); a restart continues
                            after the last one; batch stores of unfinished generations
    posterior.csv           the last generation: particles, weights, distances
    posterior_summary.csv   per parameter: prior, weighted mean, sd, median, 5% and 95%
    generations.csv         per generation: tolerance, simulations, acceptance, ESS, medians
    pairs.png               pairwise posterior
    ppc.csv, ppc.png        posterior predictive check: observed against simulated bands
    calibrated.toml         the scenario at the posterior medians (``implsim run`` accepts it)
    manifest.json           command, seeds, stopping reason, versions, code version
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import provenance
from sim.calibrate.abc import (
    ABCResult,
    Generation,
    GenerationStore,
    abc_smc,
    weighted_quantile,
)
from sim.calibrate.config import Calibration
from sim.calibrate.plots import plot_pairs, plot_ppc
from sim.calibrate.scenario_file import calibrated_scenario
from sim.errors import InputError, output_dir
from sim.experiment import ResultStore, experiment_from_dict, run_experiment
from sim.experiment.execute import local_cluster
from sim.experiment.store import exclusive
from sim.progress import Progress
from sim.rng import child_seed, stream

__all__ = ["CalibrationReport", "run_calibration", "simulate_points"]


@dataclass
class CalibrationReport:
    """What a calibration produced (for the command line and tests)."""

    out: Path
    result: ABCResult
    summary: pd.DataFrame
    ppc: pd.DataFrame
    files: list[str]
    seconds: float
    resumed_generations: int

    @property
    def simulations(self) -> int:
        """Simulations over all finished generations."""
        return sum(g.simulations for g in self.result.generations)


def simulate_points(cal: Calibration, theta: np.ndarray, directory: Path, seed: int,
                    scheduler: str | None) -> pd.DataFrame:
    """Run one simulation per row of ``theta`` through the experiment engine.

    Returns the store's time series (column ``point`` = row of ``theta``). The store at
    ``directory`` resumes if it holds part of the same batch. A task runs up to 25 simulations
    by default: each task's results are written (and synced) once, which costs more than a
    small model's run.
    """
    points = [{**cal.fixed, **{n: float(v) for n, v in zip(cal.names, row, strict=True)}}
              for row in theta]
    spec = {
        "name": f"{cal.name}-{directory.name}", "scenario": str(cal.scenario_path),
        "replicates": 1, "seed": seed, "common_random_numbers": False,
        "timeseries": cal.timeseries_level,
        "chunk_size": cal.chunk_size or min(25, math.ceil(len(points) / 8)),
        "arms": [{"name": cal.strategy, "strategy": cal.strategy}],
        "design": {"type": "list", "points": points},
    }
    experiment = experiment_from_dict(spec, f"{cal.path} [{directory.name}]",
                                      cal.scenario_path.parent)
    try:
        run_experiment(experiment, directory, scheduler=scheduler, serial=scheduler is None,
                       quiet=True)
    except OSError as exc:  # scheduler unreachable and the like
        raise InputError("--scheduler" if scheduler else str(directory), str(exc)) from None
    return ResultStore(directory).read("timeseries")


@contextmanager
def _executor(scheduler: str | None, workers: int | None) -> Iterator[str | None]:
    """The scheduler address batches use: given, a local cluster started once, or None."""
    if scheduler or not workers:
        yield scheduler
        return
    cluster = local_cluster(workers)  # the experiments' own settings (one home)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _check_directory(cal: Calibration, out: Path) -> None:
    """Create ``out`` or check that it holds this calibration (same fingerprint)."""
    record = output_dir(out) / "calibration.json"
    if record.exists():
        try:
            stored = json.loads(record.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError(str(record), "damaged; restore it or use a new --out") from None
        if not isinstance(stored, dict):
            raise InputError(str(record), "damaged (not a JSON object); restore it or use a "
                             "new --out")
        stored = stored.get("fingerprint")
        if stored != cal.fingerprint():
            raise InputError(str(out), f"holds a different calibration (fingerprint {stored}, "
                             f"now {cal.fingerprint()}): the scenario, data, targets, priors, "
                             "population, quantile or seed changed. Use a new --out, or "
                             "restore the file to continue")
        return
    record.write_text(json.dumps({"fingerprint": cal.fingerprint(), "file": cal.path,
                                  "created": datetime.now(UTC).isoformat(timespec="seconds")},
                                 indent=1) + "\n")


def _summary(cal: Calibration, gen: Generation) -> pd.DataFrame:
    post = gen.natural(cal.priors)
    w = gen.weights / gen.weights.sum()
    best = int(np.argmin(gen.distances))
    rows = []
    for p in cal.priors:
        x = post[p.name].to_numpy()
        mean = float(np.sum(w * x))
        q05, q50, q95 = (weighted_quantile(x, w, q) for q in (0.05, 0.5, 0.95))
        row: dict[str, Any] = {
            "parameter": p.name, "prior": p.describe(), "mean": mean,
            "sd": float(np.sqrt(np.sum(w * (x - mean) ** 2))), "median": q50, "q05": q05,
            "q95": q95, "best": float(x[best]),
        }
        if any(q.truth is not None for q in cal.priors):
            row["true"] = p.truth
            row["true_in_90"] = None if p.truth is None else bool(q05 <= p.truth <= q95)
        rows.append(row)
    return pd.DataFrame(rows)


def _generations_table(cal: Calibration, gens: list[Generation]) -> pd.DataFrame:
    rows = []
    for g in gens:
        row: dict[str, Any] = {"generation": g.index, "epsilon": g.epsilon,
                               "simulations": g.simulations, "accepted": len(g.weights),
                               "acceptance": g.acceptance, "ess": g.ess,
                               "seconds": round(g.seconds, 2)}
        for k, p in enumerate(cal.priors):
            x = p.to_natural(g.z[:, k])
            row[f"{p.name} median"] = weighted_quantile(x, g.weights, 0.5)
        rows.append(row)
    return pd.DataFrame(rows)


def _ppc(cal: Calibration, gen: Generation, out: Path,
         scheduler: str | None) -> pd.DataFrame:
    """Simulate posterior draws and compare each observation with its simulated bands."""
    rng = stream(cal.seed, "calibrate:ppc:draws")
    idx = rng.choice(len(gen.weights), size=cal.ppc_draws, p=gen.weights / gen.weights.sum())
    theta = np.column_stack([p.to_natural(gen.z[idx, k]) for k, p in enumerate(cal.priors)])
    ts = simulate_points(cal, theta, out / "generations" / f"ppc-{gen.index:03d}",
                         child_seed(cal.seed, "calibrate:batch", 1_000_000, gen.index), scheduler)
    frames = []
    for t in cal.targets:
        sim = t.simulated(ts, cal.ppc_draws)
        sim = t.draw_observed(sim, stream(cal.seed, f"calibrate:ppc:noise:{t.name}"))
        q = np.nanpercentile(sim, [5, 25, 50, 75, 95], axis=0)
        tab = t.table
        observed = (tab["numerator"] / tab["denominator"]).to_numpy()
        frames.append(pd.DataFrame({
            "target": t.name, "group": tab["group"].to_numpy(), "bundle": tab["bundle"],
            "period": tab["period"].to_numpy(), "week": t.weeks,
            "numerator": tab["numerator"], "denominator": tab["denominator"],
            "observed": observed, "q05": q[0], "q25": q[1], "q50": q[2], "q75": q[3],
            "q95": q[4], "covered": (observed >= q[0]) & (observed <= q[4])}))
    return pd.concat(frames, ignore_index=True)


def _write_scenario(cal: Calibration, summary: pd.DataFrame, out: Path,
                    stopped: str, gen: Generation) -> None:
    medians = {r.parameter: float(f"{r.median:.6g}") for r in summary.itertuples()}
    header = [f"Calibrated scenario: {cal.scenario_path.name} at the posterior medians of "
              f"{cal.path}",
              f"(ABC-SMC, generation {gen.index}, tolerance {gen.epsilon:.4g}, {len(gen.weights)}"
              f" particles, seed {cal.seed}; stopped: {stopped}).",
              "Fitted (median [90% interval]):"]
    header += [f"  {r.parameter} = {r.median:.4g} [{r.q05:.4g}, {r.q95:.4g}]"
               for r in summary.itertuples()]
    if cal.fixed:
        header.append("Fixed for the calibration: " + ", ".join(
            f"{k} = {v}" for k, v in cal.fixed.items()))
    text = calibrated_scenario(cal.scenario_path, {**cal.fixed, **medians}, header)
    (out / "calibrated.toml").write_text(text)


def _check_first_batch(cal: Calibration, ts: pd.DataFrame, n: int, d: np.ndarray) -> None:
    """Stop at once when no simulation of the first batch reaches a target's rows.

    Generation 0 accepts any finite distance; if none is finite, a target names rows the runs
    never record, and more simulations cannot help (the preflight in
    :meth:`~sim.calibrate.targets.Target.bind` should have caught it: this is the backstop).
    """
    if np.isfinite(d).any():
        return
    for i, t in enumerate(cal.targets):
        missing = np.isnan(t.simulated(ts, n)).all(axis=0)
        if missing.any():
            row = t.table.iloc[int(np.flatnonzero(missing)[0])]
            raise InputError(f"{cal.path}: targets[{i}]", f"none of the first {n} "
                             f"simulations records {t.output} at {t.level} {row['group']!r}, "
                             f"bundle {row['bundle']!r}, week "
                             f"{int(t.weeks[int(np.flatnonzero(missing)[0])])} (target "
                             f"{t.name!r}); check the target's level and the scenario's "
                             "[output]")


def run_calibration(cal: Calibration, out: str | Path, *, scheduler: str | None = None,
                    workers: int | None = None, quiet: bool = False,
                    command: str = "") -> CalibrationReport:
    """Run (or continue) a calibration into ``out`` and write every output.

    One driver per ``out``: a second calibration on it is refused while this one runs.
    """
    out = output_dir(Path(out).resolve())
    with exclusive(out):
        _check_directory(cal, out)
        return _run_locked(cal, out, scheduler, workers, quiet, command)


def _run_locked(cal: Calibration, out: Path, scheduler: str | None, workers: int | None,
                quiet: bool, command: str) -> CalibrationReport:
    """The calibration, once this driver holds the lock of ``out``."""
    start = time.monotonic()
    gen_dir = out / "generations"
    log = (lambda *a: None) if quiet else (lambda msg: print(msg, flush=True))
    bars: dict[int, Progress] = {}

    with _executor(scheduler, workers) as address:
        def simulate(t: int, b: int, theta: np.ndarray) -> np.ndarray:
            if t not in bars:
                bars[t] = Progress(cal.settings.population,
                                   f"particles kept (generation {t})", quiet=quiet)
            ts = simulate_points(cal, theta, gen_dir / f"gen-{t:03d}" / f"batch-{b:03d}",
                                 child_seed(cal.seed, "calibrate:batch", t, b), address)
            d = cal.distances(ts, len(theta))
            if t == 0 and b == 0:
                _check_first_batch(cal, ts, len(theta), d)
            return d

        def on_batch(t: int, accepted: int, needed: int, simulated: int) -> None:
            bars[t].advance(accepted - bars[t].done)

        def on_generation(g: Generation) -> None:
            if not cal.keep_simulations:
                shutil.rmtree(gen_dir / f"gen-{g.index:03d}", ignore_errors=True)
            log(f"generation {g.index}: tolerance {g.epsilon:.4g}, {len(g.weights)} kept of "
                f"{g.simulations} simulated (acceptance {g.acceptance:.2f}), ESS {g.ess:.0f}, "
                f"{g.seconds:.1f} s")

        done = len(GenerationStore(gen_dir, cal.priors).load()) if gen_dir.exists() else 0
        if done:
            log(f"resuming: generations 0–{done - 1} already finished in {gen_dir}")
        log(f"{cal.name}: ABC-SMC, {cal.settings.population} particles, up to "
            f"{cal.settings.generations} generations, {len(cal.priors)} parameters, "
            f"{len(cal.targets)} target(s), {'serial' if address is None else address}")
        result = abc_smc(cal.priors, simulate, cal.settings, cal.seed, gen_dir,
                         on_batch=on_batch, on_generation=on_generation)
        log(f"stopped: {result.stopped}")
        final = result.final
        log(f"posterior predictive check: {cal.ppc_draws} simulations")
        ppc = _ppc(cal, final, out, address)

    posterior = final.natural(cal.priors)
    posterior.insert(0, "generation", final.index)
    posterior.to_csv(out / "posterior.csv", index=False)
    summary = _summary(cal, final)
    summary.to_csv(out / "posterior_summary.csv", index=False)
    _generations_table(cal, result.generations).to_csv(out / "generations.csv", index=False)
    ppc.to_csv(out / "ppc.csv", index=False)
    plot_pairs(posterior, cal.priors, out / "pairs.png", cal.name)
    plot_ppc(ppc, out / "ppc.png", cal.name,
             period_names={t.name: t.period_name for t in cal.targets})
    _write_scenario(cal, summary, out, result.stopped, final)
    files = ["posterior.csv", "posterior_summary.csv", "generations.csv", "pairs.png",
             "ppc.csv", "ppc.png", "calibrated.toml", "manifest.json"]
    seconds = time.monotonic() - start
    manifest = provenance.manifest({
        "calibration": cal.path, "fingerprint": cal.fingerprint(), "seed": cal.seed,
        "scenario": str(cal.scenario_path), "strategy": cal.strategy, "fixed": cal.fixed,
        "stopped": result.stopped, "generations": len(result.generations),
        "simulations": sum(g.simulations for g in result.generations),
        "resumed_generations": done, "seconds_this_call": round(seconds, 1),
        "execution": "serial" if not (scheduler or workers) else (scheduler or
                                                                  f"local Dask, {workers} "
                                                                  "workers"),
        "calibration_file": cal.raw,
    }, command=command, files=files)
    (out / "manifest.json").write_text(provenance.manifest_text(manifest))
    return CalibrationReport(out, result, summary, ppc, files, seconds, done)

"""One joint calibration of the behavioural defaults to the published evidence set (issue 15).

A joint calibration file (``calibration/evidence_fit.toml``) names the evidence targets to fit
(by default every ``use = "fit"`` file of ``calibration/evidence/``), the priors of the fitted
parameters and the ABC-SMC settings::

    name = "evidence_fit"
    seed = 15
    targets = []                 # empty: every evidence file with use = "fit"
    [[fit]]
    name = "parameters.adoption_ceiling"
    prior = "uniform"
    low = 0.05
    high = 0.95
    [abc]
    population = 200
    generations = 6

A particle θ is scored by running one replicate of every fitted target's design
(:mod:`sim.calibrate.designs`; the designs' arms on common random numbers) and combining the
targets' standardised distances as ``sqrt(mean z²)``: a review's median and IQR enter as the
distribution of effects across settings, a single study's figure with its sampling error, a
pooled estimate with its confidence interval. The sampler is the project's ABC-SMC
(:func:`sim.calibrate.abc.abc_smc`): reproducible from the seed (every particle's runs take a
seed from the stream ``evidence-fit:<generation>:<batch>:<row>``) and resumable (finished
generations are kept in ``OUT/generations/``; a rerun continues after the last one).

Why a process pool and not the experiment engine: one particle runs several scenarios (the
designs), not one scenario's design point, and a particle's runs take ~0.1 s, so the engine's
per-point store would cost more than the runs. Rows are mapped in order and each row's seed
depends only on its position, so the result is the same for any number of workers.

Outputs in ``OUT``: ``posterior.csv`` (particles in natural units, weight, distance),
``posterior_summary.csv`` (weighted median and 5–95% per parameter, the prior range, and the
shipped default: :func:`select_default`), ``default_candidates.csv``,
``manifest.json`` (seed, fingerprint, targets, priors, settings, simulations, seconds, why it
stopped) and ``posterior_pairs.png``.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim import checks
from sim.calibrate import designs
from sim.calibrate.abc import ABCResult, ABCSettings, abc_smc, weighted_quantile
from sim.calibrate.config import ABC, FIT
from sim.calibrate.evidence import EVIDENCE_DIR, EvidenceTarget, evidence_set
from sim.calibrate.priors import Prior
from sim.errors import InputError
from sim.factors import declaration, interventions, parse_key
from sim.params import P, ParamSet
from sim.rng import stream
from sim.tomlfile import read_toml

__all__ = ["JointCalibration", "load_joint", "particle_distances", "run_joint"]

TOP = ParamSet("evidence_fit", "Top-level keys of a joint calibration file.", (
    P("name", "evidence_fit", "Short name shown in outputs."),
    P("description", "", "What is fitted to what."),
    P("seed", 1, "Root seed of the calibration.", low=0, high=2**63 - 1),
    P("evidence", "", "Evidence directory (relative to this file; default: "
      "calibration/evidence)."),
    P("targets", [], "Evidence targets to fit, by name (default: every use = 'fit' file)."),
))


@dataclass
class JointCalibration:
    """A validated joint calibration file."""

    name: str
    seed: int
    targets: list[EvidenceTarget]
    priors: list[Prior]
    settings: ABCSettings
    path: str
    description: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """The fitted parameters' keys, in prior order."""
        return [p.name for p in self.priors]

    def fingerprint(self) -> str:
        """A hash of what changes the particles (not the stopping rules)."""
        data = {
            "seed": self.seed,
            # the design's file name, not its path: a clone elsewhere is the same calibration
            "targets": [(t.name, t.value, t.spread and (t.spread.low, t.spread.high),
                         t.design and Path(t.design.scenario).name) for t in self.targets],
            "designs": sorted({Path(t.design.scenario).read_text() for t in self.targets
                               if t.design is not None}),
            "priors": [[p.name, p.kind, p.low, p.high, p.mean, p.sd] for p in self.priors],
            "population": self.settings.population, "quantile": self.settings.quantile,
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()
                              ).hexdigest()[:16]


def load_joint(path: str | Path) -> JointCalibration:
    """Read and check a joint calibration file (one-line errors naming file and field)."""
    path = Path(path)
    raw = read_toml(path, "joint calibration")
    top = TOP.resolve(raw, f"{path}:", tables=("fit", "abc"))
    where = str(path)
    directory = (path.parent / top["evidence"]).resolve() if top["evidence"] else EVIDENCE_DIR
    every = evidence_set(directory)
    if top["targets"]:
        unknown = [n for n in top["targets"] if n not in every]
        if unknown:
            raise InputError(f"{where}: targets", f"no evidence file {unknown[0]!r}; known: "
                             f"{', '.join(every)}")
        targets = [every[n] for n in top["targets"]]
    else:
        targets = [t for t in every.values() if t.use == "fit"]
    for t in targets:
        if t.use != "fit":
            raise InputError(f"{where}: targets", f"{t.name} has use = {t.use!r}; only "
                             "use = 'fit' figures are fitted (held-out ones are checked by "
                             "implsim validate-evidence)")
    if not targets:
        raise InputError(f"{where}: targets", "no evidence target with use = 'fit'")
    checks.refuse([f for t in targets for f in checks.evidence_findings(t)])  # before any run
    specs = [spec for t in targets for spec in interventions(designs.scenario_for(t))]
    raw_fit = raw.get("fit", [])
    if not isinstance(raw_fit, list) or not raw_fit:
        raise InputError(f"{where}: fit", "needs at least one [[fit]] table")
    priors = []
    for i, item in enumerate(raw_fit):
        w = f"{where}: fit[{i}]"
        table = FIT.resolve(item, w)
        key = table["name"] if "." in table["name"] else f"parameters.{table['name']}"
        param, _ = declaration(parse_key(key, f"{w}.name"), specs, f"{w}.name")
        lo_p, hi_p = param.plausible_range()
        low = table["low"] if math.isfinite(table["low"]) else lo_p
        high = table["high"] if math.isfinite(table["high"]) else hi_p
        if low is None or high is None:
            raise InputError(w, f"{key} has no declared range; give low and high")
        for bound, value in (("low", low), ("high", high)):
            try:
                param.validate(float(value), f"{w}.{bound}")
            except InputError as exc:
                raise InputError(f"{w}.{bound}", exc.message) from None
        try:
            priors.append(Prior(key, table["prior"], float(low), float(high), table["mean"],
                                table["sd"]))
        except InputError as exc:  # the prior names only "fit KEY": name this file and table
            raise InputError(w + exc.where.removeprefix(f"fit {key}"), exc.message) from None
    abc = ABC.resolve(raw.get("abc", {}), f"{where}: abc")
    settings = ABCSettings(abc["population"], abc["generations"], abc["quantile"],
                           abc["min_epsilon"], abc["min_acceptance"], abc["max_simulations"])
    return JointCalibration(top["name"], top["seed"], targets, priors, settings, where,
                            top["description"])


def _point(names: list[str], row: np.ndarray) -> dict[str, float]:
    return {k: float(v) for k, v in zip(names, row, strict=True)}


def particle_distances(targets: list[EvidenceTarget], point: dict[str, float],
                       seed: int) -> dict[str, float]:
    """Each fitted target's standardised distance for one particle (one replicate)."""
    figs = designs.figures(targets, point, seed, noise=False)
    return {t.name: designs.distance(t, figs[t.name]) for t in targets}


def combine(distances: dict[str, float]) -> float:
    """``sqrt(mean z²)`` over targets (inf if any is undefined)."""
    z = np.array(list(distances.values()), float)
    return float(np.sqrt(np.mean(z ** 2))) if np.all(np.isfinite(z)) else math.inf


def _row_distance(args: tuple[list[EvidenceTarget], dict[str, float], int]) -> float:
    targets, point, seed = args
    try:
        return combine(particle_distances(targets, point, seed))
    except InputError:
        return math.inf  # a point the scenario refuses is outside the model


def _quiet_worker() -> None:
    """Pool workers leave Ctrl-C to the driver, which prints the one line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _seed(cal: JointCalibration, t: int, b: int, row: int) -> int:
    return int(stream(cal.seed, f"evidence-fit:{t}:{b}:{row}").integers(2**31))


def run_joint(cal: JointCalibration, out: str | Path, workers: int = 1,
              progress: Callable[[str], None] | None = None) -> ABCResult:
    """Run (or continue) the joint calibration into ``out`` and write its outputs."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / "fingerprint.txt"
    fp = cal.fingerprint()
    if stamp.exists() and stamp.read_text().strip() != fp:
        raise InputError(str(out), "holds a different joint calibration (targets, designs, "
                         "priors or seed changed); use a new --out")
    stamp.write_text(fp + "\n")
    for p in cal.priors:  # every design must accept both ends of each prior
        for value in (p.low, p.high):
            for t in cal.targets:
                designs.scenario_for(t, {p.name: value})
    pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                                initializer=_quiet_worker)
            if workers > 1 else None)  # not fork: the parent may hold threads
    start = time.monotonic()

    def simulate(t: int, b: int, theta: np.ndarray) -> np.ndarray:
        jobs = [(cal.targets, _point(cal.names, row), _seed(cal, t, b, i))
                for i, row in enumerate(theta)]
        if pool is None:
            return np.array([_row_distance(j) for j in jobs])
        return np.array(list(pool.map(_row_distance, jobs, chunksize=max(1, len(jobs) // 16))))

    def on_batch(t: int, accepted: int, needed: int, simulated: int) -> None:
        if progress:
            progress(f"generation {t}: {accepted}/{needed} accepted of {simulated} simulated "
                     f"({time.monotonic() - start:.0f} s)")

    try:
        result = abc_smc(cal.priors, simulate, cal.settings, cal.seed, out / "generations",
                         on_batch=on_batch)
        if progress:
            progress(f"choosing the default point among the {SELECT_CANDIDATES} closest "
                     f"particles ({SELECT_REPLICATES} replicates each)")
        chosen = select_default(cal, result.final.natural(cal.priors), pool)
    finally:
        if pool is not None:
            pool.shutdown()
    _write(cal, result, out, time.monotonic() - start, workers, chosen)
    return result


SELECT_CANDIDATES = 30
SELECT_REPLICATES = 10


def _row_figures(args: tuple[list[EvidenceTarget], dict[str, float], int]
                 ) -> dict[str, float]:
    targets, point, seed = args
    try:
        return designs.figures(targets, point, seed, noise=False)
    except InputError:
        return {t.name: math.nan for t in targets}


def select_default(cal: JointCalibration, posterior: pd.DataFrame,
                   pool: ProcessPoolExecutor | None = None) -> pd.DataFrame:
    """The posterior particle to ship as the defaults, with its scores.

    Marginal medians need not be a point of the posterior (parameters trade off against each
    other), and the particle of smallest distance was scored on one replicate, so partly by
    luck. So the ``SELECT_CANDIDATES`` particles of smallest distance are each run on
    ``SELECT_REPLICATES`` new replicates (seeds from ``evidence-fit:select:<row>:<k>``); for
    each target the mean figure over the replicates is judged (:func:`designs.agrees`, the
    rules of the validation report) and scored (``z``, as in the fit). The particle that agrees
    with the most figures is chosen, then the one whose *worst* target is closest (``worst_z``;
    ties by the mean ``z``), so that no published figure is given up for the others. Returns
    the candidates, best first, with ``agrees``, ``worst_z``, ``mean_z`` and each target's mean
    figure.
    """
    order = np.argsort(posterior["distance"].to_numpy(), kind="stable")[:SELECT_CANDIDATES]
    jobs = []
    for row in order:
        point = {k: float(posterior[k].iloc[row]) for k in cal.names}
        for k in range(SELECT_REPLICATES):
            seed = int(stream(cal.seed, f"evidence-fit:select:{row}:{k}").integers(2**31))
            jobs.append((cal.targets, point, seed))
    if pool is None:
        figs = [_row_figures(j) for j in jobs]
    else:
        figs = list(pool.map(_row_figures, jobs, chunksize=max(1, len(jobs) // 16)))
    table = posterior.iloc[order].copy().reset_index(drop=True)
    table.insert(0, "particle", order)
    worst, mean_z, agree = [], [], []
    for i in range(len(order)):
        mine = figs[i * SELECT_REPLICATES:(i + 1) * SELECT_REPLICATES]
        z, ok = [], 0
        for t in cal.targets:
            value = float(np.mean([f[t.name] for f in mine]))
            table.loc[i, f"figure:{t.name}"] = value
            z.append(designs.distance(t, value))
            ok += designs.agrees(t, value)
        worst.append(max(z))
        mean_z.append(float(np.mean(z)))
        agree.append(ok)
    table["agrees"], table["worst_z"], table["mean_z"] = agree, worst, mean_z
    table["_order"] = -table["agrees"]
    table = table.sort_values(["_order", "worst_z", "mean_z", "particle"], kind="stable")
    return table.drop(columns="_order").reset_index(drop=True)


def summary(cal: JointCalibration, posterior: pd.DataFrame) -> pd.DataFrame:
    """Weighted median and 5–95% interval of each fitted parameter, with its prior range."""
    w = posterior["weight"].to_numpy()
    rows = []
    for p in cal.priors:
        x = posterior[p.name].to_numpy()
        order = np.argsort(x)
        q = [weighted_quantile(x[order], w[order], a) for a in (0.05, 0.5, 0.95)]
        rows.append({"parameter": p.name, "median": q[1], "q05": q[0], "q95": q[2],
                     "prior": p.kind, "prior_low": p.low, "prior_high": p.high})
    return pd.DataFrame(rows)


def _write(cal: JointCalibration, result: ABCResult, out: Path, seconds: float,
           workers: int, chosen: pd.DataFrame) -> None:
    from sim.calibrate.plots import plot_pairs

    final = result.final
    posterior = final.natural(cal.priors)
    posterior.to_csv(out / "posterior.csv", index=False)
    summ = summary(cal, posterior)
    best = chosen.iloc[0]
    summ["default"] = [float(f"{best[p.name]:.2g}") for p in cal.priors]
    summ.to_csv(out / "posterior_summary.csv", index=False)
    chosen.to_csv(out / "default_candidates.csv", index=False)
    plot_pairs(posterior, cal.priors, out / "posterior_pairs.png",
               title=f"{cal.name}: posterior (generation {final.index})")
    manifest_path = out / "manifest.json"
    previous = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest = {
        "name": cal.name, "file": cal.path, "seed": cal.seed, "fingerprint": cal.fingerprint(),
        "targets": [t.name for t in cal.targets],
        "priors": [{"name": p.name, "kind": p.kind, "low": p.low, "high": p.high}
                   for p in cal.priors],
        "abc": cal.settings.__dict__,
        "generations": [{"index": g.index, "epsilon": g.epsilon, "simulations": g.simulations,
                         "acceptance": g.acceptance, "ess": g.ess, "seconds": g.seconds}
                        for g in result.generations],
        "simulations": int(sum(g.simulations for g in result.generations)),
        "seconds_this_call": round(seconds, 1),
        "seconds_total": round(sum(g.seconds for g in result.generations), 1),
        "default_point": {"particle": int(best["particle"]), "agrees": int(best["agrees"]),
                          "of": len(cal.targets),
                          "worst_z": float(best["worst_z"]), "mean_z": float(best["mean_z"]),
                          "values": {p.name: float(best[p.name]) for p in cal.priors}},
        "workers": workers, "cpu_count": os.cpu_count(), "stopped": result.stopped,
        "calls": previous.get("calls", 0) + 1,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")


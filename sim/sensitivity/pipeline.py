"""A sensitivity analysis end to end: sample, evaluate, measure noise, analyse, write, plot.

``run_sensitivity(spec, out)`` writes into ``out``:

- ``indices.csv``: method, output, factor (and ``factor_2`` for S2 pairs), index, value,
  conf (the interval's half-width), conf_low, conf_high, rank;
- ``noise.csv``: per output, the seed-noise variance, its shares, and whether it is too large;
- ``samples.csv``: the sample (one row per sample row), its design point, the replicate means;
- ``convergence.csv`` and ``convergence.png``: the ranked indices on growing prefixes of the
  sample;
- ``morris.png``, or ``sobol.png`` (+ ``sobol_s2.png``), ``fast.png``, ``pawn.png``: the
  indices;
- ``summary.txt``: the ranking per output, the noise report and any warning;
- ``sensitivity.json``: the SA file as given, the SALib problem, seeds, counts, versions;
- ``store/``: the experiment store of the model runs (resumed when the command is re-run).

The evaluator is the only part that differs between the model and a test function.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import provenance
from sim.errors import output_dir
from sim.experiment.execute import BatchReport
from sim.experiment.store import exclusive
from sim.sensitivity import plots
from sim.sensitivity.evaluate import Evaluation, Evaluator, ModelEvaluator, TestFunctionEvaluator
from sim.sensitivity.noise import noise_table
from sim.sensitivity.problem import SASpec

CONVERGENCE_RESAMPLES = 100  # bootstrap resamples per prefix: intervals, not final answers


@dataclass
class SAResult:
    """What an analysis produced (also written to ``out``)."""

    out: Path
    indices: pd.DataFrame
    noise: pd.DataFrame
    convergence: pd.DataFrame
    summary: str
    files: list[str] = field(default_factory=list)
    batch: BatchReport | None = None
    notes: list[str] = field(default_factory=list)


def make_evaluator(spec: SASpec, out: Path, **kwargs: Any) -> Evaluator:
    """The test-function evaluator, or the model evaluator storing runs in ``out/store``."""
    if spec.test_function is not None:
        return TestFunctionEvaluator(spec)
    return ModelEvaluator(spec, out / "store", **kwargs)



def run_sensitivity(spec: SASpec, out: str | Path, *, scheduler: str | None = None,
                    workers: int | None = None, serial: bool = False, quiet: bool = True,
                    on_chunk: Callable[[int], None] | None = None,
                    command: str = "") -> SAResult:
    """Run (or resume) the analysis described by ``spec`` and write its outputs to ``out``.

    One driver per ``out`` (its lock; ``out/store`` has its own): a second is refused.
    """
    out = output_dir(out)
    with exclusive(out):
        problem = spec.problem()
        X = spec.method.sample(problem, spec.samples, spec.seed)
        evaluator = make_evaluator(spec, out, scheduler=scheduler, workers=workers,
                                   serial=serial, quiet=quiet, on_chunk=on_chunk)
        ev = evaluator.evaluate(X)
        return analyse(spec, out, X, ev, command=command)


def analyse(spec: SASpec, out: Path, X: np.ndarray, ev: Evaluation,
            command: str = "") -> SAResult:
    """Noise report, indices, convergence and every file, from evaluated sample rows."""
    problem = spec.problem()
    method = spec.method
    noise = noise_table({o.name: ev.runs[o.name] for o in spec.outputs},
                        spec.settings["noise_threshold"])
    notes: list[str] = []
    frames, conv_frames = [], []
    for o in spec.outputs:
        Y = ev.means(o.name)
        bad = int(np.isnan(Y).sum())
        if bad:
            notes.append(f"{o.name}: not analysed — undefined (NaN) at {bad} of {len(Y)} sample "
                         "rows in every replicate (e.g. sustainability when compliance was 0 "
                         "when support ended, or measured after the run ends).")
            continue
        if np.ptp(Y) == 0:
            notes.append(f"{o.name}: not analysed — it has the same value at every sample row.")
            continue
        idx = method.analyze(problem, X, Y, spec.seed)
        idx.insert(0, "output", o.name)
        idx.insert(0, "method", method.name)
        frames.append(idx)
        conv_frames.append(_convergence(spec, problem, X, Y, o.name, idx))
    indices = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not indices.empty:
        indices["rank"] = _ranks(indices, method.main[0])
    conv = pd.concat(conv_frames, ignore_index=True) if conv_frames else pd.DataFrame()
    if method.caveat:
        notes.append(f"{method.name}: {method.caveat}")
    if not method.prefixes(problem, spec.samples):
        notes.append(f"convergence: a prefix of a {method.name} sample is not a valid sample; "
                     "check convergence by re-running with a larger samples.")

    files = _write(spec, out, X, ev, indices, noise, conv, notes, command)
    summary = (out / "summary.txt").read_text()
    return SAResult(out, indices, noise, conv, summary, files, ev.batch, notes)


def _ranks(indices: pd.DataFrame, main: str) -> pd.Series:
    """Rank 1 = largest ``main`` index within each output (other rows get no rank)."""
    rank = pd.Series(pd.NA, index=indices.index, dtype="Int64")
    sel = (indices["index"] == main) & (indices["factor_2"] == "")
    rank[sel] = (indices[sel].groupby("output")["value"]
                 .rank(ascending=False, method="min").astype("Int64"))
    return rank


def _convergence(spec: SASpec, problem: dict[str, Any], X: np.ndarray, Y: np.ndarray,
                 output: str, full: pd.DataFrame) -> pd.DataFrame:
    """The ranked indices on growing prefixes of the sample (the full sample reuses ``full``)."""
    method = spec.method
    light = method.with_resamples(min(method.resamples, CONVERGENCE_RESAMPLES))
    frames = []
    for size, rows in method.prefixes(problem, spec.samples):
        if size == spec.samples:
            res = full.drop(columns=["method", "output"])
        else:
            with warnings.catch_warnings():  # tiny prefixes are expected to be poor
                warnings.simplefilter("ignore")
                res = light.analyze(problem, X[:rows], Y[:rows], spec.seed)
        res = res[res["index"].isin(method.main) & (res["factor_2"] == "")].copy()
        res.insert(0, "rows", rows)
        res.insert(0, "samples", size)
        res.insert(0, "output", output)
        frames.append(res)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _write(spec: SASpec, out: Path, X: np.ndarray, ev: Evaluation, indices: pd.DataFrame,
           noise: pd.DataFrame, conv: pd.DataFrame, notes: list[str], command: str) -> list[str]:
    method = spec.method
    labels = spec.labels()
    files = ["indices.csv", "noise.csv", "samples.csv"]
    indices.to_csv(out / "indices.csv", index=False)
    noise.to_csv(out / "noise.csv", index=False)
    samples = pd.DataFrame(X, columns=[f.name for f in spec.factors])
    samples.insert(0, "point", ev.point_of_row)
    samples.insert(0, "row", np.arange(len(X)))
    for o in spec.outputs:
        samples[o.name] = ev.means(o.name)
    samples.to_csv(out / "samples.csv", index=False)
    title = f"{spec.name}: {method.name}, {spec.samples} {method.sample_unit}"
    if not indices.empty:
        if method.name == "morris":
            plots.plot_morris(indices, out / "morris.png", labels, title)
            files.append("morris.png")
        else:
            bars = {"sobol": ("S1", "ST"), "fast": ("S1", "ST"), "pawn": ("median",)}[method.name]
            plots.plot_bars(indices, out / f"{method.name}.png", labels, bars, title)
            files.append(f"{method.name}.png")
            if (indices["index"] == "S2").any():
                plots.plot_s2(indices, out / "sobol_s2.png", labels, title)
                files.append("sobol_s2.png")
    if not conv.empty:
        conv.to_csv(out / "convergence.csv", index=False)
        plots.plot_convergence(conv, out / "convergence.png", labels, method.main,
                               method.sample_unit, f"{spec.name}: convergence")
        files += ["convergence.csv", "convergence.png"]
    (out / "summary.txt").write_text(summary_text(spec, X, ev, indices, noise, notes))
    files.append("summary.txt")
    manifest = provenance.manifest({
        "sa_file": spec.path,
        "sa": spec.raw,
        "settings": spec.settings,
        "method_options": method.options,
        "problem": spec.problem(),
        "sample_rows": len(X),
        "design_points": len(ev.points) if ev.points else len(X),
        "runs": (len(ev.points) * spec.replicates) if ev.points else None,
        "batch": None if ev.batch is None else ev.batch.__dict__,
    }, command=command, files=[*files, "sensitivity.json"])
    (out / "sensitivity.json").write_text(provenance.manifest_text(manifest))
    files.append("sensitivity.json")
    return files


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "nan"
    return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"


def summary_text(spec: SASpec, X: np.ndarray, ev: Evaluation, indices: pd.DataFrame,
                 noise: pd.DataFrame, notes: list[str]) -> str:
    """The human-readable report: what was run, the ranking per output, noise and warnings."""
    method = spec.method
    lines = [f"Sensitivity analysis: {spec.name}"]
    if spec.description:
        lines.append(spec.description)
    if spec.test_function is not None:
        tf = spec.test_function
        lines.append(f"model: test function {tf.name}" + (f" (noise sd {tf.noise_sd:g})"
                                                         if tf.noise_sd else ""))
    else:
        arm = spec.experiment_table["arms"][0]
        weeks = spec.experiment_table["weeks"] or "the scenario's"
        lines.append(f"model: implsim, scenario {spec.settings['scenario']!r}, arm "
                     f"{arm['name']!r}, {weeks} weeks")
    groups = f"; {len(set(spec.problem().get('groups', [])))} groups" if spec.grouped else ""
    size = f"{spec.samples} {method.sample_unit}"
    if len(X) != spec.samples:
        size += f" → {len(X)} sample rows"
    lines.append(f"method: {method.name}, {size}; {len(spec.factors)} factors{groups}; "
                 f"seed {spec.seed}")
    crn = spec.settings["common_random_numbers"] and spec.test_function is None
    if ev.points:
        b = ev.batch
        lines.append(f"runs: {len(ev.points)} distinct design points × {spec.replicates} "
                     f"replicates = {len(ev.points) * spec.replicates} runs"
                     + (" (common random numbers)" if crn else "")
                     + ("" if b is None else f"; run now {b.ran}, already stored {b.skipped}"))
    else:
        lines.append(f"replicates: {spec.replicates} per sample row")
    lines.append("indices are computed on the replicate means of each sample row")
    main = method.main[0]
    extra = [i for i in method.main[1:]] + (["sigma"] if method.name == "morris" else [])
    labels = spec.labels()
    dummies = [f.name for f in spec.factors if f.name.startswith("dummy.")]
    for o in spec.outputs:
        lines += ["", f"Output {o.name}" + (" (mean over the bundles)" if o.bundle is None
                                            and o.column != "y" else "")]
        df = indices[indices["output"] == o.name] if not indices.empty else indices
        if df.empty:
            lines.append("  not analysed (see notes)")
        else:
            first = df[(df["index"] == main) & (df["factor_2"] == "")].sort_values(
                "value", ascending=False)
            pct = f"{spec.settings['conf_level']:.0%}"
            head = f"  {'rank':>4}  {'factor':40s} {main:>9}  {pct + ' interval':>22}"
            head += "".join(f" {i:>9}" for i in extra)
            lines.append(head)
            for k, row in enumerate(first.itertuples(), 1):
                ci = f"[{_fmt(row.conf_low)}, {_fmt(row.conf_high)}]"
                line = f"  {k:>4}  {labels.get(row.factor, row.factor)[:40]:40s} " \
                       f"{_fmt(row.value):>9}  {ci:>22}"
                for i in extra:
                    v = df[(df["index"] == i) & (df["factor"] == row.factor)
                           & (df["factor_2"] == "")]["value"]
                    line += f" {_fmt(float(v.iloc[0])) if len(v) else '':>9}"
                lines.append(line)
            top = [f"{labels.get(r.factor, r.factor)} ({_fmt(r.value)})"
                   for r in first.head(3).itertuples() if r.factor not in dummies]
            lines.append(f"  top factors by {main}: {', '.join(top)}")
            for d in dummies:
                v = first[first["factor"] == d]["value"]
                if len(v):
                    lines.append(f"  {d} is never applied: its {main} = {_fmt(float(v.iloc[0]))} "
                                 "is what 'no effect' looks like in this analysis")
        nrow = noise[noise["output"] == o.name]
        if len(nrow):
            flag = "WARNING: " if bool(nrow["too_noisy"].iloc[0]) else ""
            lines.append(f"  noise: {flag}{nrow['message'].iloc[0]}")
    warn = noise[noise["too_noisy"]]
    if len(warn) or notes:
        lines += ["", "Warnings and notes:"]
        lines += [f"  - {m}" for m in warn["message"]]
        lines += [f"  - {n}" for n in notes]
    if crn and spec.replicates > 1:
        lines += ["", "With common random numbers the noise shares above are upper bounds: "
                  "replicate k of every point shares a seed, so much of the noise cancels in "
                  "the differences between points."]
    return "\n".join(lines) + "\n"

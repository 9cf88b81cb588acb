"""The evaluation step: sample rows in, single-run outputs per point and replicate out.

Two evaluators share one interface, ``evaluate(X) -> Evaluation``, so sampling, the noise
report, the analysis and every output are the same code whether the "model" is implsim or a
test function with known indices:

- :class:`ModelEvaluator` turns rows into experiment design points (``type = "list"``) crossed
  with replicates and runs them with :func:`sim.experiment.run_experiment` into ``DIR/store``:
  a local Dask cluster, a scheduler address or serial, resumable after an interruption. Rows
  that give the same applied point (they differ only in a dummy factor, or in an integer
  factor's rounding) are run once: with common random numbers they would give the same
  results anyway.
- :class:`TestFunctionEvaluator` computes Ishigami or Sobol G, plus optional Gaussian noise per
  replicate so that the replicate handling is exercised as well.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from sim.experiment.design import experiment_from_dict
from sim.experiment.execute import BatchReport, run_experiment
from sim.experiment.store import ResultStore
from sim.rng import stream
from sim.sensitivity.problem import Output, SASpec


@dataclass
class Evaluation:
    """Single-run outputs of every design point and replicate, and which point each row is.

    ``runs[output]`` has shape (points, replicates); ``point_of_row[i]`` is the point that
    sample row ``i`` was run as.
    """

    runs: dict[str, np.ndarray]
    point_of_row: np.ndarray
    points: list[dict[str, Any]]
    batch: BatchReport | None = None

    def means(self, output: str) -> np.ndarray:
        """Replicate means per sample row: the Y the indices are computed from."""
        per_point = _nanmean_rows(self.runs[output])
        return per_point[self.point_of_row]


def _nanmean_rows(a: np.ndarray) -> np.ndarray:
    """Mean of each row over the non-NaN values (NaN where every value is NaN), quietly."""
    ok = ~np.isnan(a)
    count = ok.sum(axis=1)
    total = np.where(ok, a, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


class Evaluator(Protocol):
    """Anything that runs sample rows and returns an :class:`Evaluation`."""

    def evaluate(self, X: np.ndarray) -> Evaluation:
        """Run every row of ``X`` (with replicates)."""
        ...


class TestFunctionEvaluator:
    """Evaluate a test function; replicates add independent N(0, noise_sd²) noise."""

    __test__ = False  # not a pytest test class

    def __init__(self, spec: SASpec) -> None:
        if spec.test_function is None:
            raise ValueError("the SA spec has no test function")
        self.spec = spec
        self.function = spec.test_function

    def evaluate(self, X: np.ndarray) -> Evaluation:
        """f(x) for every row, replicated with the SA seed's noise stream."""
        names = [f.name for f in self.spec.factors]
        cols = [names.index(n) for n in self.function.factor_names]
        y = self.function(X[:, cols])
        reps = self.spec.replicates
        runs = np.repeat(y[:, None], reps, axis=1)
        if self.function.noise_sd > 0:
            rng = stream(self.spec.seed, "sensitivity:test_function:noise")
            runs = runs + rng.normal(0.0, self.function.noise_sd, runs.shape)
        return Evaluation({"y": runs}, np.arange(len(X)), [])


class ModelEvaluator:
    """Run sample rows through the experiment engine into a resumable store."""

    def __init__(self, spec: SASpec, store: str | Path, *, scheduler: str | None = None,
                 workers: int | None = None, serial: bool = False, quiet: bool = False,
                 on_chunk: Callable[[int], None] | None = None) -> None:
        self.spec = spec
        self.store = Path(store)
        self.kwargs: dict[str, Any] = {"scheduler": scheduler, "workers": workers,
                                       "serial": serial, "quiet": quiet, "on_chunk": on_chunk}

    def design(self, X: np.ndarray) -> tuple[list[dict[str, Any]], np.ndarray]:
        """Distinct applied design points, and the point of every sample row."""
        index: dict[str, int] = {}
        points: list[dict[str, Any]] = []
        of_row = np.empty(len(X), np.intp)
        for i, x in enumerate(X):
            point = self.spec.point(x)
            key = json.dumps(point, sort_keys=True)
            if key not in index:
                index[key] = len(points)
                points.append(point)
            of_row[i] = index[key]
        return points, of_row

    def evaluate(self, X: np.ndarray) -> Evaluation:
        """Run (or resume) the design, then read the outputs of every run from the store."""
        points, of_row = self.design(X)
        table = dict(self.spec.experiment_table)
        table["design"] = {"type": "list", "points": points}
        experiment = experiment_from_dict(table, self.spec.path, self.spec.base_dir)
        batch = run_experiment(experiment, self.store, **self.kwargs)
        summary = ResultStore(self.store).read("summary")
        runs = {o.name: per_run(summary, o, len(points), self.spec.replicates)
                for o in self.spec.outputs}
        return Evaluation(runs, of_row, points, batch)


def per_run(summary: pd.DataFrame, output: Output, n_points: int,
            replicates: int) -> np.ndarray:
    """One output's value for every (point, replicate): a bundle's, or the mean over bundles.

    The mean skips bundles where the output is undefined in that run (NaN), e.g.
    sustainability of a bundle whose compliance was zero when support ended.
    """
    rows = summary if output.bundle is None else summary[summary["bundle"] == output.bundle]
    values = rows.groupby(["point", "replicate"])[output.column].mean()
    out = np.full((n_points, replicates), np.nan)
    idx = values.index.to_frame(index=False).to_numpy(dtype=np.intp)
    out[idx[:, 0], idx[:, 1]] = values.to_numpy(dtype=float)
    return out

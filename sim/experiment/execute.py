"""Running an experiment: chunks of runs as Dask tasks, each writing its own results.

By default a local Dask cluster sized to the machine is started (no set-up); ``scheduler`` names a
running cluster (``tcp://host:8786``) whose workers can reach the store's directory, e.g. one
started on SLURM/PBS with dask-jobqueue (``experiments/cluster/``). ``serial`` runs in this
process without Dask. Every task runs a chunk of runs and writes the chunk to the store itself, so
the driver holds no results and a killed batch keeps every finished chunk; re-running the same
command skips them. Results depend only on each run's seed, never on how many workers ran them.
One driver at a time holds the store (:func:`sim.experiment.store.exclusive`); it removes the
temporary files a killed batch left before it resumes. The local cluster's worker processes
ignore SIGINT (:func:`dask_setup`): a Ctrl-C to the terminal's process group reaches them too,
and only the driver should answer it, with one line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.experiment.design import Experiment, Run
from sim.experiment.store import ResultStore, exclusive
from sim.memory import retain_freed_memory
from sim.progress import Progress
from sim.simulate import run as run_scenario

# Each choice keeps its level and every coarser one (the time series' levels, sim.params.LEVELS).
_LEVELS = {"none": (), "system": ("system",), "kind": ("system", "kind"),
           "trust": ("system", "kind", "trust"),
           "municipality": ("system", "kind", "trust", "municipality"),
           "organisation": ("system", "kind", "trust", "municipality", "organisation"),
           "unit": ("system", "kind", "trust", "municipality", "organisation", "unit")}


def auto_chunk_size(n_runs: int) -> int:
    """Runs per task: about a hundred tasks, 1 to 50 runs each (independent of worker count)."""
    return max(1, min(50, math.ceil(n_runs / 100)))


def run_one(experiment: Experiment, r: Run) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summary and time-series rows of one run, labelled with the run's identity."""
    scenario = experiment.scenario_for(r)
    levels = _LEVELS[experiment.settings["timeseries"]]
    if "unit" not in levels:  # a copy: the experiment's scenarios are never changed
        scenario = dataclasses.replace(scenario, output={**scenario.output, "unit_level": False})
    # only the levels the store keeps are built (the store keeps no element table)
    scenario = dataclasses.replace(scenario, output={
        **scenario.output, "levels": [lv for lv in levels if lv != "system"], "elements": False})
    result = run_scenario(scenario, r.seed, r.replicate)
    labels = {"run_id": r.run_id, "arm": experiment.arm_names[r.arm], "point": r.point,
              "replicate": r.replicate, "seed": r.seed}
    point = experiment.points[r.point]
    out = []
    for df in (result.summary, result.timeseries):
        df = df.drop(columns=["strategy", "replicate", "seed"])
        if "level" in df:
            df = df[df["level"].astype(str).isin(levels)]
            df = df.astype({"level": str, "bundle": str})
        for col, value in reversed(list(labels.items())):
            df.insert(0, col, value)
        for factor, value in point.items():
            df[factor] = value
        out.append(df.reset_index(drop=True))
    return out[0], out[1]


#: Worker preload of the local clusters (this module's :func:`dask_setup`).
WORKER_PRELOAD = __name__


def dask_setup(worker: object) -> None:
    """Dask worker preload: ignore SIGINT in a local cluster's worker process.

    Why: Ctrl-C in a terminal signals the whole process group, and each worker then printed a
    36-line KeyboardInterrupt traceback before the driver's one line; the driver closes the
    cluster itself. Preloads run on the worker's main thread, where signals can be set.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_chunk(store_root: str, chunk: int, runs: list[Run], experiment: Experiment) -> int:
    """Task body: run a chunk and write it to the store (on the worker). Returns runs done."""
    retain_freed_memory()  # the worker process is ours: keep freed week temporaries
    store = ResultStore(store_root)
    summaries, series = [], []
    for r in runs:
        s, t = run_one(experiment, r)
        summaries.append(s)
        series.append(t)
    store.write_chunk(chunk, [r.run_id for r in runs],
                      {"summary": pd.concat(summaries, ignore_index=True),
                       "timeseries": pd.concat(series, ignore_index=True)},
                      fingerprint=experiment.fingerprint())
    return len(runs)


class DaskInterruptNoise(logging.Filter):
    """Keeps an interrupted batch's stderr to implsim's one line.

    Once the user has interrupted, Dask's teardown logging (cancelled keys, closed comms) says
    nothing they need; and an interrupt that lands early in distributed's ``sync`` makes its
    ``cancel`` callback fail with a NameError whose traceback tornado logs (a race inside
    distributed). This filter drops both, and nothing else.
    """

    def __init__(self) -> None:
        super().__init__()
        self.interrupted = False

    def filter(self, record: logging.LogRecord) -> bool:
        """False for records to drop."""
        if self.interrupted:
            return False
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, NameError) and "sync.<locals>.cancel" in record.getMessage())

    def handlers(self) -> list[logging.Handler]:
        """Handlers that print Dask's and tornado's records (and the last-resort one)."""
        found = [logging.lastResort] if logging.lastResort else []
        for name in ("", "distributed", "tornado", "tornado.application"):
            found += [h for h in logging.getLogger(name).handlers if h not in found]
        return found


@dataclass
class BatchReport:
    """What a call did: runs in total, already done before, and run now."""

    total: int
    skipped: int
    ran: int


def run_experiment(experiment: Experiment, out: str | Path, *, scheduler: str | None = None,
                   workers: int | None = None, serial: bool = False, quiet: bool = False,
                   on_chunk: Callable[[int], None] | None = None) -> BatchReport:
    """Run (or resume) an experiment into the store at ``out`` (refused if another driver is)."""
    root = Path(out).resolve()
    with exclusive(root):
        return _run_locked(experiment, ResultStore(root), scheduler=scheduler, workers=workers,
                           serial=serial, quiet=quiet, on_chunk=on_chunk)


def _run_locked(experiment: Experiment, store: ResultStore, *, scheduler: str | None,
                workers: int | None, serial: bool, quiet: bool,
                on_chunk: Callable[[int], None] | None) -> BatchReport:
    """The batch, once this driver holds the store's lock."""
    runs = experiment.runs()
    chunk_size = experiment.settings["chunk_size"] or auto_chunk_size(len(runs))
    chunk_size = store.create_or_check(experiment, runs, chunk_size)
    store.remove_temporaries()  # leftovers of a killed batch (we hold the lock)
    chunks: dict[int, list[Run]] = {}
    for r in runs:
        chunks.setdefault(r.run_id // chunk_size, []).append(r)
    done = store.done_chunks()
    todo = [c for c in sorted(chunks) if c not in done]
    skipped = sum(len(chunks[c]) for c in done if c in chunks)
    bar = Progress(len(runs), "runs", quiet=quiet)
    bar.done = skipped
    if not quiet and skipped:
        print(f"resuming: {skipped} of {len(runs)} runs already in {store.root}", flush=True)
    if not todo:
        return BatchReport(len(runs), skipped, 0)
    if serial:
        for c in todo:
            bar.advance(run_chunk(str(store.root), c, chunks[c], experiment))
            if on_chunk:
                on_chunk(c)
        return BatchReport(len(runs), skipped, len(runs) - skipped)

    import dask
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="20s")
    else:
        n = workers or os.cpu_count() or 1
        # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 for its workers, which makes every
        # large temporary array a round trip to the OS: runs were ~2× slower. Unset it.
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_":
                              None}):
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                   dashboard_address="127.0.0.1:0", silence_logs=40,
                                   scheduler_kwargs={"dashboard": False},
                                   preload=[WORKER_PRELOAD])
        client = Client(cluster)
    noise = DaskInterruptNoise()
    handlers = noise.handlers()
    for handler in handlers:
        handler.addFilter(noise)
    try:
        exp_future = client.scatter(experiment, broadcast=True)
        # Keys name the store too: two batches of one experiment on one scheduler stay apart.
        tag = hashlib.sha256(str(store.root).encode()).hexdigest()[:8]
        futures = {
            client.submit(run_chunk, str(store.root), c, chunks[c], exp_future,
                          key=f"implsim-{experiment.fingerprint()}-{tag}-chunk-{c}", pure=False,
                          retries=3): c
            for c in todo
        }
        for fut in as_completed(futures):
            bar.advance(fut.result())
            if on_chunk:
                on_chunk(futures[fut])
    except KeyboardInterrupt:
        noise.interrupted = True  # the filter stays: teardown logs keep coming after we return
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        if not noise.interrupted:
            for handler in handlers:
                handler.removeFilter(noise)
    missing = sorted(set(todo) - store.done_chunks(verify=False))
    if missing:  # never report success for chunks that are not in the store
        raise RuntimeError(f"{len(missing)} chunks finished without reaching {store.root} "
                           f"(first: {missing[0]}); do the workers see that directory?")
    return BatchReport(len(runs), skipped, len(runs) - skipped)

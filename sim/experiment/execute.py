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

The store, not Dask's memory, is the record of what is done. Each task carries its experiment
(:class:`ShippedExperiment`), so it runs on any worker, also one that joins after every other
died; the driver releases each task as soon as it has finished, so Dask has nothing to recompute
when a worker dies later; and a task whose chunk is already stored returns at once. A lost
scheduler (or a chunk that killed worker after worker) ends the batch with one line
(:class:`BatchLost`); re-running the same command resumes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import os
import pickle
import signal
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sim.errors import InputError
from sim.experiment.design import Experiment, Run
from sim.experiment.store import ResultStore, exclusive
from sim.experiment.worker_hint import NoWorkerHint
from sim.memory import retain_freed_memory
from sim.progress import Progress
from sim.simulate import run as run_scenario

if TYPE_CHECKING:
    from dask.distributed import LocalCluster

# Each choice keeps its level and every coarser one (the time series' levels, sim.params.LEVELS).
_LEVELS = {"none": (), "system": ("system",), "kind": ("system", "kind"),
           "trust": ("system", "kind", "trust"),
           "municipality": ("system", "kind", "trust", "municipality"),
           "organisation": ("system", "kind", "trust", "municipality", "organisation"),
           "unit": ("system", "kind", "trust", "municipality", "organisation", "unit")}


def auto_chunk_size(n_runs: int) -> int:
    """Runs per task: about a hundred tasks, 1 to 50 runs each (independent of worker count)."""
    return max(1, min(50, math.ceil(n_runs / 100)))


def run_one(experiment: Experiment, r: Run) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Summary, time-series and ICC cluster-sum rows of one run, labelled with its identity.

    The cluster sums are the run's own (:func:`sim.outcomes.icc.cluster_sums`), so the report's
    ``icc.csv`` is :func:`sim.outcomes.icc.icc_table` of the same numbers ``implsim run`` has.
    """
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
    for df, by_level in ((result.summary, True), (result.timeseries, True),
                         (result.clusters, False)):  # the clusters' level is the ICC's
        df = df.drop(columns=["strategy", "replicate", "seed"])
        if by_level and "level" in df:
            df = df[df["level"].astype(str).isin(levels)]
            df = df.astype({"level": str, "bundle": str})
        for col, value in reversed(list(labels.items())):
            df.insert(0, col, value)
        for factor, value in point.items():
            df[factor] = value
        out.append(df.reset_index(drop=True))
    return out[0], out[1], out[2]


#: Worker preload of the local clusters (this module's :func:`dask_setup`).
WORKER_PRELOAD = __name__


def dask_setup(worker: object) -> None:
    """Dask worker preload: ignore SIGINT in a local cluster's worker process.

    Why: Ctrl-C in a terminal signals the whole process group, and each worker then printed a
    36-line KeyboardInterrupt traceback before the driver's one line; the driver closes the
    cluster itself. Preloads run on the worker's main thread, where signals can be set.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class BatchLost(InputError):
    """The cluster lost the batch (its scheduler, or worker after worker); the store keeps the rest.

    An :class:`InputError` so that the command line ends with one line and exit code 2; the
    message ends "run the same command again to resume", to which the command line adds it.
    """


@dataclass(frozen=True)
class ShippedExperiment:
    """An experiment as each task carries it: its fingerprint and its pickled, compressed form.

    Why every task carries it, rather than a future of one copy scattered at the start: once
    every worker holding that copy had died, no task could run ("already forgotten") and the
    driver crashed. The price is the bytes each task carries (the tiny experiment: 6 kB; a
    design of 4,000 points: 206 kB, held by the scheduler until the task is done). Each worker
    unpacks a fingerprint once (:func:`_unpack`).
    """

    fingerprint: str
    blob: bytes

    @classmethod
    def of(cls, experiment: Experiment) -> ShippedExperiment:
        """Pack ``experiment``."""
        return cls(experiment.fingerprint(),
                   zlib.compress(pickle.dumps(experiment, protocol=pickle.HIGHEST_PROTOCOL)))


#: Experiments unpacked in this (worker) process, by fingerprint: the latest few batches'.
_UNPACKED: dict[str, Experiment] = {}
_UNPACKED_MAX = 4


def _unpack(shipped: ShippedExperiment) -> Experiment:
    experiment = _UNPACKED.get(shipped.fingerprint)
    if experiment is None:
        experiment = pickle.loads(zlib.decompress(shipped.blob))
        while len(_UNPACKED) >= _UNPACKED_MAX:
            del _UNPACKED[next(iter(_UNPACKED))]
        _UNPACKED[shipped.fingerprint] = experiment
    return experiment


@dataclass(frozen=True)
class Receipt:
    """What a chunk's task returns: the results themselves are in the store.

    The driver does not fetch it (a finished task is enough, and the store is checked at the
    end); it tells a caller of :func:`run_chunk` what happened.
    """

    chunk: int
    runs: int
    computed: bool  # False: the chunk was already in the store, nothing was run


_profiler_stopped = False


def _stop_profiler() -> None:
    """Stop the statistical profiler of the Dask worker this task runs on (once per process).

    Why: it keeps the call trees of the last 1,000 seconds of every task, and workers grew by
    them for the first ~17 minutes of a batch (:data:`WORKER_CONFIG` turns it off in the local
    clusters; this covers workers started by hand or by dask-jobqueue). The dashboard's profile
    page of such a worker then stays empty.
    """
    global _profiler_stopped
    if _profiler_stopped:
        return
    _profiler_stopped = True
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not in a Dask worker (serial)
        return

    def stop() -> None:  # on the worker's event loop, which owns the callbacks
        for name in ("profile", "profile-cycle"):
            callback = worker.periodic_callbacks.get(name)
            if callback is not None:
                callback.stop()
        worker.profile_history.clear()
        worker.profile_keys_history.clear()

    worker.loop.add_callback(stop)


def run_chunk(store_root: str, chunk: int, runs: list[Run],
              experiment: Experiment | ShippedExperiment) -> Receipt:
    """Task body: run a chunk and write it to the store (on the worker), unless it is there."""
    fingerprint = (experiment.fingerprint if isinstance(experiment, ShippedExperiment)
                   else experiment.fingerprint())
    store = ResultStore(store_root)
    if store.has_chunk(chunk, fingerprint):  # Dask ran this task again: it is done
        return Receipt(chunk, len(runs), computed=False)
    if isinstance(experiment, ShippedExperiment):
        experiment = _unpack(experiment)
    retain_freed_memory()  # the worker process is ours: keep freed week temporaries
    _stop_profiler()
    parts = [run_one(experiment, r) for r in runs]
    store.write_chunk(chunk, [r.run_id for r in runs],
                      {name: pd.concat([p[i] for p in parts], ignore_index=True)
                       for i, name in enumerate(("summary", "timeseries", "clusters"))},
                      fingerprint=fingerprint)
    return Receipt(chunk, len(runs), computed=True)


#: Dask settings of the local clusters' workers (``implsim experiment`` without --scheduler).
WORKER_CONFIG = {
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 for its workers, which makes every large
    # temporary array a round trip to the OS: runs were ~2× slower. Unset it.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # The statistical profiler samples the running task's stack every 10 ms and keeps the
    # last 1,000 one-second call trees (distributed.admin.low-level-log-length), so workers
    # grew for ~17 minutes: 3,000 tiny runs on 2 workers went from 356 to 408 MB each after
    # the 500th run, and stay at 326-327 MB without it (benchmarks/worker_memory.py). Nobody
    # reads those trees here (the local cluster has no dashboard).
    "distributed.worker.profile.enabled": False,
}


def local_cluster(n_workers: int) -> LocalCluster:
    """A Dask cluster of ``n_workers`` single-threaded processes on 127.0.0.1 (for one batch)."""
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set(WORKER_CONFIG):
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                            dashboard_address="127.0.0.1:0", silence_logs=40,
                            scheduler_kwargs={"dashboard": False}, preload=[WORKER_PRELOAD])


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
            bar.advance(run_chunk(str(store.root), c, chunks[c], experiment).runs)
            if on_chunk:
                on_chunk(c)
        return BatchReport(len(runs), skipped, len(runs) - skipped)

    from dask.distributed import Client, as_completed

    cluster = hint = None
    if scheduler:
        grace = NoWorkerHint.grace_period()  # a bad value is refused before connecting
        client = Client(scheduler, timeout="20s")
        hint = NoWorkerHint(client, scheduler, store, grace)
    else:
        cluster = local_cluster(workers or os.cpu_count() or 1)
        client = Client(cluster)
    noise = DaskInterruptNoise()
    handlers = noise.handlers()
    for handler in handlers:
        handler.addFilter(noise)
    try:
        shipped = ShippedExperiment.of(experiment)
        # Keys name the store too: two batches of one experiment on one scheduler stay apart.
        tag = hashlib.sha256(str(store.root).encode()).hexdigest()[:8]
        pending = {
            client.submit(run_chunk, str(store.root), c, chunks[c], shipped,
                          key=f"implsim-{experiment.fingerprint()}-{tag}-chunk-{c}", pure=False,
                          retries=3): c
            for c in todo
        }
        for fut in as_completed(list(pending)):
            chunk = pending.pop(fut)
            try:
                # A finished task's receipt stays on its worker: fetching it raced with that
                # worker's death ("Couldn't gather ... rescheduling"), and the store has the rest.
                if fut.status != "finished":
                    fut.result()  # raises the task's error, or why the cluster gave it up
            except Exception as exc:
                lost = _lost(exc, chunk, scheduler, store, len(chunks),
                             connected=client.status == "running")
                if lost is None:
                    raise
                noise.interrupted = True  # Dask's reconnect and teardown logs say no more
                raise lost from None
            finally:
                fut.release()  # done is in the store: nothing for Dask to keep or recompute
            bar.advance(len(chunks[chunk]))
            if on_chunk:
                on_chunk(chunk)
    except KeyboardInterrupt:
        noise.interrupted = True  # the filter stays: teardown logs keep coming after we return
        raise
    finally:
        if hint is not None:
            hint.stop()
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


def _lost(exc: Exception, chunk: int, scheduler: str | None, store: ResultStore,
          n_chunks: int, connected: bool = True) -> BatchLost | None:
    """The one-line error for a batch the cluster lost, or None for any other failure.

    ``connected``: whether the client still had its scheduler when ``exc`` arrived.
    """
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError

    where = f"--scheduler {scheduler}" if scheduler else "the local Dask cluster"
    kept = (f"{len(store.done_chunks(verify=False))} of {n_chunks} chunks are kept in "
            f"{store.root}")
    # The scheduler's death shows as the futures' cancellation or, when it lands while a
    # task's state or error is being fetched, as that connection's closing (or failing to open).
    if isinstance(exc, CommClosedError) or (isinstance(exc, OSError) and not connected) or (
            isinstance(exc, FutureCancelledError) and exc.reason == "scheduler-connection-lost"):
        return BatchLost(where, f"lost the connection to the Dask scheduler; {kept}. Start the "
                         "scheduler and its workers again, then run the same command again to "
                         "resume")
    if isinstance(exc, FutureCancelledError):
        return BatchLost(where, f"the cluster cancelled chunk {chunk} ({exc.reason}); {kept}. "
                         "Run the same command again to resume")
    if isinstance(exc, KilledWorker):
        return BatchLost(where, f"chunk {chunk} was running on {exc.allowed_failures + 1} "
                         f"workers that each died (out of memory?); {kept}. Give the workers "
                         "more memory (or smaller chunks: chunk_size), then run the same "
                         "command again to resume")
    return None

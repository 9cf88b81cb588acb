"""Faults of a Dask cluster: every worker lost, the scheduler lost, nothing finished computed twice.

Issue 17: killing all workers (or the scheduler) crashed the driver with a traceback, because the
experiment was scattered once and died with its holders; after each worker death Dask re-ran
every chunk that worker had finished. Here each task carries its experiment, the store is the
record of what is done, and a lost scheduler is one line naming the command that resumes.

The fault tests are real processes on 127.0.0.1: a ``dask scheduler``, ``dask worker`` processes
(without a nanny, so that the killed process is the one that runs tasks) and the ``implsim``
driver. Every worker loads a preload that logs each run it starts, so a test counts what was
computed. Each ends at a store whose parts are byte for byte the serial reference's.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import pickle
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_experiment_batch import (
    DASK,
    HOST,
    assert_complete,
    assert_same_results,
    cli,
    copy_store,
    free_port,
    implsim_cmd,
    one_line,
    snapshot,
    stop,
)
from tiny import TINY_STRUCTURE

import sim.experiment.execute as execute
from sim.experiment import ResultStore, load_experiment, run_experiment
from sim.experiment.execute import BatchLost, Receipt, ShippedExperiment, run_chunk

# A year of the tiny structure, 2 arms × 12 replicates in chunks of one run: 24 chunks.
EXPERIMENT = """\
name = "faults"
scenario = "default"
replicates = 12
seed = 31
chunk_size = 1
weeks = 52
timeseries = "system"
""" + TINY_STRUCTURE + """
[[arms]]
name = "no extra support"
strategy = "no extra support"

[[arms]]
name = "training + facilitation"
strategy = "training + facilitation"
"""
N_CHUNKS = 24

# Worker preload: append "run_id pid" to $IMPLSIM_TEST_RUNS_LOG when a run starts (once per
# process however often Dask loads the file).
COUNTER = '''
import os
import sim.experiment.execute as execute

if not getattr(execute, "_test_counting", False):
    execute._test_counting = True
    _run_one = execute.run_one

    def run_one(experiment, r):
        fd = os.open(os.environ["IMPLSIM_TEST_RUNS_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, f"{r.run_id} {os.getpid()}\\n".encode())
        finally:
            os.close(fd)
        return _run_one(experiment, r)

    execute.run_one = run_one
'''


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """The experiment file and its serial reference store."""
    d = tmp_path_factory.mktemp("dask-faults")
    exp = d / "faults.toml"
    exp.write_text(EXPERIMENT)
    report = run_experiment(load_experiment(exp), d / "reference", serial=True, quiet=True)
    assert report.ran == N_CHUNKS
    return exp, d / "reference"


def stored_bytes(root: Path) -> dict[str, str]:
    """What must not depend on how the batch ran: the run table and every part, by sha256, and
    every done record without its time stamp."""
    out = {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
           for sub in ("summary", "timeseries", "clusters")
           for p in sorted((root / sub).glob("*.parquet"))}
    out["runs.parquet"] = hashlib.sha256((root / "runs.parquet").read_bytes()).hexdigest()
    for rec in sorted((root / "done").glob("part-*.json")):
        entry = json.loads(rec.read_text())
        entry.pop("finished")
        out[str(rec.relative_to(root))] = json.dumps(entry, sort_keys=True)
    return out


def assert_equals_reference(out: Path, ref: Path) -> None:
    """0 lost, 0 duplicated, and byte for byte the serial reference."""
    assert_complete(out)
    assert_same_results(out, ref)
    assert stored_bytes(out) == stored_bytes(ref)


def done_chunks(root: Path) -> set[int]:
    return {int(p.stem.split("-")[1]) for p in (root / "done").glob("part-*.json")}


class Cluster:
    """A scheduler and nanny-less workers from the ``dask`` command line on 127.0.0.1, each worker
    counting the runs it starts (``runs``)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.address = f"tcp://{HOST}:{free_port()}"
        self.preload = workdir / "count_runs.py"
        self.preload.write_text(COUNTER)
        self.runs_log = workdir / "runs.log"
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def _start(self, args: list[str]) -> subprocess.Popen:
        log = self.workdir / f"{args[0]}{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as fh:
            proc = subprocess.Popen([str(DASK), *args], cwd=self.workdir, stdout=fh,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env={**os.environ, "IMPLSIM_TEST_RUNS_LOG": str(self.runs_log)})
        self.procs.append(proc)
        return proc

    def start_scheduler(self) -> None:
        self.scheduler = self._start(["scheduler", "--host", HOST, "--port",
                                      self.address.rsplit(":", 1)[1], "--no-dashboard"])

    def start_worker(self) -> subprocess.Popen:
        worker = self._start(["worker", self.address, "--host", HOST, "--nthreads", "1",
                              "--no-dashboard", "--no-nanny", "--preload", str(self.preload)])
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(n, timeout=60)

    def start(self, n_workers: int) -> Cluster:
        self.start_scheduler()
        for _ in range(n_workers):
            self.start_worker()
        self.wait_for_workers(n_workers)
        return self

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def runs(self) -> collections.Counter[int]:
        """How often each run was started, over every worker so far."""
        if not self.runs_log.exists():
            return collections.Counter()
        return collections.Counter(int(line.split()[0])
                                   for line in self.runs_log.read_text().splitlines())

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop(proc)

    def log_text(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in self.logs
                         if p.exists())


@pytest.fixture
def cluster(tmp_path: Path):
    started = Cluster(tmp_path)
    yield started
    started.stop()


def driver(exp: Path, out: Path, cluster: Cluster, cwd: Path) -> tuple[subprocess.Popen, list]:
    args = ["experiment", str(exp), "--out", str(out), "--scheduler", cluster.address,
            "--quiet"]
    proc = subprocess.Popen(implsim_cmd(*args), cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    cluster.procs.append(proc)
    return proc, args


def wait_for(out: Path, at_least: int, proc: subprocess.Popen, cluster: Cluster,
             timeout: float = 180) -> set[int]:
    """The done chunks once there are ``at_least`` (fails if the driver ends first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = done_chunks(out) if (out / "done").is_dir() else set()
        if len(done) >= at_least:
            return done
        if proc.poll() is not None:
            pytest.fail(f"the driver ended (exit {proc.returncode}) before {at_least} chunks: "
                        f"{proc.communicate()}\n{cluster.log_text()}")
        time.sleep(0.02)
    pytest.fail(f"fewer than {at_least} chunks after {timeout} s\n{cluster.log_text()}")


def finish(proc: subprocess.Popen, cluster: Cluster, timeout: float = 240) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the driver did not finish\n{cluster.log_text()}")


def assert_finished_chunks_computed_once(runs: collections.Counter[int], finished: set[int],
                                         in_flight: int) -> None:
    """Every run started at least once; a run finished before the fault exactly once (chunks
    are single runs); at most ``in_flight`` runs (those running when the fault hit) twice."""
    assert set(runs) == set(range(N_CHUNKS))
    twice = {r: n for r, n in runs.items() if n > 1}
    assert not set(twice) & finished, f"finished chunks computed again: {twice}"
    assert sum(n - 1 for n in twice.values()) <= in_flight, twice


# --- real processes ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_worker_costs_only_the_chunk_it_was_running(reference, tmp_path, cluster):
    exp, ref = reference
    cluster.start(2)
    out = tmp_path / "out"
    proc, _ = driver(exp, out, cluster, tmp_path)
    wait_for(out, 8, proc, cluster)
    victim = cluster.workers[0]
    cluster.kill(victim)
    finished = done_chunks(out)
    _, err = finish(proc, cluster)
    assert proc.returncode == 0, err + cluster.log_text()
    assert err.strip() == "", err  # --quiet: not a word from Dask either
    assert_equals_reference(out, ref)
    assert_finished_chunks_computed_once(cluster.runs(), finished, in_flight=1)

    from distributed import Client  # the survivor's profiler was stopped by the first task

    with Client(cluster.address, timeout=30) as client:
        running = client.run(lambda dask_worker: dask_worker.periodic_callbacks["profile"]
                             .is_running())
    assert list(running.values()) == [False]


@pytest.mark.slow
def test_all_workers_killed_then_one_started_the_batch_goes_on(reference, tmp_path, cluster):
    exp, ref = reference
    cluster.start(2)
    out = tmp_path / "out"
    proc, _ = driver(exp, out, cluster, tmp_path)
    wait_for(out, 6, proc, cluster)
    for worker in cluster.workers:
        cluster.kill(worker)
    finished = done_chunks(out)
    time.sleep(3)  # no worker at all for a while: the driver waits, it does not crash
    assert proc.poll() is None, proc.communicate()
    assert done_chunks(out) == finished
    cluster.start_worker()
    _, err = finish(proc, cluster)
    assert proc.returncode == 0, err + cluster.log_text()
    assert err.strip() == "", err
    assert_equals_reference(out, ref)
    assert_finished_chunks_computed_once(cluster.runs(), finished, in_flight=2)


@pytest.mark.slow
def test_a_lost_scheduler_is_one_line_and_the_rerun_completes(reference, tmp_path, cluster):
    exp, ref = reference
    cluster.start(2)
    out = tmp_path / "out"
    proc, args = driver(exp, out, cluster, tmp_path)
    wait_for(out, 6, proc, cluster)
    cluster.kill(cluster.scheduler)
    _, err = finish(proc, cluster, timeout=90)
    line = one_line(proc.returncode, err)
    assert line.startswith(f"implsim: error: --scheduler {cluster.address}: lost the connection "
                           "to the Dask scheduler; "), line
    assert f"chunks are kept in {out.resolve()}" in line
    assert line.endswith(f"run the same command again to resume: implsim {shlex.join(args)}")
    for worker in cluster.workers:  # without their scheduler they stop; make sure they have
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            cluster.kill(worker)
    finished = done_chunks(out)
    assert 6 <= len(finished) < N_CHUNKS
    assert ResultStore(out).done_chunks() == finished  # what is recorded done is whole

    cluster.workers = []
    cluster.start(2)  # the same address again
    rerun = subprocess.run(implsim_cmd(*args[:-1]), cwd=tmp_path, capture_output=True,
                           text=True, timeout=240)
    assert rerun.returncode == 0, rerun.stderr + cluster.log_text()
    assert f"resuming: {len(finished)} of {N_CHUNKS} runs already in" in rerun.stdout
    assert "Traceback" not in rerun.stderr
    assert_equals_reference(out, ref)
    assert_finished_chunks_computed_once(cluster.runs(), finished, in_flight=2)


@pytest.mark.slow
def test_local_cluster_workers_keep_no_profile(tmp_path):
    from distributed import Client

    with execute.local_cluster(1) as local, Client(local) as client:
        enabled = client.run(lambda dask_worker: "profile" in dask_worker.periodic_callbacks)
    assert list(enabled.values()) == [False]


@pytest.mark.slow
def test_the_worker_memory_benchmark_prints_both_levels_and_the_ratio():
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "worker_memory.py"
    out = subprocess.run([sys.executable, str(bench), "--runs", "24", "--weeks", "4", "--at",
                          "8", "--workers", "1"], capture_output=True, text=True, timeout=300,
                         check=True).stdout
    assert "24 runs of 4 weeks (tiny structure) on 1 workers" in out, out
    level = re.search(r"worker 0: (\d+) MB after 8 runs, (\d+) MB at the end: ratio "
                      r"([\d.]+)", out)
    assert level, out
    assert float(level.group(3)) == pytest.approx(int(level.group(2)) / int(level.group(1)),
                                                  abs=0.01)
    assert re.search(r"all workers: ratio [\d.]+, (NOT )?within 10% of the 8-run level", out)


# --- in process ----------------------------------------------------------------------------------


def test_a_task_carries_its_experiment_and_a_worker_unpacks_it_once(reference, tmp_path,
                                                                    monkeypatch):
    exp, ref = reference
    experiment = load_experiment(exp)
    monkeypatch.setattr(execute, "_UNPACKED", {})
    shipped = pickle.loads(pickle.dumps(ShippedExperiment.of(experiment)))  # as Dask sends it
    assert shipped.fingerprint == experiment.fingerprint()
    assert len(shipped.blob) < 20_000
    first = execute._unpack(shipped)
    assert first is not experiment and first.fingerprint() == experiment.fingerprint()
    assert first.runs() == experiment.runs()
    assert execute._unpack(pickle.loads(pickle.dumps(shipped))) is first  # cached by fingerprint

    out = copy_store(ref, tmp_path / "out")
    for sub in ("done", "summary", "timeseries"):
        next((out / sub).glob("part-00005.*")).unlink()
    receipt = run_chunk(str(out), 5, [experiment.runs()[5]], shipped)
    assert receipt == Receipt(5, 1, computed=True)
    assert stored_bytes(out) == stored_bytes(ref)


def test_the_worker_cache_keeps_the_latest_experiments(reference, monkeypatch):
    exp, _ = reference
    monkeypatch.setattr(execute, "_UNPACKED", {})
    experiment = load_experiment(exp)
    blob = ShippedExperiment.of(experiment).blob
    for i in range(execute._UNPACKED_MAX + 2):
        execute._unpack(ShippedExperiment(f"fp{i}", blob))
    assert list(execute._UNPACKED) == [f"fp{i}" for i in range(2, execute._UNPACKED_MAX + 2)]


def test_a_chunk_already_in_the_store_is_not_computed_again(reference, tmp_path, monkeypatch):
    exp, ref = reference
    experiment = load_experiment(exp)
    out = copy_store(ref, tmp_path / "out")
    before = snapshot(out)

    def must_not_run(*args):
        raise AssertionError("a stored chunk was computed again")

    monkeypatch.setattr(execute, "run_one", must_not_run)
    for carried in (experiment, ShippedExperiment.of(experiment)):
        assert run_chunk(str(out), 3, [experiment.runs()[3]], carried) == \
            Receipt(3, 1, computed=False)
    assert snapshot(out) == before


@pytest.mark.parametrize("damage", ["no record", "other experiment", "changed part"])
def test_a_chunk_not_whole_in_the_store_is_not_taken_as_done(reference, tmp_path, damage):
    exp, ref = reference
    fingerprint = load_experiment(exp).fingerprint()
    out = copy_store(ref, tmp_path / "out")
    store = ResultStore(out)
    assert store.has_chunk(3, fingerprint)
    if damage == "no record":
        store.record(3).unlink()
    elif damage == "other experiment":
        fingerprint = "0123456789abcdef"
    else:
        store.part("timeseries", 3).write_bytes(store.part("timeseries", 4).read_bytes())
    assert not store.has_chunk(3, fingerprint)


def _cancelled(reason: str) -> Exception:
    from distributed.client import FutureCancelledError

    return FutureCancelledError("implsim-x-chunk-3", reason, "gone")


def test_lost_and_killed_batches_are_one_line_naming_what_is_kept(reference):
    from distributed import KilledWorker

    _, ref = reference
    store = ResultStore(ref)
    addr = "tcp://127.0.0.1:1"
    lost = execute._lost(_cancelled("scheduler-connection-lost"), 3, addr, store, N_CHUNKS)
    assert isinstance(lost, BatchLost)
    assert str(lost) == (f"--scheduler {addr}: lost the connection to the Dask scheduler; "
                         f"{N_CHUNKS} of {N_CHUNKS} chunks are kept in {ref}. Start the "
                         "scheduler and its workers again, then run the same command again to "
                         "resume")
    from distributed.comm.core import CommClosedError

    closed = CommClosedError("in <TCP (closed) ConnectionPool.gather>: Connection reset by peer")
    assert str(execute._lost(closed, 3, addr, store, N_CHUNKS)) == str(lost)
    assert execute._lost(OSError(28, "No space left on device"), 3, addr, store,
                         N_CHUNKS) is None  # a task's own failure is not a lost scheduler
    refused = OSError("Timed out trying to connect to tcp://127.0.0.1:1 after 20 s")
    assert str(execute._lost(refused, 3, addr, store, N_CHUNKS, connected=False)) == str(lost)
    other = execute._lost(_cancelled("client-closing"), 3, None, store, N_CHUNKS)
    assert str(other).startswith("the local Dask cluster: the cluster cancelled chunk 3 "
                                 "(client-closing)")
    killed = execute._lost(KilledWorker("implsim-x-chunk-3", None, 3), 3, addr, store,
                           N_CHUNKS)
    assert "chunk 3 was running on 4 workers that each died" in str(killed)
    assert execute._lost(ValueError("a bug"), 3, addr, store, N_CHUNKS) is None


def test_the_command_line_names_the_command_that_resumes(reference, tmp_path, capsys,
                                                         monkeypatch):
    exp, _ = reference
    out = tmp_path / "my out"

    def lose(*args, **kwargs):
        raise BatchLost("--scheduler tcp://127.0.0.1:1", "lost the connection to the Dask "
                        "scheduler; 0 of 24 chunks are kept in X. Start the scheduler and its "
                        "workers again, then run the same command again to resume")

    monkeypatch.setattr("sim.experiment.run_experiment", lose)
    line = one_line(*cli(capsys, "experiment", exp, "--out", out, "--scheduler",
                         "tcp://127.0.0.1:1", "--quiet")[::2])
    assert line == ("implsim: error: --scheduler tcp://127.0.0.1:1: lost the connection to the "
                    "Dask scheduler; 0 of 24 chunks are kept in X. Start the scheduler and its "
                    "workers again, then run the same command again to resume: implsim "
                    f"experiment {exp} --out '{out}' --scheduler tcp://127.0.0.1:1 --quiet")

"""Experiment batches: the same results however they run, and a store that survives accidents.

A tiny experiment (two arms of the default scenario on a one-trust, two-ward catchment) runs
serially, on local Dask clusters of one and two workers, and on a real cluster started from the
``dask`` command line, with identical stores. Batches survive a SIGKILLed worker and a SIGINT to
the driver (resumed by re-running the same command); damaged part files, a changed experiment
file and a damaged manifest stop with one line and exit code 2 without touching the store; a
resumed batch re-runs exactly the chunks that are missing. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from tiny import TINY_STRUCTURE

from sim.cli import main
from sim.experiment import ResultStore, load_experiment, run_experiment
from sim.experiment.execute import DaskInterruptNoise

BIN = Path(sys.executable).parent
IMPLSIM = BIN / "implsim"
DASK = BIN / "dask"
HOST = "127.0.0.1"

TINY = """\
name = "tiny"
scenario = "default"
replicates = {replicates}
seed = {seed}
chunk_size = {chunk_size}
timeseries = "system"
""" + TINY_STRUCTURE + """{extra}
[[arms]]
name = "no extra support"
strategy = "no extra support"

[[arms]]
name = "training + facilitation"
strategy = "training + facilitation"
"""

# SMALL: 2 arms x 6 replicates in chunks of 2 = 12 runs in 6 chunks.
SMALL = {"replicates": 6, "seed": 11, "chunk_size": 2}
# LONG: 2 arms x 12 replicates in chunks of 1 = 24 chunks, long enough to interrupt mid-batch.
LONG = {"replicates": 12, "seed": 23, "chunk_size": 1}


def write_experiment(path: Path, replicates: int, seed: int, chunk_size: int,
                     extra: str = "") -> Path:
    path.write_text(TINY.format(replicates=replicates, seed=seed, chunk_size=chunk_size,
                                extra=extra))
    return path


# --- helpers ----------------------------------------------------------------------------------


def implsim_cmd(*args: str) -> list[str]:
    if IMPLSIM.exists():
        return [str(IMPLSIM), *map(str, args)]
    return [sys.executable, "-m", "sim.cli", *map(str, args)]


def implsim(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(implsim_cmd(*args), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, grace: float = 15) -> None:
    """Terminate a process we started, then kill it if it does not go."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its sha256 (to prove a failed command changed nothing)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def frames(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    store = ResultStore(root)
    return store.read("summary"), store.read("timeseries"), store.read("clusters")


def assert_same_results(root: Path, reference: Path) -> None:
    got, want = frames(root), frames(reference)
    assert not want[0].empty and not want[1].empty and not want[2].empty
    for table_got, table_want in zip(got, want, strict=True):
        assert_frame_equal(table_got, table_want)


def assert_complete(root: Path) -> None:
    """Every run of the store is present exactly once (one summary row per run x bundle)."""
    store = ResultStore(root)
    manifest = store.manifest()
    runs = store.runs()
    missing = set(range(manifest["n_chunks"])) - store.done_chunks()
    assert not missing, f"{root}: chunks {sorted(missing)} are not done"
    summary = store.read("summary")
    assert set(summary["run_id"]) == set(runs["run_id"])
    assert len(runs) == manifest["n_runs"]
    assert not summary.duplicated(["run_id", "bundle"]).any()
    per_run = summary.groupby("run_id").size()
    assert per_run.nunique() == 1  # the same bundles in every run
    assert len(summary) == len(runs) * per_run.iloc[0]
    assert store.done_chunks() == set(range(manifest["n_chunks"]))
    ts = store.read("timeseries")
    assert set(ts["run_id"]) == set(runs["run_id"])
    assert not ts.duplicated(["run_id", "week", "bundle", "level", "entity"]).any()


def n_done(root: Path) -> int:
    done = root / "done"
    return len(list(done.glob("part-*.json"))) if done.is_dir() else 0


def wait_for_done(root: Path, at_least: int, proc: subprocess.Popen, timeout: float = 120) -> int:
    """Poll the store until ``at_least`` chunks are done (fails if ``proc`` exits first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        k = n_done(root)
        if k >= at_least:
            return k
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the batch ended (exit {proc.returncode}) before {at_least} chunks "
                        f"were done:\n{out}\n{err}")
        time.sleep(0.02)
    pytest.fail(f"fewer than {at_least} chunks done after {timeout} s")


class Cluster:
    """A scheduler and workers started from the ``dask`` command line, on 127.0.0.1 only."""

    def __init__(self, workdir: Path, n_workers: int, nanny: bool) -> None:
        self.port = free_port()
        self.address = f"tcp://{HOST}:{self.port}"
        self.workdir = workdir
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.n_workers = n_workers
        self.nanny = nanny
        self.logs: list[Path] = []

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = self.workdir / f"{name}.log"
        self.logs.append(log)
        with log.open("wb") as fh:
            return subprocess.Popen([str(DASK), *args], cwd=self.workdir, stdout=fh,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def start(self) -> Cluster:
        from distributed import Client

        self.scheduler = self._start("scheduler", [
            "scheduler", "--host", HOST, "--port", str(self.port), "--no-dashboard"])
        for i in range(self.n_workers):
            self.workers.append(self._start(f"worker{i}", [
                "worker", self.address, "--host", HOST, "--nthreads", "1", "--no-dashboard",
                *([] if self.nanny else ["--no-nanny"])]))
        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(self.n_workers, timeout=60)
        return self

    def stop(self) -> None:
        for proc in self.workers:
            stop(proc)
        if self.scheduler is not None:
            stop(self.scheduler)

    def log_text(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in self.logs
                         if p.exists())


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator:
    started: list[Cluster] = []

    def make(n_workers: int = 2, nanny: bool = True) -> Cluster:
        workdir = tmp_path / f"cluster{len(started)}"
        workdir.mkdir()
        cluster = Cluster(workdir, n_workers, nanny)
        started.append(cluster)
        return cluster.start()

    yield make
    for cluster in started:
        cluster.stop()


@pytest.fixture
def running() -> Iterator:
    """Popen of implsim commands, always torn down."""
    procs: list[subprocess.Popen] = []

    def popen(*args: str, cwd: Path) -> subprocess.Popen:
        proc = subprocess.Popen(implsim_cmd(*args), cwd=cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        procs.append(proc)
        return proc

    yield popen
    for proc in procs:
        stop(proc)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, Path]:
    """The SMALL experiment file and its serial reference store."""
    d = tmp_path_factory.mktemp("small")
    exp = write_experiment(d / "tiny.toml", **SMALL)
    report = run_experiment(load_experiment(exp), d / "reference", serial=True, quiet=True)
    assert (report.total, report.skipped, report.ran) == (12, 0, 12)
    return exp, d / "reference"


@pytest.fixture(scope="module")
def long(tmp_path_factory) -> tuple[Path, Path]:
    """The LONG experiment file and its serial reference store."""
    d = tmp_path_factory.mktemp("long")
    exp = write_experiment(d / "long.toml", **LONG)
    report = run_experiment(load_experiment(exp), d / "reference", serial=True, quiet=True)
    assert report.ran == 24
    return exp, d / "reference"


def copy_store(reference: Path, dest: Path) -> Path:
    shutil.copytree(reference, dest)
    return dest


# --- 1. the same results however the batch runs -------------------------------------------------


def test_small_reference_store_layout(small):
    _exp, ref = small
    store = ResultStore(ref)
    manifest = store.manifest()
    assert manifest["n_runs"] == 12 and manifest["n_chunks"] == 6 and manifest["chunk_size"] == 2
    assert manifest["arms"] == ["no extra support", "training + facilitation"]
    assert_complete(ref)
    runs = store.runs()
    # common random numbers: replicate k of both arms shares its seed
    seeds = runs.pivot(index="replicate", columns="arm", values="seed")
    assert (seeds[0] == seeds[1]).all() and seeds[0].nunique() == 6
    summary = store.read("summary")
    assert list(summary["arm"].unique()) == manifest["arms"]


@pytest.mark.slow
def test_same_results_serial_local_clusters_and_cli_cluster(small, tmp_path, cluster_factory):
    exp, ref = small
    experiment = load_experiment(exp)
    for n in (1, 2):
        out = tmp_path / f"local{n}"
        report = run_experiment(experiment, out, workers=n, quiet=True)
        assert (report.total, report.skipped, report.ran) == (12, 0, 12)
        assert_same_results(out, ref)

    cluster = cluster_factory(2, nanny=True)
    out = tmp_path / "cli"
    result = implsim("experiment", exp, "--out", out, "--scheduler", cluster.address,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr + cluster.log_text()
    assert "done: 12 runs now, 0 already stored, 12 in all" in result.stdout
    assert_same_results(out, ref)
    assert_complete(out)


# --- 2. a worker killed mid-batch -------------------------------------------------------------


@pytest.mark.slow
def test_worker_killed_mid_batch_completes_every_run_once(long, tmp_path, cluster_factory,
                                                         running):
    exp, ref = long
    cluster = cluster_factory(2, nanny=False)  # the worker process is the one that runs tasks
    out = tmp_path / "out"
    proc = running("experiment", exp, "--out", out, "--scheduler", cluster.address,
                   cwd=tmp_path)
    done_at_kill = wait_for_done(out, 2, proc)
    victim = cluster.workers[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    try:
        _stdout, stderr = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        pytest.fail("the batch did not finish after a worker was killed\n" + cluster.log_text())
    assert proc.returncode == 0, stderr + cluster.log_text()
    assert "Traceback" not in stderr
    assert done_at_kill < 24
    assert_complete(out)
    assert_same_results(out, ref)


@pytest.mark.slow
def test_two_batches_of_one_experiment_on_one_scheduler_fill_both_stores(tmp_path,
                                                                        cluster_factory,
                                                                        running):
    exp = write_experiment(tmp_path / "twice.toml", replicates=20, seed=5, chunk_size=1)
    cluster = cluster_factory(1, nanny=False)
    first = running("experiment", exp, "--out", tmp_path / "a", "--scheduler", cluster.address,
                    "--quiet", cwd=tmp_path)
    wait_for_done(tmp_path / "a", 1, first)
    second = running("experiment", exp, "--out", tmp_path / "b", "--scheduler",
                     cluster.address, "--quiet", cwd=tmp_path)
    for proc in (first, second):
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    assert_complete(tmp_path / "a")
    assert_complete(tmp_path / "b")


# --- 3. SIGINT, resume, report ----------------------------------------------------------------


@pytest.mark.slow
def test_sigint_then_resume_then_report(long, tmp_path, running):
    exp, ref = long
    out = tmp_path / "out"
    proc = running("experiment", exp, "--out", out, "--workers", "2", cwd=tmp_path)
    wait_for_done(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("implsim did not stop within 60 s of SIGINT")
    assert proc.returncode != 0
    assert "Traceback" not in stderr, stderr
    assert "interrupted" in stderr
    assert "Run the same command again to resume" in stderr
    done = n_done(out)
    assert 1 <= done < 24, done
    assert ResultStore(out).done_chunks() == {int(p.stem.split("-")[1])
                                              for p in (out / "done").glob("part-*.json")}

    result = implsim("experiment", exp, "--out", out, "--workers", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"resuming: {done} of 24 runs already in" in result.stdout
    assert f"done: {24 - done} runs now, {done} already stored, 24 in all" in result.stdout
    assert_complete(out)
    assert_same_results(out, ref)

    result = implsim("report", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("arms.csv", "pairs.csv", "uptake.png", "effect_vs_cost.png", "README.txt"):
        assert (out / "report" / name).is_file(), name
        assert (out / "report" / name).stat().st_size > 0
    arms = pd.read_csv(out / "report" / "arms.csv")
    assert set(arms["arm"]) == {"no extra support", "training + facilitation"}
    assert (arms["replicates"] == 12).all()
    pairs = pd.read_csv(out / "report" / "pairs.csv")
    assert (pairs["n"] == 12).all() and pairs["paired"].all()
    assert "from 24 of 24 runs" in (out / "report" / "README.txt").read_text()


# --- 4. damaged files and changed experiments -------------------------------------------------
# The checks call the command line in-process (fast, and with the same code that wrote the store);
# one goes through the console script to show what a user sees.


def cli(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("implsim: error: ")
    return lines[0]


def _truncate(path: Path, other: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _overwrite_garbage(path: Path, other: Path) -> None:
    path.write_bytes(b"\0" * path.stat().st_size)  # same size, different bytes


def _overwrite_other_part(path: Path, other: Path) -> None:
    shutil.copyfile(other, path)  # valid Parquet, but another chunk's rows


@pytest.mark.parametrize("damage", [_truncate, _overwrite_garbage, _overwrite_other_part])
def test_damaged_summary_part_is_named_and_nothing_is_lost(small, tmp_path, capsys, damage):
    exp, ref = small
    out = copy_store(ref, tmp_path / "out")
    part = out / "summary" / "part-00002.parquet"
    damage(part, out / "summary" / "part-00004.parquet")
    before = snapshot(out)

    for args in (("report", out), ("experiment", exp, "--out", out, "--serial", "--quiet")):
        line = one_line(*cli(capsys, *args)[::2])
        assert str(part) in line
        assert "move both away to re-run chunk 2" in line
        assert snapshot(out) == before
    assert not (out / "report").exists()

    # doing what the message says recovers the chunk
    aside = tmp_path / "aside"
    aside.mkdir()
    shutil.move(part, aside / part.name)
    shutil.move(out / "done" / "part-00002.json", aside / "part-00002.json")
    report = run_experiment(load_experiment(exp), out, serial=True, quiet=True)
    assert (report.skipped, report.ran) == (10, 2)
    assert_same_results(out, ref)


def test_console_script_names_a_damaged_part_in_one_line(small, tmp_path):
    _exp, ref = small
    out = copy_store(ref, tmp_path / "out")
    part = out / "summary" / "part-00003.parquet"
    part.write_bytes(part.read_bytes()[:100])
    before = snapshot(out)
    result = implsim("report", out, cwd=tmp_path)
    line = one_line(result.returncode, result.stderr)
    assert str(part) in line and "move both away to re-run chunk 3" in line
    assert snapshot(out) == before


def test_part_missing_but_recorded_done_is_named(small, tmp_path, capsys):
    exp, ref = small
    out = copy_store(ref, tmp_path / "out")
    part = out / "timeseries" / "part-00001.parquet"
    shutil.move(part, tmp_path / "moved.parquet")
    before = snapshot(out)
    for args in (("report", out), ("experiment", exp, "--out", out, "--serial", "--quiet")):
        line = one_line(*cli(capsys, *args)[::2])
        assert str(part) in line and "missing" in line and "part-00001.json" in line
        assert snapshot(out) == before


def test_damaged_done_record_is_named(small, tmp_path, capsys):
    exp, ref = small
    out = copy_store(ref, tmp_path / "out")
    rec = out / "done" / "part-00003.json"
    rec.write_text('{"chunk": 3, "run_ids": [6,')
    before = snapshot(out)
    for args in (("report", out), ("experiment", exp, "--out", out, "--serial", "--quiet")):
        line = one_line(*cli(capsys, *args)[::2])
        assert str(rec) in line and "move it away" in line
        assert snapshot(out) == before


def test_stray_temp_file_is_ignored_and_resume_completes(small, tmp_path, capsys):
    exp, ref = small
    out = copy_store(ref, tmp_path / "out")
    aside = tmp_path / "aside"
    aside.mkdir()
    for sub in ("done", "summary", "timeseries"):  # chunk 3 was in flight when the batch died
        name = "part-00003.json" if sub == "done" else "part-00003.parquet"
        shutil.move(out / sub / name, aside / f"{sub}-{name}")
    (out / "summary" / ".part-00003.parquet.xyz.tmp").write_bytes(b"PAR1 half a file")
    (out / "timeseries" / ".part-00003.parquet.abc.tmp").write_bytes(b"")

    report = run_experiment(load_experiment(exp), out, serial=True, quiet=True)
    assert (report.total, report.skipped, report.ran) == (12, 10, 2)
    assert_complete(out)
    assert_same_results(out, ref)
    code, _, err = cli(capsys, "report", out)
    assert code == 0, err


@pytest.mark.parametrize("change", [
    {"replicates": 7},
    {"seed": 12},
    {"extra": "\n[overrides.parameters]\nturnover_annual = 0.3\n"},
])
def test_changed_experiment_is_refused_and_store_untouched(small, tmp_path, capsys, change):
    exp, ref = small
    out = copy_store(ref, tmp_path / "out")
    before = snapshot(out)
    changed = write_experiment(tmp_path / "tiny.toml", **{**SMALL, **change})
    assert changed.read_text() != exp.read_text()
    line = one_line(*cli(capsys, "experiment", changed, "--out", out, "--serial",
                         "--quiet")[::2])
    assert str(out) in line
    assert "the experiment file changed since the store was started" in line
    assert snapshot(out) == before
    # the unchanged file, from another directory, still resumes (moving it is no change)
    shutil.copyfile(exp, changed)
    code, _, err = cli(capsys, "experiment", changed, "--out", out, "--serial", "--quiet")
    assert code == 0, err
    assert snapshot(out) == before


@pytest.mark.parametrize("content", [b'{"experiment": {"name": "tin', b"\xff\xfe\x00garbage"],
                         ids=["truncated", "binary"])
def test_damaged_manifest_is_a_clear_error(small, tmp_path, capsys, content):
    exp, ref = small
    out = copy_store(ref, tmp_path / "out")
    (out / "experiment.json").write_bytes(content)
    before = snapshot(out)
    for args in (("report", out), ("experiment", exp, "--out", out, "--serial", "--quiet")):
        line = one_line(*cli(capsys, *args)[::2])
        assert str(out / "experiment.json") in line and "damaged" in line
        assert snapshot(out) == before


def test_report_of_a_directory_that_is_not_a_store(tmp_path, capsys):
    line = one_line(*cli(capsys, "report", tmp_path)[::2])
    assert "not an implsim results store" in line


# --- 5. resume runs exactly what is missing ---------------------------------------------------


def test_resume_reruns_exactly_the_missing_chunks(small, tmp_path):
    exp, ref = small
    out = copy_store(ref, tmp_path / "out")
    aside = tmp_path / "aside"
    aside.mkdir()
    missing = (1, 4)
    for c in missing:
        for sub, ext in (("done", "json"), ("summary", "parquet"), ("timeseries", "parquet")):
            name = f"part-{c:05d}.{ext}"
            shutil.move(out / sub / name, aside / f"{sub}-{name}")
    untouched = {k: v for k, v in snapshot(out).items()}
    runs = ResultStore(out).runs()
    expected = int(runs["chunk"].isin(missing).sum())
    assert expected == 4

    seen: list[int] = []
    report = run_experiment(load_experiment(exp), out, serial=True, quiet=True,
                            on_chunk=seen.append)
    assert report.ran == expected
    assert (report.total, report.skipped) == (12, 12 - expected)
    assert sorted(seen) == list(missing)
    after = snapshot(out)
    assert all(after[k] == v for k, v in untouched.items())  # finished chunks not rewritten
    assert_complete(out)
    assert_same_results(out, ref)

    again = run_experiment(load_experiment(exp), out, serial=True, quiet=True)
    assert (again.total, again.skipped, again.ran) == (12, 12, 0)
    assert snapshot(out) == after


def test_done_record_moved_away_reruns_chunk_over_its_parts(small, tmp_path):
    exp, ref = small
    out = copy_store(ref, tmp_path / "out")
    shutil.move(out / "done" / "part-00005.json", tmp_path / "part-00005.json")
    report = run_experiment(load_experiment(exp), out, serial=True, quiet=True)
    assert (report.skipped, report.ran) == (10, 2)
    assert_complete(out)
    assert_same_results(out, ref)


def test_store_records_chunking_and_fingerprint(small):
    exp, ref = small
    manifest = json.loads((ref / "experiment.json").read_text())
    assert manifest["fingerprint"] == load_experiment(exp).fingerprint()
    runs = ResultStore(ref).runs()
    assert list(runs["chunk"]) == [i // 2 for i in range(12)]
    assert os.path.isfile(ref / "runs.parquet")


# --- interrupt noise ---------------------------------------------------------------------------


def _record(msg: str, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, None) if exc else None
    return logging.LogRecord("tornado.application", logging.ERROR, __file__, 1, msg, None, info)


def test_interrupt_filter_drops_only_the_sync_race_then_everything():
    noise = DaskInterruptNoise()
    race = _record("Exception in callback functools.partial(<function sync.<locals>.cancel at "
                   "0x7f2980a24860>)", NameError("cannot access free variable 'future'"))
    other = _record("Exception in callback functools.partial(<function f at 0x1>)",
                    NameError("x"))
    plain = _record("Couldn't gather keys")
    assert not noise.filter(race)
    assert noise.filter(other) and noise.filter(plain)  # real errors still show
    noise.interrupted = True
    assert not noise.filter(other) and not noise.filter(plain)


def test_interrupt_filter_covers_dask_handlers():
    handler = logging.StreamHandler()
    logging.getLogger("distributed").addHandler(handler)
    try:
        assert handler in DaskInterruptNoise().handlers()
    finally:
        logging.getLogger("distributed").removeHandler(handler)


@pytest.mark.parametrize("level", ["trust", "municipality"])
def test_the_store_keeps_the_chosen_level_and_every_coarser_one(tmp_path: Path, level: str) -> None:
    """timeseries = "municipality" keeps system, kind, trust and municipality rows, no finer."""
    path = write_experiment(tmp_path / "exp.toml", 1, 5, 1)
    path.write_text(path.read_text().replace('timeseries = "system"', f'timeseries = "{level}"'))
    run_experiment(load_experiment(path), tmp_path / "out", serial=True, quiet=True)
    ts = ResultStore(tmp_path / "out").read("timeseries")
    want = {"trust": {"system", "kind", "trust"},
            "municipality": {"system", "kind", "trust", "municipality"}}[level]
    assert set(ts["level"]) == want

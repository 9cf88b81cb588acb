"""Faults of the results store: two drivers, leftovers, Ctrl-C, damaged and foreign records.

Issue 17: two drivers started together on one ``--out`` mixed two experiments' runs silently;
damaged records of other kinds than those in ``test_experiment_batch`` gave tracebacks; a killed
batch left ``.tmp`` files for ever; a Ctrl-C to the process group printed worker tracebacks.
Each case here is a real command (in-process through ``sim.cli.main``, or a real process where
two drivers or a signal are the point) on the tiny structure, and ends in one line and exit 2,
or in a store equal to the serial reference.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_experiment_batch import (
    SMALL,
    assert_complete,
    assert_same_results,
    cli,
    copy_store,
    implsim,
    implsim_cmd,
    one_line,
    snapshot,
    write_experiment,
)

from sim.experiment import ResultStore, load_experiment, run_experiment
from sim.experiment.store import LOCK_NAME, exclusive

REPO = Path(__file__).resolve().parent.parent
# OTHER: the SMALL experiment with another seed: same chunking, other runs.
OTHER = {**SMALL, "seed": 12}


@pytest.fixture(scope="module")
def refs(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Two experiments of identical shape and their serial reference stores."""
    d = tmp_path_factory.mktemp("faults")
    out = {}
    for key, settings in (("a", SMALL), ("b", OTHER)):
        exp = write_experiment(d / f"{key}.toml", **settings)
        run_experiment(load_experiment(exp), d / f"ref-{key}", serial=True, quiet=True)
        out[key] = (exp, d / f"ref-{key}")
    return out


# --- one driver per store -----------------------------------------------------------------------

# Each driver imports everything, then waits for one byte on stdin: the test releases both at once.
_GATED = ("import sys; from sim.cli import main; sys.stdin.read(1); "
          "sys.exit(main(sys.argv[1:]))")


def _together(*commands: list[str], cwd: Path) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen([sys.executable, "-c", _GATED, *map(str, c)], cwd=cwd,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for c in commands]
    time.sleep(3)  # let both finish importing (not asserted: only makes "together" closer)
    for p in procs:
        p.stdin.write("x")
        p.stdin.flush()
    results = []
    for p, c in zip(procs, commands, strict=True):
        out, err = p.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(c, p.returncode, out, err))
    return results


@pytest.mark.parametrize("second", ["a", "b"], ids=["same-experiment", "different-experiment"])
def test_two_drivers_started_together_one_runs_the_other_is_refused(refs, tmp_path, second):
    out = tmp_path / "out"
    cmds = [["experiment", refs[k][0], "--out", out, "--serial", "--quiet"] for k in ("a", second)]
    results = _together(*cmds, cwd=tmp_path)
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 2], [(r.returncode, r.stderr) for r in results]
    winner = next(i for i, r in enumerate(results) if r.returncode == 0)
    loser = results[1 - winner]
    line = one_line(loser.returncode, loser.stderr)
    assert str(out) in line and "in use by another implsim driver (pid " in line
    assert "use another --out" in line
    key = ("a", second)[winner]
    assert_complete(out)
    assert_same_results(out, refs[key][1])
    assert ResultStore(out).manifest()["fingerprint"] == \
        ResultStore(refs[key][1]).manifest()["fingerprint"]
    assert not (out / LOCK_NAME).exists()  # released on exit
    report = implsim("report", out, cwd=tmp_path)
    assert report.returncode == 0, report.stderr


def test_a_held_lock_refuses_a_driver_naming_the_holder_and_touches_nothing(refs, tmp_path):
    exp, _ = refs["a"]
    out = tmp_path / "out"
    with exclusive(out) as lock:
        holder = json.loads(lock.read_text())
        result = implsim("experiment", exp, "--out", out, "--serial", "--quiet", cwd=tmp_path)
        line = one_line(result.returncode, result.stderr)
        assert f"pid {os.getpid()} on {holder['host']}" in line
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing else written
    assert not (out / LOCK_NAME).exists()


def test_a_killed_drivers_lock_does_not_block_the_next(refs, tmp_path):
    exp, ref = refs["a"]
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from sim.experiment.store import exclusive\n"
         f"with exclusive({str(out)!r}):\n    print('held', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert json.loads((out / LOCK_NAME).read_text())["pid"] == holder.pid
    finally:
        holder.kill()  # SIGKILL: no clean-up runs, the lock file stays
        holder.wait()
    assert (out / LOCK_NAME).exists()
    report = run_experiment(load_experiment(exp), out, serial=True, quiet=True)
    assert report.ran == 12
    assert_same_results(out, ref)
    assert not (out / LOCK_NAME).exists()


def test_a_directory_in_place_of_the_lock_file_is_one_line(refs, tmp_path, capsys):
    out = copy_store(refs["a"][1], tmp_path / "out")
    (out / LOCK_NAME).mkdir()
    line = one_line(*cli(capsys, "experiment", refs["a"][0], "--out", out, "--serial",
                         "--quiet")[::2])
    assert f"{out / LOCK_NAME}: is a directory where implsim keeps its lock file" in line


@pytest.mark.parametrize("command", [
    ["sensitivity", REPO / "experiments" / "sa_catchment.toml"],
    ["calibrate", REPO / "calibration" / "medical_innovation.toml"],
    ["calibrate-evidence", REPO / "calibration" / "evidence_fit.toml"],
], ids=["sensitivity", "calibrate", "calibrate-evidence"])
def test_other_batch_commands_are_refused_while_their_out_is_held(tmp_path, capsys, command):
    out = tmp_path / "out"
    with exclusive(out):
        before = snapshot(out)
        line = one_line(*cli(capsys, *command, "--out", out, "--quiet")[::2])
        assert "in use by another implsim driver" in line and str(out) in line
        assert snapshot(out) == before


# --- leftovers and Ctrl-C -----------------------------------------------------------------------


def test_stale_temporaries_are_removed_on_resume(refs, tmp_path):
    exp, ref = refs["a"]
    out = copy_store(ref, tmp_path / "out")
    for sub, name in (("done", "part-00002.json"), ("summary", "part-00002.parquet"),
                      ("timeseries", "part-00002.parquet")):
        (out / sub / name).unlink()
    stale = [out / "summary" / ".part-00002.parquet.1a2b.tmp",
             out / "timeseries" / ".part-00002.parquet.3c4d.tmp",
             out / "done" / ".part-00002.json.5e6f.tmp", out / ".runs.parquet.7a8b.tmp"]
    for path in stale:
        path.write_bytes(b"PAR1 half")
    report = run_experiment(load_experiment(exp), out, serial=True, quiet=True)
    assert (report.skipped, report.ran) == (10, 2)
    assert [p for p in stale if p.exists()] == []
    assert list(out.rglob("*.tmp")) == []
    assert_same_results(out, ref)


@pytest.mark.slow
def test_ctrl_c_to_the_process_group_prints_one_line(refs, tmp_path):
    exp = write_experiment(tmp_path / "long.toml", replicates=12, seed=23, chunk_size=1)
    out = tmp_path / "out"
    proc = subprocess.Popen(implsim_cmd("experiment", exp, "--out", out, "--workers", "2",
                                        "--quiet"), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 180
    while not list(out.glob("done/part-*.json")):  # interrupt mid-batch, after a chunk
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: every process
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert err.strip().splitlines() == [
        f"implsim: interrupted; finished chunks are kept in {out}. Run the same command again "
        "to resume."]
    assert not (out / LOCK_NAME).exists()


# --- damaged and foreign records ----------------------------------------------------------------


def _list_record(out: Path) -> Path:
    (out / "done" / "part-00001.json").write_text("[1, 2]\n")
    return out / "done" / "part-00001.json"


def _empty_record(out: Path) -> Path:
    (out / "done" / "part-00001.json").write_text("{}\n")
    return out / "done" / "part-00001.json"


def _stray_record(out: Path) -> Path:
    shutil.copyfile(out / "done" / "part-00001.json", out / "done" / "part-abc.json")
    return out / "done" / "part-abc.json"


def _record_beyond_the_store(out: Path) -> Path:
    shutil.copyfile(out / "done" / "part-00001.json", out / "done" / "part-00099.json")
    return out / "done" / "part-00099.json"


def _record_is_a_directory(out: Path) -> Path:
    (out / "done" / "part-00001.json").unlink()
    (out / "done" / "part-00001.json").mkdir()
    return out / "done" / "part-00001.json"


def _manifest_list(out: Path) -> Path:
    (out / "experiment.json").write_text("[]\n")
    return out / "experiment.json"


def _manifest_empty(out: Path) -> Path:
    (out / "experiment.json").write_text("{}\n")
    return out / "experiment.json"


def _done_is_a_file(out: Path) -> Path:
    shutil.rmtree(out / "done")
    (out / "done").write_text("")
    return out / "done"


def _summary_is_a_file(out: Path) -> Path:
    shutil.rmtree(out / "summary")
    (out / "summary").write_text("")
    return out / "summary"


def _part_is_a_directory(out: Path) -> Path:
    (out / "timeseries" / "part-00004.parquet").unlink()
    (out / "timeseries" / "part-00004.parquet").mkdir()
    return out / "timeseries" / "part-00004.parquet"


def _runs_is_a_directory(out: Path) -> Path:
    (out / "runs.parquet").unlink()
    (out / "runs.parquet").mkdir()
    return out / "runs.parquet"


DAMAGE = {
    _list_record: "damaged done record (a JSON list, not an object); move it away",
    _empty_record: "damaged done record (its chunk is None, its name says 1); move it away",
    _stray_record: "not a done record's name (done/part-NNNNN.json): move it out of the store",
    _record_beyond_the_store: "chunk 99 does not exist in this store (it has 6 chunks)",
    _record_is_a_directory: "cannot be read (Is a directory); move it away to re-run chunk 1",
    _manifest_list: "not an implsim store manifest (a JSON list, not an object)",
    _manifest_empty: "not an implsim store manifest (no fingerprint, chunk_size, n_runs, "
                     "n_chunks, arms, experiment)",
    _done_is_a_file: "is a file, but the store keeps a directory here; move it away",
    _summary_is_a_file: "is a file, but the store keeps a directory here; move it and done/",
    _part_is_a_directory: "is a directory, but chunk 4 is recorded as done",
    _runs_is_a_directory: "missing or damaged (a directory where the run table belongs)",
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=lambda f: f.__name__.strip("_"))
def test_every_damaged_record_kind_is_one_line_naming_the_file(refs, tmp_path, capsys, damage):
    exp, ref = refs["a"]
    out = copy_store(ref, tmp_path / "out")
    path = damage(out)
    before = snapshot(out)
    commands = [("report", out), ("experiment", exp, "--out", out, "--serial", "--quiet")]
    if damage is _runs_is_a_directory:  # resuming never reads the run table it wrote
        commands = commands[:1]
    for args in commands:
        line = one_line(*cli(capsys, *args)[::2])
        assert f"{path}: " in line, line
        assert DAMAGE[damage] in line, line
        assert snapshot(out) == before


def test_report_on_a_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "results.csv"
    path.write_text("a,b\n")
    line = one_line(*cli(capsys, "report", path)[::2])
    assert f"{path}: is a file, not a results store" in line


def test_report_directory_that_is_a_file_is_one_line(refs, tmp_path, capsys):
    out = copy_store(refs["a"][1], tmp_path / "out")
    (out / "report").write_text("")
    line = one_line(*cli(capsys, "report", out)[::2])
    assert f"{out / 'report'}: is a file where the report directory belongs" in line


def _graft(out: Path, other: Path, chunk: int, keep_fingerprint: bool) -> None:
    """Replace ``chunk`` of ``out`` by the same chunk of another experiment's store."""
    name = f"part-{chunk:05d}"
    for sub in ("summary", "timeseries", "clusters"):
        shutil.copyfile(other / sub / f"{name}.parquet", out / sub / f"{name}.parquet")
    entry = json.loads((other / "done" / f"{name}.json").read_text())
    if not keep_fingerprint:  # as a store written before done records carried it
        entry.pop("fingerprint")
    (out / "done" / f"{name}.json").write_text(json.dumps(entry) + "\n")


def test_a_chunk_of_another_experiment_is_refused_by_its_fingerprint(refs, tmp_path, capsys):
    exp, ref = refs["a"]
    out = copy_store(ref, tmp_path / "out")
    _graft(out, refs["b"][1], 2, keep_fingerprint=True)
    theirs = ResultStore(refs["b"][1]).manifest()["fingerprint"]
    for args in (("report", out), ("experiment", exp, "--out", out, "--serial", "--quiet")):
        line = one_line(*cli(capsys, *args)[::2])
        assert f"{out / 'done' / 'part-00002.json'}: written by another experiment " \
               f"(fingerprint {theirs}" in line
    assert not (out / "report").exists()


def test_a_foreign_chunk_without_fingerprint_is_refused_by_the_run_table(refs, tmp_path, capsys):
    out = copy_store(refs["a"][1], tmp_path / "out")
    _graft(out, refs["b"][1], 2, keep_fingerprint=False)
    line = one_line(*cli(capsys, "report", out)[::2])
    assert f"{out / 'summary' / 'part-00002.parquet'}: run 4 does not match the store's run " \
           "table" in line
    assert not (out / "report").exists()


def test_done_records_carry_the_experiment_fingerprint(refs):
    _, ref = refs["a"]
    fp = ResultStore(ref).manifest()["fingerprint"]
    records = ResultStore(ref).done_records()
    assert {e["fingerprint"] for e in records.values()} == {fp}


# --- read-only outputs --------------------------------------------------------------------------


def _writable(directory: Path) -> bool:
    probe = directory / ".probe"
    try:
        probe.write_text("")
    except PermissionError:
        return False
    probe.unlink()
    return True


@contextmanager
def read_only(directory: Path) -> Iterator[str]:
    """Make ``directory`` refuse new files; yields the error text the OS then gives.

    chmod for ordinary users; as root (whom permissions do not bind) the immutable attribute
    (``chattr +i``, which binds root too); skipped where neither restricts.
    """
    directory.chmod(0o555)
    try:
        if not _writable(directory):
            yield "Permission denied"
            return
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(directory)],
                                            capture_output=True).returncode != 0:
            pytest.skip("neither chmod nor chattr +i restricts this user here")
        try:
            if _writable(directory):
                pytest.skip("neither chmod nor chattr +i restricts this user here")
            yield "Operation not permitted"
        finally:
            subprocess.run([chattr, "-i", str(directory)], check=True)
    finally:
        directory.chmod(0o755)


def test_run_into_a_read_only_directory_is_one_line_before_any_run(tmp_path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    with read_only(out) as why:
        line = one_line(*cli(capsys, "run", "--out", out, "--replicates", "1", "--quiet")[::2])
    assert f"--out: cannot write into {out} ({why})" in line
    assert sorted(out.iterdir()) == []


def test_report_of_a_read_only_store_is_one_line(refs, tmp_path, capsys):
    out = copy_store(refs["a"][1], tmp_path / "out")
    before = snapshot(out)
    with read_only(out) as why:
        line = one_line(*cli(capsys, "report", out)[::2])
        resumed = one_line(*cli(capsys, "experiment", refs["a"][0], "--out", out, "--serial",
                                "--quiet")[::2])
    assert f"cannot write the report ({why})" in line
    assert "copy the store somewhere writable" in line
    assert f"{out}: cannot write here ({why})" in resumed
    assert snapshot(out) == before


def test_a_failed_report_write_is_one_line(refs, tmp_path, capsys, monkeypatch):
    """Where chmod cannot be used (root), the same path from an OSError a write raises."""
    import errno

    import sim.experiment.report as report

    out = copy_store(refs["a"][1], tmp_path / "out")

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(out / "report"))

    monkeypatch.setattr(report, "_write", read_only)
    line = one_line(*cli(capsys, "report", out)[::2])
    assert f"{out / 'report'}: cannot write the report (Read-only file system)" in line


def test_an_os_error_anywhere_in_a_command_is_one_line(tmp_path, capsys, monkeypatch):
    """The command line's last resort for a file system that refuses (full disk and the like)."""
    import errno

    import sim.cli

    def full(args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "x.parquet"))

    monkeypatch.setattr(sim.cli, "_cmd_params", full)
    line = one_line(*cli(capsys, "params")[::2])
    assert f"{tmp_path / 'x.parquet'}: No space left on device" in line

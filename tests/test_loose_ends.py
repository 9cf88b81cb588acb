"""Loose ends of issue 17: overrides of unset optionals, SA warnings, a scheduler without workers,
the calibration's local cluster.

- ``Scenario.with_overrides`` re-validated the resolved ``None`` of ``teamwork_positive`` (an
  unset optional), so any ``[measurement]`` override failed; every section now round-trips.
- A sensitivity analysis's scenario and arm are checked like an experiment's arms, and
  ``implsim sensitivity`` and ``implsim validate`` print their warnings, one line each.
- A driver whose ``--scheduler`` has no worker says so after a grace period, with the command
  that starts one, and keeps waiting (real ``dask scheduler`` and ``dask worker`` processes).
- The calibration's local cluster is :func:`sim.experiment.execute.local_cluster`.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path

import pytest
from test_experiment_batch import DASK, HOST, assert_complete, free_port, implsim_cmd, stop
from tiny import TINY_STRUCTURE

from sim.cli import main
from sim.experiment.worker_hint import NO_WORKER_GRACE_ENV
from sim.scenario import _SECTIONS, load_scenario

REPO = Path(__file__).resolve().parents[1]
MEASUREMENT = REPO / "experiments" / "measurement.toml"


# --- 1. with_overrides and unset optionals -------------------------------------------------------
@pytest.mark.parametrize("path", [None, MEASUREMENT], ids=["default", "measurement"])
def test_every_section_round_trips_through_with_overrides(path):
    sc = load_scenario(path)
    for section in _SECTIONS:
        if getattr(sc, section) is None:
            continue
        again = sc.with_overrides(**{section: {}})
        assert getattr(again, section) == getattr(sc, section), section


def test_a_measurement_override_keeps_the_unset_culture_means_unset():
    sc = load_scenario(MEASUREMENT)
    assert sc.measurement["teamwork_positive"] is None
    new = sc.with_overrides(measurement={"audit_sample_size": 10})
    assert new.measurement["audit_sample_size"] == 10
    assert new.measurement["teamwork_positive"] is None
    assert new.measurement["safety_climate_positive"] is None
    # given later, the pair is kept by the next override; the pair rule still holds
    both = new.with_overrides(measurement={"teamwork_positive": 60.0,
                                           "safety_climate_positive": 55.0})
    kept = both.with_overrides(measurement={"audit_sample_size": 12})
    assert (kept.measurement["teamwork_positive"], kept.measurement["safety_climate_positive"],
            kept.measurement["audit_sample_size"]) == (60.0, 55.0, 12)
    from sim.errors import InputError

    with pytest.raises(InputError, match="give both teamwork_positive"):
        new.with_overrides(measurement={"teamwork_positive": 60.0})


def test_a_measurement_override_turns_measurement_on_in_a_scenario_without_it():
    sc = load_scenario(None)
    assert sc.measurement is None
    new = sc.with_overrides(measurement={"audit_sample_size": 10})
    assert new.measurement["audit_sample_size"] == 10
    assert new.measurement["teamwork_positive"] is None


# --- 2. sensitivity analyses print their scenario's warnings -------------------------------------
SA = """\
name = "sa_warn"
scenario = "default"
strategy = "training + facilitation"
weeks = 4
method = "morris"
samples = 2
replicates = 1
seed = 11
outputs = ["compliance"]
{arm}
[overrides.parameters]
contagion = "complex"
threshold_mean = 1.0
""" + TINY_STRUCTURE + """
[factors]
"parameters.leadership_mean" = {}
"dummy.noise" = {}
"""
THRESHOLD_WARNING = "parameters.threshold_mean: with complex contagion a mean threshold of 1"


def warning_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("implsim: warning: ")]


def test_validate_shows_a_sensitivity_analysis_warnings(tmp_path, capsys):
    path = tmp_path / "sa.toml"
    path.write_text(SA.replace("{arm}", ""))
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert f"{path}: valid" in out
    lines = warning_lines(err)
    assert len(lines) == 1 and THRESHOLD_WARNING in lines[0], err
    assert err.strip().splitlines() == lines  # nothing but the warning


def test_the_sensitivity_command_prints_the_warnings_before_it_runs(tmp_path, capsys):
    path = tmp_path / "sa.toml"
    path.write_text(SA.replace("{arm}", ""))
    assert main(["sensitivity", str(path), "--out", str(tmp_path / "out"), "--serial",
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    lines = warning_lines(err)
    assert len(lines) == 1 and THRESHOLD_WARNING in lines[0], err


def test_validate_lists_every_error_of_a_sensitivity_analysis_arm(tmp_path, capsys):
    arm = """
[arm]
name = "late"
  [[arm.interventions]]
  type = "training"
  start_week = 10
  [[arm.interventions]]
  type = "facilitation"
  start_week = 12
"""
    path = tmp_path / "sa.toml"
    path.write_text(SA.replace("{arm}", arm).replace('strategy = "training + facilitation"\n', ""))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("implsim: error: ")]
    assert len(errors) == 2, err
    assert [line.split("interventions[")[1][:1] for line in errors] == ["0", "1"], err
    assert all("start_week: week 1" in line and "after the run ends" in line
               for line in errors), err
    assert f"implsim: {path}: 2 errors" in err
    assert len(warning_lines(err)) == 1  # and the warning, too


# --- 3. a scheduler without workers --------------------------------------------------------------
EXPERIMENT = """\
name = "waiting"
scenario = "default"
replicates = 2
seed = 5
chunk_size = 1
weeks = 8
timeseries = "system"
""" + TINY_STRUCTURE + """
[[arms]]
name = "no extra support"
strategy = "no extra support"
"""


def read_stderr_line(proc: subprocess.Popen, timeout: float) -> str:
    """The driver's next stderr line (fails after ``timeout`` s or if the driver ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            line = proc.stderr.readline()
            if line:
                return line
        if proc.poll() is not None:
            pytest.fail(f"the driver ended (exit {proc.returncode}): {proc.communicate()}")
    pytest.fail(f"no stderr line in {timeout} s")


@pytest.mark.slow
def test_a_scheduler_without_workers_gets_one_line_and_the_batch_waits(tmp_path):
    exp = tmp_path / "waiting.toml"
    exp.write_text(EXPERIMENT)
    address = f"tcp://{HOST}:{free_port()}"
    procs: list[subprocess.Popen] = []

    def start(*args: str, env: dict | None = None, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(list(args), cwd=tmp_path, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, **kw)
        procs.append(proc)
        return proc

    logs = (tmp_path / "dask.log").open("wb")
    try:
        start(str(DASK), "scheduler", "--host", HOST, "--port", address.rsplit(":", 1)[1],
              "--no-dashboard", stdout=logs, stderr=subprocess.STDOUT)
        driver = start(*implsim_cmd("experiment", exp, "--out", tmp_path / "out",
                                    "--scheduler", address, "--quiet"),
                       env={NO_WORKER_GRACE_ENV: "1"}, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
        line = read_stderr_line(driver, timeout=90)
        assert line.startswith(f"implsim: no Dask worker is connected to {address}"), line
        assert f"Start one with: dask worker {address}" in line
        time.sleep(2)  # well past the grace period again: still waiting, no second line
        assert driver.poll() is None
        start(str(DASK), "worker", address, "--host", HOST, "--nthreads", "1",
              "--no-dashboard", stdout=logs, stderr=subprocess.STDOUT)
        err = driver.communicate(timeout=180)[1]
        assert driver.returncode == 0, err
        assert err == "", err  # the one line was all
        assert_complete(tmp_path / "out")
    finally:
        for proc in reversed(procs):
            stop(proc)
        logs.close()


def test_a_bad_grace_period_is_one_line(tmp_path, capsys, monkeypatch):
    exp = tmp_path / "waiting.toml"
    exp.write_text(EXPERIMENT)
    monkeypatch.setenv(NO_WORKER_GRACE_ENV, "soon")
    code = main(["experiment", str(exp), "--out", str(tmp_path / "out"), "--scheduler",
                 f"tcp://{HOST}:{free_port()}", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.strip().splitlines() == [
        f"implsim: error: {NO_WORKER_GRACE_ENV}: must be a number of seconds >= 0, got 'soon'; "
        "unset it for the default (30 s)"]


# --- 4. the calibration's local cluster ----------------------------------------------------------
@pytest.mark.slow
def test_the_calibration_local_cluster_is_the_experiments_one():
    from distributed import Client

    from sim.calibrate.pipeline import _executor

    with _executor(None, 1) as address, Client(address) as client:
        assert address.startswith(f"tcp://{HOST}:")
        # local_cluster's settings (WORKER_CONFIG): the profiler off, the malloc trim unset
        assert list(client.run(lambda dask_worker: "profile" in dask_worker.periodic_callbacks)
                    .values()) == [False]
        trim = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        assert list(trim.values()) == [None]

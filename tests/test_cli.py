"""The ``implsim`` command line: outputs of a run, determinism, one-line errors, listings.

Most checks call :func:`sim.cli.main` in-process; one run and one bad-input case go through the
installed console script so that what a user sees (exit code, stderr, no traceback) is tested.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.bundles import shipped_bundles
from sim.cli import main
from sim.params import LEVELS, MODEL, ORG_KINDS
from sim.rng import replicate_seeds
from sim.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
IMPLSIM = Path(sys.executable).parent / "implsim"
SHIPPED = [
    "antibiotic_stewardship",
    "medication_list_accuracy",
    "deteriorating_patient",
    "mental_health_patient_involvement",
]
OUTPUTS = ("timeseries.parquet", "summary.csv", "manifest.json", "uptake.png", "levels.csv",
           "elements.parquet", "elements.png")
KEY = ["strategy", "replicate", "week", "bundle", "level", "entity"]
METRICS = ["adoption", "compliance", "fidelity", "penetration"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

SMALL = """\
name = "small"
weeks = 12
replicates = 3
seed = 99

[structure]
hospital_trusts = 1
wards_per_trust = 3
mental_health_units_per_trust = 1
municipalities_per_trust = 2
nursing_homes_per_municipality = 1
home_care_teams_per_municipality = 1
gp_practices_per_municipality = 1

[[strategies]]
name = "none"

[[strategies]]
name = "support"

  [[strategies.interventions]]
  type = "training"
  start_week = 2
  end_week = 8

  [[strategies.interventions]]
  type = "facilitation"
  start_week = 2
  end_week = 8
"""


def write_small(directory: Path, name: str = "small.toml") -> Path:
    """Write the small test scenario (12 units, 12 weeks, 2 strategies)."""
    path = directory / name
    path.write_text(SMALL, encoding="utf-8")
    return path


def console(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the installed ``implsim`` console script."""
    assert IMPLSIM.exists(), f"console script not installed next to {sys.executable}"
    return subprocess.run([str(IMPLSIM), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


def n_units(structure: dict) -> int:
    """Units a generated catchment has, from the ``[structure]`` counts."""
    s = structure
    per_municipality = (s["nursing_homes_per_municipality"] * s["units_per_nursing_home"]
                        + s["home_care_teams_per_municipality"]
                        + s["gp_practices_per_municipality"])
    return s["hospital_trusts"] * (s["wards_per_trust"] + s["mental_health_units_per_trust"]
                                   + s["municipalities_per_trust"] * per_municipality)


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    """One run through the real console script: (completed process, output dir, scenario)."""
    root = tmp_path_factory.mktemp("e2e")
    scenario = write_small(root)
    out = root / "out"
    proc = console("run", str(scenario), "--out", str(out), "--replicates", "2", "--seed", "7",
                   cwd=root)
    return proc, out, load_scenario(scenario)


# --- a run: files and their contents ----------------------------------------------------------
def test_run_succeeds_and_writes_the_four_files(e2e):
    proc, out, _ = e2e
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    assert "wrote" in proc.stdout
    assert "support" in proc.stdout  # the summary table is printed


def test_plot_is_a_real_png(e2e):
    _, out, _ = e2e
    for name in ("uptake.png", "elements.png"):
        data = (out / name).read_bytes()
        assert data[:8] == PNG_SIGNATURE, name
        assert len(data) > 10_000, name


def test_timeseries_shape_and_values(e2e):
    _, out, sc = e2e
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert {"strategy", "replicate", "seed", "week", "bundle", "level", "entity",
            *METRICS} <= set(ts.columns)
    assert set(ts["level"].astype(str)) == set(LEVELS)
    assert not ts.duplicated(subset=KEY).any()

    units = n_units(sc.structure)
    weeks = sc.weeks + 1  # week 0 .. weeks, every week recorded
    kinds = set(ORG_KINDS) - {"icu"}  # no ICUs unless icu_units_per_trust > 0
    s = sc.structure  # organisations: hospital, mental health, each municipality's services
    orgs = 2 + s["municipalities_per_trust"] * (s["nursing_homes_per_municipality"] + 2)
    munis = s["municipalities_per_trust"] + 1  # + the trust's specialist services
    per_run = weeks * len(sc.bundles) * (units + orgs + munis + 1 + len(kinds) + 1)
    assert len(ts) == len(sc.strategies) * 2 * per_run

    assert set(ts["week"]) == set(range(sc.weeks + 1))
    assert set(ts["strategy"].astype(str)) == {"none", "support"}
    assert set(ts["bundle"].astype(str)) == set(sc.bundle_names)
    assert set(ts["replicate"]) == {0, 1}
    seeds = replicate_seeds(7, 2)
    assert (ts["seed"] == ts["replicate"].map(dict(enumerate(seeds)))).all()
    level = ts["level"].astype(str)
    assert ts.loc[level == "unit", "entity"].nunique() == units
    assert set(ts.loc[level == "kind", "entity"]) == kinds
    assert set(ts.loc[level == "system", "entity"]) == {"all"}

    for m in METRICS:
        values = ts[m].dropna()
        assert len(values) > 0, m
        assert ((values >= 0) & (values <= 1)).all(), m
    system = ts[level == "system"]
    assert system[METRICS].notna().all().all()  # every bundle applies somewhere


def test_summary_one_row_per_replicate_strategy_bundle(e2e):
    _, out, sc = e2e
    summary = pd.read_csv(out / "summary.csv")
    assert {"strategy", "replicate", "bundle", "adoption", "fidelity", "compliance",
            "penetration", "sustainability", "cost"} <= set(summary.columns)
    assert len(summary) == 2 * len(sc.strategies) * len(sc.bundles)
    assert not summary.duplicated(subset=["replicate", "strategy", "bundle"]).any()
    assert set(summary["bundle"]) == set(sc.bundle_names)
    assert (summary.loc[summary["strategy"] == "none", "cost"] == 0).all()
    assert (summary.loc[summary["strategy"] == "support", "cost"] > 0).all()


def test_summary_matches_final_system_rows(e2e):
    _, out, sc = e2e
    ts = pd.read_parquet(out / "timeseries.parquet")
    summary = pd.read_csv(out / "summary.csv")
    final = ts[(ts["level"] == "system") & (ts["week"] == sc.weeks)].copy()
    final["strategy"] = final["strategy"].astype(str)
    final["bundle"] = final["bundle"].astype(str)
    merged = summary.merge(final, on=["strategy", "replicate", "bundle"],
                           suffixes=("", "_ts"), validate="one_to_one")
    assert len(merged) == len(summary)
    for m in METRICS:
        np.testing.assert_allclose(merged[m], merged[f"{m}_ts"], rtol=1e-6, err_msg=m)


def test_manifest_records_seeds_versions_and_scenario(e2e):
    _, out, sc = e2e
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["root_seed"] == 7
    assert manifest["replicates"] == 2
    assert manifest["replicate_seeds"] == replicate_seeds(7, 2)
    for package in ("mesa", "numpy", "pandas"):
        assert manifest["versions"][package] not in ("", "not installed"), package
    assert isinstance(manifest["code_version"], str) and manifest["code_version"]
    scenario = manifest["scenario"]
    assert scenario["weeks"] == sc.weeks
    assert set(MODEL.names()) <= set(scenario["parameters"])
    assert scenario["parameters"] == sc.parameters
    assert [s["name"] for s in scenario["strategies"]] == ["none", "support"]


# --- determinism ------------------------------------------------------------------------------
def test_same_seed_gives_identical_files_different_seed_does_not(tmp_path, e2e):
    scenario = write_small(tmp_path)
    outs = {}
    for label, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        outs[label] = tmp_path / label
        rc = main(["run", str(scenario), "--out", str(outs[label]), "--replicates", "2",
                   "--seed", seed, "--quiet"])
        assert rc == 0
    a, b, c = ((outs[k] / "timeseries.parquet").read_bytes() for k in "abc")
    assert a == b
    assert a != c
    # In-process and console-script runs agree too (no per-process hash salt in the streams).
    assert a == (e2e[1] / "timeseries.parquet").read_bytes()
    assert (outs["a"] / "summary.csv").read_bytes() == (outs["b"] / "summary.csv").read_bytes()


def test_scenario_seed_and_replicates_are_the_defaults(tmp_path):
    scenario = write_small(tmp_path)  # seed = 99, replicates = 3
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["root_seed"] == 99
    assert manifest["replicate_seeds"] == replicate_seeds(99, 3)
    ts = pd.read_parquet(out / "timeseries.parquet", columns=["replicate"])
    assert set(ts["replicate"]) == {0, 1, 2}


# --- bad input: exit code 2, one line, no traceback -------------------------------------------
def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("implsim: error:"), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_malformed_scenario(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('weeks = "ten"\n', encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    line = one_error_line(err)
    assert str(bad) in line and "weeks" in line
    assert not out.exists()  # validated before anything is written


def test_missing_scenario_file(tmp_path, capsys):
    missing = tmp_path / "missing.toml"
    assert main(["run", str(missing), "--out", str(tmp_path / "out")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(missing) in line and "not found" in line


def test_zero_replicates(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(write_small(tmp_path)), "--out", str(out), "--replicates", "0"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--replicates" in line and "at least 1" in line
    assert not out.exists()


def test_negative_seed(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(write_small(tmp_path)), "--out", str(out), "--seed", "-1"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--seed" in line
    assert not out.exists()


def test_out_is_an_existing_file(tmp_path, capsys):
    target = tmp_path / "results"
    target.write_text("keep me", encoding="utf-8")
    assert main(["run", str(write_small(tmp_path)), "--out", str(target), "--quiet"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--out" in line and str(target) in line and "not a directory" in line
    assert target.read_text(encoding="utf-8") == "keep me"


def test_validate_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[parameters]\np_awareness = 1.5\n", encoding="utf-8")
    assert main(["validate", str(bad)]) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert str(bad) in line and "p_awareness" in line
    assert "valid" not in captured.out


def test_console_script_bad_input_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[parameters]\ncontagion = \"viral\"\n", encoding="utf-8")
    proc = console("run", str(bad), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 2
    line = one_error_line(proc.stderr)
    assert str(bad) in line and "contagion" in line and "'simple'" in line
    assert proc.stdout == ""


# --- listings ---------------------------------------------------------------------------------
def test_params_output_is_the_committed_documentation(capsys):
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    docs = (REPO / "docs" / "parameters.md").read_text(encoding="utf-8")
    assert out == docs, "docs/parameters.md is stale: run `implsim params > docs/parameters.md`"
    for name in MODEL.names():
        assert f"`{name}`" in out


def test_bundles_lists_the_shipped_bundles(capsys):
    assert main(["bundles"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(shipped_bundles())
    assert set(SHIPPED) <= set(shipped_bundles())


def test_validate_small_scenario(tmp_path, capsys):
    scenario = write_small(tmp_path)
    assert main(["validate", str(scenario)]) == 0
    captured = capsys.readouterr()
    assert "valid" in captured.out
    assert str(scenario) in captured.out
    assert "2 strategies" in captured.out and "12 weeks" in captured.out
    assert captured.err == ""


# --- the built-in default (slow) --------------------------------------------------------------
@pytest.mark.slow
def test_default_scenario_support_beats_no_support(tmp_path):
    out = tmp_path / "out"
    assert main(["run", "--out", str(out), "--replicates", "2", "--quiet"]) == 0
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    ts = pd.read_parquet(out / "timeseries.parquet")
    final = ts[(ts["level"] == "system") & (ts["week"] == ts["week"].max())]
    mean = final.groupby(["bundle", "strategy"], observed=True)["compliance"].mean().unstack()
    assert list(mean.index.astype(str)) == SHIPPED
    assert (mean["training + facilitation"] > mean["no extra support"]).all(), mean


def test_resumable_batch_keeps_results_on_interrupt_and_names_the_scheduler(capsys):
    import argparse

    from sim.cli import _resumable
    from sim.errors import InputError

    args = argparse.Namespace(scheduler="tcp://127.0.0.1:1", out="out/x")

    def interrupted():
        raise KeyboardInterrupt

    def unreachable():
        raise OSError("connection refused")

    assert _resumable(args, "runs are kept in out/x", lambda: 7) == 7
    assert _resumable(args, "runs are kept in out/x", interrupted, again="continue") is None
    err = capsys.readouterr().err
    assert "finished runs are kept in out/x. Run the same command again to continue." in err
    with pytest.raises(InputError, match="--scheduler"):
        _resumable(args, "runs are kept in out/x", unreachable)

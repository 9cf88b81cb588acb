"""An experiment's report gives the ICC too (icc.csv, :mod:`sim.outcomes.icc`).

The store keeps each run's per-cluster sums (table ``clusters``); ``implsim report`` combines
them with the one estimator ``implsim run`` uses. Checked: an experiment whose arms are a
scenario's strategies, with its seed and replicates, reports the run's icc.csv row for row; a
store resumed after losing chunks reports the same; a store written before the table still
reports, with a one-line note.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from sim.cli import main
from sim.experiment import ResultStore

# Eight municipalities of two GP practices and a nursing home each, under one small trust:
# enough clusters for an interval, a shared municipal effect, eight weeks.
SCENARIO = """\
name = "icc_small"
weeks = 8
seed = 7
replicates = 2
bundles = ["medication_list_accuracy", "antibiotic_stewardship"]

[structure]
wards_per_trust = 2
mental_health_units_per_trust = 0
municipalities_per_trust = 8
nursing_homes_per_municipality = 1
home_care_teams_per_municipality = 0
gp_practices_per_municipality = 2

[parameters]
context_sd_municipality = 1.0
p_awareness = 0.1

[output]
icc_weeks = [4, 8]

[[strategies]]
name = "no extra support"
interventions = []

[[strategies]]
name = "training"

  [[strategies.interventions]]
  type = "training"
  start_week = 1
  coverage = 0.8
"""

EXPERIMENT = """\
name = "icc_small"
scenario = "scenario.toml"
replicates = 2
seed = 7
chunk_size = 1
timeseries = "system"

[[arms]]
name = "no extra support"
strategy = "no extra support"

[[arms]]
name = "training"
strategy = "training"
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("expicc")
    (d / "scenario.toml").write_text(SCENARIO)
    (d / "experiment.toml").write_text(EXPERIMENT)
    return d


@pytest.fixture(scope="module")
def store(files: Path) -> Path:
    out = files / "store"
    assert main(["experiment", str(files / "experiment.toml"), "--out", str(out), "--serial",
                 "--quiet"]) == 0
    assert main(["report", str(out)]) == 0
    return out


def test_the_report_icc_is_the_run_icc(files: Path, store: Path) -> None:
    assert main(["run", str(files / "scenario.toml"), "--out", str(files / "run"), "--quiet",
                 "--no-plots"]) == 0
    want = pd.read_csv(files / "run" / "icc.csv")
    got = pd.read_csv(store / "report" / "icc.csv")
    assert list(got.columns) == ["point", *want.columns]
    assert (got["point"] == 0).all()
    assert len(want) and set(want["strategy"]) == {"no extra support", "training"}
    assert want["icc"].notna().any() and want["icc_lo"].notna().any()
    assert_frame_equal(got.drop(columns="point"), want)


def test_a_resumed_store_reports_the_same_icc(store: Path, files: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(store, tmp_path / "store")
    shutil.rmtree(copy / "report")
    for chunk in (1, 2):  # lose two chunks (runs), then resume
        (copy / "done" / f"part-{chunk:05d}.json").unlink()
    assert main(["experiment", str(files / "experiment.toml"), "--out", str(copy), "--serial",
                 "--quiet"]) == 0
    assert main(["report", str(copy)]) == 0
    assert (copy / "report" / "icc.csv").read_bytes() == \
        (store / "report" / "icc.csv").read_bytes()


def test_a_store_from_before_the_table_reports_with_a_note(store: Path, tmp_path: Path,
                                                            capsys) -> None:
    old = shutil.copytree(store, tmp_path / "old")
    shutil.rmtree(old / "report")
    shutil.rmtree(old / "clusters")
    for record in (old / "done").glob("part-*.json"):  # what a store of yesterday records
        entry = json.loads(record.read_text())
        del entry["clusters"]
        record.write_text(json.dumps(entry) + "\n")
    assert not ResultStore(old).has_table("clusters")
    capsys.readouterr()
    assert main(["report", str(old)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no icc.csv" in err[0] and "run the experiment again" in err[0]
    assert (old / "report" / "arms.csv").exists()
    assert not (old / "report" / "icc.csv").exists()
    assert "no icc.csv" in (old / "report" / "README.txt").read_text()


def test_each_design_point_has_its_own_icc_rows() -> None:
    from sim.experiment.report import experiment_icc
    from sim.outcomes.icc import icc_table

    rng = np.random.default_rng(3)
    rows = []
    for point in (0, 1):
        for replicate in (0, 1):
            for _cluster in range(6):
                n = float(rng.integers(2, 9))
                s = float(rng.random() * n) * (1 + point)
                rows.append({"run_id": 10 * point + replicate, "arm": "a", "point": point,
                             "replicate": replicate, "seed": replicate, "bundle": "b",
                             "level": "municipality", "kind": "all", "metric": "compliance",
                             "week": 4, "n": n, "sum": s, "sumsq": s * s / n + rng.random()})
    sums = pd.DataFrame(rows)
    table = experiment_icc(sums, seed=5)
    assert list(table["point"]) == [0, 1]
    for point in (0, 1):
        alone = icc_table(sums[sums["point"] == point].rename(columns={"arm": "strategy"}), 5)
        assert_frame_equal(table[table["point"] == point].drop(columns="point")
                           .reset_index(drop=True), alone)

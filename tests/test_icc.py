"""The intra-cluster correlation a run reports (icc.csv, :mod:`sim.outcomes.icc`).

A hand-computed ICC on a tiny table; the bootstrap's resampling equals recomputing on the
resampled data; a run's between-municipality ICC is consistent with 0 without shared causes
(its interval holds 0) and rises with ``context_sd_municipality`` (slow, over seeds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.errors import InputError
from sim.outcomes.icc import anova_icc, icc, icc_table
from sim.scenario import scenario_from_dict
from sim.simulate import run_replicates

# Single-unit GP practices of 30 staff: nothing is shared within a municipality but its effect.
GP_ONLY = {"wards_per_trust": 0, "mental_health_units_per_trust": 0,
           "municipalities_per_trust": 40, "nursing_homes_per_municipality": 0,
           "home_care_teams_per_municipality": 0, "gp_practices_per_municipality": 5,
           "staff_per_gp_practice": 30}


def test_icc_of_a_tiny_table_by_hand():
    # A = [1, 2], B = [3, 4, 5]: MSB = 7.5, MSW = 2.5 / 3, n0 = (5 - 13 / 5) / 1 = 2.4,
    # ICC = (7.5 - 5/6) / (7.5 + 1.4 * 5/6) = (20/3) / (26/3) = 10/13
    assert icc(np.array([1.0, 2, 3, 4, 5]), np.array(["A", "A", "B", "B", "B"])) == \
        pytest.approx(10 / 13, rel=1e-12)
    # identical clusters: all variance within, ICC(1) = -1 / (n0 - 1) = -1
    assert icc(np.array([0.0, 1, 0, 1]), np.array([0, 0, 1, 1])) == pytest.approx(-1.0)
    assert np.isnan(icc(np.array([0.0, 0, 0, 0]), np.array([0, 0, 1, 1])))  # no variance
    assert np.isnan(icc(np.array([1.0, np.nan, 2]), np.array([0, 1, 0])))  # one cluster left


def sums_of(values: np.ndarray, groups: np.ndarray):
    k = groups.max() + 1
    n = np.bincount(groups, minlength=k).astype(float)
    return n, np.bincount(groups, values, k), np.bincount(groups, values**2, k)


def test_a_resample_of_clusters_is_the_icc_of_the_resampled_data():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(6), [2, 3, 4, 2, 5, 3])
    values = rng.normal(groups * 0.3, 1.0)
    counts = np.array([[1, 1, 1, 1, 1, 1], [2, 0, 1, 0, 3, 0], [0, 1, 1, 1, 1, 2]])
    got = anova_icc(*sums_of(values, groups), counts)
    for c, g in zip(counts, got, strict=True):
        v = np.concatenate([values[groups == j] for j in range(6) for _ in range(c[j])])
        lab = np.concatenate([np.full((groups == j).sum(), 10 * j + r)
                              for j in range(6) for r in range(c[j])])
        assert g == pytest.approx(icc(v, lab), rel=1e-10)


def synthetic_sums(between_sd: float, seed: int, replicates: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(replicates):
        groups = np.repeat(np.arange(60), 8)
        values = rng.normal(0, between_sd, 60)[groups] + rng.normal(0, 1, len(groups))
        n, s, q = sums_of(values, groups)
        rows.append(pd.DataFrame({"strategy": "s", "replicate": r, "bundle": "b",
                                  "level": "municipality", "kind": "all", "metric": "compliance",
                                  "week": 4, "n": n, "sum": s, "sumsq": q}))
    return pd.concat(rows, ignore_index=True)


def test_the_table_gives_the_mean_icc_and_an_interval_that_holds_the_truth():
    table = icc_table(synthetic_sums(0.0, 1), seed=1)
    (row,) = table.to_dict("records")
    assert row["replicates"] == 2 and row["n_clusters"] == 60 and row["mean_cluster_size"] == 8
    assert row["icc_lo"] < 0 < row["icc_hi"]  # no between-cluster variance
    true = 0.5**2 / (0.5**2 + 1)  # between SD 0.5: ICC 0.2
    row = icc_table(synthetic_sums(0.5, 2), seed=1).iloc[0]
    assert row["icc_lo"] < true < row["icc_hi"] and row["icc_lo"] > 0.05
    per_replicate = [float(anova_icc(*(p[c].to_numpy() for c in ("n", "sum", "sumsq"))))
                     for _, p in synthetic_sums(0.5, 2).groupby("replicate")]
    assert row["icc"] == pytest.approx(np.mean(per_replicate))
    assert row["icc_sd_replicates"] == pytest.approx(np.std(per_replicate, ddof=1))
    few = synthetic_sums(0.5, 3)
    row = icc_table(few[few["n"].index % 60 < 4], seed=1).iloc[0]  # 4 clusters: no interval
    assert np.isfinite(row["icc"]) and np.isnan(row["icc_lo"]) and np.isnan(row["icc_hi"])
    assert "no interval" in row["method"]


def scenario(sd: float, seed: int, weeks: int = 104, **output):
    data = {"name": "icc", "weeks": weeks, "seed": seed, "structure": GP_ONLY,
            "parameters": {"context_sd_municipality": sd, "p_awareness": 0.05},
            "bundles": ["medication_list_accuracy"],
            "output": {"levels": ["municipality"], "elements": False, **output}}
    return scenario_from_dict(data, "icc.toml", Path.cwd())


def run_icc(sd: float, seed: int, replicates: int = 1) -> pd.DataFrame:
    result = run_replicates(scenario(sd, seed), seed, replicates)
    table = icc_table(result.clusters, seed)
    return table[(table["level"] == "municipality") & (table["kind"] == "all")].set_index(
        "metric")


def test_icc_weeks_choose_the_weeks_and_must_be_recorded():
    result = run_replicates(scenario(0.0, 1, weeks=6, icc_weeks=[0, 3]), 1, 1)
    assert sorted(set(result.clusters["week"])) == [0, 3]
    assert set(result.clusters["level"]) == {"municipality", "trust"}
    with pytest.raises(InputError, match=r"output\.icc_weeks.*week 5 is not recorded"):
        scenario(0.0, 1, weeks=6, icc_weeks=[5], every_weeks=2)
    with pytest.raises(InputError, match=r"output\.icc_weeks"):
        scenario(0.0, 1, weeks=6, icc_weeks=["last"])


def test_without_shared_causes_the_interval_holds_zero():
    rows = run_icc(0.0, 1)
    for metric in ("adoption", "compliance"):
        assert rows.loc[metric, "icc_lo"] < 0 < rows.loc[metric, "icc_hi"], rows
        assert rows.loc[metric, "n_clusters"] == 40
        assert rows.loc[metric, "mean_cluster_size"] == 5


@pytest.mark.slow
def test_the_reported_icc_rises_with_the_municipality_sd_over_seeds():
    sds, seeds = (0.0, 0.5, 1.0, 2.0), (1, 2, 3)
    mean = np.array([np.mean([run_icc(sd, s).loc[["adoption", "compliance"], "icc"]
                              for s in seeds], axis=0) for sd in sds])
    assert (np.diff(mean, axis=0) > 0).all(), mean
    assert (np.abs(mean[0]) < 0.05).all(), mean[0]
    low = run_icc(1.0, 1)
    assert (low["icc_lo"] > 0).all(), low  # a real correlation is told from none


def test_a_run_writes_icc_csv(tmp_path):
    from sim.outputs import write_run

    sc = scenario(0.0, 1, weeks=4, icc_weeks=[2, 4])
    result = run_replicates(sc, 1, 2)
    files = write_run(result, sc, tmp_path, seed=1, replicates=2, plots=False)
    assert "icc.csv" in files
    table = pd.read_csv(tmp_path / "icc.csv")
    assert not table.duplicated(["strategy", "bundle", "level", "kind", "metric", "week"]).any()
    assert set(table["week"]) == {2, 4} and set(table["level"]) == {"municipality", "trust"}
    assert (table["replicates"] == 2).all()
    row = table[(table["level"] == "municipality") & (table["kind"] == "all")
                & (table["metric"] == "adoption") & (table["week"] == 4)].iloc[0]
    assert row["n_clusters"] == 40 and row["icc_lo"] <= row["icc"] <= row["icc_hi"]

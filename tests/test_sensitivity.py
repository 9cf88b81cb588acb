"""Sensitivity analysis: known answers, no-effect factors, noise, bad files, the command, resume.

The pipeline (sampling, replicates, noise report, analysis, files) runs on test functions with
analytical indices — Ishigami and Sobol G — through the same code as the model; only the
evaluator differs. Against the real model a small Morris analysis runs end to end through
``implsim sensitivity``, a dummy factor gets μ* = 0, and an interrupted analysis resumes
without re-running finished runs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny import TINY_STRUCTURE

from sim.cli import main
from sim.errors import InputError
from sim.params import MODEL
from sim.sensitivity import load_spec, noise_report, run_sensitivity, spec_from_dict
from sim.sensitivity.methods import make_method, pawn_medians

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


# --- analytical indices --------------------------------------------------------------------------
def ishigami_indices(a: float = 7.0, b: float = 0.1) -> dict[str, np.ndarray]:
    """S1, ST and S2(x1, x3) of the Ishigami function on [-π, π]³ (Sobol' & Levitan 1999)."""
    pi4, pi8 = math.pi**4, math.pi**8
    v = a**2 / 8 + b * pi4 / 5 + b**2 * pi8 / 18 + 0.5
    v1 = 0.5 * (1 + b * pi4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi8 * (1 / 18 - 1 / 50)
    return {"S1": np.array([v1, v2, 0.0]) / v, "ST": np.array([v1 + v13, v2, v13]) / v,
            "S13": np.array(v13 / v)}


def sobol_g_indices(a: list[float]) -> dict[str, np.ndarray]:
    """S1 and ST of the Sobol G function (Saltelli et al. 2010)."""
    vi = 1.0 / (3.0 * (1.0 + np.asarray(a)) ** 2)
    v = np.prod(1 + vi) - 1
    st = np.array([vi[i] * np.prod(np.delete(1 + vi, i)) for i in range(len(a))]) / v
    return {"S1": vi / v, "ST": st}


def test_analytical_values_match_the_literature():
    ish = ishigami_indices()
    np.testing.assert_allclose(ish["S1"], [0.3139, 0.4424, 0.0], atol=1e-4)
    np.testing.assert_allclose(ish["ST"], [0.5576, 0.4424, 0.2437], atol=1e-4)
    from SALib.test_functions import Sobol_G

    a = np.array([0, 1, 4.5, 9, 99, 99, 99, 99])
    g = sobol_g_indices(list(a))
    np.testing.assert_allclose(g["S1"], Sobol_G.sensitivity_index(a), rtol=1e-12)
    np.testing.assert_allclose(g["ST"], Sobol_G.total_sensitivity_index(a), rtol=1e-12)
    np.testing.assert_allclose(g["S1"][:2], [0.716, 0.179], atol=1e-3)  # Saltelli et al. 2010
    # Our vectorised G is SALib's function.
    x = np.random.default_rng(1).random((50, 8))
    from sim.sensitivity.problem import TestFunction
    np.testing.assert_allclose(TestFunction("sobol_g", tuple(a))(x), Sobol_G.evaluate(x, a))


def tf_spec(function, method: str, samples: int, *, replicates: int = 1, seed: int = 3,
            factors: dict | None = None, **extra):
    data = {"test_function": function, "method": method, "samples": samples,
            "replicates": replicates, "seed": seed, **extra}
    if factors is not None:
        data["factors"] = factors
    return spec_from_dict(data, "test.toml", Path("."))


def indices_of(res, index: str, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    df = res.indices[(res.indices["index"] == index) & (res.indices["factor_2"] == "")]
    df = df.set_index("factor").loc[names]
    return df["value"].to_numpy(), df["conf"].to_numpy()


def assert_within(est, conf, truth, tol):
    """Each estimate within its interval of the truth, plus a small tolerance."""
    gap = np.abs(np.asarray(est) - np.asarray(truth))
    assert (gap <= np.asarray(conf) + tol).all(), (est, conf, truth)


ISHIGAMI_FACTORS = {"x1": {}, "x2": {}, "x3": {}, "dummy.d": {}}
X123 = ["x1", "x2", "x3"]


def test_sobol_reproduces_ishigami_with_a_dummy(tmp_path):
    res = run_sensitivity(tf_spec("ishigami", "sobol", 2048, factors=ISHIGAMI_FACTORS), tmp_path)
    truth = ishigami_indices()
    for index in ("S1", "ST"):
        est, conf = indices_of(res, index, X123)
        assert_within(est, conf, truth[index], 0.02)
        assert (conf < 0.08).all()  # the intervals are informative, not just wide
    s2 = res.indices[(res.indices["index"] == "S2") & (res.indices["factor"] == "x1")
                     & (res.indices["factor_2"] == "x3")].iloc[0]
    assert abs(s2["value"] - truth["S13"]) <= s2["conf"] + 0.03
    st_dummy, _ = indices_of(res, "ST", ["dummy.d"])
    s1_dummy, _ = indices_of(res, "S1", ["dummy.d"])
    assert abs(st_dummy[0]) < 1e-9 and abs(s1_dummy[0]) < 1e-9
    ranks = res.indices.dropna(subset=["rank"]).set_index("factor")["rank"]
    assert ranks["x1"] == 1 and ranks["dummy.d"] == 4
    for name in ("indices.csv", "noise.csv", "samples.csv", "convergence.csv", "summary.txt",
                 "sensitivity.json"):
        assert (tmp_path / name).exists(), name
    for name in ("sobol.png", "sobol_s2.png", "convergence.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    assert len(pd.read_csv(tmp_path / "samples.csv")) == 2048 * (2 * 4 + 2)
    conv = pd.read_csv(tmp_path / "convergence.csv")
    assert sorted(conv["samples"].unique())[-1] == 2048 and conv["samples"].nunique() >= 4
    final = conv[(conv["samples"] == 2048) & (conv["index"] == "ST")].set_index("factor")
    assert final.loc["x1", "value"] == pytest.approx(indices_of(res, "ST", ["x1"])[0][0])


def test_efast_reproduces_ishigami(tmp_path):
    res = run_sensitivity(tf_spec("ishigami", "fast", 1200, factors={
        "x1": {}, "x2": {}, "x3": {}}), tmp_path)
    truth = ishigami_indices()
    for index in ("S1", "ST"):
        est, conf = indices_of(res, index, X123)
        assert_within(est, conf, truth[index], 0.03)
    assert (tmp_path / "fast.png").read_bytes()[:8] == PNG
    assert "not a valid sample" in res.summary  # no prefix convergence for eFAST, said so


def test_sobol_reproduces_sobol_g_without_second_order(tmp_path):
    a = [0.0, 1.0, 4.5, 9.0, 99.0, 99.0]
    spec = tf_spec({"name": "sobol_g", "a": a}, "sobol", 2048,
                   options={"calc_second_order": False})
    res = run_sensitivity(spec, tmp_path)
    names = [f"x{i + 1}" for i in range(len(a))]
    truth = sobol_g_indices(a)
    for index in ("S1", "ST"):
        est, conf = indices_of(res, index, names)
        assert_within(est, conf, truth[index], 0.02)
    assert not (res.indices["index"] == "S2").any()
    assert not (tmp_path / "sobol_s2.png").exists()
    assert len(pd.read_csv(tmp_path / "samples.csv")) == 2048 * (len(a) + 2)


def test_grouped_sobol_gives_group_indices(tmp_path):
    # Group A = {x1, x3}, group B = {x2}: S1(A) = (V1 + V13)/V = ST1, ST(B) = S1(B) = S1 of x2.
    spec = tf_spec("ishigami", "sobol", 1024, factors={
        "x1": {"group": "A"}, "x2": {"group": "B"}, "x3": {"group": "A"}})
    res = run_sensitivity(spec, tmp_path)
    truth = ishigami_indices()
    est, conf = indices_of(res, "S1", ["A", "B"])
    assert_within(est, conf, [truth["ST"][0], truth["S1"][1]], 0.03)
    assert set(res.indices["factor"]) == {"A", "B"}


def test_morris_ranks_ishigami_and_gives_a_dummy_zero(tmp_path):
    res = run_sensitivity(tf_spec("ishigami", "morris", 100, factors=ISHIGAMI_FACTORS), tmp_path)
    mu, conf = indices_of(res, "mu_star", [*X123, "dummy.d"])
    assert min(mu[0], mu[1]) > mu[2] > 0
    assert mu[3] == 0.0 and conf[3] == 0.0
    assert (tmp_path / "morris.png").read_bytes()[:8] == PNG
    assert any(f"top factors by mu_star: {x}" in res.summary for x in ("x1", "x2"))


def test_pawn_ranks_ishigami_and_its_bootstrap_uses_salibs_statistic(tmp_path):
    from SALib.analyze import pawn

    spec = tf_spec("ishigami", "pawn", 1000, factors=ISHIGAMI_FACTORS,
                   options={"bootstrap": 50})
    res = run_sensitivity(spec, tmp_path)
    med, conf = indices_of(res, "median", [*X123, "dummy.d"])
    assert med[1] > med[0] > med[2] > med[3] - conf[3]
    assert ((conf > 0) & (conf < 0.1)).all()
    X = spec.method.sample(spec.problem(), 1000, 3)
    Y = spec.test_function(X[:, :3])
    np.testing.assert_allclose(pawn_medians(X, Y, 10),
                               pawn.analyze(spec.problem(), X, Y, S=10)["median"])


def test_analysis_leaves_numpys_global_random_state_alone(tmp_path):
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    run_sensitivity(tf_spec("ishigami", "fast", 200, factors={"x1": {}, "x2": {}, "x3": {}}),
                    tmp_path)
    assert (np.random.get_state()[1] == state).all()  # noqa: NPY002


def test_same_seed_same_sample_and_indices(tmp_path):
    spec = tf_spec("ishigami", "morris", 10, factors=ISHIGAMI_FACTORS)
    a = run_sensitivity(spec, tmp_path / "a")
    b = run_sensitivity(spec, tmp_path / "b")
    pd.testing.assert_frame_equal(a.indices, b.indices)
    other = run_sensitivity(tf_spec("ishigami", "morris", 10, seed=4, factors=ISHIGAMI_FACTORS),
                            tmp_path / "c")
    assert not pd.read_csv(tmp_path / "a" / "samples.csv").equals(
        pd.read_csv(tmp_path / "c" / "samples.csv"))
    assert not a.indices["value"].equals(other.indices["value"])


# --- noise ---------------------------------------------------------------------------------------
def test_noise_report_on_known_variances():
    rng = np.random.default_rng(0)
    signal = rng.normal(0, 3.0, 4000)                       # variance 9 across points
    runs = signal[:, None] + rng.normal(0, 1.0, (4000, 4))  # seed noise variance 1
    row = noise_report(runs, "y", threshold=0.1)
    assert row["var_seed"] == pytest.approx(1.0, rel=0.05)
    assert row["seed_noise_share"] == pytest.approx(1 / 10, rel=0.08)
    assert row["noise_share_of_means"] == pytest.approx(0.25 / 9.25, rel=0.08)
    assert not row["too_noisy"]
    noisy = noise_report(signal[:, None] * 0.1 + rng.normal(0, 1.0, (4000, 2)), "y", 0.1)
    assert noisy["too_noisy"] and "Add replicates" in noisy["message"]
    single = noise_report(runs[:, :1], "y")
    assert np.isnan(single["var_seed"]) and "replicates ≥ 2" in single["message"]


def test_too_much_noise_is_flagged_in_the_outputs(tmp_path):
    quiet = run_sensitivity(tf_spec({"name": "ishigami", "noise_sd": 0.5}, "sobol", 256,
                                    replicates=4, factors=ISHIGAMI_FACTORS), tmp_path / "q")
    assert not quiet.noise["too_noisy"].any()
    # Seed-noise share of single runs ≈ σ² / (V + σ²), V the Ishigami variance.
    v = 7.0**2 / 8 + 0.1 * math.pi**4 / 5 + 0.01 * math.pi**8 / 18 + 0.5
    assert quiet.noise["seed_noise_share"].iloc[0] == pytest.approx(0.25 / (v + 0.25), rel=0.15)
    loud = run_sensitivity(tf_spec({"name": "ishigami", "noise_sd": 4.0}, "sobol", 256,
                                   replicates=2, factors=ISHIGAMI_FACTORS), tmp_path / "l")
    assert loud.noise["too_noisy"].all()
    text = (tmp_path / "l" / "summary.txt").read_text()
    assert "WARNING" in text and "Add replicates" in text
    # Without common random numbers noise lands on the dummy's total index: about the noise
    # share of the replicate means.
    st_dummy, _ = indices_of(loud, "ST", ["dummy.d"])
    share = loud.noise["noise_share_of_means"].iloc[0]
    assert 0.3 * share < st_dummy[0] < 2.0 * share


def test_outputs_average_bundles_per_run_and_undefined_outputs_are_reported(tmp_path):
    from sim.sensitivity.evaluate import Evaluation, per_run
    from sim.sensitivity.pipeline import analyse
    from sim.sensitivity.problem import Output

    summary = pd.DataFrame({
        "point": [0, 0, 0, 0, 1, 1, 1, 1], "replicate": [0, 0, 1, 1, 0, 0, 1, 1],
        "bundle": ["a", "b"] * 4,
        "compliance": [0.2, 0.4, 0.3, np.nan, 0.6, 0.8, 0.5, 0.7]})
    mean = per_run(summary, Output("compliance", "compliance"), 2, 2)
    np.testing.assert_allclose(mean, [[0.3, 0.3], [0.7, 0.6]])  # NaN bundle skipped
    one = per_run(summary, Output("compliance:b", "compliance", "b"), 2, 2)
    assert np.isnan(one[0, 1]) and one[1, 0] == 0.8

    spec = tf_spec("ishigami", "morris", 4, replicates=2, factors=ISHIGAMI_FACTORS)
    X = spec.method.sample(spec.problem(), 4, spec.seed)
    runs = np.ones((len(X), 2))
    runs[3] = np.nan  # undefined in every replicate at one row
    res = analyse(spec, tmp_path, X, Evaluation({"y": runs}, np.arange(len(X)), []))
    assert res.indices.empty and "not analysed" in res.summary
    assert "undefined (NaN) at 1 of 20 sample rows" in res.summary


# --- SA files ------------------------------------------------------------------------------------

SMALL_SA = """\
name = "sa_small"
scenario = "default"
strategy = "training + facilitation"
weeks = 52
method = "morris"
samples = {samples}
replicates = 2
seed = 11
chunk_size = {chunk_size}
outputs = ["compliance", "adoption:antibiotic_stewardship"]
{structure}
[factors]
"parameters.leadership_mean" = {{}}
"parameters.turnover_annual" = {{ low = 0.05, high = 0.3 }}
"network.within_unit_rewiring" = {{}}
"interventions.facilitation.intensity" = {{}}
"dummy.noise" = {{}}
"""


def write_small(tmp_path: Path, samples: int = 3, chunk_size: int = 0, name="sa.toml") -> Path:
    path = tmp_path / name
    path.write_text(SMALL_SA.format(samples=samples, chunk_size=chunk_size,
                                    structure=TINY_STRUCTURE))
    return path


def test_factor_bounds_come_from_the_declarations(tmp_path):
    path = tmp_path / "sa.toml"
    path.write_text(SMALL_SA.format(samples=3, chunk_size=0, structure="").replace(
        '"dummy.noise" = {}', '"dummy.noise" = {}\n"interventions.training.coverage" = {}'))
    spec = load_spec(path)
    by = {f.name: f for f in spec.factors}
    lead = MODEL["leadership_mean"]
    assert (by["parameters.leadership_mean"].low, by["parameters.leadership_mean"].high) == (
        lead.low, lead.high)
    assert (by["parameters.turnover_annual"].low, by["parameters.turnover_annual"].high) == (
        0.05, 0.3)
    assert by["interventions.training.coverage"].high == 1.0
    assert not by["dummy.noise"].applied
    prob = spec.problem()
    assert prob["num_vars"] == 6 and prob["names"][0] == "parameters.leadership_mean"
    assert "groups" not in prob
    point = spec.point(np.array([0.5, 0.1, 0.2, 0.3, 0.9, 0.4]))
    assert "dummy.noise" not in point and point["parameters.leadership_mean"] == 0.5


def test_integer_factors_are_rounded_with_equal_weight(tmp_path):
    path = tmp_path / "sa.toml"
    path.write_text("""
scenario = "default"
weeks = 80
method = "sobol"
samples = 64
[arm]
name = "champions"
  [[arm.interventions]]
  type = "champions"
  per_unit = 2
[factors]
"interventions.champions.per_unit" = { low = 1, high = 4 }
"parameters.p_abandon" = {}
""")
    spec = load_spec(path)
    f = spec.factors[0]
    assert f.integer and f.bounds() == [0.5, 4.5]
    X = spec.method.sample(spec.problem(), 64, spec.seed)
    values = [spec.point(x)["interventions.champions.per_unit"] for x in X]
    assert all(isinstance(v, int) for v in values)
    counts = np.bincount(values, minlength=5)[1:]
    assert counts.min() > 0.2 * len(values)  # 1, 2, 3 and 4 about equally often


BAD = [
    ('"parameters.leadership_meen" = {}', "factors.parameters.leadership_meen",
     "unknown factor"),
    ('"parameters.p_abandon" = { low = 0.1, high = 1.5 }',
     "factors.parameters.p_abandon", "outside the declared range"),
    ('"interventions.coaching.intensity" = {}', "factors.interventions.coaching.intensity",
     "no intervention named 'coaching'"),
    ('"interventions.facilitation.intensty" = {}',
     "factors.interventions.facilitation.intensty", "has no parameter 'intensty'"),
    ('"parameters.contagion" = {}', "factors.parameters.contagion", "not a number"),
    ('"structure.wards_per_trust" = { low = 1.5, high = 4 }', "factors.structure.wards_per_trust",
     "integer"),
    ('"interventions.facilitation.end_week" = { low = 1, high = 40 }',
     "factors.interventions.facilitation.end_week", "at 1"),
    ("wild = {}", "factors.wild", "unknown factor"),
]


@pytest.mark.parametrize(("line", "where", "fragment"), BAD)
def test_bad_factors_are_one_line_errors(tmp_path, capsys, line, where, fragment):
    path = write_small(tmp_path)
    path.write_text(path.read_text().replace('"dummy.noise" = {}', line))
    assert main(["sensitivity", str(path), "--out", str(tmp_path / "out"), "--serial"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and where in err and fragment in err, err
    assert str(path) in err
    assert not (tmp_path / "out" / "store").exists()


def test_out_of_range_error_names_the_allowed_range(tmp_path):
    path = write_small(tmp_path)
    path.write_text(path.read_text().replace("high = 0.3", "high = 1.5"))
    with pytest.raises(InputError, match=r"factors\.parameters\.turnover_annual: range "
                       r"\[0\.05, 1\.5\] is outside the declared range of "
                       r"parameters\.turnover_annual.*\[0, 1\]"):
        load_spec(path)


@pytest.mark.parametrize(("old", "new", "where", "fragment"), [
    ('method = "morris"', 'method = "sobolev"', "method", "must be one of"),
    ('"compliance",', '"complience",', "outputs", "unknown output 'complience'"),
    ('"adoption:antibiotic_stewardship"', '"adoption:hand_hygiene"', "outputs",
     "unknown bundle 'hand_hygiene'"),
    ('"compliance",', '"sustainability_12m",', "outputs", "set weeks ≥ 108"),
    ('method = "morris"', 'method = "sobol"', "samples", "power of 2"),
    ('method = "morris"', 'method = "fast"', "samples", "more than 4·M²"),
    ('strategy = "training + facilitation"', 'strategy = "coaching"', "strategy",
     "no strategy 'coaching'"),
    ("seed = 11", "seed = 11\nrepliactes = 3", "repliactes", "unknown key"),
    ('"dummy.noise" = {}', '"dummy.noise" = {}\n[options]\nnum_levels = 3',
     "options.num_levels", "must be even"),
])
def test_bad_sa_files_are_one_line_errors(tmp_path, capsys, old, new, where, fragment):
    path = write_small(tmp_path)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    assert main(["sensitivity", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{path}: {where}" in err and fragment in err, err


def test_groups_need_a_method_that_supports_them(tmp_path):
    with pytest.raises(InputError, match="groups are supported by the morris and sobol"):
        tf_spec("ishigami", "fast", 100, factors={"x1": {"group": "a"}, "x2": {}, "x3": {}})
    with pytest.raises(InputError, match="needs every input"):
        tf_spec("ishigami", "sobol", 64, factors={"x1": {}, "x2": {}})
    with pytest.raises(InputError, match="unknown factor for the ishigami"):
        tf_spec("ishigami", "sobol", 64, factors={"x1": {}, "x2": {}, "x3": {}, "x4": {}})
    with pytest.raises(InputError, match="unknown key"):
        make_method("morris", {"levels": 4}, "f.toml: options")


def test_sa_catchment_file_spans_the_asked_for_factors():
    spec = load_spec(REPO / "experiments" / "sa_catchment.toml")
    names = [f.name for f in spec.factors]
    assert len([n for n in names if not n.startswith("dummy.")]) >= 10
    for needed in ("parameters.leadership_mean", "parameters.climate_mean",
                   "parameters.workload_mean", "parameters.turnover_annual",
                   "parameters.openness_mean", "parameters.threshold_mean",
                   "network.within_unit_rewiring", "network.cross_boundary_degree",
                   "interventions.facilitation.intensity", "interventions.champions.per_unit",
                   "interventions.audit_feedback.interval_weeks", "dummy.noise"):
        assert needed in names
    assert any(n.startswith("interventions.training.") for n in names)
    assert [o.name for o in spec.outputs] == ["compliance", "sustainability_12m"]
    assert spec.experiment_table["weeks"] == 104


# --- the real model: the command end to end, and resuming -----------------------------------------
def test_sensitivity_command_end_to_end_on_the_model(tmp_path, capsys):
    path = write_small(tmp_path, samples=3)
    out = tmp_path / "out"
    assert main(["sensitivity", str(path), "--out", str(out), "--serial", "--quiet"]) == 0
    idx = pd.read_csv(out / "indices.csv", keep_default_na=False)
    assert set(idx["output"]) == {"compliance", "adoption:antibiotic_stewardship"}
    assert set(idx["method"]) == {"morris"}
    mu = idx[idx["index"] == "mu_star"].set_index(["output", "factor"])
    assert len(mu) == 2 * 5
    for output in ("compliance", "adoption:antibiotic_stewardship"):
        assert float(mu.loc[(output, "dummy.noise"), "value"]) == 0.0  # never applied
        assert float(mu.loc[(output, "interventions.facilitation.intensity"), "value"]) > 0.01
    for png in ("morris.png", "convergence.png"):
        assert (out / png).read_bytes()[:8] == PNG
    samples = pd.read_csv(out / "samples.csv")
    assert len(samples) == 3 * 6
    # Rows that differ only in the dummy (or repeat a grid point) are one design point.
    applied = samples.drop(columns=["row", "point", "dummy.noise", "compliance",
                                    "adoption:antibiotic_stewardship"])
    n_points = len(applied.drop_duplicates())
    assert samples["point"].nunique() == n_points < 3 * 6
    assert (samples.groupby("point")["compliance"].nunique() == 1).all()
    noise = pd.read_csv(out / "noise.csv")
    assert (noise["replicates"] == 2).all() and (noise["var_seed"] > 0).all()
    manifest = json.loads((out / "sensitivity.json").read_text())
    assert manifest["runs"] == n_points * 2 == manifest["batch"]["ran"]
    summary = (out / "summary.txt").read_text()
    assert "top factors by mu_star" in summary and f"{n_points * 2} runs" in summary
    # The store is an ordinary experiment store: one summary row per run × bundle, with the
    # applied factor values as columns and no dummy.
    from sim.experiment import ResultStore
    rows = ResultStore(out / "store").read("summary")
    assert rows["run_id"].nunique() == n_points * 2 and "parameters.leadership_mean" in rows
    assert "dummy.noise" not in rows


def test_interrupted_analysis_resumes_without_rerunning(tmp_path):
    path = write_small(tmp_path, samples=3, chunk_size=4)
    spec = load_spec(path)
    out = tmp_path / "out"
    seen: list[int] = []

    def stop_after_two(chunk: int) -> None:
        seen.append(chunk)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sensitivity(spec, out, serial=True, on_chunk=stop_after_two)
    done = sorted((out / "store" / "done").glob("*.json"))
    assert len(done) == 2 and not (out / "indices.csv").exists()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "store" / "summary").glob("*.parquet")}

    result = run_sensitivity(load_spec(path), out, serial=True)
    total = result.batch.total
    assert result.batch.skipped == 8 and result.batch.ran == total - 8 > 0
    after = {p.name: p.stat().st_mtime_ns for p in (out / "store" / "summary").glob("*.parquet")}
    assert all(after[name] == t for name, t in before.items())  # finished parts untouched
    assert len(after) == math.ceil(total / 4)
    again = run_sensitivity(load_spec(path), out, serial=True)
    assert again.batch.ran == 0 and again.batch.skipped == total
    pd.testing.assert_frame_equal(result.indices, again.indices)
    # A changed SA file (another seed: another sample) never mixes into the old store.
    path.write_text(path.read_text().replace("seed = 11", "seed = 12"))
    with pytest.raises(InputError, match="different version of the experiment"):
        run_sensitivity(load_spec(path), out, serial=True)


@pytest.mark.slow
def test_dask_workers_give_the_same_indices_as_serial(tmp_path):
    path = write_small(tmp_path, samples=4)
    serial = run_sensitivity(load_spec(path), tmp_path / "serial", serial=True)
    dask = run_sensitivity(load_spec(path), tmp_path / "dask", workers=2)
    pd.testing.assert_frame_equal(serial.indices, dask.indices)
    pd.testing.assert_frame_equal(serial.noise, dask.noise)


@pytest.mark.slow
def test_sobol_on_the_model_gives_a_dummy_zero_total_index(tmp_path):
    path = write_small(tmp_path)
    text = path.read_text().replace('method = "morris"', 'method = "sobol"').replace(
        "samples = 3", "samples = 16")
    path.write_text(text + '\n[options]\ncalc_second_order = false\n')
    res = run_sensitivity(load_spec(path), tmp_path / "out", workers=2)
    st, _ = indices_of(res, "ST", ["dummy.noise"])
    assert st.tolist() == [0.0, 0.0]  # both outputs: A and AB_dummy rows are the same runs
    assert (tmp_path / "out" / "sobol.png").exists()

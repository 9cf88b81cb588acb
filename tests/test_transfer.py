"""Learning transfer as a contrast: the [contrast] table and what the antibiotics-first arms show.

The later bundles of arm 1 (antibiotics first) and arm 3 (the other three alone) meet the
antibiotics bundle through two channels only: implementation capacity (``beta_capacity`` x
capacity built at ``capacity_gain`` per implemented bundle, sim/mechanisms/capacity.py) and
competing demands (``beta_concurrent`` per other bundle being tried, sim/mechanisms/adoption.py).
Every other draw is per (staff, bundle) entry whatever the state, and every other mechanism is per
bundle, so under common random numbers:

- with both channels shut the later bundles' trajectories are identical, bit for bit, and the
  contrast is exactly 0;
- capacity starts at 0 and grows by ``capacity_gain`` x (new successes), eroding by a factor,
  so it is linear in ``capacity_gain``; it acts only as ``beta_capacity x capacity``. A run
  therefore depends on the two through their product alone (halving one and doubling the other
  is exact in binary floating point, so the runs are identical).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from tiny import TINY_STRUCTURE

from sim.errors import InputError
from sim.experiment import ResultStore, load_experiment, run_experiment, write_report
from sim.experiment.contrast import FILES, contrast_table, run_means
from sim.interventions.facilitation import Facilitation
from sim.params import MODEL

ROOT = Path(__file__).resolve().parents[1]
LATER = ["medication_list_accuracy", "deteriorating_patient", "mental_health_patient_involvement"]
ARM1 = "antibiotics first, then the other three"
ARM3 = "the other three without antibiotics"

HEAD = f"""
name = "transfer_tiny"
scenario = "{ROOT / 'experiments' / 'antibiotics_first.toml'}"
weeks = 104
replicates = {{replicates}}
seed = {{seed}}
""" + TINY_STRUCTURE + """
{parameters}
[[arms]]
name = "{arm1}"
strategy = "{arm1}"
[[arms]]
name = "{arm3}"
strategy = "{arm3}"
"""
DESIGN = """
[design]
type = "grid"
[design.factors]
{factors}
"""
CONTRAST = f"""
[contrast]
treatment = "{ARM1}"
control = "{ARM3}"
bundles = {LATER!r}
week = 104
level = 0.9
""".replace("'", '"')


def experiment_text(factors: str, replicates: int = 3, seed: int = 5, parameters: str = "",
                    contrast: str = CONTRAST) -> str:
    """A tiny-world transfer experiment: arms 1 and 3 of antibiotics_first, a grid, a contrast."""
    head = HEAD.replace("{arm1}", ARM1).replace("{arm3}", ARM3).replace(
        "{parameters}", parameters)
    return (head.format(replicates=replicates, seed=seed)
            + (DESIGN.format(factors=factors) if factors else "") + contrast)


def run(tmp_path: Path, text: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run serially, write the report; return the time series and the contrast table."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "exp.toml"
    path.write_text(text)
    exp = load_experiment(path)
    run_experiment(exp, tmp_path / "out", serial=True, quiet=True)
    report = write_report(tmp_path / "out")
    ts = ResultStore(tmp_path / "out").read("timeseries")
    return ts, pd.read_csv(report / "contrast.csv")


def later_series(ts: pd.DataFrame, arm: str, point: int) -> pd.DataFrame:
    """The later bundles' system rows of one arm and point, in a fixed order."""
    rows = ts[(ts["arm"] == arm) & (ts["point"] == point) & (ts["level"] == "system")
              & ts["bundle"].astype(str).isin(LATER)]
    cols = ["replicate", "week", "bundle", "adoption", "compliance", "fidelity", "penetration"]
    return rows[cols].astype({"bundle": str}).sort_values(cols[:3]).reset_index(drop=True)


# --- validation ---------------------------------------------------------------------------------

BAD = [
    ('treatment = "nobody"', "treatment", "must name an arm"),
    (f'control = "{ARM1}"', "control", "another arm"),
    ('bundles = ["no_such_bundle"]', "bundles", "unknown bundle"),
    ("week = 105", "week", "not recorded"),
    ('x = "parameters.turnover_annual"', "x", "not a design factor"),
    ('x = "nonsense"', "x", "unknown factor"),
    ('lines = "parameters.beta_capacity"', "lines", "another factor than x"),
    ('outcome = "harm"', "outcome", "harm"),
    ("levels = 0.9", "levels", "unknown key"),
    ("level = 2.0", "level", "level"),
]


@pytest.mark.parametrize(("line", "field", "words"), BAD, ids=[b[1] for b in BAD])
def test_bad_contrast_is_a_one_line_error(tmp_path, line, field, words):
    key = line.split(" = ")[0]
    body = "\n".join(row for row in CONTRAST.splitlines() if not row.startswith(f"{key} ="))
    if key == "lines":
        body += '\nx = "parameters.beta_capacity"'
    path = tmp_path / "exp.toml"
    path.write_text(experiment_text('"parameters.beta_capacity" = [0.0, 0.6]',
                                    contrast=body + "\n" + line + "\n"))
    with pytest.raises(InputError) as err:
        load_experiment(path)
    text = str(err.value)
    assert "\n" not in text and f"contrast.{field}" in text and words in text


def test_contrast_rejects_a_factor_it_would_mix_and_a_store_without_time_series(tmp_path):
    path = tmp_path / "exp.toml"
    two = '"parameters.beta_capacity" = [0.0, 0.6]\n"parameters.capacity_gain" = [0.5, 1.0]'
    path.write_text(experiment_text(two))  # x defaults to the first factor; gain is left over
    with pytest.raises(InputError, match=r"contrast\.lines: design factor "
                                         r"'parameters.capacity_gain' is neither x nor lines"):
        load_experiment(path)
    path.write_text(experiment_text(two, contrast=CONTRAST + 'lines = '
                                    '"parameters.capacity_gain"\n'))
    exp = load_experiment(path)
    assert exp.contrast["x"] == "parameters.beta_capacity" and len(exp.points) == 4
    path.write_text(experiment_text("").replace('seed = 5', 'seed = 5\ntimeseries = "none"'))
    with pytest.raises(InputError, match="reads the time series"):
        load_experiment(path)


def test_contrast_is_part_of_the_fingerprint_only_when_given(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(experiment_text(""))
    with_c = load_experiment(path)
    path.write_text(experiment_text("", contrast=""))
    without = load_experiment(path)
    assert with_c.contrast["week"] == 104 and without.contrast is None
    assert "contrast" in with_c.resolved() and "contrast" not in without.resolved()
    assert with_c.fingerprint() != without.fingerprint()


# --- what must hold -----------------------------------------------------------------------------

def test_no_transfer_and_no_competing_demands_give_exactly_zero(tmp_path):
    # Facilitation (the arms' only support with a capacity lever) adds no capacity here, so
    # capacity_gain = 0 shuts transfer as beta_capacity = 0 does.
    assert Facilitation.PARAMS["capacity_per_year"].default == 0.0
    assert MODEL["beta_concurrent"].default > 0  # the second channel, open by default
    grid = '"parameters.beta_capacity" = [0.0, 0.6]\n"parameters.capacity_gain" = [0.0, 0.5]'
    contrast = CONTRAST + 'lines = "parameters.capacity_gain"\n'
    ts, table = run(tmp_path / "shut", experiment_text(
        grid, parameters="[overrides.parameters]\nbeta_concurrent = 0.0\n", contrast=contrast))
    no_transfer = [p for p, pt in enumerate(load_experiment(tmp_path / "shut" / "exp.toml").points)
                   if pt["parameters.beta_capacity"] == 0 or pt["parameters.capacity_gain"] == 0]
    assert len(no_transfer) == 3
    for p in no_transfer:
        pd.testing.assert_frame_equal(later_series(ts, ARM1, p), later_series(ts, ARM3, p))
        row = table[table["point"] == p].iloc[0]
        assert row["effect"] == 0.0 and row["lo"] == 0.0 and row["hi"] == 0.0
    # ... and the transfer point moves them: the zero is not vacuous
    assert not later_series(ts, ARM1, 3).equals(later_series(ts, ARM3, 3))
    # with competing demands open, arm 1 differs even without transfer: arm 1 vs arm 3 is
    # transfer plus the cost of antibiotics still being tried
    ts, _ = run(tmp_path / "open", experiment_text('"parameters.beta_capacity" = [0.0]'))
    assert not later_series(ts, ARM1, 0).equals(later_series(ts, ARM3, 0))


def test_only_the_product_of_beta_capacity_and_capacity_gain_matters(tmp_path):
    beta = MODEL["beta_capacity"].default
    gain = MODEL["capacity_gain"].default
    text = experiment_text("", contrast="")  # a list design of the two points
    text += (f'\n[design]\ntype = "list"\npoints = [\n'
             f'  {{ "parameters.beta_capacity" = {beta}, "parameters.capacity_gain" = {gain} }},\n'
             f'  {{ "parameters.beta_capacity" = {beta / 2}, '
             f'"parameters.capacity_gain" = {gain * 2} }},\n]\n')
    path = tmp_path / "exp.toml"
    path.write_text(text)
    run_experiment(load_experiment(path), tmp_path / "out", serial=True, quiet=True)
    ts = ResultStore(tmp_path / "out").read("timeseries")
    labels = ["run_id", "point", "parameters.beta_capacity", "parameters.capacity_gain"]
    for arm in (ARM1, ARM3):
        a, b = (ts[(ts["arm"] == arm) & (ts["point"] == p)].drop(columns=labels)
                .reset_index(drop=True) for p in (0, 1))
        pd.testing.assert_frame_equal(a, b)
    assert len(a) > 0


def test_transfer_effect_rises_with_beta_capacity(tmp_path):
    # Higher beta_capacity: the capacity arm 1 built on antibiotics speeds the later bundles
    # more. Every point shares replicate k's seed, so effects at two points pair by replicate;
    # a one-sided 99% paired bound (12 replicates) must clear zero for each step.
    ts, table = run(tmp_path, experiment_text(
        '"parameters.beta_capacity" = [0.0, 0.6, 1.8]', replicates=12, seed=31))
    exp = load_experiment(tmp_path / "exp.toml")
    means = run_means(ts, exp.contrast).pivot_table(index=["point", "replicate"],
                                                    columns="arm", values="value")
    effect = (means[ARM1] - means[ARM3]).unstack("point")
    assert np.allclose(effect.mean().to_numpy(), table.sort_values("point")["effect"])
    for lo, hi in ((0, 1), (1, 2)):
        d = (effect[hi] - effect[lo]).to_numpy()
        bound = d.mean() - stats.t.ppf(0.99, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
        assert bound > 0, (lo, hi, d)
    assert set(FILES) <= {p.name for p in (tmp_path / "out" / "report").iterdir()}


def test_contrast_table_pairs_by_replicate_or_uses_welch():
    # Synthetic time series: two bundles (and one left out), four replicates, one point; the
    # effect is the mean of the per-replicate differences of the bundle means, and the interval
    # follows the pairing.
    rng = np.random.default_rng(3)
    rows = []
    for arm in ("t", "c"):
        for rep in range(4):
            for b in ("b1", "b2", "other"):
                for week in (10, 20):
                    rows.append({"arm": arm, "point": 0, "replicate": rep, "level": "system",
                                 "week": week, "bundle": b, "compliance": rng.random()})
    ts = pd.DataFrame(rows)
    c = {"treatment": "t", "control": "c", "bundles": ["b1", "b2"], "outcome": "compliance",
         "week": 20, "level": 0.9}
    at = ts[(ts["week"] == 20) & ts["bundle"].isin(["b1", "b2"])]
    m = at.groupby(["arm", "replicate"])["compliance"].mean().unstack("arm")
    d = (m["t"] - m["c"]).to_numpy()
    half = stats.t.ppf(0.95, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    paired = contrast_table(ts, c, [{}, {}], paired=True)  # point 1 has no runs: no row
    assert len(paired) == 1
    row = paired.iloc[0]
    assert np.isclose(row["effect"], d.mean()) and np.isclose(row["hi"] - row["lo"], 2 * half)
    assert np.isclose(row["treatment_mean"], m["t"].mean()) and row["n"] == 4
    welch = contrast_table(ts, c, [{}], paired=False).iloc[0]
    w = stats.ttest_ind(m["t"], m["c"], equal_var=False).confidence_interval(0.9)
    assert np.isclose(welch["effect"], d.mean())
    assert np.isclose(welch["lo"], w.low) and np.isclose(welch["hi"], w.high)

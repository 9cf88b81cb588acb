"""Study designs in the model (issue 15): each evidence figure as the model would report it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sim.calibrate import designs
from sim.calibrate.evidence import evidence_from_dict, evidence_set
from sim.errors import InputError

EVIDENCE = Path(__file__).resolve().parents[1] / "calibration" / "evidence"

SCENARIO = """
name = "t"
weeks = 12
seed = 3
bundles = [{ name = "p", title = "p", settings = ["hospital"], \
  complexity = { value = 0.5, source = "a" }, evidence_strength = { value = 0.5, source = "a" }, \
  elements = [{ name = "e", roles = ["physician", "nurse"], \
  baseline_fidelity = { value = 0.5, source = "a" } }] }]
[structure]
wards_per_trust = 3
mental_health_units_per_trust = 0
municipalities_per_trust = 0
[parameters]
p_awareness = %(aware)s
p_innovation = 0.01
[[strategies]]
name = "usual care"
[[strategies]]
name = "same again"
[[strategies]]
name = "training"
  [[strategies.interventions]]
  type = "training"
  start_week = 1
  coverage = 1.0
"""


def _target(tmp_path: Path, design: dict, measure: str = "median_absolute_change",
            aware: float = 0.005, **extra) -> object:
    (tmp_path / "s.toml").write_text(SCENARIO % {"aware": aware})
    raw = {"name": "t", "title": "T", "citation": "A 2020", "quote": "q", "verified": True,
           "use": "fit", "setting": ["hospital"], "bundle": "p", "element": "e",
           "follow_up_weeks": 10, "design": {"scenario": "s.toml", **design},
           "figure": {"measure": measure, "value": 6.0, "unit": "points",
                      "spread": {"kind": "IQR", "low": 2.0, "high": 16.0}, **extra}}
    return evidence_from_dict(raw, str(tmp_path / "t.toml"), tmp_path)


def test_identical_arms_differ_by_exactly_zero_on_common_random_numbers(tmp_path):
    t = _target(tmp_path, {"arm": "same again", "comparator": "usual care"})
    for seed in range(3):
        assert designs.figures([t], None, seed)[t.name] == 0.0


def test_with_nobody_hearing_of_it_the_level_stays_at_baseline(tmp_path):
    t = _target(tmp_path, {"arm": "usual care", "compare": "before_after"}, "level_after",
                aware=0.0, baseline=50.0)
    assert designs.figures([t], None, 1)[t.name] == pytest.approx(50.0)


def test_training_everyone_raises_the_practice_against_usual_care(tmp_path):
    t = _target(tmp_path, {"arm": "training", "comparator": "usual care"})
    effects = [designs.figures([t], None, s)[t.name] for s in range(3)]
    assert all(e > 0 for e in effects)


def test_a_point_sets_only_the_interventions_a_design_has(tmp_path):
    t = _target(tmp_path, {"arm": "training", "comparator": "usual care"})
    sc = designs.scenario_for(t, {"interventions.training.knowledge_gain": 0.9,
                                  "interventions.reminders.prompt_gain": 0.01,
                                  "parameters.p_abandon": 0.02})
    assert sc.parameters["p_abandon"] == 0.02
    spec = next(s for st in sc.strategies for s in st.interventions if s["type"] == "training")
    assert spec["knowledge_gain"] == 0.9


def test_quartiles_are_one_quartile_sd_away():
    t = evidence_set(EVIDENCE)["forsetlund_2009_educational_meetings"]
    assert designs.distance(t, t.value) == 0.0
    assert designs.distance(t, t.spread.low) == pytest.approx(designs.Z_QUARTILE)
    assert designs.distance(t, t.spread.high) == pytest.approx(designs.Z_QUARTILE)
    assert designs.distance(t, math.nan) == math.inf


def test_a_single_study_uses_its_binomial_standard_error():
    t = evidence_set(EVIDENCE)["wathne_2018_guideline_adherence"]
    lo, hi = designs.spread_sd(t)
    n = t.design.patients_per_period
    assert lo == hi == pytest.approx(100 * math.sqrt(0.6 * 0.4 / n + 0.66 * 0.34 / n))


def test_smd_of_shifted_groups_is_the_shift_over_the_pooled_sd():
    rng = np.random.default_rng(0)
    c = rng.normal(0, 2, 50)
    a = c + 1.0  # the same spread, shifted by half an SD
    assert designs._smd(np.zeros(50), a, np.zeros(50), c) == pytest.approx(1.0 / c.std(ddof=1))


@pytest.mark.parametrize("design, match", [
    ({"arm": "x", "colour": 1}, r"design.colour: unknown key"),
    ({"arm": "training"}, r"design.comparator: compare = 'arms' needs the comparator"),
    ({"arm": "training", "compare": "sideways"}, r"design.compare: must be one of"),
    ({"arm": "training", "comparator": "u", "output": "vibes"}, r"design.output: must be one of"),
    ({"arm": "training", "compare": "before_after", "scenario": "nope.toml"},
     r"design.scenario: no file"),
])
def test_bad_designs_are_one_line_errors(tmp_path, design, match):
    with pytest.raises(InputError, match=match) as err:
        _target(tmp_path, design)
    assert "\n" not in str(err.value)


def test_an_unknown_arm_names_the_strategies(tmp_path):
    t = _target(tmp_path, {"arm": "magic", "comparator": "usual care"})
    with pytest.raises(InputError, match=r"no strategy 'magic'.*strategies: usual care"):
        designs.figures([t], None, 1)


def test_every_fitted_or_held_out_shipped_target_runs_its_design():
    for t in evidence_set(EVIDENCE).values():
        if t.use == "not_used" or t.design.output == "gtt_share":
            continue  # the 12-year GTT design runs in the validation report (slow)
        value = designs.figures([t], None, 7)[t.name]
        assert math.isfinite(value), t.name


def test_a_checkout_elsewhere_draws_the_same_numbers(tmp_path):
    """Stream keys never contain a full path: the same figures from a copy of the files."""
    import shutil

    copy = tmp_path / "somewhere" / "evidence"
    shutil.copytree(EVIDENCE / "designs", copy / "designs")
    name = "forsetlund_2009_educational_meetings"
    shutil.copy(EVIDENCE / f"{name}.toml", copy / f"{name}.toml")
    here = evidence_set(EVIDENCE)[name]
    there = evidence_set(copy)[name]
    assert here.design.scenario != there.design.scenario
    assert designs.figures([here], None, 4) == designs.figures([there], None, 4)

"""The joint calibration to the evidence set (issue 15): checked input, reproducible, resumable."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.calibrate.joint import load_joint, run_joint
from sim.errors import InputError
from tests.test_designs import SCENARIO

TARGET = """
name = "t"
title = "T"
citation = "A 2020"
quote = "q"
verified = true
use = "fit"
setting = ["hospital"]
bundle = "p"
element = "e"
follow_up_weeks = 8
[design]
scenario = "designs/s.toml"
arm = "training"
comparator = "usual care"
[figure]
measure = "median_absolute_change"
value = 6.0
unit = "points"
spread = { kind = "IQR", low = 2.0, high = 16.0 }
"""

JOINT = """
name = "tiny"
seed = 5
evidence = "evidence"
[[fit]]
name = "interventions.training.knowledge_gain"
low = 0.05
high = 1.0
[abc]
population = 8
generations = %(generations)d
"""


def _files(tmp_path: Path, generations: int = 2, extra: str = "") -> Path:
    ev = tmp_path / "evidence"
    (ev / "designs").mkdir(parents=True, exist_ok=True)
    (ev / "designs" / "s.toml").write_text(SCENARIO % {"aware": 0.005})
    (ev / "t.toml").write_text(TARGET)
    path = tmp_path / "fit.toml"
    path.write_text(JOINT % {"generations": generations} + extra)
    return path


def test_same_seed_same_posterior_any_workers_and_it_resumes(tmp_path):
    cal = load_joint(_files(tmp_path, generations=2))
    one = run_joint(cal, tmp_path / "one")
    two = run_joint(cal, tmp_path / "two", workers=2)
    a = pd.read_csv(tmp_path / "one" / "posterior.csv")
    b = pd.read_csv(tmp_path / "two" / "posterior.csv")
    pd.testing.assert_frame_equal(a, b)
    assert len(one.generations) == len(two.generations) == 2
    # continuing with one more generation reuses the two finished ones
    more = load_joint(_files(tmp_path, generations=3))
    again = run_joint(more, tmp_path / "one")
    assert len(again.generations) == 3
    assert again.generations[1].epsilon == one.generations[1].epsilon
    summary = pd.read_csv(tmp_path / "one" / "posterior_summary.csv")
    assert summary["q05"].iloc[0] <= summary["median"].iloc[0] <= summary["q95"].iloc[0]
    assert (tmp_path / "one" / "posterior_pairs.png").stat().st_size > 0


def test_a_changed_calibration_refuses_the_old_directory(tmp_path):
    cal = load_joint(_files(tmp_path, generations=1))
    run_joint(cal, tmp_path / "out")
    other = load_joint(_files(tmp_path, generations=1).parent / "fit.toml")
    other.seed = 6
    with pytest.raises(InputError, match="holds a different joint calibration"):
        run_joint(other, tmp_path / "out")


@pytest.mark.parametrize("extra, match", [
    ('targets = ["nope"]\n', r"fit.toml: targets: no evidence file 'nope'"),
    ('[[fit]]\nname = "parameters.no_such"\n', r"fit\[1\].name"),
    ('[[fit]]\nname = "parameters.p_abandon"\nlow = -1.0\nhigh = 0.5\n', r"fit\[1\].low"),
])
def test_bad_joint_files_are_one_line_errors(tmp_path, extra, match):
    path = _files(tmp_path)
    text = path.read_text()
    if extra.startswith("targets"):
        text = extra + text
    else:
        text = text.replace("[abc]", extra + "[abc]")
    path.write_text(text)
    with pytest.raises(InputError, match=match) as err:
        load_joint(path)
    assert "\n" not in str(err.value)


def test_the_shipped_joint_calibration_fits_only_verified_fit_targets():
    cal = load_joint(Path(__file__).resolve().parents[1] / "calibration" / "evidence_fit.toml")
    assert cal.targets and all(t.use == "fit" and t.verified for t in cal.targets)
    assert len(set(cal.names)) == len(cal.names)

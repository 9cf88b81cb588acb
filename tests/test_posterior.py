"""The shipped posterior gives the defaults (issue 15): its chosen point; priors as plausible."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sim.calibrate import designs
from sim.calibrate.joint import load_joint
from sim.factors import declaration, interventions, parse_key

ROOT = Path(__file__).resolve().parents[1]
POSTERIOR = ROOT / "calibration" / "posterior" / "evidence_fit"
SUMMARY = pd.read_csv(POSTERIOR / "posterior_summary.csv")
CAL = load_joint(ROOT / "calibration" / "evidence_fit.toml")
SPECS = [spec for t in CAL.targets for spec in interventions(designs.scenario_for(t))]


def _decl(key: str):
    return declaration(parse_key(key, "test"), SPECS, "test")[0]


@pytest.mark.parametrize("row", SUMMARY.to_dict("records"), ids=list(SUMMARY["parameter"]))
def test_each_fitted_default_is_the_chosen_posterior_point(row):
    decl = _decl(row["parameter"])
    assert row["default"] == pytest.approx(decl.default, rel=1e-9)
    assert row["prior_low"] <= row["default"] <= row["prior_high"]
    assert decl.plausible == (row["prior_low"], row["prior_high"])
    assert "posterior" in decl.source and "calibration/posterior" in decl.source


def test_the_posterior_is_that_of_the_shipped_calibration_file():
    manifest = json.loads((POSTERIOR / "manifest.json").read_text())
    cal = CAL
    assert manifest["fingerprint"] == cal.fingerprint()
    assert manifest["targets"] == [t.name for t in cal.targets]
    assert list(SUMMARY["parameter"]) == cal.names
    posterior = pd.read_csv(POSTERIOR / "posterior.csv")
    assert len(posterior) == cal.settings.population
    assert posterior["weight"].sum() == pytest.approx(1.0)

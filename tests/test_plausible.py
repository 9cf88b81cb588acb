"""Plausible ranges: declared apart from validity bounds, and the default range of SA and priors."""

import dataclasses

import pytest

from sim.params import MODEL, P


def test_plausible_must_lie_within_the_validity_bounds():
    with pytest.raises(ValueError, match="plausible"):
        P("x", 0.5, "x", low=0.0, high=1.0, plausible=(0.2, 1.5))
    with pytest.raises(ValueError, match="plausible"):
        P("x", 0.5, "x", low=0.0, high=1.0, plausible=(0.6, 0.3))
    p = P("x", 0.5, "x", low=0.0, high=1.0, plausible=(0.2, 0.8))
    assert p.plausible_range() == (0.2, 0.8)
    assert p.plausible_text() == "[0.2, 0.8]"


def test_without_plausible_the_range_is_the_validity_bounds():
    p = P("x", 0.5, "x", low=0.0, high=1.0)
    assert p.plausible_range() == (0.0, 1.0)
    assert p.plausible_text() == "–"


def test_sa_factor_and_prior_default_to_the_plausible_range(monkeypatch):
    from sim.calibrate import config
    from sim.scenario import load_scenario
    from sim.sensitivity import problem

    decl = dataclasses.replace(MODEL["p_abandon"], plausible=(0.002, 0.03))
    monkeypatch.setattr(problem, "declaration", lambda *a, **k: (decl, "parameters"))
    factor = problem._factor("parameters.p_abandon", {}, "sa.toml: factors", [], None)
    assert (factor.low, factor.high) == (0.002, 0.03)

    monkeypatch.setattr(config, "declaration", lambda *a, **k: (decl, "parameters"))
    prior = config._prior({"name": "p_abandon"}, "cal.toml: fit[0]", load_scenario(), {})
    assert (prior.low, prior.high) == (0.002, 0.03)

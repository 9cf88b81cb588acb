"""Element performance per unit and level, and the process indicators elements map to (issue 14).

Element rows are consistent with bundle compliance: in each unit, with independent elements,
compliance is the product of the applicable elements' performance, and since the levels weight
elements as they weight compliance (eligible staff of the bundle, where it applies), compliance
stays ≤ every element that applies wherever its bundle does, at every level.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from small_worlds import cube, entity_of_unit, run_small, small_scenarios

from sim.bundles import shipped_bundles
from sim.bundles.bundle import bundle_from_dict
from sim.errors import InputError
from sim.params import ALL_LEVELS
from sim.scenario import scenario_from_dict
from sim.simulate import run


def arrays(small, level: str):
    """(T, G, B) compliance and (T, G, E) element performance of a level, and its entities."""
    ts, el = small.timeseries, small.elements
    weeks = sorted(set(ts["week"]))
    rows = ts[ts["level"].astype(str) == level]
    names = list(dict.fromkeys(rows["entity"].astype(str)))
    comp = cube(rows, weeks, names, small.scenario.bundle_names, "bundle", "compliance")
    erows = el[el["level"].astype(str) == level]
    keyed = erows.assign(element=erows["bundle"].astype(str) + "/" + erows["element"].astype(str))
    keys = [f"{b.name}/{e.name}" for b in small.scenario.bundles for e in b.elements]
    perf = cube(keyed, weeks, names, keys, "element", "performance")
    return names, comp, perf


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=small_scenarios())
def test_element_rows_are_consistent_with_bundle_compliance(data):
    small = run_small(data)
    eb = small.element_bundle
    assert set(small.elements["level"].astype(str)) == set(ALL_LEVELS)
    _, comp, perf = arrays(small, "unit")
    # in each unit: compliance is the product of the applicable elements (NaN: none applies)
    for b in range(len(small.scenario.bundles)):
        cols = perf[:, :, eb == b]
        applies = ~np.isnan(cols)
        np.testing.assert_array_equal(np.isnan(comp[:, :, b]), ~applies.any(axis=2))
        product = np.prod(np.where(applies, cols, 1.0), axis=2)
        ok = applies.any(axis=2)
        np.testing.assert_allclose(comp[:, :, b][ok], product[ok], rtol=2e-6, atol=1e-7)
    unit_perf = perf
    for level in ALL_LEVELS:
        names, comp, perf = arrays(small, level)
        of_unit = entity_of_unit(small.pop, level)
        for g, name in enumerate(names):
            units = np.array([e == name for e in of_unit])
            for b in range(len(small.scenario.bundles)):
                bundle_units = units & ~np.isnan(unit_perf[0][:, eb == b]).all(axis=1)
                for e in np.flatnonzero(eb == b):
                    element_units = units & ~np.isnan(unit_perf[0][:, e])
                    # the documented weights: eligible staff of the bundle, where it applies
                    w = small.eligible[element_units, b]
                    if w.sum() > 0:
                        want = (unit_perf[:, element_units, e] * w).sum(axis=1) / w.sum()
                        np.testing.assert_allclose(perf[:, g, e], want, rtol=1e-9, atol=1e-12)
                    else:
                        assert np.isnan(perf[:, g, e]).all()
                    if (element_units == bundle_units).all() and bundle_units.any():
                        assert (comp[:, g, b] <= perf[:, g, e] + 1e-7).all(), (level, name, e)


SCENARIO = {"name": "elements", "weeks": 3,
            "structure": {"wards_per_trust": 2, "mental_health_units_per_trust": 0,
                          "municipalities_per_trust": 1, "nursing_homes_per_municipality": 1,
                          "home_care_teams_per_municipality": 0, "gp_practices_per_municipality": 1,
                          "staff_per_ward": 6}}


def test_indicator_rows_carry_the_published_units():
    sc = scenario_from_dict({**SCENARIO, "bundles": ["antibiotic_stewardship"]}, "e.toml",
                            Path.cwd())
    el = run(sc, 1).elements
    mapped = el[el["element"] == "guideline_concordant_choice"]
    assert set(mapped["indicator_unit"].astype(str)) == {"% of patients on antibiotics"}
    ok = mapped["performance"].notna()
    assert ok.any()
    np.testing.assert_allclose(mapped.loc[ok, "indicator_value"],
                               100 * mapped.loc[ok, "performance"])
    plain = el[el["element"] == "review_48_72h"]
    assert (plain["indicator"].astype(str) == "").all()
    assert plain["indicator_value"].isna().all()


def test_elements_can_be_switched_off():
    sc = scenario_from_dict({**SCENARIO, "bundles": ["antibiotic_stewardship"],
                             "output": {"elements": False}}, "e.toml", Path.cwd())
    assert run(sc, 1).elements.empty


def test_shipped_indicators_have_a_source():
    for bundle in shipped_bundles().values():
        for e in bundle.elements:
            if e.indicator is not None:
                assert e.indicator.source.strip() and e.indicator.unit.startswith("%")
    ab = {e.name: e for e in shipped_bundles()["antibiotic_stewardship"].elements}
    assert ab["guideline_concordant_choice"].indicator is not None
    assert ab["indication_documented"].indicator is not None


def bundle_with(indicator) -> dict:
    return {"name": "b", "settings": ["hospital"], "elements": [
        {"name": "e", "roles": ["nurse"], "indicator": indicator}]}


def test_an_indicator_is_a_percentage_with_a_name_and_source():
    good = bundle_from_dict(bundle_with({"name": "checked", "unit": "% of patients",
                                         "source": "assumption"}), "b.toml")
    assert good.elements[0].indicator.scale == 100.0
    with pytest.raises(InputError, match=r"indicator.unit.*percentage"):
        bundle_from_dict(bundle_with({"name": "rate", "unit": "per 1,000 catheter-days",
                                      "source": "x"}), "b.toml")
    with pytest.raises(InputError, match="indicator"):
        bundle_from_dict(bundle_with({"name": "checked", "unit": "% of patients"}), "b.toml")
    with pytest.raises(InputError, match=r"indicator.source"):
        bundle_from_dict(bundle_with({"name": "x", "unit": "% of patients", "source": " "}),
                         "b.toml")


def test_element_legend_names_the_indicator_unit_only_where_mapped():
    from sim.plots.elements import element_label

    assert element_label("indication_documented", "% of antibiotic prescriptions") == \
        "indication documented [% of antibiotic prescriptions]"
    assert element_label("review_48_72h", "") == "review 48 72h"

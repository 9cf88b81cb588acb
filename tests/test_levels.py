"""Organisation, municipality and trust levels (issue 14): each aggregates exactly to the system.

Each level partitions the units, and every level uses one documented rule: adoption pooled over
eligible staff, compliance and fidelity weighted by eligible staff where the bundle applies,
penetration the share of applicable units implemented. The property tests re-aggregate the
written rows with weights computed here from the world, never from the recorder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from small_worlds import cube, entity_of_unit, run_small, small_scenarios

from sim.errors import InputError
from sim.outcomes.recorder import level_summary
from sim.params import ALL_LEVELS, LEVELS
from sim.scenario import scenario_from_dict

AGGREGATES = ("organisation", "municipality", "trust", "region", "kind")
METRICS = ("adoption", "compliance", "fidelity", "penetration")


def level_arrays(small, level: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """(T, G, B) arrays of the level's rows, and its entity names."""
    ts = small.timeseries
    rows = ts[ts["level"].astype(str) == level]
    names = list(dict.fromkeys(rows["entity"].astype(str)))
    weeks = sorted(set(ts["week"]))
    return names, {m: cube(rows, weeks, names, small.scenario.bundle_names, "bundle", m)
                   for m in METRICS}


def weights(small, level: str, names: list[str], unit: dict[str, np.ndarray]):
    """Per entity and bundle: eligible staff, eligible staff where applicable, applicable units.

    Where a bundle applies is static (element settings, roles, partners), read from the unit
    rows' compliance (NaN where it does not apply).
    """
    of_unit = entity_of_unit(small.pop, level)
    member = np.array([[e == n for e in of_unit] for n in names], float)  # (G, U)
    applicable = ~np.isnan(unit["compliance"][0])  # (U, B), the same every week
    assert (applicable == ~np.isnan(unit["compliance"])).all()
    eligible = member @ small.eligible
    where = member @ np.where(applicable, small.eligible, 0.0)
    count = member @ applicable.astype(float)
    return eligible, where, count


def pooled(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(T, B) weighted mean over entities (axis 1) of (T, G, B) values, zero weights skipped."""
    w = np.broadcast_to(w, values.shape)
    ok = w > 0
    assert not np.isnan(values[ok]).any()  # an entity with weight has a value
    num = np.where(ok, values, 0.0) * w
    with np.errstate(invalid="ignore"):
        return np.where(ok.any(axis=1), num.sum(axis=1) / w.sum(axis=1), np.nan)


def check_aggregates(small, upper: dict[str, np.ndarray], names: list[str], level: str,
                     lower_level: str) -> None:
    """Rows of ``level`` equal the documented re-aggregation of ``lower_level`` rows."""
    low_names, low = level_arrays(small, lower_level)
    of_low = dict(zip(entity_of_unit(small.pop, lower_level), entity_of_unit(small.pop, level),
                      strict=True))
    unit_names, unit = level_arrays(small, "unit")
    assert unit_names == list(small.pop.unit_name)
    e_low, w_low, n_low = weights(small, lower_level, low_names, unit)
    for g, name in enumerate(names):
        part = np.array([of_low[n] == name for n in low_names])
        assert part.any()
        for metric, w in (("adoption", e_low), ("compliance", w_low), ("fidelity", w_low),
                          ("penetration", n_low)):
            want = pooled(low[metric][:, part], w[part][None])
            np.testing.assert_allclose(upper[metric][:, g], want, rtol=1e-9, atol=1e-12,
                                       err_msg=f"{level} {name} {metric}")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=small_scenarios())
def test_every_level_aggregates_exactly_to_the_system_and_to_its_units(data):
    small = run_small(data)
    assert set(small.timeseries["level"].astype(str)) == set(ALL_LEVELS)
    system_names, system = level_arrays(small, "system")
    assert system_names == ["all"]
    for level in AGGREGATES:
        names, rows = level_arrays(small, level)
        # the level partitions the units: its entities are exactly the units' entities
        assert set(names) == set(entity_of_unit(small.pop, level))
        check_aggregates(small, rows, names, level, "unit")  # each entity from its units
        check_aggregates(small, system, ["all"], "system", level)  # the level to the system
    # organisations nest in municipalities and municipalities in trusts
    names, rows = level_arrays(small, "municipality")
    check_aggregates(small, rows, names, "municipality", "organisation")
    names, rows = level_arrays(small, "trust")
    check_aggregates(small, rows, names, "trust", "municipality")
    names, rows = level_arrays(small, "region")
    check_aggregates(small, rows, names, "region", "trust")


def load(structure: dict, output: dict | None = None):
    data = {"name": "levels", "weeks": 2, "structure": structure, "output": output or {},
            "bundles": ["antibiotic_stewardship"]}
    return scenario_from_dict(data, "levels.toml", Path.cwd())


STRUCTURE = {"hospital_trusts": 2, "regions": 2, "wards_per_trust": 2,
             "mental_health_units_per_trust": 1, "municipalities_per_trust": 2,
             "nursing_homes_per_municipality": 1, "home_care_teams_per_municipality": 1,
             "gp_practices_per_municipality": 1, "staff_per_ward": 5, "staff_per_gp_practice": 3}


def test_entity_names_are_unique_and_legible():
    from sim.simulate import run

    sc = load(STRUCTURE)
    ts = run(sc, 1).timeseries
    last = ts[(ts["week"] == 2) & (ts["bundle"] == "antibiotic_stewardship")]
    by_level = {lv: list(last.loc[last["level"] == lv, "entity"].astype(str)) for lv in LEVELS}
    for level, names in by_level.items():
        assert len(names) == len(set(names)), level
    assert by_level["trust"] == ["Trust 1", "Trust 2"]
    assert "Region 2 Trust 2 municipality 1" in by_level["municipality"]
    assert "Trust 1 specialist services" in by_level["municipality"]
    assert len(by_level["municipality"]) == 2 * (2 + 1)
    assert "Region 1 Trust 1 hospital" in by_level["organisation"]
    assert len(by_level["organisation"]) == 2 * (2 + 2 * 3)
    # a GP practice is an organisation and its one unit: the same name at two levels
    gp = "Region 1 Trust 1 municipality 1 GP practice 1"
    assert gp in by_level["unit"] and gp in by_level["organisation"]


def test_output_levels_choose_the_rows():
    from sim.simulate import run

    ts = run(load(STRUCTURE, {"levels": ["trust"]}), 1).timeseries
    assert set(ts["level"].astype(str)) == {"trust", "system"}
    ts = run(load(STRUCTURE, {"unit_level": False}), 1).timeseries
    assert set(ts["level"].astype(str)) == set(LEVELS) - {"unit"}
    with pytest.raises(InputError, match="levels"):
        load(STRUCTURE, {"levels": ["county"]})


def test_level_summary_gives_start_and_end_per_entity():
    from sim.simulate import run

    ts = run(load(STRUCTURE), 1).timeseries
    summary = level_summary(ts)
    keys = ["strategy", "replicate", "bundle", "level", "entity"]
    assert not summary.duplicated(keys).any()
    assert len(summary) == len(ts[ts["week"] == 2])
    end = ts[ts["week"] == 2].set_index(keys)["compliance"]
    start = ts[ts["week"] == 0].set_index(keys)["compliance"]
    got = summary.set_index(keys)
    pd.testing.assert_series_equal(got["compliance"], end.reindex(got.index))
    pd.testing.assert_series_equal(got["compliance_start"], start.reindex(got.index),
                                   check_names=False)
    assert (summary["week"] == 2).all()


def test_the_summary_is_the_time_series_system_row_exactly():
    """One definition of the system figures: summary.csv's last-week figures are the table's."""
    from sim import load_scenario, run

    sc = load_scenario(None).with_overrides(structure={"wards_per_trust": 3,
                                                       "municipalities_per_trust": 2})
    sc.weeks = 8
    res = run(sc, 3)
    ts = res.timeseries
    last = ts[(ts["level"] == "system") & (ts["week"] == sc.weeks)]
    for _, row in res.summary.iterrows():
        sys_row = last[(last["strategy"] == row["strategy"]) & (last["bundle"] == row["bundle"])]
        for m in ("adoption", "compliance", "fidelity", "penetration"):
            got, want = row[m], sys_row[m].item()
            assert got == want or (np.isnan(got) and np.isnan(want)), m

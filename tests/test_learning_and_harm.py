"""Learning transfer (implementation capacity), sustainability, patient harm, and launching
bundles: at a week, or not at all (SPEC §5, §7, §8).

Comparisons are paired: the scenarios or strategies compared share the world and the random
streams of each seed, and effects are averaged over seeds on a small catchment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.mechanisms import capacity
from sim.mechanisms.turnover import weekly_rate
from sim.model import ImplementationModel
from sim.outcomes import harm
from sim.outcomes.proctor import TWELVE_MONTHS, summarise
from sim.population import KIND_CODE
from sim.scenario import Scenario, scenario_from_dict
from sim.simulate import run
from sim.state import UNAWARE
from sim.world import build_world

SMALL_STRUCTURE = {
    "hospital_trusts": 1, "wards_per_trust": 4, "mental_health_units_per_trust": 1,
    "municipalities_per_trust": 2, "nursing_homes_per_municipality": 1,
    "home_care_teams_per_municipality": 1, "gp_practices_per_municipality": 1,
}
A = "antibiotic_stewardship"  # harm in hospitals and nursing homes (not GP practices)
B = "deteriorating_patient"  # hospitals, nursing homes and home care
PARAMS = {"p_awareness": 0.05}
SEEDS = range(5)


def scenario(parameters: dict[str, Any] | None = None, **data: Any) -> Scenario:
    data.setdefault("structure", SMALL_STRUCTURE)
    data["parameters"] = {**PARAMS, **(parameters or {})}
    # semantic=False: some tests end the run before B's launch and its training on purpose,
    # which a scenario file may not (sim.checks: an intervention after the run is an error)
    return scenario_from_dict(data, "<test_learning_and_harm>", Path(__file__).parent,
                              semantic=False)


def system(model: ImplementationModel, metric: str) -> np.ndarray:
    """(T, B) whole-system series of a recorded metric."""
    w = model.world
    return model.recorder.system_series(w.eligible_per_unit,
                                        model.par["penetration_threshold"])[metric]


# --- learning transfer ---------------------------------------------------------------------------
LAUNCH_B = 40
IMPLEMENT_A = [  # strong support makes A succeed (compliance ≥ penetration_threshold) by week 40
    {"type": "simulation_training", "bundles": [A], "start_week": 1, "end_week": 30,
     "interval_weeks": 10, "coverage": 0.9},
    {"type": "facilitation", "bundles": [A], "start_week": 1, "end_week": LAUNCH_B,
     "intensity": 1.0},
    {"type": "reminders", "bundles": [A], "start_week": 1, "end_week": LAUNCH_B,
     "prompt_gain": 0.05},
]
THEN_B = [{"type": "training", "name": "training B", "bundles": [B], "start_week": LAUNCH_B,
           "end_week": LAUNCH_B}]


def sequence(weeks: int = 80, target: Any = "all", **parameters: Any) -> Scenario:
    ivs = [{**iv, "target": target} for iv in IMPLEMENT_A] + THEN_B
    # the transfer mechanism alone: no destination, the uncalibrated spontaneous hazard
    base = {"turnover_annual": 0.1, "adoption_ceiling": 1.0, "p_innovation": 0.001}
    return scenario({**base, **parameters}, weeks=weeks, bundles=[A, B],
                    strategies=[{"name": "A then B", "launch": {B: LAUNCH_B},
                                 "interventions": ivs}])


def test_implementing_a_bundle_speeds_the_next_one():
    learn, forget = sequence(), sequence(capacity_gain=0.0)
    assert learn.parameters["beta_capacity"] > 0 and learn.parameters["capacity_gain"] > 0
    diff_final, diff_mean, in_done = [], [], []
    for seed in SEEDS:
        world = build_world(learn, seed)
        with_ = ImplementationModel(learn, seed=seed, world=world)
        without = ImplementationModel(forget, seed=seed, world=world)
        for _ in range(LAUNCH_B - 1):
            with_.step()
            without.step()
        # A was implemented in the units it applies to; only with learning did that leave
        # capacity behind, in exactly those units.
        done = with_.implemented[:, 0]
        assert done.sum() >= 5
        np.testing.assert_array_equal(done, without.implemented[:, 0])
        assert (with_.capacity[done] > 0).all() and (with_.capacity[~done] == 0).all()
        assert (without.capacity == 0).all()
        # B is not launched yet: nobody has heard of it in either.
        assert (with_.state.stage[:, 1] == UNAWARE).all()
        with_.run()
        without.run()
        adopt_with = system(with_, "adoption")[:, 1]
        adopt_without = system(without, "adoption")[:, 1]
        weeks = np.asarray(with_.recorder.weeks)
        after = weeks >= LAUNCH_B
        diff_final.append(adopt_with[-1] - adopt_without[-1])
        diff_mean.append(adopt_with[after].mean() - adopt_without[after].mean())
        # ... in the units that implemented A.
        in_done.append(with_.recorder.users[-1, done, 1].sum()
                       - without.recorder.users[-1, done, 1].sum())
    diff_final, diff_mean = np.array(diff_final), np.array(diff_mean)
    assert diff_final.mean() > 0.05 and (diff_final > 0).all(), np.round(diff_final, 3)
    assert diff_mean.mean() > 0.02 and (diff_mean > 0).all(), np.round(diff_mean, 3)
    assert np.mean(in_done) > 0 and (np.array(in_done) > 0).mean() >= 0.8, in_done


def test_learning_acts_only_through_beta_capacity():
    """With β_cap = 0 the capacity gained changes nothing: same run as without learning."""
    off = sequence(weeks=60, beta_capacity=0.0)
    off_no_gain = sequence(weeks=60, beta_capacity=0.0, capacity_gain=0.0)
    world = build_world(off, 1)
    m1 = ImplementationModel(off, seed=1, world=world).run()
    m2 = ImplementationModel(off_no_gain, seed=1, world=world).run()
    assert m1.capacity.max() > 0 and m2.capacity.max() == 0
    np.testing.assert_array_equal(m1.state.stage, m2.state.stage)
    np.testing.assert_array_equal(m1.recorder.users, m2.recorder.users)


def test_capacity_gain_is_per_success_and_counted_once():
    sc = sequence(weeks=LAUNCH_B - 1, turnover_annual=0.0, capacity_gain=0.7)
    model = ImplementationModel(sc, seed=2).run()
    done = model.implemented[:, 0]
    assert done.any() and not model.implemented[:, 1].any()
    # No turnover: exactly one gain per implemented bundle, however long fidelity stays high.
    np.testing.assert_allclose(model.capacity, 0.7 * done, rtol=1e-12)


def test_update_capacity_hand_checked():
    cap = np.array([1.0, 0.0, 2.0])
    capacity.update_capacity(cap, np.array([0, 1, 2]), gain=0.5, weekly_turnover=0.1)
    np.testing.assert_allclose(cap, [0.9, 0.5, 1.8 + 1.0])
    done = np.zeros((2, 2), bool)
    fid = np.array([[0.75, np.nan], [0.6, 0.9]], np.float32)
    new = capacity.record_successes(done, fid, 0.7, np.array([True, False]))
    np.testing.assert_array_equal(new, [1, 0])  # bundle 1 not launched: no success yet
    np.testing.assert_array_equal(capacity.record_successes(done, fid, 0.7,
                                                            np.array([True, True])), [0, 1])
    np.testing.assert_array_equal(done, [[True, False], [False, True]])


def test_turnover_erodes_capacity():
    for turnover in (0.05, 0.4):
        sc = sequence(weeks=70, turnover_annual=turnover)
        model = ImplementationModel(sc, seed=3)
        caps = []
        for _ in range(sc.weeks):
            model.step()
            caps.append(model.capacity.copy())
        caps = np.array(caps)
        p = weekly_rate(turnover)
        assert p > 0
        # Once no unit has a new success, capacity decays by the weekly share of leavers.
        last_success = np.flatnonzero(np.diff(caps, axis=0).max(axis=1) > 0).max() + 1
        assert last_success < sc.weeks - 10
        np.testing.assert_allclose(caps[last_success + 1:], caps[last_success:-1] * (1 - p),
                                   rtol=1e-9)
    # More turnover, less capacity left from the same implementation.
    hi = ImplementationModel(sequence(weeks=70, turnover_annual=0.4), seed=3).run()
    lo = ImplementationModel(sequence(weeks=70, turnover_annual=0.05), seed=3).run()
    done = hi.implemented.any(axis=1) & lo.implemented.any(axis=1)
    assert done.any() and hi.capacity[done].mean() < lo.capacity[done].mean()


def test_effective_capacity_hand_checked():
    eff = capacity.effective_capacity(np.array([1.0, 0.0, 0.0, 2.0]), np.array([0, 0, 0, 1]),
                                      3, spillover=0.5)
    np.testing.assert_allclose(eff, [1 + 0.5 / 3, 0.5 / 3, 0.5 / 3, 2 + 1.0])
    np.testing.assert_allclose(capacity.effective_capacity(np.array([1.0, 0.0]),
                                                           np.array([0, 0]), 1, 0.0), [1.0, 0.0])


@pytest.mark.parametrize("spillover", [0.0, 0.5])
def test_org_spillover_spreads_capacity_to_sister_units(spillover):
    ward1 = "Trust 1 hospital ward 1"
    sc = sequence(weeks=LAUNCH_B - 1, target={"units": [ward1]}, org_spillover=spillover)
    model = ImplementationModel(sc, seed=4).run()
    pop = model.pop
    u1 = pop.unit_name.index(ward1)
    assert model.implemented[u1, 0] and model.capacity[u1] > 0
    sisters = np.flatnonzero((pop.unit_org == pop.unit_org[u1]) & (model.capacity == 0))
    others = np.flatnonzero(pop.unit_org != pop.unit_org[u1])
    assert len(sisters) >= 1
    eff = capacity.effective_capacity(model.capacity, pop.unit_org, len(pop.org_name), spillover)
    org_mean = model.capacity[pop.unit_org == pop.unit_org[u1]].mean()
    np.testing.assert_allclose(eff[sisters], spillover * org_mean)
    assert (eff[others] == 0).all() or model.capacity[others].any()
    # The next week's context of the sister units carries it (no intervention reaches them).
    model.step()
    np.testing.assert_allclose(model.unit_context[sisters],
                               model.par["beta_capacity"] * eff[sisters][:, None] * np.ones(2),
                               rtol=1e-6)
    assert (model.unit_context[sisters] > 0).all() == (spillover > 0)


# --- sustainability ------------------------------------------------------------------------------
END = 40


def sustain(turnover: float) -> Scenario:
    """Strong support for 40 weeks, then a year without."""
    return scenario({"turnover_annual": turnover}, weeks=END + TWELVE_MONTHS, bundles=[A],
                    strategies=[
                        {"name": "support", "interventions": [
                            {"type": "simulation_training", "end_week": END,
                             "interval_weeks": 10, "coverage": 0.9},
                            {"type": "facilitation", "end_week": END, "intensity": 1.0},
                            {"type": "audit_feedback", "end_week": END}]},
                        {"name": "none"}])


def test_higher_turnover_lowers_sustainability():
    low, high = sustain(0.05), sustain(0.4)
    s_low, s_high = [], []
    for seed in range(6):
        world = build_world(low, seed)  # turnover does not change the world
        for sc, out in ((low, s_low), (high, s_high)):
            model = ImplementationModel(sc, "support", seed=seed, world=world).run()
            row = summarise(model).iloc[0]
            assert row.support_end_week == END
            # sustainability = the share of the gain since week 0 still there 12 months after
            # support ended, clipped to [0, 1]
            comp = system(model, "compliance")[:, 0]
            weeks = model.recorder.weeks
            c0, c_end = comp[0], comp[weeks.index(END)]
            expected = np.clip((comp[weeks.index(END + TWELVE_MONTHS)] - c0) / (c_end - c0),
                               0.0, 1.0)
            assert row.sustainability_12m == pytest.approx(expected)
            assert row.sustainability == pytest.approx(expected)  # default lag is 52 weeks
            out.append(row.sustainability_12m)
    s_low, s_high = np.array(s_low), np.array(s_high)
    diff = s_low - s_high
    assert diff.mean() > 0.05 and (diff > 0).mean() >= 0.8, np.round(diff, 3)
    # Gains fade once support ends (SPEC §1), the more so with high turnover.
    assert s_high.mean() < 1.0


def test_sustainability_is_nan_without_support():
    sc = sustain(0.15)
    model = ImplementationModel(sc, "none", seed=1).run()
    row = summarise(model).iloc[0]
    assert np.isnan(row.sustainability) and np.isnan(row.sustainability_6m)
    assert np.isnan(row.sustainability_12m) and np.isnan(row.support_end_week)
    # ... and for a bundle of a supported strategy that no intervention supports.
    assert row.sustainability_undefined == "no support"
    two = scenario(weeks=END + TWELVE_MONTHS, bundles=[A, B], strategies=[
        {"name": "s", "interventions": [
            {"type": "facilitation", "bundles": [A], "end_week": END, "intensity": 1.0},
            {"type": "simulation_training", "bundles": [A], "end_week": END,
             "interval_weeks": 10, "coverage": 0.9}]}])
    summary = summarise(ImplementationModel(two, seed=1).run()).set_index("bundle")
    assert summary.loc[A, ["sustainability_6m", "sustainability_12m"]].notna().all()
    assert summary.loc[A, "sustainability_undefined"] == ""
    assert summary.loc[B, ["sustainability_6m", "sustainability_12m"]].isna().all()
    assert summary.loc[B, "sustainability_undefined"] == "no support"
    # ... and when the run stops before the lag has passed.
    short = scenario(weeks=END + 10, bundles=[A], strategies=[
        {"name": "s", "interventions": [{"type": "facilitation", "end_week": END}]}])
    row = summarise(ImplementationModel(short, seed=1).run()).iloc[0]
    assert np.isnan(row.sustainability_6m) and np.isnan(row.sustainability_12m)
    assert row.sustainability_undefined == "run ends too early"


def test_sustainability_is_nan_for_a_bundle_never_launched():
    """An intervention naming every bundle gives none to a bundle the strategy never launches
    (this used to report support_end_week and a sustainability of 1.0 for it)."""
    sc = scenario(weeks=END + TWELVE_MONTHS, bundles=[A, B], strategies=[
        {"name": "only A", "bundles": [A], "interventions": [
            {"type": "training", "end_week": END}]}])  # the training names every bundle
    summary = summarise(ImplementationModel(sc, seed=1).run()).set_index("bundle")
    assert summary.loc[B, ["sustainability_6m", "sustainability_12m",
                           "support_end_week"]].isna().all()


# --- patient harm --------------------------------------------------------------------------------
def test_expected_events_hand_checked():
    census = np.array([10.0, 20.0, 5.0])
    counted = np.array([[True, False], [True, True], [False, True]])
    rate, rr = np.array([0.01, 0.002]), np.array([0.5, 0.8])
    comp = np.array([[0.2, np.nan], [1.0, 0.5], [0.3, np.nan]], np.float32)
    events = harm.expected_events(census, counted, rate, rr, comp)
    # census × rate × (1 − c (1 − RR)); not counted → 0; no compliance (NaN) → baseline rate
    expected = np.array([[10 * 0.01 * (1 - 0.2 * 0.5), 0.0],
                         [20 * 0.01 * (1 - 1.0 * 0.5), 20 * 0.002 * (1 - 0.5 * 0.2)],
                         [0.0, 5 * 0.002]])
    np.testing.assert_allclose(events, expected, rtol=1e-6)


def test_no_harm_averted_when_compliance_never_changes():
    sc = scenario(weeks=30, bundles=[A, B], parameters={"turnover_annual": 0.3}, strategies=[
        {"name": "nothing launched", "bundles": [],
         "interventions": [{"type": "facilitation", "end_week": 30}]}])
    model = ImplementationModel(sc, seed=1)
    baseline = harm.expected_events(model.census, model._harm_counted, model._harm_rate,
                                    model._harm_rr, model.unit_compliance).sum(axis=0)
    model.run()
    assert (model.harm_averted == 0).all()
    np.testing.assert_allclose(model.harm_expected, 30 * baseline, rtol=1e-9)
    assert (model.harm_expected > 0).all() and (model.cost == 0).all()
    summary = summarise(model)
    assert (summary["harm_averted_vs_baseline"] == 0).all()
    assert "cost_per_harm_averted" not in summary  # incremental: over replicates, not per run
    assert summary["launch_week"].isna().all() and (summary["adoption"] == 0).all()


def test_support_averts_harm_against_week_0():
    sc = scenario(weeks=60, bundles=[A], strategies=[
        {"name": "none"},
        {"name": "support", "interventions": [
            {"type": "training", "start_week": 2},
            {"type": "facilitation", "end_week": 60, "intensity": 1.0}]}])
    res = run(sc, 7)
    s = res.summary.set_index("strategy")
    assert s.loc["support", "harm_averted_vs_baseline"] > 0
    assert s.loc["support", "harm_expected"] < s.loc["none", "harm_expected"]
    # The time series carries the same cumulative harm averted on its system rows.
    ts = res.timeseries
    last = ts[(ts.level == "system") & (ts.week == 60)].set_index("strategy")
    assert last.loc["support", "harm_averted"] == pytest.approx(
        s.loc["support", "harm_averted_vs_baseline"])
    # expected + averted = what staying at baseline compliance would have cost, every week.
    model = ImplementationModel(sc, "support", seed=7)
    base = harm.expected_events(model.census, model._harm_counted, model._harm_rate,
                                model._harm_rr, model.unit_compliance).sum(axis=0)
    model.run()
    np.testing.assert_allclose(model.harm_expected + model.harm_averted, 60 * base, rtol=1e-9)


def test_harm_counted_only_in_the_bundles_harm_settings():
    sc = scenario(weeks=1, bundles=[A, B])
    model = ImplementationModel(sc, seed=1)
    kind = model.pop.unit_kind
    settings = {A: ("hospital", "nursing_home"), B: ("hospital", "nursing_home", "home_care")}
    for b, name in enumerate(sc.bundle_names):
        assert [sc.bundles[b].harm.settings] and set(sc.bundles[b].harm.settings) == \
            set(settings[name])
        inside = np.isin(kind, [KIND_CODE[k] for k in settings[name]])
        np.testing.assert_array_equal(model._harm_counted[:, b], inside)
    events = harm.expected_events(model.census, model._harm_counted, model._harm_rate,
                                  model._harm_rr, model.unit_compliance)
    gp = kind == KIND_CODE["gp"]
    assert gp.any() and (model.census[gp] > 0).all()  # GP practices have patients, many
    assert not np.isnan(model.unit_compliance[gp, 0]).all()  # ... and A applies there
    assert (events[gp] == 0).all() and (events[kind == KIND_CODE["mental_health"]] == 0).all()
    assert (events[kind == KIND_CODE["hospital"]] > 0).all()
    # A unit outside the settings adds nothing however large its census.
    big = model.census.copy()
    big[gp] *= 1000
    np.testing.assert_array_equal(
        harm.expected_events(big, model._harm_counted, model._harm_rate, model._harm_rr,
                             model.unit_compliance), events)


def test_unit_census_scales_with_unit_size():
    structure = {**SMALL_STRUCTURE, "size_variation": 0.3, "wards_per_trust": 8}
    sc = scenario(weeks=1, structure=structure)
    world = build_world(sc, 1)
    pop = world.pop
    census = harm.unit_census(pop, sc.patients, sc.structure)
    size = np.bincount(pop.staff_unit, minlength=pop.n_units)
    keys = {"hospital": ("patients_per_ward", "staff_per_ward"),
            "nursing_home": ("residents_per_nursing_home_unit", "staff_per_nursing_home_unit"),
            "gp": ("patients_per_gp_practice", "staff_per_gp_practice")}
    for kind, (patients, staff) in keys.items():
        mask = pop.unit_kind == KIND_CODE[kind]
        np.testing.assert_allclose(census[mask] / size[mask],
                                   sc.patients[patients] / sc.structure[staff])
    wards = pop.unit_kind == KIND_CODE["hospital"]
    assert len(set(size[wards])) > 1  # sizes vary, and so does the census
    assert census[wards][np.argmax(size[wards])] > census[wards][np.argmin(size[wards])]
    # Twice the patients per ward: twice the ward census, nothing else changes.
    doubled = dict(sc.patients, patients_per_ward=2 * sc.patients["patients_per_ward"])
    census2 = harm.unit_census(pop, doubled, sc.structure)
    np.testing.assert_allclose(census2[wards], 2 * census[wards])
    np.testing.assert_array_equal(census2[~wards], census[~wards])
    model = ImplementationModel(sc, seed=1, world=world)
    np.testing.assert_allclose(model.census, census)


# --- launching bundles ---------------------------------------------------------------------------
def test_a_bundle_outside_the_strategy_is_never_introduced():
    sc = scenario(weeks=40, bundles=[A, B], parameters={"p_awareness": 0.2}, strategies=[
        {"name": "only A", "bundles": [A], "interventions": [
            {"type": "training", "start_week": 2, "interval_weeks": 5},  # names every bundle
            {"type": "champions"}, {"type": "collaborative"}]}])
    model = ImplementationModel(sc, seed=3)
    for _ in range(sc.weeks):
        model.step()
        assert (model.state.stage[:, 1] == UNAWARE).all()
        assert (model.state.knowledge[:, 1] == 0).all()
    assert model.cost[1] == 0 and model.cost[0] > 0
    assert (model.recorder.users[:, :, 1] == 0).all()
    summary = summarise(model).set_index("bundle")
    assert summary.loc[B, "adoption"] == 0 and np.isnan(summary.loc[B, "launch_week"])
    assert summary.loc[A, "launch_week"] == 1 and summary.loc[A, "adoption"] > 0
    assert summary.loc[B, "harm_averted_vs_baseline"] == 0 and summary.loc[B, "harm_expected"] > 0
    manifest = sc.resolved()["strategies"][0]
    assert manifest["bundles"] == [A] and manifest["launch"] == {A: 1}


def test_a_bundle_launched_at_week_30_is_unheard_of_before():
    launch = 30
    sc = scenario(weeks=40, bundles=[A, B], strategies=[
        {"name": "B later", "launch": {B: launch}, "interventions": [
            {"type": "training", "start_week": 1, "end_week": 40, "interval_weeks": 1,
             "coverage": 0.1}]}])
    model = ImplementationModel(sc, seed=5)
    aware_a = []
    for week in range(1, sc.weeks + 1):
        model.step()
        heard_b = (model.state.stage[:, 1] != UNAWARE).sum()
        if week < launch:
            assert heard_b == 0, f"week {week}: {heard_b} aware of B before its launch"
            assert model.cost[1] == 0
        elif week == launch:
            assert heard_b > 0  # the weekly training and organisational channels reach some
        aware_a.append((model.state.stage[:, 0] != UNAWARE).sum())
    assert aware_a[0] > 0  # A was launched at week 1
    summary = summarise(model).set_index("bundle")
    assert summary.loc[B, "launch_week"] == launch and summary.loc[A, "launch_week"] == 1
    assert model.cost[1] > 0
    assert sc.resolved()["strategies"][0]["launch"] == {A: 1, B: launch}


# --- one definition of "implemented" -----------------------------------------------------------
def test_implemented_is_compliance_at_the_penetration_threshold_for_both_uses():
    """Learning transfer marks a unit the first week its compliance reaches the threshold that
    penetration counts, and never otherwise (mean fidelity alone does not decide)."""
    from sim.mechanisms.collective import implemented

    sc = sequence(weeks=45, penetration_threshold=0.3)
    model = ImplementationModel(sc, seed=3)
    thr = model.par["penetration_threshold"]
    seen = np.zeros_like(model.implemented)
    for _ in range(sc.weeks):
        model.step()
        now = implemented(model.unit_compliance, thr) & model.launched[None, :]
        seen |= now
        np.testing.assert_array_equal(model.implemented, seen)
    assert seen.any()
    table = model.recorder.table(model.pop, sc.bundle_names, model.world.eligible_per_unit, thr,
                                 sc.output)
    last = table[(table["level"] == "unit") & (table["week"] == sc.weeks)]
    pen = last.pivot(index="entity", columns="bundle", values="penetration")
    comp = implemented(model.unit_compliance, thr)
    for u, name in enumerate(model.pop.unit_name):
        for b, bundle in enumerate(sc.bundle_names):
            if not np.isnan(model.unit_compliance[u, b]):
                assert pen.loc[name, bundle] == float(comp[u, b])


def test_success_fidelity_is_retired_with_a_pointer_to_its_replacement():
    from sim.errors import InputError

    with pytest.raises(InputError, match=r"parameters\.success_fidelity.*penetration_threshold"):
        scenario({"success_fidelity": 0.7})

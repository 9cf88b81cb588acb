"""Model-level checks: analytical limits, conservation, direction of effects, determinism,
common random numbers and the Mesa agent views."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.model import ImplementationModel
from sim.scenario import scenario_from_dict
from sim.simulate import run
from sim.state import ROUTINE, TRYING
from sim.world import build_world

SMALL_STRUCTURE = {
    "hospital_trusts": 1, "wards_per_trust": 4, "mental_health_units_per_trust": 1,
    "municipalities_per_trust": 2, "nursing_homes_per_municipality": 1,
    "home_care_teams_per_municipality": 1, "gp_practices_per_municipality": 1,
}
# Everything that could move the hazard away from p switched off.
NEUTRAL = {
    "beta_openness": 0.0, "beta_knowledge": 0.0, "beta_leadership": 0.0, "beta_climate": 0.0,
    "beta_workload": 0.0, "beta_bundle": 0.0, "beta_capacity": 0.0,
    "beta_concurrent": 0.0, "turnover_annual": 0.0,
    "p_abandon": 0.0,
    "p_awareness": 1.0,
    "adoption_ceiling": 1.0,  # no destination: the analytic limits are of the model without it
}
ONE_ELEMENT = {"name": "test_bundle", "settings": ["hospital"],
               "elements": [{"name": "a", "roles": ["nurse"]}]}


def make(tmp_path: Path, **data) -> object:
    data.setdefault("structure", SMALL_STRUCTURE)
    return scenario_from_dict(data, str(tmp_path / "test.toml"), tmp_path)


def adoption_curve(model: ImplementationModel, bundle: int = 0) -> np.ndarray:
    """Share of eligible staff using the bundle, per recorded week."""
    users = model.recorder.users[:, :, bundle].sum(axis=1)
    return users / model.world.eligible[:, bundle].sum()


# --- analytical limits ---------------------------------------------------------------------------
def test_spontaneous_adoption_without_network_follows_geometric_law(tmp_path):
    p, weeks = 0.02, 60
    big = {**SMALL_STRUCTURE, "wards_per_trust": 20, "municipalities_per_trust": 10}
    sc = make(tmp_path, weeks=weeks, structure=big,
              parameters={**NEUTRAL, "p_innovation": p, "q_imitation": 0.0},
              network={"within_unit_degree": 0, "cross_unit_degree": 0.0,
                       "cross_boundary_degree": 0.0})
    model = ImplementationModel(sc, seed=3).run()
    assert model.world.adjacency.nnz == 0
    t = np.arange(weeks + 1)
    expected = 1 - (1 - p) ** t
    for b in range(len(sc.bundles)):
        n = model.world.eligible[:, b].sum()
        observed = adoption_curve(model, b)
        sd = np.sqrt(expected * (1 - expected) / n)
        assert np.all(np.abs(observed - expected) <= 4.5 * sd + 1e-9), sc.bundles[b].name


def test_a_destination_caps_spontaneous_adoption_at_its_share(tmp_path):
    """Neutral context, no support, no ties: share adopted = m0 · (1 − (1 − p)^t)."""
    p, weeks, m0 = 0.05, 60, 0.4
    big = {**SMALL_STRUCTURE, "wards_per_trust": 20, "municipalities_per_trust": 10}
    sc = make(tmp_path, weeks=weeks, structure=big,
              parameters={**NEUTRAL, "p_innovation": p, "q_imitation": 0.0,
                          "adoption_ceiling": m0, "beta_ceiling_support": 3.0},
              network={"within_unit_degree": 0, "cross_unit_degree": 0.0,
                       "cross_boundary_degree": 0.0})
    model = ImplementationModel(sc, seed=5).run()
    t = np.arange(weeks + 1)
    expected = m0 * (1 - (1 - p) ** t)
    for b in range(len(sc.bundles)):
        eligible = model.world.eligible[:, b]
        n = eligible.sum()
        observed = adoption_curve(model, b)
        sd = np.sqrt(expected * (1 - expected) / n)
        assert np.all(np.abs(observed - expected) <= 4.5 * sd + 1e-9), sc.bundles[b].name
        # exactly those whose fit lies below the destination adopt, nobody else
        using = model.state.using()[:, b] & eligible
        assert not (using & (model.state.fit[:, b] >= m0)).any()


def test_practice_beyond_the_destination_decays_when_support_ends(tmp_path):
    m0 = 0.2
    sc = make(tmp_path, weeks=120, parameters={
        **NEUTRAL, "p_innovation": 0.2, "q_imitation": 0.0, "p_abandon": 0.05,
        "adoption_ceiling": m0, "beta_ceiling_support": 6.0}, strategies=[
        {"name": "support", "interventions": [
            {"type": "facilitation", "start_week": 1, "end_week": 20, "intensity": 1.0}]}])
    model = ImplementationModel(sc, seed=2)
    beyond = model.state.fit >= m0

    def users(where: np.ndarray) -> int:
        return int((model.state.using() & where & model.world.eligible).sum())

    for _ in range(20):
        model.step()
    beyond0, within0 = users(beyond), users(~beyond)
    assert beyond0 > 0  # support widened the destination
    for _ in range(100):
        model.step()
    # once support ended, practice beyond the destination decays faster than within it
    assert users(beyond) / beyond0 < 0.5 * users(~beyond) / within0


def _complete_graph_files(tmp_path: Path, n: int) -> tuple[Path, Path]:
    nodes = tmp_path / "nodes.csv"
    edges = tmp_path / "edges.csv"
    nodes.write_text("id,unit,kind,role\n" + "".join(f"n{i},ward,hospital,nurse\n"
                                                     for i in range(n)))
    i, j = np.triu_indices(n, 1)
    edges.write_text("source,target\n" + "".join(f"n{a},n{b}\n" for a, b in zip(i, j,
                                                                                 strict=True)))
    return nodes, edges


def _bass_chain(n: int, p: float, q: float, weeks: int, reps: int = 20000) -> np.ndarray:
    """Independent reference: the Bass process on a complete graph of n as a Markov chain of the
    adopter count, K(t+1) = K(t) + Binomial(n - K(t), p + q K(t) / (n - 1))."""
    rng = np.random.default_rng(12345)
    k = np.zeros(reps, np.int64)
    out = [k / n]
    for _ in range(weeks):
        k = k + rng.binomial(n - k, np.minimum(1.0, p + q * k / (n - 1)))
        out.append(k / n)
    return np.array(out)


def test_simple_contagion_on_complete_graph_follows_bass(tmp_path):
    n, p, q, weeks, seeds = 300, 0.01, 0.3, 40, 50
    nodes, edges = _complete_graph_files(tmp_path, n)
    sc = make(tmp_path, weeks=weeks, bundles=[ONE_ELEMENT],
              parameters={**NEUTRAL, "p_innovation": p, "q_imitation": q,
                          "opinion_leader_share": 0.0},
              network={"file": str(edges), "nodes": str(nodes)})
    world = build_world(sc, 0)  # the complete graph; traits play no part (all betas are 0)
    assert world.adjacency.nnz == n * (n - 1)
    curves = np.array([adoption_curve(ImplementationModel(sc, seed=s, world=world).run())
                       for s in range(seeds)])
    mean = curves.mean(axis=0)
    chain = _bass_chain(n, p, q, weeks)
    z = np.abs(mean - chain.mean(axis=1)) / (chain.std(axis=1) / np.sqrt(seeds) + 1e-3)
    assert z.max() < 3.0
    # Close to the deterministic discrete Bass curve too (finite-n noise aside) ...
    f = np.zeros(weeks + 1)
    for t in range(weeks):
        f[t + 1] = f[t] + (p + q * f[t] * n / (n - 1)) * (1 - f[t])
    assert np.max(np.abs(mean - f)) < 0.05
    # ... and not the no-influence curve: imitation matters.
    assert mean[25] > (1 - (1 - p) ** 25) + 0.2


def test_complex_contagion_with_unreachable_threshold_is_spontaneous_only(tmp_path):
    n, p, weeks = 200, 0.02, 30
    nodes, edges = _complete_graph_files(tmp_path, n)
    sc = make(tmp_path, weeks=weeks, bundles=[ONE_ELEMENT],
              parameters={**NEUTRAL, "p_innovation": p, "q_imitation": 0.5,
                          "contagion": "complex", "threshold_mean": 1.0, "threshold_sd": 0.0,
                          "opinion_leader_share": 0.0},
              network={"file": str(edges), "nodes": str(nodes)})
    world = build_world(sc, 0)
    curves = np.mean([adoption_curve(ImplementationModel(sc, seed=s, world=world).run())
                      for s in range(10)], axis=0)
    expected = 1 - (1 - p) ** np.arange(weeks + 1)
    assert np.max(np.abs(curves - expected)) < 0.04


def test_complex_contagion_needs_reinforcement(tmp_path):
    """Same network and rates: a low threshold lets influence act, a high one holds it back."""
    base = {**NEUTRAL, "p_innovation": 0.005, "q_imitation": 0.4, "contagion": "complex",
            "threshold_sd": 0.0}
    finals = {}
    for thr in (0.1, 0.6):
        sc = make(tmp_path, weeks=52, parameters={**base, "threshold_mean": thr})
        finals[thr] = np.mean([adoption_curve(ImplementationModel(sc, seed=s).run())[-1]
                               for s in range(3)])
    assert finals[0.1] > finals[0.6] + 0.1


# --- conservation --------------------------------------------------------------------------------
def test_every_staff_member_counted_once_and_shares_in_unit_interval(tmp_path):
    sc = make(tmp_path, weeks=30, strategies=[{"name": "t", "interventions": [
        {"type": "training", "start_week": 2}, {"type": "facilitation", "start_week": 2,
                                                "end_week": 20}]}],
              parameters={"turnover_annual": 0.5})
    world = build_world(sc, 5)
    col_sums = np.asarray(world.membership.sum(axis=0)).ravel()
    assert np.all(col_sums == 1)
    res = run(sc, 5)
    ts = res.timeseries
    for metric in ("adoption", "compliance", "fidelity", "penetration"):
        vals = ts[metric].dropna()
        assert ((vals >= 0) & (vals <= 1)).all(), metric
    # units add up to the system: users pooled over units equal the system adoption
    model = ImplementationModel(sc, seed=5, world=world).run()
    sys_series = model.recorder.system_series(world.eligible_per_unit, 0.5)["adoption"]
    pooled = model.recorder.users.sum(axis=1) / world.eligible.sum(axis=0)
    np.testing.assert_allclose(sys_series, pooled, rtol=1e-6)
    # kind level adds up to system level (weights = eligible staff)
    last = ts[(ts.week == 30)]
    for bundle in sc.bundle_names:
        kinds = last[(last.level == "kind") & (last.bundle == bundle)]
        system = last[(last.level == "system") & (last.bundle == bundle)]["adoption"].item()
        elig = {}
        for k, code in (("hospital", 0), ("mental_health", 1), ("nursing_home", 2),
                        ("home_care", 3), ("gp", 4)):
            mask = world.pop.staff_kind == code
            elig[k] = world.eligible[mask, sc.bundle_names.index(bundle)].sum()
        num = sum(r.adoption * elig[r.entity] for r in kinds.itertuples() if elig[r.entity])
        assert num / sum(elig.values()) == pytest.approx(system, rel=1e-5)
    # stage counts conserve the population
    assert model.state.stage.shape == (world.pop.n_staff, len(sc.bundles))


def test_staff_not_eligible_never_adopt(tmp_path):
    sc = make(tmp_path, weeks=40, parameters={"p_innovation": 0.05})
    model = ImplementationModel(sc, seed=1).run()
    using = (model.state.stage == TRYING) | (model.state.stage == ROUTINE)
    assert not (using & ~model.world.eligible).any()
    assert (using & model.world.eligible).any()


# --- direction of effects ------------------------------------------------------------------------
def _final_adoption(sc, strategy: str, seeds: range) -> float:
    vals = []
    for s in seeds:
        world = build_world(sc, s)
        model = ImplementationModel(sc, strategy, seed=s, world=world).run()
        vals.append(adoption_curve(model, 0)[-1])
    return float(np.mean(vals))


def test_more_training_never_lowers_mean_adoption(tmp_path):
    strategies = [{"name": f"coverage {c}", "interventions": [
        {"type": "training", "start_week": 2, "coverage": c}]} for c in (0.0, 0.3, 0.9)]
    sc = make(tmp_path, weeks=40, strategies=strategies)
    means = [_final_adoption(sc, s["name"], range(4)) for s in strategies]
    assert means[0] <= means[1] <= means[2]
    assert means[2] > means[0]


def test_facilitation_raises_compliance_and_its_end_lowers_support(tmp_path):
    sc = make(tmp_path, weeks=60, strategies=[
        {"name": "none"},
        {"name": "facilitation", "interventions": [
            {"type": "facilitation", "start_week": 1, "end_week": 30, "intensity": 1.0}]}])
    res = run(sc, 11)
    sys_rows = res.timeseries[res.timeseries.level == "system"]
    at30 = sys_rows[sys_rows.week == 30].groupby("strategy", observed=True)["compliance"].mean()
    assert at30["facilitation"] > at30["none"]


# --- determinism and common random numbers -------------------------------------------------------
def test_same_seed_same_tables_and_other_seed_differs(tmp_path):
    sc = make(tmp_path, weeks=20, strategies=[{"name": "t", "interventions": [
        {"type": "training", "start_week": 3}]}])
    a, b = run(sc, 42), run(sc, 42)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    c = run(sc, 43)
    assert not a.timeseries["adoption"].equals(c.timeseries["adoption"])


def test_strategies_share_world_and_do_not_disturb_each_other(tmp_path):
    """A strategy's result does not depend on which other strategies ran before it."""
    strategies = [{"name": "train", "interventions": [{"type": "training", "start_week": 2}]},
                  {"name": "none"}]
    sc_both = make(tmp_path, weeks=25, strategies=strategies,
                   parameters={"turnover_annual": 0.3})
    sc_one = make(tmp_path, weeks=25, strategies=[strategies[1]],
                  parameters={"turnover_annual": 0.3})
    both = run(sc_both, 9).timeseries
    one = run(sc_one, 9).timeseries
    none_both = both[both.strategy == "none"].drop(columns="strategy").reset_index(drop=True)
    none_one = one.drop(columns="strategy").reset_index(drop=True)
    pd.testing.assert_frame_equal(none_both, none_one)


def test_common_random_numbers_support_for_one_bundle_leaves_an_independent_one_identical(
        tmp_path):
    """Draw (i, b) of a week serves the same purpose in every strategy: when nothing couples the
    bundles (no concurrency load, no learning transfer), training on bundle 1 changes bundle 1
    but leaves bundle 0's every stage, week by week, exactly as without it."""
    sc = make(tmp_path, weeks=40,
              bundles=["antibiotic_stewardship", "medication_reconciliation"],
              parameters={"beta_concurrent": 0.0, "beta_capacity": 0.0,
                          "turnover_annual": 0.3, "p_innovation": 0.01},
              strategies=[{"name": "none"},
                          {"name": "train 1", "interventions": [
                              {"type": "training", "start_week": 2, "interval_weeks": 4,
                               "coverage": 0.8, "bundles": ["medication_reconciliation"]}]}])
    world = build_world(sc, 6)
    none = ImplementationModel(sc, "none", seed=6, world=world)
    train = ImplementationModel(sc, "train 1", seed=6, world=world)
    differs = 0
    for _ in range(sc.weeks):
        none.step()
        train.step()
        np.testing.assert_array_equal(none.state.stage[:, 0], train.state.stage[:, 0])
        differs += (none.state.stage[:, 1] != train.state.stage[:, 1]).sum()
    assert differs > 0  # the training did act on bundle 1
    assert (none.state.stage[:, 0] >= TRYING).any()  # and bundle 0 moved on its own


def test_adding_an_intervention_keeps_the_world(tmp_path):
    sc = make(tmp_path, weeks=5, strategies=[
        {"name": "a"}, {"name": "b", "interventions": [{"type": "training"}]}])
    m1 = ImplementationModel(sc, "a", seed=4)
    m2 = ImplementationModel(sc, "b", seed=4)
    assert (m1.world.adjacency != m2.world.adjacency).nnz == 0
    np.testing.assert_array_equal(m1.pop.staff_openness, m2.pop.staff_openness)


# --- Mesa agents as views ------------------------------------------------------------------------
def test_agents_are_views_onto_arrays(tmp_path):
    sc = make(tmp_path, weeks=15, parameters={"p_innovation": 0.1})
    model = ImplementationModel(sc, seed=2)
    assert len(model.units) == model.pop.n_units
    assert len(model.organisations) == len(model.pop.org_name)
    model.run()
    staff = model.staff
    assert len(staff) == model.pop.n_staff
    bundle = sc.bundle_names[0]
    b = 0
    for agent in list(staff)[:50]:
        assert agent.stage(bundle) == ("unaware", "aware", "trying", "routine",
                                       "abandoned")[model.state.stage[agent.index, b]]
    unit = next(iter(model.units))
    c = unit.compliance(bundle)
    assert (np.isnan(c) and np.isnan(model.unit_compliance[unit.index, b])) or \
        c == pytest.approx(float(model.unit_compliance[unit.index, b]))
    nurses = staff.select(lambda a: a.role == "nurse")
    assert 0 < len(nurses) < len(staff)
    kinds = {o.kind for o in model.organisations}
    assert kinds == {"hospital", "mental_health", "nursing_home", "home_care", "gp"}


def test_zero_threshold_does_not_make_influence_act_alone(tmp_path):
    """Complex contagion with thresholds clipped to 0 and no ties: only spontaneous adoption."""
    sc = make(tmp_path, weeks=20, parameters={
        **NEUTRAL, "p_innovation": 0.0, "q_imitation": 1.0, "contagion": "complex",
        "threshold_mean": 0.0, "threshold_sd": 0.0},
        network={"within_unit_degree": 0, "cross_unit_degree": 0.0, "cross_boundary_degree": 0.0})
    model = ImplementationModel(sc, seed=1).run()
    assert not model.state.using().any()


def test_two_interventions_with_one_name_are_rejected(tmp_path):
    from sim.errors import InputError

    with pytest.raises(InputError, match=r"interventions\[1\]\.name.*distinct name"):
        make(tmp_path, strategies=[{"name": "s", "interventions": [
            {"type": "training", "target": "gp"}, {"type": "training", "target": "hospital"}]}])
    sc = make(tmp_path, strategies=[{"name": "s", "interventions": [
        {"type": "training", "target": "gp", "name": "gp training"},
        {"type": "training", "target": "hospital", "name": "ward training"}]}], weeks=3)
    model = ImplementationModel(sc, seed=1).run()
    assert set(model.cost_by_intervention) == {"gp training", "ward training"}

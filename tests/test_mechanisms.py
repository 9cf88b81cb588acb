"""Exact checks of each mechanism (SPEC §5), the targeting rules and the interventions.

Randomness is switched off: the mechanisms take their uniform draws as arguments, so the tests pass
arrays of zeros (everybody whose hazard is positive moves), ones (nobody moves) or chosen values,
and compare with numbers computed by hand from the formula in each module's docstring.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from sim.bundles import Bundle
from sim.bundles.bundle import Element
from sim.errors import InputError
from sim.interventions import Facilitation, Training
from sim.interventions.targeting import Target, parse_target, resolve_units
from sim.mechanisms import (
    adoption,
    awareness,
    collective,
    context,
    fidelity,
    influence,
    sustainment,
    turnover,
)
from sim.model import ImplementationModel
from sim.params import ORG_KINDS
from sim.population import KIND_CODE, ROLE_CODE, Population
from sim.scenario import scenario_from_dict
from sim.state import ABANDONED, AWARE, ROUTINE, TRYING, UNAWARE, State

ALL_STAGES = np.array([UNAWARE, AWARE, TRYING, ROUTINE, ABANDONED], np.int8)


def f32(x: Any) -> np.ndarray:
    return np.asarray(x, np.float32)


def make_pop(
    org_kinds: list[str],
    org_leadership: list[float],
    unit_org: list[int],
    climate: list[float],
    workload: list[float],
    staff_unit: list[int],
    openness: list[float] | None = None,
    org_trust: list[int] | None = None,
) -> Population:
    """A population built by hand (no random draws)."""
    n = len(staff_unit)
    return Population(
        org_name=[f"org{i}" for i in range(len(org_kinds))],
        org_kind=np.array([KIND_CODE[k] for k in org_kinds], np.int8),
        org_trust=np.array(org_trust or [0] * len(org_kinds), np.int32),
        org_leadership=f32(org_leadership),
        unit_name=[f"unit{i}" for i in range(len(unit_org))],
        unit_org=np.array(unit_org, np.int32),
        unit_climate=f32(climate),
        unit_workload=f32(workload),
        staff_unit=np.array(staff_unit, np.int32),
        staff_role=np.full(n, ROLE_CODE["nurse"], np.int8),
        staff_openness=f32(openness if openness is not None else [0.5] * n),
        staff_threshold=np.full(n, 0.3, np.float32),
    )


def make_bundle(name: str, complexity: float, evidence: float) -> Bundle:
    el = Element("a", "a", ("nurse",), False, 0.2)
    return Bundle(name, name, "", ("hospital",), complexity, evidence, (el,))


# =================================================================================================
# awareness
# =================================================================================================
class TestAwareness:
    def test_probability_formula(self) -> None:
        ties = np.array([[0.0, 1.0], [2.0, 3.0]])
        prob = awareness.awareness_probability(0.1, 0.2, ties)
        expected = np.array([[1 - 0.9, 1 - 0.9 * 0.8], [1 - 0.9 * 0.8**2, 1 - 0.9 * 0.8**3]])
        np.testing.assert_allclose(prob, expected, rtol=1e-12)
        assert prob[1, 0] == pytest.approx(1 - 0.9 * 0.8**2)

    def test_probability_limits(self) -> None:
        ties = np.array([0.0, 1.0, 5.0])
        np.testing.assert_array_equal(awareness.awareness_probability(0.0, 0.0, ties), 0.0)
        np.testing.assert_array_equal(awareness.awareness_probability(1.0, 0.0, ties), 1.0)
        # No using tie: only the organisational channel.
        assert awareness.awareness_probability(0.03, 0.5, np.array([0.0]))[0] == pytest.approx(
            0.03)
        # Word of mouth only: 1 - (1 - wom)^ties.
        np.testing.assert_allclose(awareness.awareness_probability(0.0, 0.5, ties),
                                   [0.0, 0.5, 1 - 0.5**5])
        # Certain word of mouth: any using tie makes one aware.
        np.testing.assert_array_equal(awareness.awareness_probability(0.1, 1.0, ties),
                                      [0.1, 1.0, 1.0])

    def test_only_unaware_and_eligible_are_candidates(self) -> None:
        stage = np.tile(ALL_STAGES, 2)
        eligible = np.repeat([True, False], len(ALL_STAGES))
        idx = awareness.candidates(stage, eligible)
        np.testing.assert_array_equal(idx, [0])
        awareness.become_aware(stage, idx, np.ones(len(idx)), np.zeros(len(idx)))
        expected = np.tile(ALL_STAGES, 2)
        expected[0] = AWARE  # the only unaware *eligible* one
        np.testing.assert_array_equal(stage, expected)

    def test_become_aware_with_draws_of_one_moves_nobody(self) -> None:
        stage = np.zeros(4, np.int8)
        awareness.become_aware(stage, np.arange(4), np.full(4, 0.999), np.ones(4))
        np.testing.assert_array_equal(stage, UNAWARE)

    def test_become_aware_draw_must_fall_strictly_below(self) -> None:
        stage = np.zeros((2, 3), np.int8)  # flat indices address a 2-D stage array
        awareness.become_aware(stage, np.array([0, 4, 5]), np.full(3, 0.3),
                               np.array([0.29, 0.3, 0.31]))
        np.testing.assert_array_equal(stage, [[AWARE, UNAWARE, UNAWARE],
                                              [UNAWARE, UNAWARE, UNAWARE]])
        awareness.become_aware(stage, np.array([4]), np.array([0.3]), np.array([0.1]))
        assert stage[1, 1] == AWARE

    def test_update_knowledge_gain_for_users_decay_for_non_users(self) -> None:
        knowledge = f32([[0.0, 0.5], [1.0, 0.5], [0.2, 0.0]])
        using = np.array([[True, True], [True, False], [False, False]])
        awareness.update_knowledge(knowledge, using, learning_by_doing=0.1, decay=0.2)
        expected = [[0.0 + 0.1 * 1.0, 0.5 + 0.1 * 0.5],
                    [1.0, 0.5 - 0.2 * 0.5],
                    [0.2 - 0.2 * 0.2, 0.0]]
        assert knowledge.dtype == np.float32
        np.testing.assert_allclose(knowledge, expected, rtol=1e-6)

    @pytest.mark.parametrize("lbd,decay", [(0.05, 0.0), (0.1, 0.02), (0.9, 0.5), (1.0, 1.0)])
    def test_knowledge_stays_in_unit_interval(self, lbd: float, decay: float) -> None:
        rng = np.random.default_rng(1)
        near_one = f32(1.0) - rng.random(5000, dtype=np.float32) * f32(1e-6)
        knowledge = np.concatenate([near_one, rng.random(5000, dtype=np.float32)]).reshape(-1, 2)
        for _ in range(50):
            awareness.update_knowledge(knowledge, rng.random(knowledge.shape) < 0.7, lbd, decay)
            assert knowledge.max() <= 1.0 and knowledge.min() >= 0.0

    def test_update_knowledge_switched_off_is_exact_no_op(self) -> None:
        knowledge = f32([[0.3, 0.7]])
        before = knowledge.copy()
        awareness.update_knowledge(knowledge, np.array([[True, False]]), 0.0, 0.0)
        np.testing.assert_array_equal(knowledge, before)


# =================================================================================================
# influence
# =================================================================================================
def star_graph() -> sp.csr_matrix:
    """0-1, 0-2, 0-3, 1-2 undirected; node 4 isolated. Degrees 3, 2, 2, 1, 0."""
    i = np.array([0, 0, 0, 1])
    j = np.array([1, 2, 3, 2])
    rows, cols = np.concatenate([i, j]), np.concatenate([j, i])
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(5, 5))


class TestInfluence:
    def test_leader_weights_top_share_by_degree(self) -> None:
        degree = np.array([3.0, 5.0, 1.0, 4.0, 0.0])
        w = influence.leader_weights(degree, 0.4, 3.0)  # k = 2: degrees 5 and 4
        np.testing.assert_array_equal(w, [1.0, 3.0, 1.0, 3.0, 1.0])
        assert w.dtype == np.float32

    def test_leader_weights_ties_broken_by_index(self) -> None:
        degree = np.array([3.0, 5.0, 5.0, 1.0, 0.0, 5.0])
        w = influence.leader_weights(degree, 2 / 6, 4.0)  # k = 2 of three tied at 5
        np.testing.assert_array_equal(w, [1, 4, 4, 1, 1, 1])
        w = influence.leader_weights(degree, 1 / 6, 4.0)
        np.testing.assert_array_equal(w, [1, 4, 1, 1, 1, 1])
        w = influence.leader_weights(degree, 4 / 6, 4.0)  # the three 5s, then the 3
        np.testing.assert_array_equal(w, [4, 4, 4, 1, 1, 4])

    def test_leader_weights_no_leaders_and_everybody(self) -> None:
        degree = np.array([2.0, 1.0, 3.0])
        np.testing.assert_array_equal(influence.leader_weights(degree, 0.0, 3.0), 1.0)
        np.testing.assert_array_equal(influence.leader_weights(degree, 1.0, 3.0), 3.0)

    def test_neighbour_sums_count_and_weigh_using_ties(self) -> None:
        a = star_graph()
        weights = np.tile(f32([3, 1, 1, 1, 2])[:, None], (1, 2))
        weights[2, 1] = 5.0  # a champion of bundle 1 only
        using = np.ones((5, 2), bool)
        ties, weighted = influence.neighbour_sums(a, using, weights)
        np.testing.assert_array_equal(ties[:, 0], np.asarray(a.sum(axis=1)).ravel())
        expected = a.toarray() @ weights  # how much i heeds j: j's weight, per bundle
        np.testing.assert_allclose(weighted, expected)
        assert weighted[1, 1] == 3.0 + 5.0 and weighted[1, 0] == 3.0 + 1.0

    def test_exposure_with_leader_weights(self) -> None:
        a = star_graph()
        degree = np.asarray(a.sum(axis=0)).ravel()
        lw = influence.leader_weights(degree, 0.2, 3.0)  # k = 1: node 0 (degree 3) leads
        np.testing.assert_array_equal(lw, [3, 1, 1, 1, 1])
        weights = np.tile(lw[:, None], (1, 2))
        total = a @ weights
        np.testing.assert_array_equal(total[:, 0], [3, 4, 4, 3, 0])
        using = np.zeros((5, 2), bool)
        using[0, 0] = True  # bundle 0: the leader uses it
        using[1, 1] = True  # bundle 1: an ordinary member uses it
        _, weighted = influence.neighbour_sums(a, using, weights)
        expo = influence.weighted_share(weighted, total)
        expected = np.array([
            [0.0, 1 / 3],   # node 0 listens to 1, 2, 3 (weight 1 each)
            [3 / 4, 0.0],   # node 1 listens to 0 (weight 3) and 2
            [3 / 4, 1 / 4],  # node 2 listens to 0 (weight 3) and 1
            [1.0, 0.0],     # node 3 listens only to 0
            [0.0, 0.0],     # isolated: exposure 0, not NaN
        ])
        np.testing.assert_allclose(expo, expected, rtol=1e-6)
        assert expo.dtype == np.float32
        assert not np.isnan(expo).any()
        # Without leader weighting node 1's exposure to the leader's use would be only 1/2.
        ones = np.ones((5, 2), np.float32)
        _, plain = influence.neighbour_sums(a, using, ones)
        assert influence.weighted_share(plain, a @ ones)[1, 0] == pytest.approx(0.5)

    def test_exposure_zero_for_isolated_node_even_when_everybody_uses(self) -> None:
        a = star_graph()
        ones = np.ones((5, 1), np.float32)
        _, weighted = influence.neighbour_sums(a, np.ones((5, 1), bool), ones)
        expo = influence.weighted_share(weighted, a @ ones)
        np.testing.assert_allclose(expo[:, 0], [1, 1, 1, 1, 0])

    def test_carried_sums_equal_fresh_sums_week_after_week(self, monkeypatch) -> None:
        rng = np.random.default_rng(5)
        n, b = 400, 3
        a = sp.random(n, n, density=0.02, format="csr", random_state=1, dtype=np.float32)
        a.data[:] = 1.0  # directed: A is not symmetric, so columns differ from rows
        weights = f32(rng.choice([1.0, 2.0, 1.7], size=(n, b)))
        sums = influence.NeighbourSums(a, weights, full_share=0.5)
        using = rng.random((n, b)) < 0.3
        fresh_calls = []
        fresh = influence.neighbour_sums
        monkeypatch.setattr(influence, "neighbour_sums",
                            lambda *args: fresh_calls.append(1) or fresh(*args))
        for week in range(60):
            flip = rng.random((n, b)) < (0.02 if week % 7 else 0.6)  # some weeks: many change
            using = using ^ flip
            if week == 30:  # new weights (champions): the next call must start afresh
                weights = weights * f32(1.5)
                sums.rebuild(a, weights)
            ties, weighted = sums(using)
            fresh_ties, fresh_weighted = fresh(a, using, weights)
            np.testing.assert_array_equal(ties, fresh_ties)  # counts stay exact
            np.testing.assert_allclose(weighted, fresh_weighted, rtol=1e-6, atol=1e-6)
            assert not weighted[ties == 0].any()  # no residue where nobody uses
        # afresh: the first week, after the rebuild and in the 8 weeks where most changed
        assert len(fresh_calls) == 10

    def test_influence_hazard_simple_is_q_times_exposure(self) -> None:
        expo = f32([[0.0, 0.25], [0.5, 1.0]])
        haz = influence.influence_hazard(expo, 0.08, "simple", f32([0.9, 0.9]))
        np.testing.assert_allclose(haz, 0.08 * expo, rtol=1e-6)

    def test_influence_hazard_complex_only_at_or_above_threshold(self) -> None:
        expo = f32([[0.3, 0.29, 1.0], [0.49, 0.5, 0.0]])
        threshold = f32([0.3, 0.5])
        haz = influence.influence_hazard(expo, 0.08, "complex", threshold)
        np.testing.assert_allclose(haz, [[0.08, 0.0, 0.08], [0.0, 0.08, 0.0]], rtol=1e-6)


# =================================================================================================
# context
# =================================================================================================
BETAS = {"beta_leadership": 1.3, "beta_climate": 0.7, "beta_workload": 2.1,
         "beta_openness": 0.9, "beta_bundle": 1.7}


def neutral_pop() -> Population:
    return make_pop(["hospital", "nursing_home"], [0.5, 0.5], [0, 0, 1], [0.5] * 3, [0.5] * 3,
                    [0, 0, 1, 2, 2])


class TestContext:
    def test_neutral_population_gives_exactly_zero(self) -> None:
        bundles = [make_bundle("x", 0.3, 0.3), make_bundle("y", 0.8, 0.8)]
        x = context.log_context(neutral_pop(), BETAS, bundles)
        assert x.shape == (5, 2)
        assert x.dtype == np.float32
        np.testing.assert_array_equal(x, 0.0)

    @pytest.mark.parametrize(("field", "sign"), [
        ("org_leadership", +1), ("unit_climate", +1), ("unit_workload", -1),
        ("staff_openness", +1),
    ])
    def test_sign_of_each_context_score(self, field: str, sign: int) -> None:
        bundles = [make_bundle("x", 0.5, 0.5)]
        for value in (0.9, 0.1):
            pop = neutral_pop()
            getattr(pop, field)[:] = value
            x = context.log_context(pop, BETAS, bundles)
            direction = sign if value > 0.5 else -sign
            assert np.all(np.sign(x) == direction), (field, value)

    def test_bundle_evidence_helps_complexity_hurts(self) -> None:
        bundles = [make_bundle("easy", 0.2, 0.9), make_bundle("hard", 0.9, 0.2)]
        x = context.log_context(neutral_pop(), BETAS, bundles)
        np.testing.assert_allclose(x[:, 0], 1.7 * 0.7, rtol=1e-6)
        np.testing.assert_allclose(x[:, 1], -1.7 * 0.7, rtol=1e-6)

    def test_exact_formula(self) -> None:
        pop = make_pop(["hospital", "gp"], [0.9, 0.2], [0, 0, 1], [0.7, 0.4, 0.5],
                       [0.8, 0.5, 0.1], [0, 1, 2], openness=[0.6, 0.3, 0.5])
        bundles = [make_bundle("b", 0.4, 0.6)]
        x = context.log_context(pop, BETAS, bundles)
        b = BETAS
        bundle_x = b["beta_bundle"] * (0.6 - 0.4)
        expected = [
            b["beta_leadership"] * 0.4 + b["beta_climate"] * 0.2 - b["beta_workload"] * 0.3
            + b["beta_openness"] * 0.1 + bundle_x,
            b["beta_leadership"] * 0.4 + b["beta_climate"] * -0.1 - b["beta_workload"] * 0.0
            + b["beta_openness"] * -0.2 + bundle_x,
            b["beta_leadership"] * -0.3 + b["beta_climate"] * 0.0 - b["beta_workload"] * -0.4
            + b["beta_openness"] * 0.0 + bundle_x,
        ]
        np.testing.assert_allclose(x[:, 0], expected, rtol=1e-5, atol=1e-6)


# =================================================================================================
# adoption
# =================================================================================================
class TestAdoption:
    def test_hazard_is_p_in_neutral_case(self) -> None:
        shape = (4, 3)
        h = adoption.adoption_hazard(np.zeros(shape, np.float32), 0.003, 2.0,
                                     np.zeros(shape, np.float32), np.zeros(shape, np.float32))
        np.testing.assert_allclose(h, 0.003, rtol=1e-7)

    def test_hazard_formula(self) -> None:
        log_ctx = np.array([[math.log(2.0)]])
        h = adoption.adoption_hazard(log_ctx, 0.01, 2.0, np.array([[0.5]]), np.array([[0.05]]))
        assert h[0, 0] == pytest.approx(2.0 * (0.01 * math.exp(2.0 * 0.5) + 0.05))

    def test_hazard_capped_at_one(self) -> None:
        h = adoption.adoption_hazard(np.array([[10.0, 0.0]]), 0.5, 2.0, np.array([[1.0, 1.0]]),
                                     np.array([[0.5, 0.9]]))
        np.testing.assert_array_equal(h, [[1.0, 1.0]])

    def test_start_trying_only_moves_aware(self) -> None:
        stage = np.stack([ALL_STAGES, ALL_STAGES[::-1]])
        idx = adoption.candidates(stage)
        np.testing.assert_array_equal(idx, [1, 8])
        adoption.start_trying(stage, idx, np.ones(2), np.zeros(2))
        np.testing.assert_array_equal(stage, [[UNAWARE, TRYING, TRYING, ROUTINE, ABANDONED],
                                              [ABANDONED, ROUTINE, TRYING, TRYING, UNAWARE]])

    def test_start_trying_draws(self) -> None:
        stage = np.full(3, AWARE, np.int8)
        adoption.start_trying(stage, np.arange(3), np.full(3, 0.2), np.array([0.1, 0.2, 0.3]))
        np.testing.assert_array_equal(stage, [TRYING, AWARE, AWARE])
        stage = np.full(3, AWARE, np.int8)
        adoption.start_trying(stage, np.arange(3), np.full(3, 0.999), np.ones(3))
        np.testing.assert_array_equal(stage, AWARE)


# =================================================================================================
# sustainment
# =================================================================================================
class TestSustainment:
    def test_routinise_chance_is_p_times_fidelity(self) -> None:
        stage = np.array([TRYING, TRYING, TRYING, TRYING, AWARE, ABANDONED], np.int8)
        fid = np.array([0.5, 0.5, 1.0, 1.0, 1.0, 1.0])
        u = np.array([0.19, 0.2, 0.39, 0.41])  # p·fidelity = 0.2, 0.2, 0.4, 0.4
        idx = sustainment.trying(stage)
        np.testing.assert_array_equal(idx, [0, 1, 2, 3])
        sustainment.routinise(stage, idx, 0.4, fid[idx], u)
        np.testing.assert_array_equal(stage, [ROUTINE, TRYING, ROUTINE, TRYING, AWARE,
                                              ABANDONED])

    def test_abandonment_hazard_zero_under_full_support(self) -> None:
        stage = np.array([[TRYING, ROUTINE]], np.int8)
        h = sustainment.abandonment_hazard(stage, np.full((1, 2), -3.0), np.ones((1, 2)),
                                           0.5, 0.8)
        np.testing.assert_array_equal(h, 0.0)

    def test_abandonment_hazard_formula_and_routine_protection(self) -> None:
        stage = np.array([[TRYING, ROUTINE], [TRYING, ROUTINE]], np.int8)
        log_ctx = np.array([[0.0, 0.0], [math.log(2.0), math.log(2.0)]])
        support = np.array([[0.0, 0.0], [0.25, 0.25]])
        h = sustainment.abandonment_hazard(stage, log_ctx, support, 0.02, 0.8)
        expected = [[0.02, 0.02 * 0.2],
                    [0.02 / 2 * 0.75, 0.02 / 2 * 0.75 * 0.2]]
        np.testing.assert_allclose(h, expected, rtol=1e-12)

    def test_abandonment_hazard_capped_at_one(self) -> None:
        h = sustainment.abandonment_hazard(np.array([[TRYING]], np.int8), np.array([[-10.0]]),
                                           np.zeros((1, 1)), 0.5, 0.8)
        assert h[0, 0] == 1.0

    def test_abandon_only_users(self) -> None:
        stage = ALL_STAGES.copy()
        idx = sustainment.users(stage)
        np.testing.assert_array_equal(idx, [2, 3])
        sustainment.abandon(stage, idx, np.ones(2), np.zeros(2))
        np.testing.assert_array_equal(stage, [UNAWARE, AWARE, ABANDONED, ABANDONED, ABANDONED])
        stage = np.array([TRYING, TRYING, ROUTINE], np.int8)
        sustainment.abandon(stage, np.arange(3), np.full(3, 0.1), np.array([0.05, 0.1, 0.0]))
        np.testing.assert_array_equal(stage, [ABANDONED, TRYING, ABANDONED])


# =================================================================================================
# fidelity
# =================================================================================================
def fid_update(f: list[float], baseline: list[float], using: list[bool], knowledge: float = 0.5,
               support: float = 0.0, gain: float = 0.1, decay: float = 0.05,
               complexity: float = 0.4) -> np.ndarray:
    # one element per bundle, so per-bundle inputs are per-element inputs
    fid = f32([f])
    n_e = len(f)
    update(fid, f32(baseline), np.ones((1, n_e), bool), np.array([using]),
           f32(np.full((1, n_e), knowledge)), f32(np.full((1, n_e), support)),
           np.arange(n_e), gain, decay, f32(np.full(n_e, complexity)))
    return fid[0]


def update(fid: np.ndarray, baseline: np.ndarray, performs: np.ndarray, using: np.ndarray,
           knowledge: np.ndarray, support: np.ndarray, element_bundle: np.ndarray, gain: float,
           decay: float, complexity: np.ndarray) -> None:
    """Update an (N, E) fidelity matrix in place through the pair layout the model uses.

    Each person is in a unit of their own, so per-unit support is per-person support.
    """
    pairs = fidelity.PerformedPairs.of(performs, element_bundle, baseline, using.shape[1],
                                       np.arange(len(fid)), len(fid))
    vec = fid[pairs.staff, pairs.element]
    fidelity.update_fidelity(vec, pairs, using, knowledge, support, gain, decay, complexity)
    fid[pairs.staff, pairs.element] = vec


class TestFidelity:
    def test_staff_fidelity_is_mean_over_performed_elements_of_each_bundle(self) -> None:
        # bundle 0 = elements 0, 1; bundle 1 = element 2
        performs = np.array([[True, True, False], [False, True, True], [False, False, False]])
        fid = f32([[0.2, 0.6, 0.9], [0.9, 0.4, 0.7], [0.5, 0.5, 0.5]])
        pairs = fidelity.PerformedPairs.of(performs, np.array([0, 0, 1]), f32([0.1] * 3), 2,
                                           np.zeros(3, np.intp), 1)
        everyone = np.arange(6)  # flat (staff, bundle) entries
        out = fidelity.staff_fidelity(fid[performs], pairs, everyone)  # row-major = pair order
        np.testing.assert_allclose(out, [0.4, 0.0, 0.4, 0.7, 0.0, 0.0], rtol=1e-6)
        assert out.dtype == np.float32
        some = np.array([3, 0])  # any order, any subset
        np.testing.assert_allclose(fidelity.staff_fidelity(fid[performs], pairs, some),
                                   [0.7, 0.4], rtol=1e-6)

    def test_performed_pairs_index_the_performed_entries(self) -> None:
        performs = np.array([[True, False, True], [False, True, False]])
        pairs = fidelity.PerformedPairs.of(performs, np.array([0, 1, 1]), f32([0.1, 0.2, 0.3]),
                                           2, np.array([1, 0]), 2)
        np.testing.assert_array_equal(pairs.staff, [0, 0, 1])
        np.testing.assert_array_equal(pairs.element, [0, 2, 1])
        np.testing.assert_array_equal(pairs.staff_bundle, [0, 1, 3])
        np.testing.assert_array_equal(pairs.unit_bundle, [2, 3, 1])  # staff 0 is in unit 1
        np.testing.assert_array_equal(pairs.baseline, f32([0.1, 0.3, 0.2]))
        np.testing.assert_array_equal(pairs.unit_sum.toarray() @ [1, 2, 4],
                                      [0, 4, 0, 1, 0, 2])  # (unit, element) cells
        np.testing.assert_array_equal(pairs.per_unit_element, [[0, 1, 0], [1, 0, 1]])
        np.testing.assert_array_equal(pairs.per_staff_bundle, [[1, 1], [0, 1]])
        np.testing.assert_array_equal(pairs.before_in_staff, [[0, 1], [0, 0]])
        np.testing.assert_array_equal(pairs.of_staff(np.array([1])), [2])
        np.testing.assert_array_equal(pairs.of_staff(np.array([True, True])), [0, 1, 2])
        matrix = pairs.as_matrix(f32([0.5, 0.6, 0.7]), 3)
        np.testing.assert_array_equal(matrix, f32([[0.5, np.nan, 0.6], [np.nan, 0.7, np.nan]]))

    def test_lift_closes_the_gap_for_the_chosen_staff_on_one_bundle(self) -> None:
        performs = np.array([[True, True, True], [True, False, True]])
        pairs = fidelity.PerformedPairs.of(performs, np.array([0, 0, 1]), f32([0.2] * 3), 2,
                                           np.zeros(2, np.intp), 1)
        fid = f32([0.2, 0.6, 0.2, 0.0, 0.2])
        fidelity.lift(fid, pairs, np.array([False, True]), 0, 0.5)
        np.testing.assert_allclose(fid, [0.2, 0.6, 0.2, 0.5, 0.2])  # staff 1, element 0 only

    def test_users_gain_and_drift(self) -> None:
        # rate = 0.1·(0.3 + 0.7·0.5)·(1 − 0.4/2) = 0.052; up = 0.052·(1 − 0.4); down = 0.05·0.2
        out = fid_update([0.4], [0.2], [True])
        assert out[0] == pytest.approx(0.4 + 0.052 * 0.6 - 0.05 * 0.2, rel=1e-6)

    def test_non_users_only_drift(self) -> None:
        out = fid_update([0.4], [0.2], [False])
        assert out[0] == pytest.approx(0.4 - 0.05 * 0.2, rel=1e-6)

    def test_decay_toward_baseline_not_zero(self) -> None:
        out = fid_update([0.2, 0.1, 0.6], [0.2, 0.2, 0.2], [False, False, False])
        np.testing.assert_allclose(out, [0.2, 0.1 + 0.05 * 0.1, 0.6 - 0.05 * 0.4], rtol=1e-6)
        fid = f32([[0.9, 0.9]])
        base = f32([0.3, 0.0])
        for _ in range(2000):
            update(fid, base, np.ones((1, 2), bool), np.zeros((1, 2), bool),
                                     f32(np.zeros((1, 2))), f32(np.zeros((1, 2))), np.arange(2),
                                     0.1, 0.05, f32(np.zeros(2)))
        np.testing.assert_allclose(fid[0], [0.3, 0.0], atol=1e-4)

    def test_full_support_stops_decay(self) -> None:
        out = fid_update([0.8, 0.1], [0.2, 0.2], [False, False], support=1.0)
        np.testing.assert_array_equal(out, f32([0.8, 0.1]))
        # Users under full support still gain.
        out = fid_update([0.4], [0.2], [True], support=1.0)
        assert out[0] == pytest.approx(0.4 + 0.052 * 0.6, rel=1e-6)

    def test_clipped_to_unit_interval(self) -> None:
        high = fid_update([0.5], [0.0], [True], knowledge=1.0, gain=3.0, decay=0.0,
                          complexity=0.0)
        low = fid_update([0.5], [0.0], [False], decay=3.0)
        assert high[0] == 1.0
        assert low[0] == 0.0

    def test_per_element_complexity_and_knowledge(self) -> None:
        fid = f32([[0.0, 0.0]])
        update(fid, f32([0.0, 0.0]), np.ones((1, 2), bool),
                                 np.array([[True, True]]), f32([[0.0, 1.0]]),
                                 f32(np.zeros((1, 2))), np.arange(2), 0.1, 0.0, f32([1.0, 0.0]))
        np.testing.assert_allclose(fid[0], [0.1 * 0.3 * 0.5, 0.1 * 1.0 * 1.0], rtol=1e-6)

    def test_rates_spread_from_bundle_to_its_elements_and_only_performers_gain(self) -> None:
        # two elements of bundle 0 (the second not performed by this person), one of bundle 1
        fid = f32([[0.2, 0.2, 0.2]])
        update(fid, f32([0.2, 0.2, 0.2]), np.array([[True, False, True]]),
                                 np.array([[True, True]]), f32([[1.0, 0.0]]),
                                 f32(np.zeros((1, 2))), np.array([0, 0, 1]), 0.1, 0.0,
                                 f32([0.0, 0.0]))
        np.testing.assert_allclose(fid[0], [0.2 + 0.1 * 0.8, 0.2, 0.2 + 0.1 * 0.3 * 0.8],
                                   rtol=1e-6)


# =================================================================================================
# turnover
# =================================================================================================
class TestTurnover:
    @pytest.mark.parametrize("annual", [0.05, 0.15, 0.5, 0.99])
    def test_weekly_rate_compounds_to_annual(self, annual: float) -> None:
        w = turnover.weekly_rate(annual)
        assert 0 < w < annual
        assert (1 - w) ** 52 == pytest.approx(1 - annual, rel=1e-12)

    def test_weekly_rate_limits(self) -> None:
        assert turnover.weekly_rate(0.0) == 0.0
        assert turnover.weekly_rate(1.0) == 1.0

    def test_draw_leavers_is_one_bernoulli_per_position(self) -> None:
        rng = np.random.default_rng(4)
        n, p, weeks = 2000, 0.01, 400
        hits = np.zeros(n)
        counts = []
        for _ in range(weeks):
            idx = turnover.draw_leavers(rng, n, p)
            assert np.all(np.diff(idx) > 0)  # sorted, no position twice
            hits[idx] += 1
            counts.append(len(idx))
        # weekly count: binomial(n, p) mean and variance
        assert abs(np.mean(counts) - n * p) < 4 * math.sqrt(n * p * (1 - p) / weeks)
        assert np.var(counts, ddof=1) == pytest.approx(n * p * (1 - p), rel=0.25)
        # every position equally likely: per-position totals are binomial(weeks, p)
        assert hits.var() == pytest.approx(weeks * p * (1 - p), rel=0.15)
        assert len(turnover.draw_leavers(rng, n, 0.0)) == 0
        np.testing.assert_array_equal(turnover.draw_leavers(rng, 5, 1.0), np.arange(5))

    def test_replace_leavers_resets_only_leavers(self) -> None:
        baseline = f32([0.2, 0.5, 0.7])
        performs = np.ones((4, 3), bool)
        pairs = fidelity.PerformedPairs.of(performs, np.array([0, 0, 1]), baseline, 2,
                                           np.zeros(4, np.intp), 1)
        st = State.initial(4, 2, pairs.baseline)
        st.stage[:] = [[TRYING, ROUTINE], [ROUTINE, AWARE], [ABANDONED, TRYING], [AWARE, AWARE]]
        st.knowledge[:] = 0.9
        st.fidelity[:] = 0.95
        leavers = np.array([False, True, False, True])
        turnover.replace_leavers(st, np.flatnonzero(leavers), pairs)
        np.testing.assert_array_equal(st.stage, [[TRYING, ROUTINE], [UNAWARE, UNAWARE],
                                                 [ABANDONED, TRYING], [UNAWARE, UNAWARE]])
        np.testing.assert_array_equal(st.knowledge[leavers], 0.0)
        np.testing.assert_array_equal(st.knowledge[~leavers], f32(0.9))
        matrix = pairs.as_matrix(st.fidelity, 3)
        np.testing.assert_array_equal(matrix[leavers], np.tile(baseline, (2, 1)))
        np.testing.assert_array_equal(matrix[~leavers], f32(0.95))


# =================================================================================================
# collective
# =================================================================================================
class TestCollective:
    def test_unit_performance_means_over_performing_staff(self) -> None:
        # units: 0 = staff 0, 1, 2; 1 = staff 3, 4; 2 = staff 5 (performs nothing)
        pop = make_pop(["hospital"], [0.5], [0, 0, 0], [0.5] * 3, [0.5] * 3, [0, 0, 0, 1, 1, 2])
        fid = f32([[0.2, 0.9], [0.6, 0.9], [0.99, 0.3], [0.5, 0.8], [0.99, 0.99], [0.7, 0.7]])
        performs = np.array([[1, 0], [1, 0], [0, 1], [1, 0], [0, 0], [0, 0]], bool)
        pairs = fidelity.PerformedPairs.of(performs, np.array([0, 1]), f32([0.1, 0.1]), 2,
                                           pop.staff_unit, pop.n_units)
        perf, count = collective.unit_performance(fid[performs], pairs)
        expected = np.array([[0.4, 0.3], [0.5, np.nan], [np.nan, np.nan]])
        np.testing.assert_allclose(perf, expected, rtol=1e-6)  # NaN positions must match too
        np.testing.assert_array_equal(count, [[2, 1], [1, 0], [0, 0]])
        assert perf.dtype == np.float32

    def test_effective_performance_both_sides_rule(self) -> None:
        # unit 0 specialist, linked to municipal units 1 and 2 (not to each other)
        pathways = sp.csr_matrix(np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]], np.float32))
        nan = np.nan
        perf = f32([
            # e0 local, e1 cross (all apply), e2 cross (partner 2 n/a), e3 cross (only unit 0)
            [0.9, 0.8, 0.6, 0.7],
            [0.5, 0.5, 0.3, nan],
            [0.4, 0.7, nan, nan],
        ])
        cross = np.array([False, True, True, True])
        eff = collective.effective_performance(perf, pathways, cross)
        expected = np.array([
            [0.9, 0.8 * (0.5 + 0.7) / 2, 0.6 * 0.3, nan],  # e3 excluded: no partner applies
            [0.5, 0.5 * 0.8, 0.3 * 0.6, nan],
            [0.4, 0.7 * 0.8, nan, nan],
        ])
        np.testing.assert_allclose(eff, expected, rtol=1e-6)
        np.testing.assert_array_equal(eff[:, 0], perf[:, 0])  # local element unchanged
        np.testing.assert_allclose(perf[0], [0.9, 0.8, 0.6, 0.7])  # input not modified

    def test_effective_performance_without_cross_elements_is_unchanged(self) -> None:
        perf = f32([[0.3, np.nan], [0.6, 0.2]])
        pathways = sp.csr_matrix(np.array([[0, 1], [1, 0]], np.float32))
        eff = collective.effective_performance(perf, pathways, np.array([False, False]))
        np.testing.assert_array_equal(eff, perf)

    def test_pathway_limited_by_weakest_side(self) -> None:
        rng = np.random.default_rng(0)
        pathways = sp.csr_matrix(np.array([[0, 1], [1, 0]], np.float32))
        for _ in range(50):
            own, partner = rng.random(2)
            eff = collective.effective_performance(f32([[own], [partner]]), pathways,
                                                   np.array([True]))
            assert eff[0, 0] <= min(own, partner) + 1e-7
            assert eff[1, 0] <= min(own, partner) + 1e-7
            assert eff[0, 0] == pytest.approx(own * partner, rel=1e-6)
        # A perfect hospital cannot lift a weak municipality: the pathway is at the weak side.
        eff = collective.effective_performance(f32([[1.0], [0.3]]), pathways, np.array([True]))
        np.testing.assert_allclose(eff[:, 0], [0.3, 0.3], rtol=1e-6)

    def test_bundle_compliance_product_and_mean(self) -> None:
        nan = np.nan
        eff = f32([
            [0.9, 0.5, 0.8, nan],
            [0.6, nan, nan, nan],
            [nan, nan, 0.4, 0.5],
        ])
        element_bundle = np.array([0, 0, 1, 1])
        comp, fid = collective.bundle_compliance(eff, element_bundle, 3)
        np.testing.assert_allclose(comp, [[0.45, 0.8, nan], [0.6, nan, nan], [nan, 0.2, nan]],
                                   rtol=1e-6)
        np.testing.assert_allclose(fid, [[0.7, 0.8, nan], [0.6, nan, nan], [nan, 0.45, nan]],
                                   rtol=1e-6)
        assert comp.dtype == np.float32 and fid.dtype == np.float32

    def test_all_or_none_never_above_weakest_element(self) -> None:
        rng = np.random.default_rng(1)
        eff = rng.random((20, 4)).astype(np.float32)
        comp, fid = collective.bundle_compliance(eff, np.zeros(4, np.intp), 1)
        assert np.all(comp[:, 0] <= eff.min(axis=1) + 1e-7)
        assert np.all(comp[:, 0] <= fid[:, 0] + 1e-7)


# =================================================================================================
# targeting
# =================================================================================================
def targeting_pop() -> Population:
    """6 units: 0-2 in a hospital, 3-4 in a nursing home, 5 in a GP practice."""
    return make_pop(
        ["hospital", "nursing_home", "gp"],
        org_leadership=[0.9, 0.5, 0.6],
        unit_org=[0, 0, 0, 1, 1, 2],
        climate=[0.5, 0.9, 0.3, 0.8, 0.6, 0.9],
        workload=[0.5, 0.5, 0.1, 0.2, 0.9, 0.1],
        staff_unit=[0, 1, 2, 3, 4, 5],
    )


UNIT_DEGREE = np.array([1.0, 5.0, 3.0, 5.0, 2.0, 0.0])


def resolve(target: Target, seed: int = 0, degree: np.ndarray = UNIT_DEGREE) -> np.ndarray:
    return resolve_units(target, targeting_pop(), degree, np.random.default_rng(seed), "t")


class TestTargeting:
    def test_parse_all(self) -> None:
        assert parse_target("all", "t") == Target()
        assert parse_target(None, "t") == Target()
        assert Target().share == 1.0 and Target().rule == "random"

    @pytest.mark.parametrize("kind", ORG_KINDS)
    def test_parse_kind_string(self, kind: str) -> None:
        assert parse_target(kind, "t") == Target(kinds=(kind,))

    def test_parse_table(self) -> None:
        t = parse_target({"kinds": ["gp", "home_care"], "units": "W1", "organisations": ["A"],
                          "share": 0.5, "rule": "centrality"}, "t")
        assert t == Target(("gp", "home_care"), ("A",), ("W1",), 0.5, "centrality")
        assert parse_target({"share": 1}, "t") == Target()
        assert parse_target({"kinds": "gp"}, "t").kinds == ("gp",)

    @pytest.mark.parametrize(("raw", "where"), [
        ("hospitals", "t"),
        (42, "t"),
        (["gp"], "t"),
        ({"kind": ["gp"]}, "t.kind"),
        ({"share": 0}, "t.share"),
        ({"share": 1.5}, "t.share"),
        ({"share": True}, "t.share"),
        ({"share": "half"}, "t.share"),
        ({"rule": "best"}, "t.rule"),
        ({"kinds": ["hospitals"]}, "t.kinds"),
        ({"units": [1, 2]}, "t.units"),
        ({"organisations": {"a": 1}}, "t.organisations"),
    ])
    def test_parse_errors(self, raw: Any, where: str) -> None:
        with pytest.raises(InputError) as exc:
            parse_target(raw, "t")
        assert exc.value.where == where

    def test_resolve_all_and_kinds(self) -> None:
        np.testing.assert_array_equal(resolve(Target()), True)
        np.testing.assert_array_equal(resolve(Target(kinds=("nursing_home",))),
                                      [0, 0, 0, 1, 1, 0])
        np.testing.assert_array_equal(resolve(Target(kinds=("gp", "hospital"))),
                                      [1, 1, 1, 0, 0, 1])
        np.testing.assert_array_equal(resolve(Target(kinds=("home_care",))), False)

    def test_resolve_named_units_and_organisations(self) -> None:
        np.testing.assert_array_equal(resolve(Target(units=("unit1", "unit4"))),
                                      [0, 1, 0, 0, 1, 0])
        np.testing.assert_array_equal(resolve(Target(organisations=("org1",))),
                                      [0, 0, 0, 1, 1, 0])
        # Filters combine: hospital units among the named ones.
        np.testing.assert_array_equal(
            resolve(Target(kinds=("hospital",), units=("unit1", "unit4"))), [0, 1, 0, 0, 0, 0])

    def test_resolve_unknown_names(self) -> None:
        with pytest.raises(InputError) as exc:
            resolve(Target(units=("no such unit",)))
        assert exc.value.where == "t.units"
        with pytest.raises(InputError) as exc:
            resolve(Target(organisations=("no such org",)))
        assert exc.value.where == "t.organisations"

    def test_share_random_reproducible_and_seed_dependent(self) -> None:
        pop = make_pop(["hospital"], [0.5], [0] * 40, [0.5] * 40, [0.5] * 40, list(range(40)))
        deg = np.zeros(40)
        t = Target(share=0.5, rule="random")
        a = resolve_units(t, pop, deg, np.random.default_rng(11), "t")
        b = resolve_units(t, pop, deg, np.random.default_rng(11), "t")
        c = resolve_units(t, pop, deg, np.random.default_rng(12), "t")
        assert a.sum() == b.sum() == c.sum() == 20
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
        # It keeps the units with the smallest draws.
        draws = np.random.default_rng(11).random(40)
        np.testing.assert_array_equal(np.flatnonzero(a), np.sort(np.argsort(draws)[:20]))

    def test_share_random_respects_filters(self) -> None:
        for seed in range(10):
            chosen = resolve(Target(kinds=("hospital",), share=0.5, rule="random"), seed)
            assert chosen.sum() == 2  # round(0.5 · 3) = 2
            assert not chosen[3:].any()

    def test_resolve_draws_one_number_per_unit_whatever_the_rule(self) -> None:
        for target in (Target(), Target(kinds=("gp",)), Target(share=0.5, rule="centrality")):
            rng = np.random.default_rng(5)
            resolve_units(target, targeting_pop(), UNIT_DEGREE, rng, "t")
            ref = np.random.default_rng(5)
            ref.random(6)
            assert rng.random() == ref.random()

    def test_share_centrality_picks_highest_unit_degree(self) -> None:
        np.testing.assert_array_equal(resolve(Target(share=0.5, rule="centrality")),
                                      [0, 1, 1, 1, 0, 0])  # degrees 5, 5, 3
        # Tie at 5 between units 1 and 3 broken by unit order.
        np.testing.assert_array_equal(resolve(Target(share=1 / 6, rule="centrality")),
                                      [0, 1, 0, 0, 0, 0])
        np.testing.assert_array_equal(
            resolve(Target(kinds=("nursing_home",), share=0.5, rule="centrality")),
            [0, 0, 0, 1, 0, 0])
        # Independent of the random stream.
        for seed in range(5):
            np.testing.assert_array_equal(resolve(Target(share=0.5, rule="centrality"), seed),
                                          [0, 1, 1, 1, 0, 0])

    def test_share_readiness_picks_best_leadership_climate_slack(self) -> None:
        pop = targeting_pop()
        score = (pop.org_leadership[pop.unit_org] * pop.unit_climate * (1 - pop.unit_workload))
        # by hand: 0.225, 0.405, 0.243, 0.32, 0.03, 0.486
        np.testing.assert_allclose(score, [0.225, 0.405, 0.243, 0.32, 0.03, 0.486], rtol=1e-5)
        np.testing.assert_array_equal(resolve(Target(share=0.5, rule="readiness")),
                                      [0, 1, 0, 1, 0, 1])
        np.testing.assert_array_equal(resolve(Target(share=1 / 6, rule="readiness")),
                                      [0, 0, 0, 0, 0, 1])

    def test_share_keeps_at_least_one(self) -> None:
        chosen = resolve(Target(kinds=("gp",), share=0.01, rule="centrality"))
        np.testing.assert_array_equal(chosen, [0, 0, 0, 0, 0, 1])


# =================================================================================================
# interventions through a real small model
# =================================================================================================
SMALL_STRUCTURE = {
    "hospital_trusts": 1, "wards_per_trust": 3, "mental_health_units_per_trust": 1,
    "municipalities_per_trust": 2, "nursing_homes_per_municipality": 1,
    "home_care_teams_per_municipality": 1, "gp_practices_per_municipality": 1,
}
# Only interventions make anybody aware, knowledge moves only by training, nobody leaves.
QUIET = {"learning_by_doing": 0.0, "knowledge_decay": 0.0, "p_awareness": 0.0,
         "p_word_of_mouth": 0.0, "turnover_annual": 0.0}
EVERYWHERE = {
    "name": "everywhere", "settings": list(ORG_KINDS),
    "elements": [{"name": "local", "roles": ["nurse", "care_worker"]},
                 {"name": "handover", "roles": ["nurse", "physician"], "cross_boundary": True}],
}
BUNDLES = [EVERYWHERE, "antibiotic_stewardship"]  # the second: hospital, nursing home, GP


def small_model(tmp_path: Path, interventions: list[dict[str, Any]],
                parameters: dict[str, Any] | None = None, seed: int = 7) -> ImplementationModel:
    data = {
        "weeks": 10, "structure": SMALL_STRUCTURE, "bundles": BUNDLES,
        "parameters": {**QUIET, **(parameters or {})},
        "strategies": [{"name": "s", "interventions": interventions}],
    }
    sc = scenario_from_dict(data, str(tmp_path / "test.toml"), tmp_path)
    return ImplementationModel(sc, seed=seed)


class TestTraining:
    def test_full_coverage_makes_targeted_eligible_aware_with_exact_knowledge(
            self, tmp_path: Path) -> None:
        model = small_model(tmp_path, [{"type": "training", "start_week": 1, "coverage": 1.0,
                                        "knowledge_gain": 0.3, "cost_per_trainee": 1000.0}])
        (iv,) = model.interventions
        assert isinstance(iv, Training)
        assert iv.staff.all()  # target "all"
        np.testing.assert_array_equal(model.state.stage, UNAWARE)
        model.step()
        st, elig = model.state, model.eligible
        assert elig.any(axis=0).all() and (~elig).any(axis=0).all()
        assert np.all(st.stage[elig] >= AWARE)
        np.testing.assert_array_equal(st.stage[~elig], UNAWARE)
        np.testing.assert_array_equal(st.knowledge[elig], np.float32(0.3))
        np.testing.assert_array_equal(st.knowledge[~elig], 0.0)
        np.testing.assert_allclose(model.cost, 1000.0 * elig.sum(axis=0))
        assert model.cost_by_intervention == {"training": pytest.approx(1000.0 * elig.sum())}
        # A single wave: nothing changes in week 2 (knowledge is frozen by the parameters).
        model.step()
        np.testing.assert_array_equal(st.knowledge[elig], np.float32(0.3))
        np.testing.assert_allclose(model.cost, 1000.0 * elig.sum(axis=0))

    def test_repeated_sessions_close_the_gap_again(self, tmp_path: Path) -> None:
        model = small_model(tmp_path, [{"type": "training", "start_week": 1, "end_week": 3,
                                        "interval_weeks": 2, "coverage": 1.0,
                                        "knowledge_gain": 0.3, "cost_per_trainee": 10.0}])
        (iv,) = model.interventions
        assert [iv.session(w) for w in range(1, 6)] == [True, False, True, False, False]
        for _ in range(3):
            model.step()
        elig = model.eligible
        np.testing.assert_allclose(model.state.knowledge[elig], 1 - 0.7**2, rtol=1e-6)
        np.testing.assert_allclose(model.cost, 2 * 10.0 * elig.sum(axis=0))

    def test_training_nursing_homes_leaves_hospital_untouched(self, tmp_path: Path) -> None:
        model = small_model(tmp_path, [{"type": "training", "start_week": 1, "coverage": 1.0,
                                        "knowledge_gain": 0.5, "cost_per_trainee": 1000.0,
                                        "target": "nursing_home"}])
        (iv,) = model.interventions
        kind = model.pop.staff_kind
        nh = kind == KIND_CODE["nursing_home"]
        np.testing.assert_array_equal(iv.units, model.pop.unit_kind == KIND_CODE["nursing_home"])
        np.testing.assert_array_equal(iv.staff, nh)
        model.step()
        st, elig = model.state, model.eligible
        trained = nh[:, None] & elig
        assert trained.any()
        assert np.all(st.stage[trained] >= AWARE)
        np.testing.assert_array_equal(st.knowledge[trained], np.float32(0.5))
        np.testing.assert_array_equal(st.stage[~trained], UNAWARE)
        np.testing.assert_array_equal(st.knowledge[~trained], 0.0)
        hospital = kind == KIND_CODE["hospital"]
        assert hospital.any() and elig[hospital].any()
        np.testing.assert_array_equal(st.stage[hospital], UNAWARE)
        np.testing.assert_array_equal(st.knowledge[hospital], 0.0)
        np.testing.assert_allclose(model.cost.sum(), 1000.0 * trained.sum())

    def test_partial_coverage_cost_matches_trainees(self, tmp_path: Path) -> None:
        model = small_model(tmp_path, [{"type": "training", "start_week": 1, "coverage": 0.5,
                                        "knowledge_gain": 0.5, "cost_per_trainee": 100.0}])
        model.step()
        trained = model.state.knowledge > 0
        elig = model.eligible
        assert 0.3 < trained.sum() / elig.sum() < 0.7
        assert not (trained & ~elig).any()
        np.testing.assert_allclose(model.cost, 100.0 * trained.sum(axis=0))
        # The same person is trained for every bundle they are eligible for (one draw each).
        both = elig.all(axis=1)
        np.testing.assert_array_equal(trained[both, 0], trained[both, 1])

    def test_training_retrains_lapsed_staff(self, tmp_path: Path) -> None:
        # Nobody abandons (read-only parameters: set at construction), so the effect of training
        # is seen.
        model = small_model(tmp_path, [{"type": "training", "start_week": 2, "coverage": 1.0,
                                        "knowledge_gain": 0.5}], {"p_abandon": 0.0})
        model.step()
        elig = model.eligible
        model.state.stage[elig] = ABANDONED
        model.state.knowledge[elig] = 0.5
        model.step()
        assert not (model.state.stage[elig] == ABANDONED).any()
        np.testing.assert_allclose(model.state.knowledge[elig], 0.75, rtol=1e-6)


class TestFacilitation:
    def test_support_in_targeted_units_only_while_active(self, tmp_path: Path) -> None:
        model = small_model(tmp_path, [{"type": "facilitation", "start_week": 2, "end_week": 3,
                                        "intensity": 0.6, "adoption_effect": 1.5,
                                        "cost_per_unit_week": 100.0,
                                        "target": "nursing_home"}])
        (iv,) = model.interventions
        assert isinstance(iv, Facilitation)
        targeted = model.pop.unit_kind == KIND_CODE["nursing_home"]
        np.testing.assert_array_equal(iv.units, targeted)
        n_units = int(targeted.sum())
        assert 0 < n_units < model.pop.n_units

        model.step()  # week 1: not yet active
        np.testing.assert_array_equal(model.unit_support, 0.0)
        np.testing.assert_array_equal(model.cost, 0.0)
        for week in (2, 3):
            model.step()
            assert model.week == week
            np.testing.assert_array_equal(model.unit_support[targeted], np.float32(0.6))
            np.testing.assert_array_equal(model.unit_support[~targeted], 0.0)
            np.testing.assert_allclose(model.unit_boost[targeted], 1.5 * 0.6, rtol=1e-6)
            np.testing.assert_array_equal(model.unit_boost[~targeted], 0.0)
            # the cost follows the intensity: 100 NOK a unit-week at intensity 1
            assert model.cost.sum() == pytest.approx(100.0 * 0.6 * n_units * (week - 1))
            assert model.cost_by_intervention["facilitation"] == pytest.approx(
                100.0 * 0.6 * n_units * (week - 1))
        model.step()  # week 4: ended (end_week inclusive was 3)
        np.testing.assert_array_equal(model.unit_support, 0.0)
        np.testing.assert_array_equal(model.unit_boost, 0.0)
        assert model.cost.sum() == pytest.approx(100.0 * 0.6 * n_units * 2)

    def test_support_only_for_the_named_bundle(self, tmp_path: Path) -> None:
        model = small_model(tmp_path, [{"type": "facilitation", "start_week": 1, "end_week": 1,
                                        "intensity": 0.4, "cost_per_unit_week": 50.0,
                                        "bundles": ["antibiotic_stewardship"]}])
        model.step()
        np.testing.assert_array_equal(model.unit_support[:, 0], 0.0)
        np.testing.assert_array_equal(model.unit_support[:, 1], np.float32(0.4))
        np.testing.assert_allclose(model.cost, [0.0, 50.0 * 0.4 * model.pop.n_units])

    @pytest.mark.parametrize("kind", ["facilitation", "internal_facilitation"])
    def test_cost_follows_the_intensity(self, tmp_path: Path, kind: str) -> None:
        def cost(intensity: float) -> float:
            model = small_model(tmp_path, [{"type": kind, "start_week": 1, "end_week": 4,
                                            "intensity": intensity}])
            for _ in range(4):
                model.step()
            return float(model.cost.sum())

        assert cost(0.0) == 0.0  # a null intervention costs nothing
        assert cost(0.5) > 0.0
        assert cost(0.5) == pytest.approx(2 * cost(0.25))
        assert cost(1.0) == pytest.approx(2 * cost(0.5))

    def test_full_support_freezes_fidelity_of_non_users(self, tmp_path: Path) -> None:
        model = small_model(tmp_path, [{"type": "facilitation", "start_week": 1, "end_week": 2,
                                        "intensity": 1.0, "adoption_effect": 0.0}],
                            parameters={"p_innovation": 0.0, "fidelity_decay": 0.5})
        model.state.fidelity[:] = 0.9
        model.step()
        model.step()
        np.testing.assert_array_equal(model.state.fidelity, np.float32(0.9))
        model.step()  # support over: drifts halfway back to baseline
        base = model.world.performed.baseline
        np.testing.assert_allclose(model.state.fidelity, 0.9 - 0.5 * (0.9 - base), rtol=1e-6)

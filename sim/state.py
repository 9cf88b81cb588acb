"""Array-backed state of a run: everything that changes week by week, in one place.

:class:`State` holds what carries from week to week (stages, knowledge, fidelity, the traits and
ties turnover and interventions change, capacity, outcomes so far); :class:`Levers` holds what
interventions set for one week (support, push to try, context, telling, protection) and is reset
every week. Interventions act through the methods of :class:`Levers` and the model's
``add_cost`` / ``add_ties`` / ``scale_influence`` / ``add_capacity``, never by writing arrays.

Shapes: N staff, B bundles, U units, P performed (staff, element) pairs. The hot loop updates
these arrays in place; Mesa agents (:mod:`sim.agents`) are views onto them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from sim.world import World

# Stages of SPEC §3: unaware → aware → trying → routine (adopted) → abandoned.
UNAWARE, AWARE, TRYING, ROUTINE, ABANDONED = 0, 1, 2, 3, 4
STAGES = ("unaware", "aware", "trying", "routine", "abandoned")


def _none() -> np.ndarray:
    return np.zeros(0, np.float32)


@dataclass
class State:
    """Mutable per-run state (:meth:`initial` for the people only, :meth:`of_world` for a run)."""

    stage: np.ndarray  # (N, B) int8
    knowledge: np.ndarray  # (N, B) float32 in [0, 1]
    # (P,) float32 in [0, 1]: the chance an element is done when due, for each (staff, element)
    # pair somebody performs, in the order of ``World.performed`` (sim.mechanisms.fidelity)
    fidelity: np.ndarray
    week: int = 0
    # Traits and ties that turnover and interventions change (copies: the world stays shared).
    openness: np.ndarray = field(default_factory=_none)  # (N,) float32
    threshold: np.ndarray = field(default_factory=_none)  # (N,) float32
    log_ctx: np.ndarray = field(default_factory=_none)  # (N, B) float32 static log context
    # (N, B) float32 U(0, 1): each entry's fit with the bundle (sim.mechanisms.destination);
    # empty when the destination is off
    fit: np.ndarray = field(default_factory=_none)
    influence_weight: np.ndarray = field(default_factory=_none)  # (N, B) float32
    adjacency: sp.csr_matrix | None = None  # (N, N) binary, ties added in the run included
    extra_ties: list[tuple[np.ndarray, str]] = field(default_factory=list)
    # Bundles, learning transfer and outcomes so far.
    launched: np.ndarray = field(default_factory=_none)  # (B,) bool
    capacity: np.ndarray = field(default_factory=_none)  # (U,) float64
    implemented: np.ndarray = field(default_factory=_none)  # (U, B) bool: first success seen
    unit_compliance: np.ndarray = field(default_factory=_none)  # (U, B) float32 this week
    unit_fidelity: np.ndarray = field(default_factory=_none)  # (U, B) float32 this week
    # (U, E) float32 this week: each element's effective performance (both sides applied on
    # cross-boundary elements; NaN where the element does not apply)
    unit_element: np.ndarray = field(default_factory=_none)
    harm_expected: np.ndarray = field(default_factory=_none)  # (B,) cumulative events
    harm_averted: np.ndarray = field(default_factory=_none)  # (B,) cumulative vs week 0
    cost: np.ndarray = field(default_factory=_none)  # (B,) float64 cumulative NOK
    cost_by_intervention: dict[str, float] = field(default_factory=dict)

    @classmethod
    def initial(cls, n_staff: int, n_bundles: int, pair_baseline: np.ndarray) -> State:
        """Everybody unaware, no knowledge, every performed element at its baseline fidelity."""
        return cls(
            stage=np.zeros((n_staff, n_bundles), np.int8),
            knowledge=np.zeros((n_staff, n_bundles), np.float32),
            fidelity=np.array(pair_baseline, np.float32),
        )

    @classmethod
    def of_world(cls, world: World) -> State:
        """The state at week 0 of a run in ``world``: people as :meth:`initial`, nothing spent."""
        pop, n_b = world.pop, len(world.bundles)
        st = cls.initial(pop.n_staff, n_b, world.performed.baseline)
        st.openness = pop.staff_openness.copy()
        st.threshold = pop.staff_threshold.copy()
        st.log_ctx = world.log_ctx.copy()
        st.influence_weight = np.repeat(world.leader_weight[:, None], n_b, axis=1)
        st.adjacency = world.adjacency
        st.launched = np.zeros(n_b, bool)
        st.capacity = np.zeros(pop.n_units, np.float64)
        st.implemented = np.zeros((pop.n_units, n_b), bool)
        st.unit_compliance = np.full((pop.n_units, n_b), np.nan, np.float32)
        st.unit_fidelity = np.full((pop.n_units, n_b), np.nan, np.float32)
        st.unit_element = np.full((pop.n_units, len(world.element_bundle)), np.nan, np.float32)
        st.harm_expected = np.zeros(n_b)
        st.harm_averted = np.zeros(n_b)
        st.cost = np.zeros(n_b, np.float64)
        return st

    def using(self) -> np.ndarray:
        """(N, B) bool: trying or routine — currently using the bundle."""
        return (self.stage == TRYING) | (self.stage == ROUTINE)

    # --- what interventions do to people (training, champions, collaboratives) ----------------
    def make_aware(self, staff: np.ndarray, bundle: int) -> None:
        """Unaware or lapsed (abandoned) ``staff`` (mask or indices) become aware of ``bundle``."""
        stage = self.stage[staff, bundle]
        lapsed = (stage == UNAWARE) | (stage == ABANDONED)
        who = np.flatnonzero(staff)[lapsed] if staff.dtype == bool else staff[lapsed]
        self.stage[who, bundle] = AWARE

    def teach(self, staff: np.ndarray, bundle: int, gain: float) -> None:
        """Close ``gain`` of ``staff``'s knowledge gap on ``bundle``."""
        k = self.knowledge[staff, bundle]
        self.knowledge[staff, bundle] = k + gain * (1.0 - k)

    def start_using(self, staff: np.ndarray, bundle: int) -> None:
        """``staff`` (mask) not using ``bundle`` start trying it, with full knowledge."""
        not_using = staff & (self.stage[:, bundle] != TRYING) & (self.stage[:, bundle] != ROUTINE)
        self.stage[not_using, bundle] = TRYING
        self.knowledge[staff, bundle] = 1.0


@dataclass
class Levers:
    """The week's help from interventions, per unit × bundle (and who may not abandon).

    Reset at the start of every week; the intervention phase sets them and the later phases of
    the week read them.
    """

    support: np.ndarray  # (U, B) float32 in [0, 1]: protects fidelity, keeps users
    boost: np.ndarray  # (U, B) float32: log-hazard of trying
    context: np.ndarray  # (U, B) float32: log context, trying and keeping
    awareness: np.ndarray  # (U, B) float32: extra weekly chance of being told
    protected: np.ndarray  # (N, B) bool: may not abandon this week

    @classmethod
    def zeros(cls, n_staff: int, n_units: int, n_bundles: int) -> Levers:
        """No help anywhere."""
        def unit() -> np.ndarray:
            return np.zeros((n_units, n_bundles), np.float32)
        return cls(unit(), unit(), unit(), unit(), np.zeros((n_staff, n_bundles), bool))

    def reset(self, context: np.ndarray) -> None:
        """Start a week: no help, the context lever at the (U,) learning-transfer term."""
        self.support.fill(0.0)
        self.boost.fill(0.0)
        self.awareness.fill(0.0)
        self.protected.fill(False)
        self.context[:] = context[:, None]

    def give_support(self, units: np.ndarray, bundle: int, level: float) -> None:
        """Support ``units`` (mask) at ``level``: the strongest source counts, not the sum."""
        col = self.support[:, bundle]
        np.maximum(col, np.where(units, np.float32(level), np.float32(0)), out=col)

    def push(self, units: np.ndarray, bundle: int, amount: float | np.ndarray) -> None:
        """Add ``amount`` to the log-hazard of trying ``bundle`` in ``units``."""
        self.boost[units, bundle] += amount

    def add_context(self, units: np.ndarray | slice, bundle: int,
                    amount: float | np.ndarray) -> None:
        """Add ``amount`` to the log context (trying and keeping) of ``bundle`` in ``units``."""
        self.context[units, bundle] += amount

    def tell(self, units: np.ndarray, bundle: int, chance: float) -> None:
        """A weekly ``chance`` of telling unaware staff of ``units``: channels are independent."""
        col = self.awareness[:, bundle]
        col[units] = 1.0 - (1.0 - col[units]) * (1.0 - np.float32(chance))

    def protect(self, staff: np.ndarray, bundle: int) -> None:
        """``staff`` (mask) do not abandon ``bundle`` this week."""
        self.protected[staff, bundle] = True

"""The week as data: the phases of a step, in order, and the view of one week they read.

After Starsim's ``Loop`` (``starsim/loop.py``): the order of a step is a list written once
(:data:`sim.model.PHASES`), each entry a named function of one mechanism module that holds that
phase's whole equation. :class:`Loop` runs them and can time each (``timer``), so profiling a week
by phase needs nothing more. :class:`Week` is what a phase sees: the state, the levers, the
parameters, the launched bundles, the week's named draws and gathers by flat index, so the
equations read like the ODD (``docs/ODD.md``, section 3).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.rng import uniform_at

if TYPE_CHECKING:
    from sim.model import ImplementationModel


@dataclass(frozen=True)
class Phase:
    """One phase of the week: its name (as in the ODD schedule) and the function that runs it."""

    name: str
    run: Callable[[Week], None]


class Loop:
    """Runs the phases of a week in order; with ``timer`` on, adds each phase's seconds to it."""

    def __init__(self, phases: Iterable[Phase]) -> None:
        self.phases = tuple(phases)
        self.timer: dict[str, float] | None = None

    @property
    def names(self) -> list[str]:
        """The phase names, in order."""
        return [p.name for p in self.phases]

    def time_phases(self) -> dict[str, float]:
        """Start timing every phase (seconds summed over weeks); returns the running totals."""
        self.timer = dict.fromkeys(self.names, 0.0)
        return self.timer

    def run(self, week: Week) -> None:
        """Run every phase on ``week``."""
        if self.timer is None:
            for phase in self.phases:
                phase.run(week)
            return
        for phase in self.phases:
            t0 = time.perf_counter()
            phase.run(week)
            self.timer[phase.name] += time.perf_counter() - t0


class Week:
    """One week of one run, as the phases see it.

    Entries are flat indices into (N, B) staff × bundle arrays (``np.flatnonzero`` of a mask);
    :meth:`at` gathers a staff × bundle array at them and :meth:`unit_at` a unit × bundle array
    (a lever) at the entries' (unit, bundle) cells.
    """

    def __init__(self, model: ImplementationModel) -> None:
        self.model = model
        self.world = model.world
        self.state = model.state
        self.levers = model.levers
        self.par: Any = model.par
        self.number = model.state.week
        self.launched = model.state.launched
        self._entry_unit_cell = model._entry_unit_cell
        self._entry_staff = model._entry_staff

    def key(self, name: str) -> int:
        """The week's counter key of stream ``name`` (:func:`sim.rng.week_key`)."""
        return self.model.week_key(name, self.number)

    def draw(self, name: str, entries: np.ndarray) -> np.ndarray:
        """The week's uniform draws of stream ``name`` at flat (staff, bundle) ``entries``.

        Each draw is a pure function of (run seed, stream, week, entry) (:mod:`sim.rng`'s
        counter-based draws), made only where a rule applies: draw (i, b) of a week serves the
        same purpose in every strategy (common random numbers: paired strategy comparisons).
        """
        return uniform_at(self.key(name), entries)

    @cached_property
    def eligible(self) -> np.ndarray:
        """(N, B) who each launched bundle applies to."""
        return self.world.eligible & self.launched[None, :]

    @cached_property
    def colleagues_using(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, B) using ties and weighted using ties, from use after the interventions phase.

        Computed once, when the awareness phase first asks (before adoption changes anyone's
        use), and read again by adoption: both see who was using at the start of the week.
        """
        return self.model.neighbour_sums(self.state.using() & self.eligible)

    @cached_property
    def using_now(self) -> np.ndarray:
        """(N, B) who uses each bundle after abandonment and routinisation.

        First read by the knowledge phase, then by fidelity (knowledge changes no stage).
        """
        return self.state.using()

    @staticmethod
    def at(values: np.ndarray, entries: np.ndarray) -> np.ndarray:
        """``values`` (N, B) at flat ``entries``."""
        return values.reshape(-1)[entries]

    def unit_at(self, values: np.ndarray, entries: np.ndarray) -> np.ndarray:
        """``values`` (U, B) at the (unit, bundle) cells of flat staff × bundle ``entries``."""
        return values.reshape(-1)[self._entry_unit_cell[entries]]

    def staff_of(self, entries: np.ndarray) -> np.ndarray:
        """The staff member of each flat ``entry``."""
        return self._entry_staff[entries]

"""One explorer session: a model built from the user's choices, stepped on demand.

The page keeps no model logic of its own. It asks a :class:`ExplorerSession` to (re)build the
model when the scenario, strategy, a parameter or the size changes, to step it, and for the
read-outs it shows. Keeping this free of UI code lets the same behaviour be tested without a
browser, and lets the page stay a thin layer that only renders what the session says.

A lock guards the model: "play" steps it from a worker thread while the page reads it to draw.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import InputError
from sim.model import ImplementationModel
from sim.outcomes import audit
from sim.outcomes.detection import ChartSpec, chart
from sim.outcomes.spc import PChart
from sim.rng import stream
from sim.scenario import TOP, Scenario, load_scenario
from sim.ui.inputs import SMALL_STRUCTURE
from sim.ui.network_sample import NetworkSample, sample_network
from sim.ui.security import confine

DEFAULT_LABEL = "built-in default"
_VERSIONS = itertools.count(1)  # unique across sessions, so a page never mistakes one for another


@dataclass(frozen=True)
class Readout:
    """What the page prints about the model now (one line per bundle plus totals)."""

    week: int
    weeks: int
    bundles: tuple[str, ...]
    compliance: tuple[float, ...]  # system compliance per bundle now
    adoption: tuple[float, ...]  # share of eligible staff using each bundle now
    cost: float  # NOK so far, all bundles
    harm_averted: float  # expected patient-harm events averted so far, all bundles
    n_staff: int
    n_units: int

    @property
    def mean_compliance(self) -> float:
        """Mean of the bundles' system compliance (NaN-safe)."""
        vals = np.asarray(self.compliance, float)
        return float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")


def find_scenarios(extra: str | None = None, folder: str | Path = "experiments"
                   ) -> dict[str, str | None]:
    """Scenario choices for the picker: label → file (``None`` = the built-in default).

    The file given on the command line comes first, then scenario files found in ``folder``
    (files that do not load as scenarios, such as experiment files, and files that are not
    regular files under the app's root folder are left out).
    """
    out: dict[str, str | None] = {}
    if extra:
        out[str(extra)] = str(extra)
    out[DEFAULT_LABEL] = None
    base = Path(folder)
    if base.is_dir():
        for path in sorted(base.glob("*.toml")):
            if str(path) in out:
                continue
            try:
                if not confine(path.absolute(), "scenario file").is_file():  # no pipes, links out
                    continue
                load_scenario(path)
            except (InputError, OSError, KeyError, TypeError, ValueError):
                continue
            out[str(path)] = str(path)
    return out


class ExplorerSession:
    """A scenario, the user's overrides, and the model built from them."""

    def __init__(self, scenario: Scenario, small: bool = True) -> None:
        self.lock = threading.RLock()
        self.base = scenario
        self.strategy = scenario.strategies[0].name
        self.parameters: dict[str, Any] = dict(scenario.parameters)
        self.small = small and not scenario.network["file"]
        self.structure: dict[str, Any] = self._default_structure()
        self.weeks = scenario.weeks
        self.seed = scenario.seed
        self.model: ImplementationModel
        self.version = 0  # changes whenever the model does (the page redraws on it)
        self._sample: NetworkSample | None = None
        self.rebuild()

    # --- configuration -------------------------------------------------------------------------
    @property
    def generated(self) -> bool:
        """Whether the scenario generates its catchment (so its size can be changed)."""
        return not self.base.network["file"]

    def _default_structure(self) -> dict[str, Any]:
        own = dict(self.base.structure)
        if not self.small:
            return own
        return own | {k: min(v, own[k]) if k != "hospital_trusts" else v
                      for k, v in SMALL_STRUCTURE.items()}

    def set_small(self, small: bool) -> None:
        """Switch between the small default catchment and the scenario's own size."""
        if not self.generated:
            raise InputError("size", "this scenario loads its network from a file; its size "
                             "is the file's")
        self.small = small
        self.structure = self._default_structure()
        self.rebuild()

    def set_strategy(self, name: str) -> None:
        """Choose one of the scenario's strategies (rebuilds the model at week 0)."""
        names = [s.name for s in self.base.strategies]
        if name not in names:
            raise InputError("strategy", f"no strategy {name!r}; have {', '.join(names)}")
        self.strategy = name
        self.rebuild()

    def set_parameter(self, name: str, value: Any) -> None:
        """Change one behaviour parameter (validated by its declaration; rebuilds)."""
        sc = self._try({"parameters": self.parameters | {name: value}})
        self.parameters = dict(sc.parameters)
        self.rebuild()

    def set_structure(self, name: str, value: Any) -> None:
        """Change one structure parameter (validated by its declaration; rebuilds)."""
        if not self.generated:
            raise InputError(name, "this scenario loads its network from a file")
        sc = self._try({"structure": self.structure | {name: value}})
        self.structure = dict(sc.structure)
        self.rebuild()

    def set_weeks(self, weeks: Any) -> None:
        """Change the horizon (validated like a scenario file's ``weeks``; rebuilds)."""
        self.weeks = TOP["weeks"].validate(weeks, "weeks")
        self.rebuild()

    def set_seed(self, seed: Any) -> None:
        """Change the run seed (validated like a scenario file's ``seed``; rebuilds)."""
        self.seed = TOP["seed"].validate(seed, "seed")
        self.rebuild()

    def _try(self, sections: dict[str, dict[str, Any]]) -> Scenario:
        """The scenario with these overrides, or the InputError the declarations raise."""
        merged = {"parameters": self.parameters}
        if self.generated:
            merged["structure"] = self.structure
        merged |= sections
        sc = self.base.with_overrides(**merged)
        return dataclasses.replace(sc, weeks=self.weeks)

    @property
    def scenario(self) -> Scenario:
        """The base scenario with the session's overrides applied."""
        return self._try({})

    def rebuild(self) -> None:
        """Build a fresh model at week 0 from the current choices."""
        scenario = self.scenario
        with self.lock:
            self.model = ImplementationModel(scenario, self.strategy, self.seed)
            self._sample = None
            self.version = next(_VERSIONS)

    # --- stepping ------------------------------------------------------------------------------
    @property
    def week(self) -> int:
        """Weeks simulated so far."""
        return self.model.week

    @property
    def finished(self) -> bool:
        """Whether the horizon is reached (the recorder holds no later weeks)."""
        return self.model.week >= self.model.scenario.weeks

    def step(self, weeks: int = 1) -> int:
        """Advance up to ``weeks`` weeks (never past the horizon); returns weeks stepped."""
        done = 0
        with self.lock:
            while done < weeks and not self.finished:
                self.model.step()
                done += 1
            if done:
                self.version = next(_VERSIONS)
        return done

    # --- read-outs -----------------------------------------------------------------------------
    def readout(self) -> Readout:
        """Compliance and adoption per bundle now, cost and harm averted so far."""
        with self.lock:
            m = self.model
            weeks, series = self.series()
            comp = series["compliance"][-1] if len(weeks) else np.full(len(m.world.bundles),
                                                                       np.nan)
            adop = series["adoption"][-1] if len(weeks) else np.zeros(len(m.world.bundles))
            return Readout(
                week=m.week, weeks=m.scenario.weeks, bundles=tuple(m.scenario.bundle_names),
                compliance=tuple(float(v) for v in comp),
                adoption=tuple(float(v) for v in adop),
                cost=float(m.cost.sum()), harm_averted=float(m.harm_averted.sum()),
                n_staff=m.pop.n_staff, n_units=m.pop.n_units)

    def series(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Recorded weeks up to now and the (T, B) whole-system series of each metric."""
        with self.lock:
            m = self.model
            rec = m.recorder
            weeks = np.asarray(rec.weeks)
            keep = weeks <= m.week
            full = rec.system_series(m.world.eligible_per_unit,
                                     m.par["penetration_threshold"])
            return weeks[keep], {k: v[keep] for k, v in full.items()}

    def unit_names(self) -> list[str]:
        """Names of the model's units (for the SPC unit picker)."""
        return list(self.model.pop.unit_name)

    def default_spc_units(self, n: int = 2) -> list[str]:
        """A first hospital ward and a first municipal unit: a useful pair to compare."""
        names = self.unit_names()
        picks = [next((u for u in names if "ward" in u), None),
                 next((u for u in names if "nursing home" in u), None)]
        chosen = [u for u in picks if u][:n]
        return chosen or names[:n]

    def spc_chart(self, unit: str, bundle: str) -> PChart | None:
        """The p-chart of a unit's audited compliance so far (None: the bundle does not apply).

        The one audit of :mod:`sim.outcomes.audit` under the ``[measurement]`` settings, charted
        as ``implsim run --spc-units`` does, so the chart of a finished run matches the command's.
        """
        with self.lock:
            m = self.model
            names = m.pop.unit_name
            if unit not in names:
                raise InputError("SPC unit", f"no unit named {unit!r}")
            if bundle not in m.scenario.bundle_names:
                raise InputError("SPC bundle", f"no bundle named {bundle!r}")
            rec = m.recorder
            weeks = [w for w in rec.weeks if w <= m.week]
            b = m.scenario.bundle_names.index(bundle)
            obs = audit.audits(rec.compliance[: len(weeks), :, [b]], weeks, [names.index(unit)],
                               names, [bundle], audit.AuditSpec.of(m.scenario.measurement),
                               m.seed)
        if obs.empty:
            return None
        ms = audit.settings(m.scenario.measurement)
        return chart(obs["compliant"], obs["audited"], ms["audit_baseline_periods"],
                     ChartSpec.from_measurement(ms),
                     known_centre=float(obs["true_compliance"].iloc[0]),
                     periods=obs["week"].to_numpy())

    def network(self, max_nodes: int = 300) -> tuple[NetworkSample, np.ndarray, np.ndarray]:
        """A sample of at most ``max_nodes`` staff, its ties now, and its stages (n, B)."""
        with self.lock:
            m = self.model
            if self._sample is None or self._sample.max_nodes != max_nodes:
                self._sample = sample_network(m.adjacency, m.pop.staff_unit, max_nodes,
                                              stream(m.seed, "ui:network-sample"))
            edges = self._sample.edges(m.adjacency)  # ties added during the run included
            return self._sample, edges, m.state.stage[self._sample.nodes].copy()

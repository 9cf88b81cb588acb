"""What every support intervention has: a schedule, a target, the bundles it supports and a cost.

An intervention is a small class registered by its ``type`` name (:mod:`sim.interventions`);
a scenario declares it as ``{type = "training", start_week = 4, ...}``. Its own parameters are
declared in ``PARAMS`` next to the common ones below, so the same declarations validate files
and generate the documentation. Weeks are numbered from 1; an intervention runs from
``start_week`` to ``end_week`` inclusive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sim.errors import InputError
from sim.interventions.targeting import Target, parse_target, resolve_units
from sim.params import P, ParamSet

if TYPE_CHECKING:
    from sim.model import ImplementationModel

COMMON = ParamSet(
    "intervention",
    "Keys every intervention accepts.",
    (
        P("name", "", "Label in outputs (default: the type name)."),
        P("start_week", 1, "First week the intervention runs.", unit="week", low=1, high=10000),
        P("end_week", 52, "Last week the intervention runs (inclusive).", unit="week", low=1,
          high=10000),
        P("bundles", [], "Bundles it supports (default: all bundles of the scenario)."),
    ),
)


class Intervention:
    """Base class: parses the common keys; subclasses declare ``PARAMS`` and ``apply``."""

    type_name: ClassVar[str] = ""
    PARAMS: ClassVar[ParamSet]

    def __init__(self, spec: dict[str, Any], where: str, bundle_names: list[str]) -> None:
        spec = dict(spec)
        spec.pop("type", None)
        target_raw = spec.pop("target", "all")
        own = {k: spec.pop(k) for k in list(spec) if k in self.PARAMS.names()}
        try:
            common = COMMON.resolve(spec, where)
        except InputError as exc:
            if "unknown key" in exc.message:
                known = sorted([*COMMON.names(), *self.PARAMS.names(), "target", "type"])
                raise InputError(exc.where, f"unknown key for {self.type_name!r}; known keys "
                                 f"are: {', '.join(known)}") from None
            raise
        self.pars = self.PARAMS.resolve(own, where)
        self.name: str = common["name"] or self.type_name
        self.start_week: int = common["start_week"]
        self.end_week: int = common["end_week"]
        if self.end_week < self.start_week:
            raise InputError(f"{where}.end_week", f"must be ≥ start_week ({self.start_week}), "
                             f"got {self.end_week}")
        unknown = [b for b in common["bundles"] if b not in bundle_names]
        if unknown:
            raise InputError(f"{where}.bundles", f"bundle {unknown[0]!r} is not in this "
                             f"scenario; scenario bundles: {', '.join(bundle_names)}")
        self.bundle_names = common["bundles"] or list(bundle_names)
        self.bundle_idx = np.array([bundle_names.index(b) for b in self.bundle_names], np.intp)
        self.target: Target = parse_target(target_raw, f"{where}.target")
        self.where = where
        self.units = np.zeros(0, bool)

    def setup(self, model: ImplementationModel) -> None:
        """Resolve the target once per run, from this intervention's own random stream."""
        rng = model.stream(f"intervention:{self.name}:target")
        self.units = resolve_units(self.target, model.pop, model.unit_degree, rng,
                                   f"{self.where}.target")
        self.staff = self.units[model.pop.staff_unit]

    def active(self, week: int) -> bool:
        """Whether the intervention runs in ``week``."""
        return self.start_week <= week <= self.end_week

    def bundles_now(self, model: ImplementationModel) -> np.ndarray:
        """Indices of the supported bundles that the strategy has launched by now."""
        return self.bundle_idx[model.launched[self.bundle_idx]]

    def give_support(self, model: ImplementationModel, units: np.ndarray, *,
                     support: float = 0.0, boost: float = 0.0, context: float = 0.0,
                     awareness: float = 0.0, cost: float = 0.0) -> None:
        """Give ``units`` this week's help for every launched supported bundle.

        ``support`` (0–1) protects fidelity and keeps users (the strongest source counts, not the
        sum); ``boost`` adds to the log-hazard of trying; ``context`` adds to the log context
        (trying and keeping); ``awareness`` is a weekly chance of telling unaware staff (channels
        combine as independent chances); ``cost`` is split evenly over the bundles helped.
        Nothing is spent before a supported bundle is launched.
        """
        bundles = self.bundles_now(model)
        if len(bundles) == 0:
            return
        levers = model.levers
        for b in bundles:
            if support:
                levers.give_support(units, b, support)
            if boost:
                levers.push(units, b, boost)
            if context:
                levers.add_context(units, b, context)
            if awareness:
                levers.tell(units, b, awareness)
        if cost:
            for b in bundles:
                model.add_cost(self.name, int(b), cost / len(bundles))

    def apply(self, model: ImplementationModel, week: int) -> None:
        """Act on the model in ``week`` (called every week; check :meth:`active`)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """The resolved declaration, for manifests (round-trips through a scenario file)."""
        return {"type": self.type_name, "name": self.name, "start_week": self.start_week,
                "end_week": self.end_week, "bundles": self.bundle_names,
                "target": self.target.describe(), **self.pars}

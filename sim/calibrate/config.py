"""Calibration files: what to fit, to which data, with which distance, priors and settings.

A calibration file is TOML (see ``calibration/*.toml``)::

    name = "medical_innovation"
    scenario = "../experiments/medical_innovation.toml"   # relative to this file
    strategy = "no extra support"  # the strategy whose output is compared (default: the first)
    seed = 1966                    # the one seed every random draw of the calibration comes from

    [fixed.parameters]             # scenario changes that are not fitted
    p_abandon = 0.0

    [data.doctors]                 # observed data, by name (formats: sim.calibrate.observed)
    format = "adoption_times"      # or "aggregate" with file = "counts.csv"
    nodes = "../sim/networks/data/medical_innovation/doctors.csv"
    edges = "../sim/networks/data/medical_innovation/nominations.csv"
    id_column = "doctor"
    time_column = "adoption_month"
    periods = 17

    [[targets]]                    # data ↔ model output (sim.calibrate.targets)
    data = "doctors"
    output = "adoption"            # adoption | compliance | fidelity | penetration
    level = "system"               # unit | kind | system (default: from the groups)
    distance = "rmse"              # binomial | beta_binomial | rmse | mae | max
    weeks_per_period = 4.348       # one month
    period_name = "month"          # for plot labels

    [[fit]]                        # fitted parameters and priors (sim.calibrate.priors)
    name = "p_innovation"          # = "parameters.p_innovation"; or "interventions.NAME.x"
    prior = "loguniform"           # uniform | loguniform | normal (with mean, sd)
    low = 0.0005                   # default: the declared plausible range, else the allowed one
    high = 0.2

    [abc]                          # method settings (sim.calibrate.abc)
    population = 300
    generations = 8

    [ppc]
    draws = 200                    # posterior predictive simulations

Every field is checked when the file is loaded, and errors name the file, the field and what is
allowed. The *fingerprint* covers everything that changes the sampled particles or the stores
(scenario, data, targets, priors, population, quantile, chunk size, seed) but not when to stop
(``generations``, ``min_epsilon``, ``min_acceptance``, ``max_simulations``), so a finished
calibration can be continued with more generations in the same output directory.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibrate.abc import ABCSettings
from sim.calibrate.observed import ObservedSeries, read_adoption_times, read_aggregate
from sim.calibrate.priors import PRIOR_KINDS, Prior
from sim.calibrate.targets import DISTANCES, LEVELS, OUTPUTS, Target
from sim.errors import InputError
from sim.factors import apply_point, declaration, interventions, parse_key
from sim.params import ORG_KINDS, P, ParamSet
from sim.scenario import DEFAULT_SCENARIO, Scenario, load_scenario
from sim.simulate import preflight
from sim.tomlfile import read_toml

__all__ = ["Calibration", "calibration_from_dict", "load_calibration"]

TOP = ParamSet("calibration", "Top-level keys of a calibration file.", (
    P("name", "calibration", "Short name shown in outputs."),
    P("description", "", "What is fitted to what."),
    P("scenario", "", "The scenario file to calibrate (relative to the calibration file), or "
      "'default'."),
    P("strategy", "", "Strategy whose output is compared with the data (default: the "
      "scenario's first)."),
    P("seed", 1, "Root seed of the calibration.", low=0, high=2**63 - 1),
))
ABC = ParamSet("abc", "ABC-SMC settings.", (
    P("population", 200, "Particles per generation.", low=5, high=1_000_000),
    P("generations", 8, "Most generations (stopping rule; may be raised to continue).",
      low=1, high=1000),
    P("quantile", 0.5, "Tolerance of a generation = this weighted quantile of the previous "
      "generation's distances.", low=0.01, high=0.99),
    P("min_epsilon", 0.0, "Stop once the tolerance is at or below this.", low=-1e300,
      high=1e300),
    P("min_acceptance", 0.02, "Stop after a generation whose acceptance rate is below this.",
      low=0.0, high=1.0),
    P("max_simulations", 100_000, "Simulation budget over all generations.", low=1,
      high=10**12),
    P("chunk_size", 0, "Simulations per engine task (0 = min(25, ceil(batch / 8))): each task "
      "writes its results to disk once.", low=0, high=100_000),
    P("keep_simulations", False, "Keep every generation's simulation store (default: deleted "
      "once the generation is finished and saved)."),
))
PPC = ParamSet("ppc", "Posterior predictive check.", (
    P("draws", 200, "Simulations from posterior draws.", low=1, high=1_000_000),
))
TARGET = ParamSet("targets", "One target.", (
    P("name", "", "Label (default: the data's name)."),
    P("data", "", "Name of a [data.NAME] table."),
    P("output", "", "Model output compared (default: adoption for adoption times, "
      "compliance for aggregate series).", choices=("", *OUTPUTS)),
    P("level", "", "Level whose entities the groups name (default: system for 'all', kind "
      "for organisation kinds, else unit).", choices=("", *LEVELS)),
    P("distance", "", "Likelihood-based distance or curve distance (default: binomial for "
      "aggregate series, rmse for adoption times).", choices=("", *DISTANCES)),
    P("rho", 0.05, "Intra-class correlation of the beta-binomial.", low=1e-6, high=0.999),
    P("weight", 1.0, "Weight of this target in the total distance.", low=1e-12, high=1e12),
    P("weeks_per_period", 1.0, "Model weeks per observed period (4.348 for months).",
      low=1e-6, high=1e6),
    P("week_offset", 0.0, "Model week of period 0.", low=-1e6, high=1e6),
    P("period_name", "period", "What a period is, for plot labels (e.g. 'month')."),
))
DATA = {
    "aggregate": ParamSet("data", "Aggregate series.", (
        P("format", "aggregate", "Data format."),
        P("file", "", "CSV with period, group, bundle, numerator, denominator."),
    )),
    "adoption_times": ParamSet("data", "Individual adoption times with a network.", (
        P("format", "adoption_times", "Data format."),
        P("nodes", "", "CSV node table with an id and an adoption-period column."),
        P("edges", "", "CSV edge list (source, target[, relation, weight]) of the same people."),
        P("id_column", "id", "Id column of the node table."),
        P("time_column", "adoption_time", "Adoption period column (empty = not adopted)."),
        P("group_column", "", "Optional column grouping people (e.g. a unit)."),
        P("periods", 1, "Observed periods 1..periods.", low=1, high=100_000),
        P("bundle", "", "The bundle adopted (default: the scenario's only bundle)."),
    )),
}
FIT = ParamSet("fit", "One fitted parameter.", (
    P("name", "", "Parameter: NAME (= parameters.NAME), section.NAME, or "
      "interventions.INTERVENTION.NAME."),
    P("prior", "uniform", "Prior.", choices=PRIOR_KINDS),
    P("low", math.nan, "Lower bound (default: declared).", low=-1e300, high=1e300),
    P("high", math.nan, "Upper bound (default: declared).", low=-1e300, high=1e300),
    P("mean", math.nan, "Mean of a normal prior.", low=-1e300, high=1e300),
    P("sd", math.nan, "Standard deviation of a normal prior.", low=0.0, high=1e300),
    P("true", math.nan, "Known true value (synthetic data): reported and plotted only.",
      low=-1e300, high=1e300),
))
_TABLES = ("fixed", "data", "targets", "fit", "abc", "ppc")  # besides TOP


@dataclass
class Calibration:
    """A validated calibration: scenario, data-bound targets, priors and method settings."""

    name: str
    description: str
    path: str
    scenario_path: Path
    scenario: Scenario  # the scenario with the fixed values applied
    strategy: str
    seed: int
    fixed: dict[str, Any]
    priors: list[Prior]
    targets: list[Target]
    settings: ABCSettings
    keep_simulations: bool
    ppc_draws: int
    chunk_size: int = 0
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Names of the fitted parameters (design-point keys)."""
        return [p.name for p in self.priors]

    @property
    def timeseries_level(self) -> str:
        """The finest level any target needs (what the experiment store keeps)."""
        order = ("system", "kind", "unit")
        return max((t.level for t in self.targets), key=order.index)

    def distances(self, timeseries: pd.DataFrame, n_points: int) -> np.ndarray:
        """(n_points,) weighted sum of every target's distance."""
        total = np.zeros(n_points)
        for t in self.targets:
            total += t.weight * t.distances(t.simulated(timeseries, n_points))
        return total

    def fingerprint(self) -> str:
        """Hash of everything that changes the particles sampled (not the stopping rules)."""
        resolved = self.scenario.resolved()
        resolved.pop("source", None)
        data = {
            "scenario": resolved, "strategy": self.strategy, "seed": self.seed,
            "fixed": self.fixed,
            "priors": [[p.name, p.kind, p.low, p.high, p.mean, p.sd] for p in self.priors],
            "targets": [[t.name, t.data.digest, t.output, t.level, t.distance, t.rho, t.weight,
                         t.weeks_per_period, t.week_offset] for t in self.targets],
            "population": self.settings.population, "quantile": self.settings.quantile,
            "chunk_size": self.chunk_size,
        }
        text = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _flatten(table: Any, where: str, prefix: str = "") -> dict[str, Any]:
    """``{"parameters": {"x": 1}}`` → ``{"parameters.x": 1}`` (quoted dotted keys pass)."""
    if not isinstance(table, dict):
        raise InputError(where, "must be a table such as [fixed.parameters]")
    out: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{where}.{key}", f"{full}."))
        else:
            out[full] = value
    return out


def _factor_name(name: str, where: str) -> str:
    """Normalise a parameter name to a factor key (``p`` → ``parameters.p``)."""
    key = name if "." in name else f"parameters.{name}"
    return parse_key(key, where, also=", or NAME for parameters.NAME").key


def _prior(raw: Any, where: str, scenario: Scenario, fixed: dict[str, Any]) -> Prior:
    table = FIT.resolve(raw, where)
    if not table["name"]:
        raise InputError(f"{where}.name", "missing; name the parameter to fit, e.g. "
                         "name = \"p_innovation\"")
    key = _factor_name(table["name"], f"{where}.name")
    if key in fixed:
        raise InputError(f"{where}.name", f"{key} is also in [fixed]; fit it or fix it")
    param, _ = declaration(parse_key(key, f"{where}.name"), interventions(scenario),
                           f"{where}.name")
    if param.kind != "float":
        raise InputError(f"{where}.name", f"{key} is {param.kind!r}, not a real number; "
                         "ABC-SMC's Gaussian kernel fits real-valued parameters only (fix it "
                         "in [fixed], or compare values as separate calibrations)")
    low, high = table["low"], table["high"]
    lo_p, hi_p = param.plausible_range()  # the default prior range: plausible, else validity
    if math.isnan(low):
        if lo_p is None:
            raise InputError(f"{where}.low", f"{key} has no declared range; give low and high")
        low = float(lo_p)
    if math.isnan(high):
        if hi_p is None:
            raise InputError(f"{where}.high", f"{key} has no declared range; give low and high")
        high = float(hi_p)
    for bound, value in (("low", low), ("high", high)):
        try:  # the scenario must accept both ends of the prior
            apply_point(scenario, {key: value}, f"{where}.{bound}")
        except InputError as exc:
            raise InputError(f"{where}.{bound}", f"{value:g} is outside what {key} allows: "
                             f"{exc.message}") from None
    try:
        return Prior(key, table["prior"], low, high, table["mean"], table["sd"],
                     None if math.isnan(table["true"]) else table["true"])
    except InputError as exc:
        raise InputError(f"{where}", exc.message) from None


def _read_data(name: str, raw: Any, where: str, base_dir: Path,
               scenario: Scenario) -> ObservedSeries:
    if not isinstance(raw, dict):
        raise InputError(where, "must be a table with format = \"aggregate\" or "
                         "\"adoption_times\"")
    fmt = raw.get("format", "aggregate")
    if not isinstance(fmt, str) or fmt not in DATA:  # a list or table is not a format
        raise InputError(f"{where}.format", f"must be one of {', '.join(DATA)}, got {fmt!r}")
    table = DATA[fmt].resolve(raw, where)

    def path(key: str) -> Path:
        if not table[key]:
            raise InputError(f"{where}.{key}", "missing: give the file (relative to the "
                             "calibration file)")
        p = Path(table[key])
        p = p if p.is_absolute() else base_dir / p
        if not p.exists():  # name this file and field, not only the missing one
            raise InputError(f"{where}.{key}", f"file not found: {str(p)!r} (relative paths "
                             "are relative to the calibration file)")
        return p

    if fmt == "aggregate":
        return read_aggregate(path("file"))
    bundle = table["bundle"]
    if not bundle:
        if len(scenario.bundles) != 1:
            raise InputError(f"{where}.bundle", "the scenario has several bundles; name the "
                             f"one adopted ({', '.join(scenario.bundle_names)})")
        bundle = scenario.bundle_names[0]
    return read_adoption_times(path("nodes"), path("edges") if table["edges"] else None,
                               id_column=table["id_column"], time_column=table["time_column"],
                               periods=table["periods"], bundle=bundle,
                               group_column=table["group_column"])


def _target(raw: Any, where: str, data: dict[str, ObservedSeries]) -> Target:
    table = TARGET.resolve(raw, where)
    name = table["data"]
    if name not in data:
        raise InputError(f"{where}.data", f"no [data.{name}] table; data tables: "
                         f"{', '.join(data) or 'none'}")
    series = data[name]
    times = series.format == "adoption_times"
    level = table["level"]
    if not level:
        groups = set(series.table["group"])
        level = ("system" if groups == {"all"} else
                 "kind" if groups <= set(ORG_KINDS) else "unit")
    return Target(
        name=table["name"] or name, data=series,
        output=table["output"] or ("adoption" if times else "compliance"), level=level,
        distance=table["distance"] or ("rmse" if times else "binomial"), rho=table["rho"],
        weight=table["weight"], weeks_per_period=table["weeks_per_period"],
        week_offset=table["week_offset"], period_name=table["period_name"])


def calibration_from_dict(data: dict[str, Any], path: str, base_dir: Path) -> Calibration:
    """Validate a parsed calibration file, load its data and bind the targets to the model."""
    top = TOP.resolve(data, f"{path}:", tables=_TABLES)
    if not top["scenario"]:
        raise InputError(f"{path}: scenario", "missing: name the scenario file to calibrate")
    if top["scenario"] == "default":
        scenario_path = DEFAULT_SCENARIO
    else:
        scenario_path = Path(top["scenario"])
        scenario_path = (scenario_path if scenario_path.is_absolute()
                         else base_dir / scenario_path).resolve()
        if not scenario_path.exists():  # a directory or pipe: read_toml says
            raise InputError(f"{path}: scenario", f"scenario file {str(scenario_path)!r} not "
                             "found (relative paths are relative to the calibration file)")
    base = load_scenario(scenario_path)
    strategies = [s.name for s in base.strategies]
    strategy = top["strategy"] or strategies[0]
    if strategy not in strategies:
        raise InputError(f"{path}: strategy", f"no strategy {strategy!r} in the scenario; it "
                         f"has: {', '.join(strategies)}")
    base = copy.deepcopy(base)
    base.strategies = [s for s in base.strategies if s.name == strategy]

    fixed = _flatten(data.get("fixed", {}), f"{path}: fixed")
    for key in list(fixed):
        fixed[_factor_name(key, f"{path}: fixed")] = fixed.pop(key)
    scenario = apply_point(base, fixed, f"{path}: fixed")

    raw_fit = data.get("fit")
    if not isinstance(raw_fit, list) or not raw_fit:
        raise InputError(f"{path}: fit", "needs at least one [[fit]] table naming a parameter")
    priors = [_prior(raw, f"{path}: fit[{i}]", scenario, fixed) for i, raw in enumerate(raw_fit)]
    names = [p.name for p in priors]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise InputError(f"{path}: fit", f"{dup} is fitted twice")

    raw_data = data.get("data")
    if not isinstance(raw_data, dict) or not raw_data:
        raise InputError(f"{path}: data", "needs at least one [data.NAME] table")
    series = {name: _read_data(name, raw, f"{path}: data.{name}", base_dir, scenario)
              for name, raw in raw_data.items()}
    raw_targets = data.get("targets")
    if not isinstance(raw_targets, list) or not raw_targets:
        raise InputError(f"{path}: targets", "needs at least one [[targets]] table")
    targets = [_target(raw, f"{path}: targets[{i}]", series)
               for i, raw in enumerate(raw_targets)]
    for i, t in enumerate(targets):  # what the runs record, before a world is built
        t.check_recorded(scenario, f"{path}: targets[{i}]")
    world = preflight(scenario)
    for i, t in enumerate(targets):
        t.bind(scenario, world, f"{path}: targets[{i}]")

    abc = ABC.resolve(data.get("abc", {}), f"{path}: abc")
    ppc = PPC.resolve(data.get("ppc", {}), f"{path}: ppc")
    settings = ABCSettings(population=abc["population"], generations=abc["generations"],
                           quantile=abc["quantile"], min_epsilon=abc["min_epsilon"],
                           min_acceptance=abc["min_acceptance"],
                           max_simulations=abc["max_simulations"])
    return Calibration(top["name"], top["description"], path, scenario_path, scenario, strategy,
                       top["seed"], fixed, priors, targets, settings, abc["keep_simulations"],
                       ppc["draws"], abc["chunk_size"], data)


def load_calibration(path: str | Path) -> Calibration:
    """Load and validate a calibration file."""
    file = Path(path)
    data = read_toml(file, "calibration", str(path))
    return calibration_from_dict(data, str(path), file.parent.resolve())

"""Experiment files: a base scenario, named arms, an optional parameter design, replicates.

An experiment is the list of *runs* it implies — arm × design point × replicate — each with its
own seed. With common random numbers (the default) replicate *k* of every arm and point uses the
same run seed, and since every component draws from its own named stream, arms are compared on
the same people, ties and chance events: paired comparisons. File format::

    name = "compare_support"
    scenario = "default"          # the built-in default, or a scenario file (relative path)
    replicates = 20
    seed = 4242
    common_random_numbers = true
    timeseries = "system"         # "none", "system", "kind" or "unit": what the store keeps
    baseline = "no extra support" # the comparator: arm the incremental outcomes are against

    [overrides.parameters]        # changes to the base scenario for every arm
    turnover_annual = 0.2

    [[arms]]
    name = "no extra support"     # interventions = [] : a strategy written here ...
    [[arms]]
    name = "training + facilitation"
    strategy = "training + facilitation"   # ... or a strategy of the base scenario by name
    [arms.overrides.parameters]   # per-arm changes
    p_abandon = 0.005

    [design]                      # optional: a parameter design crossed with the arms
    type = "grid"                 # "grid" (all combinations), "list" (points), "file" (CSV)
    [design.factors]
    "parameters.turnover_annual" = [0.1, 0.3]
    "network.cross_boundary_degree" = [0.1, 0.5]

    [contrast]                    # optional: treatment minus control across the design
    treatment = "training + facilitation"  # (sim.experiment.contrast; implsim report draws it)
    control = "no extra support"
"""

from __future__ import annotations

import copy
import hashlib
import io
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim import checks, preflight
from sim.errors import InputError
from sim.experiment.contrast import parse_contrast
from sim.factors import SECTIONS as FACTOR_SECTIONS
from sim.factors import apply_point, parse_key
from sim.inputfile import read_bytes
from sim.params import P, ParamSet
from sim.rng import child_seed, replicate_seeds
from sim.scenario import Scenario, load_scenario, parse_strategy
from sim.tomlfile import read_toml

TIMESERIES_LEVELS = ("none", "system", "kind", "trust", "municipality", "organisation", "unit")
SECTIONS = tuple(FACTOR_SECTIONS)  # what [overrides] may change

TOP = ParamSet("experiment", "Top-level keys of an experiment file.", (
    P("name", "experiment", "Short name shown in outputs."),
    P("description", "", "What the experiment is for."),
    P("scenario", "default", "Base scenario: 'default' or a scenario file path (relative to "
      "the experiment file)."),
    P("replicates", 10, "Replicates per arm and design point.", low=1, high=1_000_000),
    P("seed", 1, "Root seed of the experiment.", low=0, high=2**63 - 1),
    P("common_random_numbers", True, "Replicate k of every arm and point uses the same seed "
      "(paired comparisons)."),
    P("timeseries", "system", "Finest time-series level kept in the store (with every coarser "
      "one: system < kind < trust < municipality < organisation < unit).",
      choices=TIMESERIES_LEVELS),
    P("baseline", "", "The comparator: arm the incremental outcomes and the dashboard's "
      "differences are taken against (default: the first)."),
    P("chunk_size", 0, "Runs per task (0 = chosen from the number of runs).", low=0,
      high=100_000),
    P("weeks", 0, "Weeks to simulate (0 = the base scenario's).", unit="weeks", low=0,
      high=5200),
))
_TABLES = ("overrides", "arms", "design", "contrast")  # top-level keys besides TOP


@dataclass(frozen=True)
class Run:
    """One simulation: arm × design point × replicate, with its seed."""

    run_id: int
    arm: int
    point: int
    replicate: int
    seed: int


@dataclass
class Experiment:
    """A validated experiment: arm scenarios, design points and the runs they imply."""

    name: str
    description: str
    path: str
    settings: dict[str, Any]
    base: Scenario
    arms: list[Scenario]  # one single-strategy scenario per arm (design overrides not applied)
    arm_names: list[str]
    points: list[dict[str, Any]]  # design points: {"section.param": value}
    raw: dict[str, Any] = field(default_factory=dict)
    contrast: dict[str, Any] | None = None  # [contrast]: sim.experiment.contrast
    warnings: list[checks.Finding] = field(default_factory=list)  # sim.checks, for the commands
    estimate: str = ""  # runs, work and memory (sim.preflight)

    @property
    def replicates(self) -> int:
        """Replicates per arm and point."""
        return self.settings["replicates"]

    def runs(self) -> list[Run]:
        """Every run, in a fixed order (arm, point, replicate)."""
        root = self.settings["seed"]
        crn = self.settings["common_random_numbers"]
        shared = replicate_seeds(root, self.replicates) if crn else None
        out = []
        for a, p, r in itertools.product(range(len(self.arms)), range(len(self.points)),
                                         range(self.replicates)):
            if shared is not None:
                seed = shared[r]
            else:  # independent streams for every arm and point
                seed = child_seed(root, a, p, r, "independent")
            out.append(Run(len(out), a, p, r, seed))
        return out

    def scenario_for(self, run: Run) -> Scenario:
        """The arm's scenario with the run's design point applied."""
        return apply_point(self.arms[run.arm], self.points[run.point],
                           f"{self.path}: design point {run.point}")

    def resolved(self) -> dict[str, Any]:
        """The experiment as plain data, every default filled in (for the store manifest)."""
        return {
            "name": self.name, "description": self.description, "source": self.path,
            **self.settings,
            "arms": [{"name": n, "scenario": a.resolved()}
                     for n, a in zip(self.arm_names, self.arms, strict=True)],
            "design_points": self.points,
            # only when given: the fingerprints of experiments without one stay as they were
            **({"contrast": self.contrast} if self.contrast is not None else {}),
        }

    def fingerprint(self) -> str:
        """Hash of the resolved experiment: a store refuses to resume a changed experiment."""
        text = json.dumps(self.resolved(), sort_keys=True, default=str)
        text = text.replace(json.dumps(self.path), '""')  # moving the file is not a change
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _overrides(raw: Any, where: str) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InputError(where, "must be a table of [overrides.<section>] tables")
    for section, table in raw.items():
        if section not in SECTIONS:
            raise InputError(f"{where}.{section}", f"unknown section; known: "
                             f"{', '.join(SECTIONS)}")
        if not isinstance(table, dict):
            raise InputError(f"{where}.{section}", "must be a table of parameter values")
    return raw


def _overridden(scenario: Scenario, overrides: dict[str, dict[str, Any]],
                where: str) -> Scenario:
    """``scenario.with_overrides`` whose errors name this file's overrides, not the scenario.

    Why: the scenario file is fine; the override written here is not.
    """
    try:
        return scenario.with_overrides(**overrides)
    except InputError as exc:
        prefix = f"{scenario.path}: "
        at = f"{where}.{exc.where[len(prefix):]}" if exc.where.startswith(prefix) \
            else f"{where}: {exc.where}"
        raise InputError(at, exc.message) from None


def _factor_key(key: Any, where: str) -> str:
    return parse_key(key, where).key


def design_points(raw: Any, where: str, base_dir: Path) -> list[dict[str, Any]]:
    """Design points from a ``[design]`` table (one empty point when there is none)."""
    if raw is None:
        return [{}]
    if not isinstance(raw, dict):
        raise InputError(where, "must be a table with type = \"grid\" | \"list\" | \"file\"")
    kind = raw.get("type")
    known = {"grid": {"type", "factors"}, "list": {"type", "points"},
             "file": {"type", "path"}}
    if not isinstance(kind, str) or kind not in known:
        raise InputError(f"{where}.type", f"must be one of grid, list, file; got {kind!r}")
    extra = set(raw) - known[kind]
    if extra:
        raise InputError(f"{where}.{sorted(extra)[0]}", f"unknown key for a {kind} design; "
                         f"known: {', '.join(sorted(known[kind]))}")
    if kind == "grid":
        factors = raw.get("factors")
        if not isinstance(factors, dict) or not factors:
            raise InputError(f"{where}.factors", "must be a table of factor = [values]")
        keys = [_factor_key(k, f"{where}.factors") for k in factors]
        for k in keys:
            if not isinstance(factors[k], list) or not factors[k]:
                raise InputError(f"{where}.factors.{k}", "must be a non-empty list of values")
        preflight.check_runs(math.prod(len(factors[k]) for k in keys), f"{where}.factors",
                             "design points")  # before the product is made
        return [dict(zip(keys, combo, strict=True))
                for combo in itertools.product(*(factors[k] for k in keys))]
    if kind == "list":
        points = raw.get("points")
        if not isinstance(points, list) or not points or not all(isinstance(p, dict)
                                                                 for p in points):
            raise InputError(f"{where}.points", "must be a non-empty array of tables")
        for i, p in enumerate(points):
            for k in p:
                _factor_key(k, f"{where}.points[{i}]")
        return [dict(p) for p in points]
    path = raw.get("path")
    if not isinstance(path, str):
        raise InputError(f"{where}.path", "must be a CSV file path (columns = factor names)")
    file = Path(path) if Path(path).is_absolute() else base_dir / path
    if not file.exists():
        raise InputError(f"{where}.path", f"file {str(file)!r} not found") from None
    data = read_bytes(file, "design CSV", kind="csv")  # a regular file, size bounded
    try:
        table = pd.read_csv(io.BytesIO(data))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}.path", f"{file}: not a readable CSV ({exc})") from None
    for col in table.columns:
        _factor_key(col, f"{file}: column")
    if table.empty or table.isna().any().any():
        raise InputError(str(file), "the design file needs at least one row and no empty cells")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in table.to_dict(orient="records")]


def experiment_from_dict(data: dict[str, Any], path: str, base_dir: Path) -> Experiment:
    """Validate a parsed experiment table."""
    settings = TOP.resolve(data, f"{path}:", tables=_TABLES)
    ref = settings["scenario"]
    if ref == "default":
        base = load_scenario(None, semantic=False)
    else:
        scen_path = Path(ref) if Path(ref).is_absolute() else base_dir / ref
        if not scen_path.exists():  # a directory or pipe: read_toml says which
            raise InputError(f"{path}: scenario", f"scenario file {str(scen_path)!r} not found "
                             "(relative paths are relative to the experiment file)")
        base = load_scenario(scen_path, semantic=False)  # checked below, with the arms
    common = _overrides(data.get("overrides"), f"{path}: overrides")
    base = _overridden(base, common, f"{path}: overrides") if common else base
    if settings["weeks"]:
        base = copy.deepcopy(base)
        base.weeks = settings["weeks"]

    raw_arms = data.get("arms")
    if raw_arms is None:  # every strategy of the base scenario is an arm
        raw_arms = [{"name": s.name, "strategy": s.name} for s in base.strategies]
    if not isinstance(raw_arms, list) or not raw_arms:
        raise InputError(f"{path}: arms", "must be a non-empty array of [[arms]] tables")
    arms, names = [], []
    by_name = {s.name: s for s in base.strategies}
    for i, raw in enumerate(raw_arms):
        where = f"{path}: arms[{i}]"
        if not isinstance(raw, dict):
            raise InputError(where, "must be a table")
        raw = dict(raw)
        arm_over = _overrides(raw.pop("overrides", None), f"{where}.overrides")
        if "strategy" in raw:
            ref_name = raw.pop("strategy")
            unknown = set(raw) - {"name"}
            if unknown:
                raise InputError(f"{where}.{sorted(unknown)[0]}", "an arm that names a strategy "
                                 "takes only name, strategy and overrides")
            for key, value in (("strategy", ref_name), ("name", raw.get("name", ref_name))):
                if not isinstance(value, str) or not value:
                    raise InputError(f"{where}.{key}", f"must be a strategy name (a non-empty "
                                     f"string), got {value!r}")
            if ref_name not in by_name:
                raise InputError(f"{where}.strategy", f"no strategy {ref_name!r} in the base "
                                 f"scenario; it has: {', '.join(by_name)}")
            strategy = copy.deepcopy(by_name[ref_name])
            strategy.name = raw.get("name", ref_name)
        else:
            strategy = parse_strategy(raw, where, base.bundle_names)
        arm = copy.deepcopy(base)
        arm.strategies = [strategy]
        arm.comparator = ""  # an arm has one strategy; the experiment's baseline compares arms
        arm.build_interventions(strategy, where)  # validate now, naming this file and arm
        if arm_over:
            arm = _overridden(arm, arm_over, f"{where}.overrides")
        arms.append(arm)
        names.append(strategy.name)
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(f"{path}: arms", f"arm name {dup!r} is used twice")
    if settings["baseline"] and settings["baseline"] not in names:
        raise InputError(f"{path}: baseline", f"no arm named {settings['baseline']!r}; arms: "
                         f"{', '.join(names)}")
    points = design_points(data.get("design"), f"{path}: design", base_dir)
    for i, point in enumerate(points):  # validate every point against the declarations
        apply_point(arms[0], point, f"{path}: design point {i}")
    contrast = parse_contrast(data.get("contrast"), f"{path}: contrast", names,
                              base.bundle_names, points, base.weeks,
                              base.output["every_weeks"], settings["timeseries"])
    experiment = Experiment(settings["name"], settings["description"], path, settings, base,
                            arms, names, points, data, contrast)
    experiment.warnings = checks.refuse(checks.experiment_findings(experiment))
    experiment.estimate = _preflight(experiment)
    return experiment


def _preflight(experiment: Experiment) -> str:
    """Refuse a batch above the resource limits (sim.preflight); return its estimate."""
    from sim.experiment.execute import _LEVELS, auto_chunk_size

    store = _LEVELS[experiment.settings["timeseries"]]
    sizes = []
    for arm in experiment.arms:
        by_size: dict[tuple, int] = {}
        for point in experiment.points:
            sec = {name: dict(getattr(arm, name)) for name in ("structure", "network", "output")}
            for key, value in point.items():
                section, _, param = key.partition(".")
                if section in sec:
                    sec[section][param] = value
            if arm.network["file"] or sec["network"].get("file"):
                by_size[()] = by_size.get((), 0) + experiment.replicates
                continue
            levels = tuple(lv for lv in store if lv != "unit" or sec["output"]["unit_level"])
            sz = preflight.size(sec["structure"], sec["network"], sec["output"],
                                len(arm.bundles), arm.weeks, levels)
            by_size[(sz,)] = by_size.get((sz,), 0) + experiment.replicates
        sizes += [(key[0] if key else None, n) for key, n in by_size.items()]
    runs = sum(n for _, n in sizes)
    chunk = experiment.settings["chunk_size"] or auto_chunk_size(runs)
    return preflight.check_batch(sizes, chunk, f"{experiment.path}: replicates")


def load_experiment(path: str | Path) -> Experiment:
    """Load and validate an experiment file."""
    file = Path(path)
    data = read_toml(file, "experiment", str(path))
    return experiment_from_dict(data, str(path), file.parent.resolve())

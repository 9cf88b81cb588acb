"""Sensitivity-analysis files: factors, ranges and outputs, checked against the declarations.

An SA file names the factors to vary, the outputs to analyse, the method and the sample size.
A factor is any declared numeric parameter — ``parameters.x``, ``structure.x``, ``network.x``,
``patients.x`` — or a parameter of an intervention of the analysed arm,
``interventions.NAME.param`` (NAME is the intervention's ``name``, or its type when unnamed),
or ``dummy.NAME``: a factor that is sampled and analysed but never applied, so its indices
show what "no effect" looks like. Ranges default to the declared ``[low, high]`` of the parameter
(:mod:`sim.params`, an intervention's ``PARAMS``); a narrower range may be given, a wider one
is an error, as is a factor that does not exist. File format::

    name = "sa_small"
    scenario = "default"          # the built-in default, or a scenario file (relative path)
    strategy = "training + facilitation"   # the arm: a strategy of the scenario by name ...
    weeks = 104                   # run length (0 = the scenario's)
    method = "morris"             # morris | sobol | fast | pawn
    samples = 20                  # trajectories (morris), base samples N (sobol, a power of 2),
                                  # points per factor (fast), sample rows (pawn)
    replicates = 2                # runs per sample point; indices use the replicate means
    seed = 7                      # sampling, replicate seeds and bootstrap all come from it
    outputs = ["compliance", "sustainability_12m:antibiotic_stewardship"]

    [arm]                         # ... or an arm written here, like an experiment's [[arms]]
    name = "support"
      [[arm.interventions]]
      type = "training"

    [overrides.structure]         # fixed changes to the scenario (like an experiment)
    wards_per_trust = 4

    [options]                     # method options (e.g. num_levels for morris)

    [factors]
    "parameters.leadership_mean" = {}                       # plausible (else allowed) range
    "parameters.turnover_annual" = { low = 0.05, high = 0.3, group = "context" }
    "interventions.training.coverage" = { dist = "truncnorm", mean = 0.8, sd = 0.1 }
    "dummy.noise" = {}                                      # [0, 1], never applied

An output is a Proctor summary column (``compliance``: the mean over the scenario's bundles)
or ``column:bundle`` for one bundle. Instead of the model, a *test function* with known indices
(``test_function = "ishigami"`` or ``{ name = "sobol_g", a = [...], noise_sd = 0.5 }``) can be
analysed through the same code path; its factors are ``x1`` … ``xk``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim import checks
from sim.errors import InputError
from sim.experiment.design import Experiment, experiment_from_dict
from sim.factors import apply_point, declaration, parse_key
from sim.outcomes.catalogue import OUTCOMES
from sim.params import P, Param, ParamSet
from sim.sensitivity.methods import METHODS, Method, make_method
from sim.tomlfile import read_toml

OUTPUT_COLUMNS = tuple(OUTCOMES)
"""Summary columns an output may name (one value per run and bundle)."""

DISTS = ("unif", "truncnorm")

TOP = ParamSet("sensitivity", "Top-level keys of a sensitivity-analysis file.", (
    P("name", "sensitivity", "Short name shown in outputs."),
    P("description", "", "What the analysis is for."),
    P("scenario", "default", "Base scenario: 'default' or a scenario file path (relative to "
      "the SA file)."),
    P("strategy", "", "Strategy of the base scenario to analyse (default: its only strategy, "
      "or write the arm in an [arm] table)."),
    P("weeks", 0, "Weeks to simulate (0 = the base scenario's).", unit="weeks", low=0,
      high=5200),
    P("method", "morris", "Sensitivity method.", choices=tuple(METHODS)),
    P("samples", 0, "Sample size: trajectories (morris), base samples (sobol), points per "
      "factor (fast), rows (pawn).", low=0, high=10_000_000),
    P("replicates", 2, "Runs (seeds) per sample point; indices use the replicate means.",
      low=1, high=100_000),
    P("seed", 1, "Root seed: the sample, the replicate seeds and the bootstrap.", low=0,
      high=2**63 - 1),
    P("common_random_numbers", True, "Replicate k of every sample point uses the same run "
      "seed, so points differ only by their factor values (less noise in differences)."),
    P("outputs", [], "Outputs to analyse: summary columns ('compliance', mean over bundles) "
      "or 'column:bundle'."),
    P("chunk_size", 0, "Runs per task (0 = chosen from the number of runs).", low=0,
      high=100_000),
    P("noise_threshold", 0.1, "Seed-noise share of the variance of the replicate means above "
      "which the output warns that noise is too large.", unit="share", low=0.0, high=1.0),
    P("conf_level", 0.95, "Confidence level of the intervals.", low=0.5, high=0.999),
    P("resamples", 1000, "Bootstrap resamples for the confidence intervals.", low=10,
      high=1_000_000),
))
_TABLES = ("factors", "overrides", "arm", "options", "test_function")  # besides TOP
_MODEL_ONLY = ("scenario", "strategy", "weeks", "arm", "overrides", "chunk_size",
               "common_random_numbers")


# --- test functions with known indices -----------------------------------------------------------
@dataclass(frozen=True)
class TestFunction:
    """A function with analytical sensitivity indices, analysed in place of the model.

    Running the whole pipeline (sampling, replicates, noise report, analysis, outputs) on it
    shows that the machinery reproduces known answers (SPEC §12). ``noise_sd`` adds Gaussian
    noise to every single "run", so the replicate and noise handling are exercised too.
    """

    name: str
    a: tuple[float, ...] = ()
    noise_sd: float = 0.0

    __test__ = False  # not a pytest test class

    @property
    def factor_names(self) -> list[str]:
        """The function's inputs, x1 … xk."""
        k = 3 if self.name == "ishigami" else len(self.a)
        return [f"x{i + 1}" for i in range(k)]

    @property
    def bounds(self) -> tuple[float, float]:
        """The range every input is declared on."""
        return (-math.pi, math.pi) if self.name == "ishigami" else (0.0, 1.0)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Evaluate on rows of ``X`` (columns x1 … xk)."""
        if self.name == "ishigami":
            from SALib.test_functions import Ishigami

            return Ishigami.evaluate(X)
        a = np.asarray(self.a, float)  # Sobol G, vectorised (SALib's loops over rows)
        return np.prod((np.abs(4.0 * X - 2.0) + a) / (1.0 + a), axis=1)


TEST_FUNCTIONS = ("ishigami", "sobol_g")
SOBOL_G_A = (0.0, 1.0, 4.5, 9.0, 99.0, 99.0, 99.0, 99.0)  # Saltelli et al. (2010), as in SALib


def _test_function(raw: Any, where: str) -> TestFunction:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict):
        raise InputError(where, "must be a name (\"ishigami\", \"sobol_g\") or a table "
                         "{ name = ..., a = [...], noise_sd = ... }")
    extra = set(raw) - {"name", "a", "noise_sd"}
    if extra:
        raise InputError(f"{where}.{sorted(extra)[0]}", "unknown key; known keys are: a, name, "
                         "noise_sd")
    name = raw.get("name")
    if name not in TEST_FUNCTIONS:
        raise InputError(f"{where}.name", f"must be one of {', '.join(TEST_FUNCTIONS)}, got "
                         f"{name!r}")
    noise = raw.get("noise_sd", 0.0)
    if isinstance(noise, bool) or not isinstance(noise, int | float) or not noise >= 0:
        raise InputError(f"{where}.noise_sd", f"must be a number ≥ 0, got {noise!r}")
    a = raw.get("a", list(SOBOL_G_A) if name == "sobol_g" else [])
    if name == "ishigami" and "a" in raw:
        raise InputError(f"{where}.a", "only the Sobol G function takes a")
    if name == "sobol_g" and (not isinstance(a, list) or not a or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in a)):
        raise InputError(f"{where}.a", f"must be a non-empty list of numbers ≥ 0, got {a!r}")
    return TestFunction(name, tuple(float(v) for v in a), float(noise))


# --- factors and outputs -------------------------------------------------------------------------
@dataclass(frozen=True)
class Factor:
    """One factor: its key, the range sampled, and how a sampled value is applied.

    Integer parameters are sampled on ``[low − ½, high + ½]`` and rounded, so every integer in
    the range is equally likely (rounding ``[low, high]`` would give the ends half weight).
    """

    name: str
    low: float
    high: float
    integer: bool = False
    dist: str = "unif"
    mean: float | None = None
    sd: float | None = None
    group: str | None = None
    applied: bool = True
    declared: str = ""

    def bounds(self) -> list[float]:
        """SALib bounds for this factor (its distribution's parameters)."""
        lo, hi = (self.low - 0.5, self.high + 0.5) if self.integer else (self.low, self.high)
        if self.dist == "truncnorm":
            return [lo, hi, float(self.mean), float(self.sd)]  # type: ignore[arg-type]
        return [lo, hi]

    def value(self, x: float) -> float | int:
        """The value the model is given for a sampled ``x``."""
        if self.integer:
            return int(min(max(np.rint(x), self.low), self.high))
        return float(min(max(x, self.low), self.high))

    @property
    def label(self) -> str:
        """A short name for plots (the section prefix dropped)."""
        section, _, rest = self.name.partition(".")
        if section in ("parameters", "structure", "patients", "interventions"):
            return rest
        return self.name


@dataclass(frozen=True)
class Output:
    """An output to analyse: a summary column, for one bundle or averaged over all."""

    name: str
    column: str
    bundle: str | None = None


@dataclass
class SASpec:
    """A validated sensitivity analysis: factors, outputs, method, sample size, the arm."""

    name: str
    description: str
    path: str
    base_dir: Path
    settings: dict[str, Any]
    factors: list[Factor]
    outputs: list[Output]
    method: Method
    test_function: TestFunction | None = None
    experiment_table: dict[str, Any] = field(default_factory=dict)
    bundles: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    warnings: list[checks.Finding] = field(default_factory=list)  # the arm's, for the commands

    @property
    def samples(self) -> int:
        """The method's sample size (see the file format)."""
        return self.settings["samples"]

    @property
    def replicates(self) -> int:
        """Runs per sample point."""
        return self.settings["replicates"]

    @property
    def seed(self) -> int:
        """The root seed."""
        return self.settings["seed"]

    @property
    def grouped(self) -> bool:
        """Whether indices are computed for groups of factors."""
        return any(f.group for f in self.factors)

    def problem(self) -> dict[str, Any]:
        """The SALib problem: ``num_vars``, ``names``, ``bounds``, ``dists`` and ``groups``."""
        prob: dict[str, Any] = {
            "num_vars": len(self.factors),
            "names": [f.name for f in self.factors],
            "bounds": [f.bounds() for f in self.factors],
            "dists": [f.dist for f in self.factors],
        }
        if self.grouped:
            prob["groups"] = [f.group or f.name for f in self.factors]
        return prob

    def point(self, x: np.ndarray) -> dict[str, Any]:
        """The experiment design point of one sample row (dummies left out, integers rounded)."""
        return {f.name: f.value(float(v)) for f, v in zip(self.factors, x, strict=True)
                if f.applied}

    def n_rows(self) -> int:
        """Rows of the sample (model evaluations before replicates)."""
        return self.method.n_rows(self.problem(), self.samples)

    def labels(self) -> dict[str, str]:
        """Short plot labels of factors (and groups, which keep their names)."""
        return {f.name: f.label for f in self.factors}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(where, f"must be a number, got {value!r}")
    return float(value)


def _declared(key: str, arm_strategy_ivs: list[dict[str, Any]], where: str,
              tf: TestFunction | None) -> tuple[Param | None, str]:
    """The declaration behind a factor key (None for dummies), and where it was found."""
    section, _, rest = key.partition(".")
    if tf is not None:
        if key in tf.factor_names:
            lo, hi = tf.bounds
            return Param(key, "float", 0.0, "test-function input", low=lo, high=hi), tf.name
        if section != "dummy":
            raise InputError(where, f"unknown factor for the {tf.name} function; its factors "
                             f"are {', '.join(tf.factor_names)} (and dummy.NAME)")
    if section == "dummy" and rest:
        return None, "dummy"
    return declaration(parse_key(key, where, also=", or 'dummy.NAME'"), arm_strategy_ivs,
                       where)


def _factor(key: str, raw: Any, where: str, ivs: list[dict[str, Any]],
            tf: TestFunction | None) -> Factor:
    if not isinstance(raw, dict):
        raise InputError(where, "must be a table: {} for the plausible (else allowed) range, or "
                         "{ low = ..., high = ..., group = ..., dist = ... }")
    known = ("dist", "group", "high", "low", "mean", "sd")
    extra = set(raw) - set(known)
    if extra:
        raise InputError(f"{where}.{sorted(extra)[0]}",
                         f"unknown key; known keys are: {', '.join(known)}")
    decl, origin = _declared(key, ivs, where, tf)
    integer = False
    if decl is None:  # a dummy: [0, 1] unless given
        lo_d, hi_d, allowed = 0.0, 1.0, "any range"
        low = _number(raw.get("low", 0.0), f"{where}.low")
        high = _number(raw.get("high", 1.0), f"{where}.high")
    else:
        if decl.kind not in ("float", "int"):
            raise InputError(where, f"{key} is not a number ({decl.allowed()}); only numeric "
                             "parameters can be factors")
        integer = decl.kind == "int"
        allowed = decl.allowed()
        lo_d = -math.inf if decl.low is None else float(decl.low)
        hi_d = math.inf if decl.high is None else float(decl.high)
        lo_p, hi_p = decl.plausible_range()  # the default range: plausible, else validity
        if ("low" not in raw and lo_p is None) or ("high" not in raw and hi_p is None):
            raise InputError(where, f"{key} has no declared bound on that side ({allowed}); "
                             "give low and high")
        low = _number(raw.get("low", lo_p), f"{where}.low")
        high = _number(raw.get("high", hi_p), f"{where}.high")
        if integer and not (low.is_integer() and high.is_integer()):
            raise InputError(where, f"{key} is an integer parameter; low and high must be "
                             f"integers, got [{low:g}, {high:g}]")
        if low < lo_d or high > hi_d:
            raise InputError(where, f"range [{low:g}, {high:g}] is outside the declared range "
                             f"of {key} ({origin}): {allowed}")
    if not low < high:
        raise InputError(where, f"needs low < high, got [{low:g}, {high:g}]")
    dist = raw.get("dist", "unif")
    if dist not in DISTS:
        raise InputError(f"{where}.dist", f"must be one of {', '.join(DISTS)}, got {dist!r}")
    mean = sd = None
    if dist == "truncnorm":
        if "mean" not in raw or "sd" not in raw:
            raise InputError(where, "dist = \"truncnorm\" needs mean and sd (truncated to "
                             "[low, high])")
        mean = _number(raw["mean"], f"{where}.mean")
        sd = _number(raw["sd"], f"{where}.sd")
        if sd <= 0:
            raise InputError(f"{where}.sd", f"must be > 0, got {sd:g}")
    elif "mean" in raw or "sd" in raw:
        raise InputError(where, "mean and sd are only for dist = \"truncnorm\"")
    group = raw.get("group")
    if group is not None and (not isinstance(group, str) or not group):
        raise InputError(f"{where}.group", f"must be a non-empty string, got {group!r}")
    return Factor(key, low, high, integer, dist, mean, sd, group, decl is not None and tf is None,
                  allowed)


def _output(name: Any, where: str, bundles: list[str], tf: TestFunction | None) -> Output:
    if not isinstance(name, str):
        raise InputError(where, f"must be a string, got {name!r}")
    if tf is not None:
        if name != "y":
            raise InputError(where, f"unknown output {name!r}: a test function has one "
                             "output, \"y\"")
        return Output("y", "y")
    column, _, bundle = name.partition(":")
    if column not in OUTPUT_COLUMNS:
        raise InputError(where, f"unknown output {name!r}; outputs are summary columns "
                         f"({', '.join(OUTPUT_COLUMNS)}), optionally as 'column:bundle'")
    if bundle and bundle not in bundles:
        raise InputError(where, f"unknown bundle {bundle!r} in output {name!r}; the scenario's "
                         f"bundles: {', '.join(bundles)}")
    return Output(name, column, bundle or None)


def _arm_table(data: dict[str, Any], path: str, base_names: list[str]) -> dict[str, Any]:
    """The experiment arm to analyse, from ``strategy = ...`` or an ``[arm]`` table."""
    strategy = data.get("strategy", "")
    arm = data.get("arm")
    if arm is not None and strategy:
        raise InputError(f"{path}: arm", "give either strategy = \"...\" or an [arm] table, "
                         "not both")
    if arm is not None:
        if not isinstance(arm, dict):
            raise InputError(f"{path}: arm", "must be a table like an experiment's [[arms]]")
        arm = dict(arm)
        arm.setdefault("name", arm.get("strategy", "arm"))
        return arm
    if not strategy:
        if len(base_names) != 1:
            raise InputError(f"{path}: strategy", f"name the strategy to analyse (the scenario "
                             f"has {', '.join(repr(n) for n in base_names)}), or write an "
                             "[arm] table")
        strategy = base_names[0]
    if strategy not in base_names:
        raise InputError(f"{path}: strategy", f"no strategy {strategy!r} in the scenario; it "
                         f"has: {', '.join(base_names)}")
    return {"name": strategy, "strategy": strategy}


def _base_experiment(table: dict[str, Any], path: str, base_dir: Path) -> Experiment:
    """The experiment without a design (validates scenario, overrides and arm)."""
    def here(where: str) -> str:  # the arm is written [arm] here, [[arms]] in experiments
        return where.replace("arms[0]", "arm")

    try:
        exp = experiment_from_dict(table, path, base_dir)
    except checks.SemanticError as exc:  # every error, so that validate can list them all
        raise checks.SemanticError([dataclasses.replace(f, where=here(f.where))
                                    for f in exc.findings]) from None
    except InputError as exc:
        raise InputError(here(exc.where), exc.message) from None
    exp.warnings = [dataclasses.replace(f, where=here(f.where)) for f in exp.warnings]
    return exp


def spec_from_dict(data: dict[str, Any], path: str, base_dir: Path) -> SASpec:
    """Validate a parsed SA file."""
    settings = TOP.resolve(data, f"{path}:", tables=_TABLES)
    tf = None
    if "test_function" in data:
        tf = _test_function(data["test_function"], f"{path}: test_function")
        extra = [k for k in _MODEL_ONLY if k in data]
        if extra:
            raise InputError(f"{path}: {extra[0]}", "a test-function analysis runs no "
                             "scenario; remove this key")

    raw_opts = data.get("options", {})
    if not isinstance(raw_opts, dict):
        raise InputError(f"{path}: options", "must be a table of method options")
    method = make_method(settings["method"], raw_opts, f"{path}: options",
                         conf_level=settings["conf_level"], resamples=settings["resamples"])

    experiment_table: dict[str, Any] = {}
    bundles: list[str] = []
    ivs: list[dict[str, Any]] = []
    arm_scenario = None
    warnings: list[checks.Finding] = []
    if tf is None:
        base = _base_experiment({k: data[k] for k in ("scenario", "overrides") if k in data},
                                path, base_dir)
        arm = _arm_table(data, path, [s.name for s in base.base.strategies])
        experiment_table = {
            "name": settings["name"], "description": settings["description"],
            "scenario": settings["scenario"], "replicates": settings["replicates"],
            "seed": settings["seed"],
            "common_random_numbers": settings["common_random_numbers"],
            "timeseries": "none", "chunk_size": settings["chunk_size"],
            "weeks": settings["weeks"], "arms": [arm],
        }
        if "overrides" in data:
            experiment_table["overrides"] = data["overrides"]
        exp = _base_experiment(experiment_table, path, base_dir)
        arm_scenario = exp.arms[0]
        warnings = exp.warnings
        bundles = arm_scenario.bundle_names
        ivs = [dict(spec) for spec in arm_scenario.strategies[0].interventions]

    raw_factors = data.get("factors")
    if raw_factors is None and tf is not None:
        raw_factors = {name: {} for name in tf.factor_names}
    if not isinstance(raw_factors, dict) or not raw_factors:
        raise InputError(f"{path}: factors", "must be a table of factors, e.g. "
                         "\"parameters.leadership_mean\" = {}")
    factors = [_factor(k, v, f"{path}: factors.{k}", ivs, tf) for k, v in raw_factors.items()]
    if tf is not None:
        missing = [n for n in tf.factor_names if n not in raw_factors]
        if missing:
            raise InputError(f"{path}: factors", f"the {tf.name} function needs every input "
                             f"as a factor; missing: {', '.join(missing)}")
    if arm_scenario is not None:  # each bound, applied alone, must give a valid scenario
        for f in factors:
            if not f.applied:
                continue
            for v in (f.low, f.high):
                try:
                    apply_point(arm_scenario, {f.name: f.value(v)}, "")
                except InputError as exc:
                    raise InputError(f"{path}: factors.{f.name}",
                                     f"at {v:g}: {exc.message}") from None
    if any(f.group for f in factors):
        if not method.supports_groups:
            raise InputError(f"{path}: factors", f"groups are supported by the morris and "
                             f"sobol methods, not {method.name}")
        if len({f.group or f.name for f in factors}) < 2:
            raise InputError(f"{path}: factors", "groups need at least two groups")

    outputs_raw = settings["outputs"] or (["y"] if tf is not None else ["compliance"])
    outputs = [_output(o, f"{path}: outputs", bundles, tf) for o in outputs_raw]
    if len({o.name for o in outputs}) != len(outputs):
        raise InputError(f"{path}: outputs", "an output is listed twice")
    if arm_scenario is not None:
        _check_sustainability(outputs, arm_scenario, f"{path}: outputs")

    spec = SASpec(settings["name"], settings["description"], path, base_dir, settings, factors,
                  outputs, method, tf, experiment_table, bundles, copy.deepcopy(data),
                  warnings)
    method.check(spec.problem(), settings["samples"], f"{path}: samples")
    return spec


def _check_sustainability(outputs: list[Output], arm, where: str) -> None:
    """Sustainability is measured after support ends: the run must last long enough."""
    from sim.outcomes.proctor import SIX_MONTHS, TWELVE_MONTHS

    lags = {"sustainability": arm.parameters["sustainability_weeks"],
            "sustainability_6m": SIX_MONTHS, "sustainability_12m": TWELVE_MONTHS}
    ends = [iv.end_week for iv in arm.build_interventions(arm.strategies[0])]
    for out in outputs:
        if out.column not in lags:
            continue
        if not ends:
            raise InputError(where, f"{out.name}: the arm has no interventions, so support "
                             "never ends and sustainability is undefined")
        end = max(ends)
        need = end + lags[out.column]
        if need > arm.weeks:
            raise InputError(where, f"{out.name} is measured {lags[out.column]} weeks after "
                             f"support ends (week {end}), after the last week of the run "
                             f"({arm.weeks}); set weeks ≥ {need}")


def load_spec(path: str | Path) -> SASpec:
    """Load and validate an SA file."""
    file = Path(path)
    data = read_toml(file, "sensitivity-analysis", str(path))
    return spec_from_dict(data, str(path), file.parent.resolve())

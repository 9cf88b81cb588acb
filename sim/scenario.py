"""Scenario files: load a TOML scenario, validate every field, resolve defaults.

A scenario says who is there (``[structure]`` or a network file), how they are connected
(``[network]``), how they behave (``[parameters]``), which bundles they are asked to adopt and
which support strategies to compare (``[[strategies]]``). Every error names the file, the field
and what is allowed. ``load_scenario(None)`` gives the built-in default catchment.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim import checks, preflight
from sim.bundles import Bundle, resolve_bundle
from sim.bundles.bundle import check_harm_budget
from sim.errors import InputError
from sim.params import ALL_LEVELS, MEASUREMENT, MODEL, NETWORK, PATIENTS, STRUCTURE, P, ParamSet
from sim.tomlfile import read_toml

DEFAULT_SCENARIO = Path(__file__).parent / "scenarios" / "default.toml"

TOP = ParamSet(
    "scenario",
    "Top-level keys of a scenario file.",
    (
        P("name", "scenario", "Short name shown in outputs."),
        P("description", "", "What the scenario is for."),
        P("weeks", 156, "Weeks to simulate (one step = one week).", unit="weeks", low=1,
          high=5200),
        P("seed", 1, "Root seed: replicate seeds are spawned from it.", low=0, high=2**63 - 1),
        P("replicates", 1, "Replicates per strategy (the command line may override).", low=1,
          high=100000),
        P("comparator", "", "Strategy the incremental outcomes (harm averted, cost per harm "
          "averted) are taken against (default: the first strategy)."),
    ),
)

OUTPUT = ParamSet(
    "output",
    "What the run records.",
    (
        P("unit_level", True, "Record every unit, not only organisation kinds and the system."),
        P("levels", [lv for lv in ALL_LEVELS[:-1] if lv != "region"],
          "Levels recorded besides the system (always recorded): "
          "unit rows also need unit_level; national runs leave out unit and organisation; "
          "region (each trust's regional health authority) only when named.",
          kind="list[str]", choices=ALL_LEVELS[:-1]),
        P("elements", True, "Record each element's performance (elements.parquet), at the "
          "same levels as the time series."),
        P("every_weeks", 1, "Record every n-th week (the last week is always recorded).",
          unit="weeks", low=1, high=520),
        P("icc_weeks", [], "Weeks at which icc.csv gives the between-municipality and "
          "between-trust intra-cluster correlation of unit compliance and adoption (recorded "
          "weeks only; empty: the last week).", kind="list[int]", unit="weeks", low=0,
          high=520),
    ),
)

#: Former [output] keys of the --spc-units audit, now the one audit of [measurement].
_MOVED_TO_MEASUREMENT = {"spc_sample_size": "audit_sample_size",
                         "spc_period_weeks": "audit_period_weeks"}

_SECTIONS = {"parameters": MODEL, "structure": STRUCTURE, "network": NETWORK,
             "patients": PATIENTS, "output": OUTPUT, "measurement": MEASUREMENT}
_TABLES = (*_SECTIONS, "bundles", "strategies")  # top-level keys besides TOP


@dataclass
class Strategy:
    """A named support package planners compare: interventions, and when each bundle starts.

    ``launch`` maps a bundle to the week it is introduced (default week 1): before it nobody can
    hear of it, which sequences bundles (antibiotics first, the others a year later).
    ``bundles`` limits which of the scenario's bundles the strategy introduces at all (default
    all); the others stay at baseline practice, so their harm still counts.
    """

    name: str
    interventions: list[dict[str, Any]] = field(default_factory=list)
    launch: dict[str, int] = field(default_factory=dict)
    bundles: list[str] | None = None
    description: str = ""

    def launch_week(self, bundle: str) -> int | None:
        """Week ``bundle`` is introduced, or None if this strategy never introduces it."""
        if self.bundles is not None and bundle not in self.bundles:
            return None
        return self.launch.get(bundle, 1)


@dataclass
class Scenario:
    """A validated scenario with every default filled in."""

    name: str
    description: str
    weeks: int
    seed: int
    replicates: int
    parameters: dict[str, Any]
    structure: dict[str, Any]
    network: dict[str, Any]
    patients: dict[str, Any]
    output: dict[str, Any]
    bundles: list[Bundle]
    strategies: list[Strategy]
    path: str = "<built-in default>"
    base_dir: Path = field(default_factory=Path.cwd)
    measurement: dict[str, Any] | None = None  # optional [measurement]; None: not measured
    comparator: str = ""  # strategy the incremental outcomes are against ('' : the first)

    @property
    def comparator_name(self) -> str:
        """The comparator strategy: the declared one, or the first strategy."""
        return self.comparator or self.strategies[0].name

    @property
    def bundle_names(self) -> list[str]:
        """Names of the scenario's bundles, in order."""
        return [b.name for b in self.bundles]

    def build_interventions(self, strategy: Strategy, where: str | None = None) -> list:
        """Fresh intervention objects for one run of ``strategy``.

        ``where`` names the strategy in errors (default: this scenario's strategy; an
        experiment's arm names its own file and arm).
        """
        # Imported here: the intervention classes pull in numpy-heavy run code (population,
        # pandas), which loading and editing a scenario does not need.
        from sim.interventions import make_intervention

        out = []
        seen: dict[str, int] = {}
        for i, spec in enumerate(strategy.interventions):
            prefix = f"{self.path}: strategies[{strategy.name!r}]" if where is None else where
            at = f"{prefix}.interventions[{i}]"
            iv = make_intervention(spec, at, self.bundle_names)
            for b in iv.bundle_names:
                launch = strategy.launch_week(b)
                if launch is not None and iv.end_week < launch:
                    raise InputError(f"{at}.end_week", f"the intervention ends (week "
                                     f"{iv.end_week}) before {b!r} is launched (week {launch}) "
                                     "and would do nothing for it; move it or narrow its "
                                     "bundles")
            if iv.name in seen:
                # The name keys the intervention's random streams and its cost line.
                raise InputError(f"{at}.name", f"another intervention of this strategy "
                                 f"(interventions[{seen[iv.name]}]) is already named "
                                 f"{iv.name!r}; give each a distinct name = \"...\"")
            seen[iv.name] = i
            out.append(iv)
        return out

    def with_overrides(self, **sections: dict[str, Any]) -> Scenario:
        """A copy with some parameters changed, validated like a file (for experiments)."""
        new = copy.deepcopy(self)
        for section, values in sections.items():
            where = f"{self.path}: {section}"
            if section not in _SECTIONS:
                raise InputError(where, f"unknown section; known: {', '.join(_SECTIONS)}")
            if not isinstance(values, dict):
                raise InputError(where, f"overrides must be a table, got {values!r}")
            # A resolved None is an unset optional (no file can give None), so it is left to
            # its default rather than validated as a value.
            current = {k: v for k, v in (getattr(new, section) or {}).items() if v is not None}
            merged = {**current, **values}
            setattr(new, section, _SECTIONS[section].resolve(merged, where))
        for key in ("file", "nodes", "pathways_file"):
            if new.network[key]:
                new.network[key] = str(_resolve_path(new.network[key], new.base_dir,
                                                     f"{self.path}: network.{key}"))
        if not new.network["file"]:
            _resolve_municipalities(new.structure, new.base_dir, f"{self.path}: structure")
            _check_structure(new.structure, f"{self.path}: structure")
        check_harm_budget(new.bundles, new.patients, self.path)
        preflight.check_scenario(new, f"{self.path}: {', '.join(sections)} overrides")
        return new

    def resolved(self) -> dict[str, Any]:
        """The scenario as plain data, every default filled (for manifests)."""
        return {
            "name": self.name, "description": self.description, "weeks": self.weeks,
            "seed": self.seed, "replicates": self.replicates, "source": self.path,
            "comparator": self.comparator_name,
            "parameters": self.parameters, "structure": self.structure, "network": self.network,
            "patients": self.patients, "output": self.output,
            "bundles": [{"name": b.name, "file": b.path} for b in self.bundles],
            "strategies": [
                {"name": s.name, "description": s.description,
                 "bundles": s.bundles if s.bundles is not None else self.bundle_names,
                 "launch": {b: s.launch_week(b) for b in self.bundle_names
                            if s.launch_week(b) is not None},
                 "interventions": [iv.describe() for iv in self.build_interventions(s)]}
                for s in self.strategies
            ],
        } | ({"measurement": self.measurement} if self.measurement is not None else {})


def scenario_from_dict(data: dict[str, Any], path: str, base_dir: Path,
                       semantic: bool = True) -> Scenario:
    """Validate a parsed scenario table (``semantic``: also refuse what cannot work)."""
    top = TOP.resolve(data, f"{path}:", tables=_TABLES)
    output = data.get("output", {})
    for old, new in _MOVED_TO_MEASUREMENT.items():
        if isinstance(output, dict) and old in output:
            raise InputError(f"{path}: output.{old}", f"moved: --spc-units audits as "
                             f"[measurement] declares; write {new} = {output[old]!r} under "
                             "[measurement] instead")
    sections = {}
    for name, pset in _SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise InputError(f"{path}: {name}", f"must be a table [{name}]")
        sections[name] = pset.resolve(table, f"{path}: {name}")

    raw_bundles = data.get("bundles", ["antibiotic_stewardship", "medication_list_accuracy",
                                       "deteriorating_patient",
                                       "mental_health_patient_involvement"])
    if not isinstance(raw_bundles, list) or not raw_bundles:
        raise InputError(f"{path}: bundles", "must be a non-empty list of bundle names, bundle "
                         "file paths or inline tables")
    bundles = [resolve_bundle(ref, f"{path}: bundles[{i}]", base_dir)
               for i, ref in enumerate(raw_bundles)]
    names = [b.name for b in bundles]
    if len(set(names)) != len(names):
        raise InputError(f"{path}: bundles", "a bundle is listed twice")

    raw_strategies = data.get("strategies", [{"name": "no extra support"}])
    if not isinstance(raw_strategies, list) or not raw_strategies:
        raise InputError(f"{path}: strategies", "must be a non-empty array of [[strategies]] "
                         "tables, each with a name and interventions")
    strategies = [parse_strategy(raw, f"{path}: strategies[{i}]", names)
                  for i, raw in enumerate(raw_strategies)]
    seen_names: set[str] = set()
    for s in strategies:
        if s.name in seen_names:
            raise InputError(f"{path}: strategies", f"strategy name {s.name!r} is used twice; "
                             "names must be unique")
        seen_names.add(s.name)

    scenario = Scenario(
        name=top["name"], description=top["description"], weeks=top["weeks"],
        seed=top["seed"], replicates=top["replicates"], parameters=sections["parameters"],
        structure=sections["structure"], network=sections["network"],
        patients=sections["patients"], output=sections["output"], bundles=bundles,
        strategies=strategies, path=path, base_dir=base_dir,
        measurement=sections["measurement"] if "measurement" in data else None,
        comparator=top["comparator"],
    )
    every, last = scenario.output["every_weeks"], scenario.weeks
    for w in scenario.output["icc_weeks"]:
        if w > last or (w % every and w != last):
            raise InputError(f"{path}: output.icc_weeks", f"week {w} is not recorded; recorded "
                             f"are weeks 0 to {last} every {every} (output.every_weeks) and "
                             "the last")
    if scenario.comparator and scenario.comparator not in seen_names:
        raise InputError(f"{path}: comparator", f"no strategy named {scenario.comparator!r}; "
                         f"strategies: {', '.join(s.name for s in strategies)}")
    if scenario.network["file"] and scenario.structure["municipalities"]:
        raise InputError(f"{path}: structure.municipalities", "a loaded network "
                         "([network] file) brings its own structure; give one of the two")
    if not scenario.network["file"]:
        _check_data_keys(data.get("structure", {}), scenario.structure, f"{path}: structure")
        _resolve_municipalities(scenario.structure, base_dir, f"{path}: structure")
        _check_structure(scenario.structure, f"{path}: structure")
    check_harm_budget(bundles, scenario.patients, path)
    for s in strategies:  # validate every intervention now, not in the middle of a run
        scenario.build_interventions(s)
    preflight.check_scenario(scenario)  # one run must fit in memory: before anything is built
    if semantic:  # what cannot work, all at once (sim.checks); experiments check their arms
        checks.refuse(checks.scenario_findings(scenario))
    if scenario.network["file"]:
        scenario.network["file"] = str(_resolve_path(scenario.network["file"], base_dir,
                                                     f"{path}: network.file"))
    if scenario.network["nodes"]:
        scenario.network["nodes"] = str(_resolve_path(scenario.network["nodes"], base_dir,
                                                      f"{path}: network.nodes"))
    if scenario.network["pathways_file"]:
        scenario.network["pathways_file"] = str(_resolve_path(
            scenario.network["pathways_file"], base_dir, f"{path}: network.pathways_file"))
    return scenario



def parse_strategy(raw: Any, where: str, names: list[str]) -> Strategy:
    """Validate one strategy table (``name``, ``interventions``, ``launch``, ``bundles``).

    Interventions are checked when the scenario builds them (they need the bundle names).
    """
    if not isinstance(raw, dict):
        raise InputError(where, "must be a table with 'name' and 'interventions'")
    known = ("bundles", "description", "interventions", "launch", "name")
    extra = set(raw) - set(known)
    if extra:
        raise InputError(f"{where}.{sorted(extra)[0]}",
                         f"unknown key; known keys are: {', '.join(known)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}.name", "must be a non-empty string")
    ivs = raw.get("interventions", [])
    if not isinstance(ivs, list):
        raise InputError(f"{where}.interventions", "must be an array of tables")
    launch = raw.get("launch", {})
    if not isinstance(launch, dict):
        raise InputError(f"{where}.launch", "must be a table { bundle_name = week, ... }")
    for b, week in launch.items():
        if b not in names:
            raise InputError(f"{where}.launch.{b}", f"not a bundle of this scenario; "
                             f"scenario bundles: {', '.join(names)}")
        if isinstance(week, bool) or not isinstance(week, int) or week < 1:
            raise InputError(f"{where}.launch.{b}", f"must be a week number ≥ 1, got {week!r}")
    subset = raw.get("bundles")
    if subset is not None:
        if not isinstance(subset, list) or not all(isinstance(b, str) for b in subset):
            raise InputError(f"{where}.bundles", "must be a list of bundle names")
        bad = [b for b in subset if b not in names]
        if bad:
            raise InputError(f"{where}.bundles", f"{bad[0]!r} is not a bundle of this "
                             f"scenario; scenario bundles: {', '.join(names)}")
    desc = raw.get("description", "")
    if not isinstance(desc, str):
        raise InputError(f"{where}.description", "must be a string")
    return Strategy(name, [dict(iv) if isinstance(iv, dict) else iv for iv in ivs],
                    dict(launch), subset, desc)

def _check_data_keys(raw: dict[str, Any], s: dict[str, Any], where: str) -> None:
    """With municipalities, the counts the data replaces must not be written (else ignored)."""
    from sim.structure_data import GENERATED_ONLY

    given = [k for k in GENERATED_ONLY if k in raw]
    if s["municipalities"] and given:
        raise InputError(f"{where}.{given[0]}", "is not used with municipalities = "
                         f"{s['municipalities']!r}: the data and the ratios (e.g. "
                         "somatic_beds_per_1000, nursing_home_places_per_1000) size the "
                         "structure; remove it")


def _resolve_municipalities(s: dict[str, Any], base_dir: Path, where: str) -> None:
    """A municipality file's path made absolute (a shipped name stays a name)."""
    if s["municipalities"]:
        from sim.structure_data import resolve_source

        s["municipalities"] = resolve_source(s["municipalities"], base_dir,
                                             f"{where}.municipalities")


def _check_structure(s: dict[str, Any], where: str) -> None:
    """A catchment must have at least one unit (a municipality file is read and checked)."""
    if s["municipalities"]:
        from sim.structure_data import kind_units

        if not any(kind_units(s).values()):
            raise InputError(where, "the municipalities and ratios give no units: raise "
                             "nursing_home_places_per_1000, home_care_staff_per_1000, "
                             "somatic_beds_per_1000 or the other ratios above 0")
        return
    per_trust = (s["wards_per_trust"] + s["mental_health_units_per_trust"]
                 + s["icu_units_per_trust"]
                 + s["municipalities_per_trust"] * (
                     s["nursing_homes_per_municipality"] * s["units_per_nursing_home"]
                     + s["home_care_teams_per_municipality"]
                     + s["gp_practices_per_municipality"]))
    if per_trust == 0:
        raise InputError(where, "has no units: set wards_per_trust, icu_units_per_trust, "
                         "municipalities_per_trust "
                         "or the per-municipality counts above 0")


def _resolve_path(value: str, base_dir: Path, where: str) -> Path:
    p = Path(value)
    if not p.is_absolute():
        p = base_dir / p
    if not p.exists():
        raise InputError(where, f"file {str(p)!r} not found (relative paths are relative to "
                         "the scenario file)")
    return p


def load_scenario(path: str | Path | None = None, semantic: bool = True) -> Scenario:
    """Load and validate a scenario file; ``None`` loads the built-in default.

    ``semantic=False`` leaves the checks of :mod:`sim.checks` to the caller (an experiment
    checks the arms it builds from the scenario, all at once).
    """
    if path is None:
        file = DEFAULT_SCENARIO
        label = "<built-in default>"
    else:
        file = Path(path)
        label = str(path)
    data = read_toml(file, "scenario", label)
    return scenario_from_dict(data, label, file.parent.resolve(), semantic)

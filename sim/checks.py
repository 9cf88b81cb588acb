"""Semantic checks: what cannot work (errors) and what is probably a mistake (warnings).

The readers check each field by itself (type, range, known names: :mod:`sim.params`,
:mod:`sim.tomlfile`); a file can still pass them all and make no sense as a whole: an
intervention that starts after the run ends, a bundle for mental-health units in a catchment
with none, a within-unit degree larger than the units. This module is the one home of those
checks. Each returns every finding at once (``implsim validate`` lists them all); the loaders
raise the errors together (:func:`refuse`) and the commands print the warnings, one line each.

*Error*: the model cannot do what the file asks (it would run and silently report NaN, zero or
nothing for it). *Warning*: it can, but the result is probably not what was meant.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from sim.errors import InputError
from sim.params import MODEL, ORG_KINDS, SPECIALIST_KINDS

if TYPE_CHECKING:
    from sim.bundles import Bundle
    from sim.experiment.design import Experiment
    from sim.scenario import Scenario

ERROR, WARNING = "error", "warning"

#: [structure] key that switches each organisation kind's units on (for the fixes).
KIND_KEY = {"hospital": "wards_per_trust", "mental_health": "mental_health_units_per_trust",
            "icu": "icu_units_per_trust", "nursing_home": "nursing_homes_per_municipality",
            "home_care": "home_care_teams_per_municipality",
            "gp": "gp_practices_per_municipality"}
#: The same with municipality data: the ratio that sizes each kind.
DATA_KIND_KEY = {"hospital": "somatic_beds_per_1000",
                 "mental_health": "mental_health_beds_per_1000",
                 "icu": "icu_units_per_trust", "nursing_home": "nursing_home_places_per_1000",
                 "home_care": "home_care_staff_per_1000", "gp": "inhabitants_per_gp"}


@dataclass(frozen=True)
class Finding:
    """One problem: how bad, where (file and field) and what to do."""

    level: str  # ERROR or WARNING
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class SemanticError(InputError):
    """Every error a file has, raised together; the message is the first, with a count."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        errors = [f for f in findings if f.level == ERROR]
        more = (f" (and {len(errors) - 1} more: implsim validate lists them all)"
                if len(errors) > 1 else "")
        super().__init__(errors[0].where, errors[0].message + more)


def refuse(findings: Iterable[Finding]) -> list[Finding]:
    """Raise the errors among ``findings`` together; return the findings (the warnings)."""
    found = _unique(findings)
    if any(f.level == ERROR for f in found):
        raise SemanticError(found)
    return found


def print_warnings(findings: Iterable[Finding], file: TextIO | None = None) -> None:
    """One line per warning on stderr (the commands' results stay on stdout)."""
    for f in findings:
        if f.level == WARNING:
            print(f"implsim: warning: {f}", file=file or sys.stderr)


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))


# --- catchment ---------------------------------------------------------------------------------
def kind_units(structure: dict[str, Any]) -> dict[str, int]:
    """Units of each organisation kind in a catchment (generated, or from municipality data)."""
    from sim.preflight import catchment

    return {k: u for k, (u, _, _) in catchment(structure).kinds.items()}


def _side(kind: str) -> bool:
    return kind in SPECIALIST_KINDS


def _has_role(kind: str, roles: Iterable[str]) -> bool:
    """Whether a generated unit of ``kind`` has staff in any of ``roles`` (sim.population)."""
    from sim.population import ROLE_MIX

    return any(ROLE_MIX[kind][r] > 0 for r in roles)


def doable_kinds(bundle: Bundle, present: set[str]) -> set[str]:
    """Kinds among ``present`` where some element of ``bundle`` can be done.

    An element is done by its roles in its settings; a cross-boundary one also needs a kind of
    its settings on the other side of the specialist/municipal boundary (its pathway partner;
    without one it is left out: sim.mechanisms.collective).
    """
    out = set()
    for e in bundle.elements:
        staffed = {k for k in e.settings if k in present and _has_role(k, e.roles)}
        if e.cross_boundary:
            staffed = {k for k in staffed if any(_side(p) != _side(k) for p in staffed)}
        out |= staffed
    return out


def bundle_findings(bundle: Bundle, where: str) -> list[Finding]:
    """Elements that can never be done, whatever the catchment."""
    out = []
    for i, e in enumerate(bundle.elements):
        w = f"{where}: elements[{i}] {e.name}"
        staffed = [k for k in e.settings if _has_role(k, e.roles)]
        if not staffed:
            out.append(Finding(ERROR, f"{w}.roles", f"no {' or '.join(e.roles)} works in "
                               f"{', '.join(e.settings)} (sim.population.ROLE_MIX), so nobody "
                               "can do this element; give it a role those settings have"))
        elif len(staffed) < len(e.settings):
            missing = [k for k in e.settings if k not in staffed]
            out.append(Finding(WARNING, f"{w}.roles", f"no {' or '.join(e.roles)} works in "
                               f"{', '.join(missing)}: the element is not done there; add a "
                               "role those settings have, or drop them from its settings"))
        if e.cross_boundary and len({_side(k) for k in e.settings}) < 2:
            side = "specialist" if _side(e.settings[0]) else "municipal"
            out.append(Finding(ERROR, f"{w}.settings", f"a cross-boundary element is done only "
                               f"when both sides of a care pathway do it, but its settings "
                               f"({', '.join(e.settings)}) are all on the {side} side, so it "
                               "is left out everywhere; add a setting on the other side, or "
                               "set cross_boundary = false"))
    return out


def _structure_findings(sc: Scenario, where: str) -> tuple[list[Finding], set[str]]:
    """A generated catchment against its bundles, targets and network degrees."""
    from sim.preflight import catchment

    s, net = sc.structure, sc.network
    kinds = catchment(s).kinds
    present = {k for k, (u, _, _) in kinds.items() if u}
    key_of = DATA_KIND_KEY if s["municipalities"] else KIND_KEY
    out: list[Finding] = []
    if not s["municipalities"] and s["regions"] > s["hospital_trusts"]:
        out.append(Finding(WARNING, f"{where}: structure.regions", f"{s['regions']} regions "
                           f"for {s['hospital_trusts']} hospital trusts: "
                           f"{s['regions'] - s['hospital_trusts']} regions stay empty; set "
                           "regions at most hospital_trusts"))
    for b in sc.bundles:
        doable = doable_kinds(b, present)
        if not doable:
            anywhere = doable_kinds(b, set(ORG_KINDS))
            keys = ", ".join(sorted({key_of[k] for k in anywhere - present}))
            out.append(Finding(ERROR, f"{where}: bundles: {b.name}", f"applies only in "
                               f"{', '.join(sorted(anywhere))} (where its elements can be "
                               "done), and the structure has no such units (or only one side "
                               f"of its cross-boundary elements): set {keys} above 0 in "
                               "[structure], or drop the bundle"))
    degree = net["within_unit_degree"]
    if degree % 2:
        out.append(Finding(WARNING, f"{where}: network.within_unit_degree", f"{degree} is "
                           f"odd: the ring lattice gives each staff member {degree - 1} close "
                           "colleagues (an even degree, as documented); give an even number"))
    sizes = {k: round(kinds[k][1] / kinds[k][0]) for k in present}  # mean staff per unit
    small = sorted(k for k, n in sizes.items() if degree >= n)
    if small:  # the ring lattice stops at all colleagues: it runs, but not as declared
        which = "every" if len(small) == len(present) else "some"
        listed = ", ".join(f"{k} {sizes[k]} staff" for k in small)
        out.append(Finding(WARNING, f"{where}: network.within_unit_degree", f"{degree} close "
                           f"colleagues in the own unit, but {which} unit kind is smaller "
                           f"({listed} on average): their staff are tied to all colleagues, "
                           "fewer than declared; set it below the unit sizes"))
    return out, present


def _intervention_findings(sc: Scenario, present: set[str] | None) -> list[Finding]:
    key_of = DATA_KIND_KEY if sc.structure["municipalities"] else KIND_KEY
    out = []
    for s in sc.strategies:
        sw = f"{sc.path}: strategies[{s.name!r}]"
        if s.bundles == []:
            out.append(Finding(ERROR if s.interventions else WARNING, f"{sw}.bundles",
                               "= [] introduces no bundle, so every bundle stays at baseline "
                               "practice" + ("; its interventions would support nothing: name "
                                             "the bundles, or leave bundles out for all"
                                             if s.interventions else
                                             " (a null reference; leave bundles out to "
                                             "introduce all)")))
        for b, week in s.launch.items():
            if s.launch_week(b) is not None and week > sc.weeks:
                # it runs (the bundle stays at baseline, as if left out of the strategy)
                out.append(Finding(WARNING, f"{sw}.launch.{b}", f"week {week} is after the "
                                   f"run ends (weeks = {sc.weeks}): the bundle is never "
                                   "introduced; launch it earlier, lengthen the run, or leave "
                                   "it out of the strategy's bundles"))
        for i, (spec, iv) in enumerate(zip(s.interventions, sc.build_interventions(s),
                                           strict=True)):
            w = f"{sw}.interventions[{i}]"
            if isinstance(spec, dict) and spec.get("bundles") == []:
                out.append(Finding(ERROR, f"{w}.bundles", "= [] supports no bundle; name the "
                                   "bundles, or leave bundles out to support all"))
            if iv.start_week > sc.weeks:
                out.append(Finding(ERROR, f"{w}.start_week", f"week {iv.start_week} is after "
                                   f"the run ends (weeks = {sc.weeks}): the intervention "
                                   "never runs; move it or lengthen the run"))
            kinds = iv.target.kinds
            if present is not None and kinds and not iv.target.units \
                    and not iv.target.organisations:
                empty = [k for k in kinds if k not in present]
                if len(empty) == len(kinds):
                    out.append(Finding(ERROR, f"{w}.target.kinds", f"the structure has no "
                                       f"{', '.join(kinds)} units, so the intervention reaches "
                                       f"nobody; set {', '.join(key_of[k] for k in kinds)} "
                                       "above 0 in [structure], or target other kinds"))
                elif empty:
                    out.append(Finding(WARNING, f"{w}.target.kinds", f"the structure has no "
                                       f"{', '.join(empty)} units; the intervention reaches "
                                       "only the other kinds"))
    return out


def scenario_findings(sc: Scenario) -> list[Finding]:
    """Every semantic error and warning of a loaded scenario (see the module docstring)."""
    out: list[Finding] = []
    for b in sc.bundles:
        out += bundle_findings(b, f"{sc.path}: bundles: {b.name}")
    present = None
    if not sc.network["file"]:
        found, present = _structure_findings(sc, sc.path)
        out += found
    out += _intervention_findings(sc, present)
    p, o = sc.parameters, sc.output
    # a default the run is too short for is not the file's mistake (the summary says why
    # sustainability is undefined); a value chosen past the end is
    if p["sustainability_weeks"] > sc.weeks \
            and p["sustainability_weeks"] != MODEL["sustainability_weeks"].default:
        out.append(Finding(WARNING, f"{sc.path}: parameters.sustainability_weeks",
                           f"{p['sustainability_weeks']} weeks after support ends is past the "
                           f"run's end (weeks = {sc.weeks}): sustainability is never measured; "
                           "shorten it or lengthen the run"))
    if o["every_weeks"] >= sc.weeks:
        out.append(Finding(WARNING, f"{sc.path}: output.every_weeks", f"recording every "
                           f"{o['every_weeks']} weeks in a run of {sc.weeks} keeps only week 0 "
                           "and the last week; record more often"))
    if p["contagion"] == "complex" and p["threshold_mean"] >= 1.0:
        out.append(Finding(WARNING, f"{sc.path}: parameters.threshold_mean", "with complex "
                           f"contagion a mean threshold of {p['threshold_mean']:g} means social "
                           "influence acts only once every colleague already uses the bundle, "
                           "which nobody can wait for; lower it (the default is 0.3)"))
    return _unique(out)


# --- experiments -------------------------------------------------------------------------------
def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def experiment_findings(exp: Experiment) -> list[Finding]:
    """Each arm's scenario findings, identical arms and repeated design points."""
    out: list[Finding] = []
    for arm in exp.arms:
        out += scenario_findings(arm)
    seen: dict[str, str] = {}
    for name, arm in zip(exp.arm_names, exp.arms, strict=True):
        resolved = arm.resolved()
        resolved.pop("comparator")  # an arm's own strategy: its name
        for s in resolved["strategies"]:
            s.pop("name")
        key = _canonical(resolved)
        if key in seen:
            out.append(Finding(WARNING, f"{exp.path}: arms", f"arms {seen[key]!r} and {name!r} "
                               "are identical (same strategy and overrides): they differ only "
                               "by name; change one or drop it"))
        else:
            seen[key] = name
    first: dict[str, int] = {}
    repeats = []
    for i, point in enumerate(exp.points):
        key = _canonical({k: point[k] for k in sorted(point)})
        if key in first:
            repeats.append((i, first[key], key))
        else:
            first[key] = i
    if repeats:
        i, j, key = repeats[0]
        out.append(Finding(WARNING, f"{exp.path}: design", f"{len(repeats)} design point(s) "
                           f"repeat earlier ones (point {i} = point {j}: {key}): their runs "
                           "duplicate work; drop them (replicates are the way to repeat a "
                           "point)"))
    return _unique(out)


# --- evidence designs (the joint calibration) --------------------------------------------------
def evidence_findings(target: Any) -> list[Finding]:
    """An evidence target's design must name what its scenario has, before any particle runs.

    The strategies (arm, comparator), the bundle and the element are otherwise looked up in
    the middle of the first simulation (sim.calibrate.designs).
    """
    from sim.calibrate.designs import scenario_for

    design = target.design
    if design is None:
        return []
    sc = scenario_for(target)
    where = f"{target.path}: design"
    out = []
    strategies = [s.name for s in sc.strategies]
    for key in ("arm", "comparator"):
        name = getattr(design, key)
        if name and name not in strategies:
            out.append(Finding(ERROR, f"{where}.{key}", f"no strategy {name!r} in {sc.path}; "
                               f"strategies: {', '.join(strategies)}"))
    bundle = next((b for b in sc.bundles if b.name == target.bundle), None)
    if target.bundle and bundle is None:
        out.append(Finding(ERROR, f"{target.path}: bundle", f"no bundle {target.bundle!r} in "
                           f"{sc.path}; bundles: {', '.join(sc.bundle_names)}"))
    if design.output == "element":
        elements = [e.name for b in sc.bundles for e in b.elements]
        if not target.element and len(elements) != 1:
            out.append(Finding(ERROR, f"{target.path}: element", f"{sc.path} has "
                               f"{len(elements)} elements; name the bundle and element the "
                               "figure is about"))
        elif target.element and (bundle is None
                                 or target.element not in [e.name for e in bundle.elements]):
            out.append(Finding(ERROR, f"{target.path}: element", f"no element "
                               f"{target.element!r} of bundle {target.bundle!r} in {sc.path}"))
    if design.output == "harm_rate" and (bundle is None or bundle.harm is None):
        out.append(Finding(ERROR, f"{target.path}: bundle", f"output = \"harm_rate\" needs a "
                           f"bundle with a [harm] table in {sc.path}; name one"))
    return out

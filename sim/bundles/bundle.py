"""Bundles as data: the TOML file format, its validation and the registry of shipped bundles.

A bundle is what staff adopt: a set of *elements* (each performed by some roles, some crossing the
specialist/municipal boundary so that both sides must do them), with properties that make it easier
or harder to take up. Bundles live in files so users add their own without code.

Every number in a bundle file is either a plain number or ``{ value = ..., source = "..." }``;
shipped bundles give a source (a citation, or ``"assumption"``) for every number.

File format::

    name = "antibiotic_stewardship"          # identifier used in scenarios
    title = "Antibiotic stewardship"
    description = "..."
    settings = ["hospital", "nursing_home"]  # organisation kinds it applies to
    complexity = { value = 0.4, source = "assumption" }          # 0..1
    evidence_strength = { value = 0.8, source = "..." }          # 0..1

    [[elements]]
    name = "indication_documented"
    roles = ["physician"]
    settings = ["hospital"]          # optional: where this element is done (default: all settings)
    cross_boundary = false
    baseline_fidelity = { value = 0.55, source = "..." }         # share done before support
    indicator = { name = "indication recorded", unit = "% of antibiotic prescriptions",
                  source = "..." }  # optional: the published process indicator it is measured by

    [harm]                           # optional for user bundles; shipped bundles all have it
    event = "Clostridioides difficile infection"
    settings = ["hospital"]          # optional: where the harm is counted (default: all settings)
    baseline_rate_per_patient_week = { value = 0.002, source = "..." }  # events per patient-week
    relative_risk = { value = 0.8, source = "..." }    # for a patient whose care complied

Harm rates and the all-cause budget
-----------------------------------
A bundle's harm is a share of the setting's all-cause harm (``[patients]
all_cause_harm_rate_<kind>``): the baseline rates of a scenario's bundles in one setting cannot
sum past it (:func:`check_harm_budget`, a one-line error naming the bundles). An *all-cause*
bundle (patient-safety management) declares ``scope = "residual"`` and no rate of its own: it
acts on the residual, the all-cause rate minus the other scenario bundles' rates in that setting.

Device-related harm may be stated in the literature's units, per 1,000 device-days, with the
device-days per patient-week as its exposure::

    exposure.unit = "catheter-days"
    exposure.per_patient_week = { value = 4.2, source = "..." }  # catheter-days a patient-week
    exposure.indicator = "infections per 1,000 catheter-days"
    baseline_rate_per_1000_exposure = { value = 7.7, source = "..." }  # not the weekly rate

The run reports each bundle's rate per 1,000 exposure units (``harm_rate_indicator``; without
``exposure``: events per 1,000 patient-days).

Per-patient effect from a programme-level ratio
-----------------------------------------------
Instead of ``relative_risk`` a bundle may state the rate ratio a programme observed and the
all-or-none compliance before and after at which it was observed::

    programme_rate_ratio = { value = 0.34, source = "..." }
    programme_compliance_before = { value = 0.1, source = "..." }
    programme_compliance_after = { value = 0.8, source = "..." }

With the rate proportional to ``1 − c (1 − RR)`` the programme ratio is
``IRR = (1 − c1 (1 − RR)) / (1 − c0 (1 − RR))``, so the per-complied-patient ratio is
``1 − RR = (1 − IRR) / (c1 − IRR · c0)`` (:func:`per_patient_rr`); no RR in [0, 1] fits unless
``c1 − IRR · c0 ≥ 1 − IRR``, which is an error. Using the programme ratio as the RR caps the fall
at full compliance at ``1 − IRR`` even though the programme reached it at partial compliance.
The baseline rate stated beside a programme ratio is what the programme observed *before*, at
compliance ``c0``, so the rate of a patient whose care did not comply is that rate divided by
``1 − c0 (1 − RR)``: the model then reproduces the observed rate at ``c0`` and ``IRR`` times it
at ``c1``.

A *cross-boundary* element (a discharge medication list sent by the hospital and taken in by the
nursing home) is done only when the units on both sides of a care pathway do it, so its
``settings`` should include kinds on both sides of the specialist/municipal boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.errors import InputError
from sim.params import ORG_KINDS, ROLES
from sim.tomlfile import check_keys, read_toml

DATA_DIR = Path(__file__).parent / "data"

_TOP_KEYS = {
    "name", "title", "description", "settings", "complexity", "evidence_strength", "elements",
    "harm", "references",
}
_ELEMENT_KEYS = {"name", "title", "roles", "settings", "cross_boundary", "baseline_fidelity",
                 "indicator"}
_HARM_KEYS = {"event", "baseline_rate_per_patient_week", "relative_risk", "settings", "scope",
              "exposure", "baseline_rate_per_1000_exposure", "programme_rate_ratio",
              "programme_compliance_before", "programme_compliance_after"}
_EXPOSURE_KEYS = {"unit", "per_patient_week", "indicator"}
_RATIO_KEYS = ("programme_rate_ratio", "programme_compliance_before",
               "programme_compliance_after")
HARM_SCOPES = ("addressed", "residual")
ALL_CAUSE_KEY = "all_cause_harm_rate_{kind}"
"""The ``[patients]`` parameter holding a setting's all-cause harm rate per patient-week."""


@dataclass(frozen=True)
class Element:
    """One element of a bundle: an action some roles perform for each patient."""

    name: str
    title: str
    roles: tuple[str, ...]
    cross_boundary: bool
    baseline_fidelity: float
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    settings: tuple[str, ...] = ()  # organisation kinds where it is done
    indicator: Indicator | None = None  # the process indicator it is measured by, if any


@dataclass(frozen=True)
class Indicator:
    """A published process indicator an element maps to, so figures compare in their units.

    An element's performance is the share of patients for whom it is done, so only percentage
    indicators ("% of antibiotic prescriptions with an indication recorded") map to one: the
    value is performance × 100. Rates (infections per 1,000 catheter-days) are outcomes, not
    element performance: a bundle's ``[harm] exposure.indicator`` (``harm_rate_indicator``).
    """

    name: str
    unit: str  # starts with "%"
    source: str

    @property
    def scale(self) -> float:
        """Indicator value per unit of performance."""
        return 100.0


@dataclass(frozen=True)
class Harm:
    """The patient harm a bundle prevents: event rate without it, relative risk with it."""

    event: str
    baseline_rate: float  # events per patient-week when the bundle is not complied with
    relative_risk: float  # rate ratio for a patient whose care complied with every element
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    settings: tuple[str, ...] = ()  # where the harm is counted (default: the bundle's settings)
    # "addressed": a share of all-cause harm; "residual": all-cause harm minus the other bundles'
    # (baseline_rate is then 0 here and derived per setting by sim.outcomes.harm)
    scope: str = "addressed"
    exposure_unit: str = "patient-days"  # the exposure the indicator is stated per 1,000 of
    exposure_per_patient_week: float = 7.0  # exposure units per patient-week
    indicator: str = "events per 1,000 patient-days"
    # (IRR, compliance before, compliance after) when RR was derived from a programme ratio
    programme_ratio: tuple[float, float, float] | None = None

    @property
    def residual(self) -> bool:
        """True for an all-cause bundle that acts on what the other bundles leave."""
        return self.scope == "residual"


@dataclass(frozen=True)
class Bundle:
    """A patient-safety bundle loaded from a file."""

    name: str
    title: str
    description: str
    settings: tuple[str, ...]
    complexity: float
    evidence_strength: float
    elements: tuple[Element, ...]
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    path: str = field(default="", compare=False)
    harm: Harm | None = None
    references: tuple[str, ...] = field(default=(), compare=False)

    @property
    def roles(self) -> tuple[str, ...]:
        """Roles that perform at least one element (the bundle's eligible staff)."""
        return tuple(sorted({r for e in self.elements for r in e.roles}))


def _number(raw: Any, where: str, low: float, high: float) -> tuple[float, str]:
    """Read a plain number or ``{value, source}`` table; return (value, source)."""
    source = "unspecified"
    if isinstance(raw, dict):
        unknown = set(raw) - {"value", "source"}
        if unknown or "value" not in raw:
            raise InputError(where, "must be a number or a table { value = ..., source = \"...\" }")
        source = raw.get("source", "unspecified")
        if not isinstance(source, str) or not source.strip():
            raise InputError(f"{where}.source", "must be a non-empty string (a citation or "
                             "\"assumption\")")
        raw = raw["value"]
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not low <= raw <= high:
        raise InputError(where, f"must be a number in [{low:g}, {high:g}], got {raw!r}")
    return float(raw), source


def _str_list(raw: Any, where: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) for x in raw):
        raise InputError(where, f"must be a non-empty list of: {', '.join(allowed)}")
    bad = [x for x in raw if x not in allowed]
    if bad:
        raise InputError(where, f"unknown value {bad[0]!r}; allowed: {', '.join(allowed)}")
    return tuple(raw)


def bundle_from_dict(data: dict[str, Any], where: str) -> Bundle:
    """Validate a bundle table (from a file or an inline scenario table) into a :class:`Bundle`."""
    check_keys(data, _TOP_KEYS, where, ": ")
    name = data.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise InputError(f"{where}: name", "must be an identifier such as 'falls_prevention'")
    sources: dict[str, str] = {}
    settings = _str_list(data.get("settings"), f"{where}: settings", ORG_KINDS)
    complexity, sources["complexity"] = _number(
        data.get("complexity", 0.5), f"{where}: complexity", 0.0, 1.0)
    evidence, sources["evidence_strength"] = _number(
        data.get("evidence_strength", 0.5), f"{where}: evidence_strength", 0.0, 1.0)
    raw_elements = data.get("elements")
    if not isinstance(raw_elements, list) or not raw_elements:
        raise InputError(f"{where}: elements", "must be a non-empty array of [[elements]] tables")
    elements = []
    for i, el in enumerate(raw_elements):
        ew = f"{where}: elements[{i}]"
        if not isinstance(el, dict):
            raise InputError(ew, "must be a table")
        check_keys(el, _ELEMENT_KEYS, ew)
        ename = el.get("name")
        if not isinstance(ename, str) or not ename.isidentifier():
            raise InputError(f"{ew}.name", "must be an identifier")
        roles = _str_list(el.get("roles"), f"{ew}.roles", ROLES)
        cross = el.get("cross_boundary", False)
        if not isinstance(cross, bool):
            raise InputError(f"{ew}.cross_boundary", f"must be true or false, got {cross!r}")
        base, base_src = _number(el.get("baseline_fidelity", 0.2), f"{ew}.baseline_fidelity",
                                 0.0, 1.0)
        el_settings = settings
        if "settings" in el:
            el_settings = _str_list(el["settings"], f"{ew}.settings", settings)
        elements.append(Element(ename, str(el.get("title", ename)), roles, cross, base,
                                {"baseline_fidelity": base_src}, el_settings,
                                _indicator(el.get("indicator"), f"{ew}.indicator")))
    names = [e.name for e in elements]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"{where}: elements", f"element name {dupes[0]!r} appears more than "
                         "once; element names must be unique within a bundle")
    harm = _harm(data["harm"], f"{where}: harm", settings) if "harm" in data else None
    refs = data.get("references", [])
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise InputError(f"{where}: references", "must be a list of strings")
    return Bundle(name, str(data.get("title", name)), str(data.get("description", "")), settings,
                  complexity, evidence, tuple(elements), sources, where, harm, tuple(refs))


def per_patient_rr(irr: float, before: float, after: float) -> float | None:
    """Per-complied-patient rate ratio from a programme ratio observed from ``before`` to ``after``.

    Rate ∝ 1 − c (1 − RR), so IRR = (1 − c1 (1 − RR)) / (1 − c0 (1 − RR)) and
    1 − RR = (1 − IRR) / (c1 − IRR · c0). None when no RR in [0, 1] fits.
    """
    if irr == 1.0:
        return 1.0
    denom = after - irr * before
    if denom <= 0.0:
        return None
    reduction = (1.0 - irr) / denom
    if not -1e-12 <= reduction <= 1.0 + 1e-12:
        return None
    return float(min(1.0, max(0.0, 1.0 - reduction)))


def _table(raw: Any, where: str, keys: set[str], required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InputError(where, f"must be a table {{ {', '.join(required)}, ... }}")
    check_keys(raw, keys, where)
    for k in required:
        if k not in raw:
            raise InputError(f"{where}.{k}", "is required")
    return raw


def _harm(raw: Any, where: str, settings: tuple[str, ...]) -> Harm:
    """Validate a bundle's ``[harm]`` table."""
    if not isinstance(raw, dict):
        raise InputError(where, "must be a table [harm] with event, "
                         "baseline_rate_per_patient_week and relative_risk")
    check_keys(raw, _HARM_KEYS, where)
    if "event" not in raw:
        raise InputError(f"{where}.event", "is required")
    event = raw["event"]
    if not isinstance(event, str) or not event.strip():
        raise InputError(f"{where}.event", "must be a non-empty description of the harm")
    scope = raw.get("scope", "addressed")
    if scope not in HARM_SCOPES:
        raise InputError(f"{where}.scope", f"must be one of {', '.join(HARM_SCOPES)}, got "
                         f"{scope!r}")
    sources: dict[str, str] = {}
    unit, per_week, indicator = "patient-days", 7.0, "events per 1,000 patient-days"
    if "exposure" in raw:
        ex = _table(raw["exposure"], f"{where}.exposure", _EXPOSURE_KEYS,
                    ("unit", "per_patient_week"))
        unit = ex["unit"]
        if not isinstance(unit, str) or not unit.strip():
            raise InputError(f"{where}.exposure.unit", "must name the exposure, e.g. "
                             "\"catheter-days\"")
        per_week, sources["exposure"] = _number(
            ex["per_patient_week"], f"{where}.exposure.per_patient_week", 1e-9, 7.0 * 100)
        indicator = ex.get("indicator", f"events per 1,000 {unit}")
        if not isinstance(indicator, str) or not indicator.strip():
            raise InputError(f"{where}.exposure.indicator", "must be a label such as "
                             "\"infections per 1,000 catheter-days\"")
    rate_keys = [k for k in ("baseline_rate_per_patient_week", "baseline_rate_per_1000_exposure")
                 if k in raw]
    if scope == "residual":
        if rate_keys:
            raise InputError(f"{where}.{rate_keys[0]}", "an all-cause bundle (scope = "
                             "\"residual\") has no rate of its own: it acts on the all-cause "
                             "rate ([patients] all_cause_harm_rate_<kind>) minus the other "
                             "bundles'; remove this key")
        rate = 0.0
        sources["baseline_rate_per_patient_week"] = (
            "derived per setting: the all-cause rate ([patients] all_cause_harm_rate_<kind>) "
            "minus the other scenario bundles' baseline rates there (scope = residual)")
    elif len(rate_keys) != 1:
        raise InputError(f"{where}.baseline_rate_per_patient_week", "give exactly one of "
                         "baseline_rate_per_patient_week or baseline_rate_per_1000_exposure "
                         "(with exposure)")
    elif rate_keys[0] == "baseline_rate_per_1000_exposure":
        if "exposure" not in raw:
            raise InputError(f"{where}.exposure", "is required with "
                             "baseline_rate_per_1000_exposure (the exposure per patient-week)")
        per_1000, sources["baseline_rate_per_1000_exposure"] = _number(
            raw["baseline_rate_per_1000_exposure"], f"{where}.baseline_rate_per_1000_exposure",
            0.0, 1000.0)
        rate = per_1000 / 1000.0 * per_week
        sources["baseline_rate_per_patient_week"] = (
            f"derived: {per_1000:g} per 1,000 {unit} × {per_week:g} {unit} per patient-week; "
            f"{sources['baseline_rate_per_1000_exposure']}; exposure: {sources['exposure']}")
        if rate > 1.0:
            raise InputError(f"{where}.baseline_rate_per_1000_exposure", f"gives {rate:g} "
                             "events per patient-week, above 1; check the rate and the exposure")
    else:
        rate, sources["baseline_rate_per_patient_week"] = _number(
            raw["baseline_rate_per_patient_week"], f"{where}.baseline_rate_per_patient_week",
            0.0, 1.0)
    ratio = None
    given = [k for k in _RATIO_KEYS if k in raw]
    if given and len(given) < len(_RATIO_KEYS):
        missing = next(k for k in _RATIO_KEYS if k not in raw)
        raise InputError(f"{where}.{missing}", f"is required with {given[0]} (the programme "
                         "ratio and the compliance before and after at which it was observed)")
    if ("relative_risk" in raw) == bool(given):
        raise InputError(f"{where}.relative_risk", "is required, or instead "
                         "programme_rate_ratio with programme_compliance_before and "
                         "programme_compliance_after (give one of the two)")
    if "relative_risk" in raw:
        rr, sources["relative_risk"] = _number(raw["relative_risk"], f"{where}.relative_risk",
                                               0.0, 1.0)
    else:
        irr, irr_src = _number(raw["programme_rate_ratio"], f"{where}.programme_rate_ratio",
                               0.0, 1.0)
        c0, c0_src = _number(raw["programme_compliance_before"],
                             f"{where}.programme_compliance_before", 0.0, 1.0)
        c1, c1_src = _number(raw["programme_compliance_after"],
                             f"{where}.programme_compliance_after", 0.0, 1.0)
        derived = per_patient_rr(irr, c0, c1)
        if derived is None:
            raise InputError(f"{where}.programme_rate_ratio", f"no per-patient relative risk in "
                             f"[0, 1] gives a programme ratio of {irr:g} when compliance rises "
                             f"from {c0:g} to {c1:g} (needs compliance_after − ratio × "
                             "compliance_before ≥ 1 − ratio); check the three figures")
        rr, ratio = derived, (irr, c0, c1)
        sources["relative_risk"] = (f"derived: 1 − RR = (1 − {irr:g}) / ({c1:g} − {irr:g} × "
                                    f"{c0:g}) from the programme ratio. Ratio: {irr_src}. "
                                    f"Compliance before: {c0_src}. After: {c1_src}")
        # the stated rate was observed before, at compliance c0 (module doc)
        observed = rate
        rate = observed / (1.0 - c0 * (1.0 - rr))
        sources["baseline_rate_per_patient_week"] = (
            f"derived: the rate observed before the programme ({observed:g} per patient-week, "
            f"at compliance {c0:g}) / (1 − {c0:g} × (1 − RR)) for a patient whose care did not "
            f"comply; {sources['baseline_rate_per_patient_week']}")
        if rate > 1.0:
            raise InputError(f"{where}.programme_compliance_before", f"the non-complied rate "
                             f"{rate:g} per patient-week is above 1; check the rate and the "
                             "compliance before")
    harm_settings = settings
    if "settings" in raw:
        harm_settings = _str_list(raw["settings"], f"{where}.settings", settings)
    return Harm(event, rate, rr, sources, harm_settings, scope, unit, per_week, indicator, ratio)


def check_harm_budget(bundles: list[Bundle], patients: dict[str, Any], where: str) -> None:
    """Bundle-addressed harm rates of one setting cannot sum past its all-cause rate.

    Harm types overlap otherwise (counted twice), and the GTT background would have to be
    negative. At most one all-cause (residual) bundle may count harm in a setting.
    """
    for kind in ORG_KINDS:
        key = ALL_CAUSE_KEY.format(kind=kind)
        counted = [b for b in bundles if b.harm is not None and kind in b.harm.settings]
        residual = [b.name for b in counted if b.harm.residual]
        if len(residual) > 1:
            raise InputError(f"{where}: bundles", f"{' and '.join(residual)} are both all-cause "
                             f"(scope = \"residual\") in {kind}: the residual harm would count "
                             "twice; keep one")
        addressed = [b for b in counted if not b.harm.residual]
        total = sum(b.harm.baseline_rate for b in addressed)
        limit = patients[key]
        if total > limit * (1 + 1e-9):
            names = ", ".join(f"{b.name} {b.harm.baseline_rate:g}" for b in addressed)
            raise InputError(f"{where}: bundles", f"in {kind} the bundles' baseline harm rates "
                             f"sum to {total:.4g} per patient-week ({names}), above the all-cause "
                             f"rate {limit:g} (patients.{key}); drop a bundle, lower its rate or "
                             f"raise patients.{key}")


def _indicator(raw: Any, where: str) -> Indicator | None:
    """Validate an element's optional ``indicator = { name, unit, source }`` table."""
    if raw is None:
        return None
    keys = ("name", "unit", "source")
    if not isinstance(raw, dict) or set(raw) != set(keys):
        raise InputError(where, 'must be a table { name = "...", unit = "% of ...", '
                         'source = "..." } with exactly these keys')
    bad = [k for k in keys if not isinstance(raw[k], str) or not raw[k].strip()]
    if bad:
        raise InputError(f"{where}.{bad[0]}", "must be a non-empty string")
    if not raw["unit"].startswith("%"):
        raise InputError(f"{where}.unit", f"must be a percentage such as \"% of prescriptions\" "
                         f"(an element's performance is a share of patients), got {raw['unit']!r}")
    return Indicator(raw["name"], raw["unit"], raw["source"])


def load_bundle_file(path: str | Path) -> Bundle:
    """Load and validate one bundle file."""
    path = Path(path)
    return bundle_from_dict(read_toml(path, "bundle"), str(path))


def shipped_bundles() -> dict[str, Bundle]:
    """All bundles that ship with implsim, by name."""
    out = {}
    for path in sorted(DATA_DIR.glob("*.toml")):
        b = load_bundle_file(path)
        if b.name != path.stem:
            raise InputError(str(path), f"name {b.name!r} must equal the file name {path.stem!r}")
        out[b.name] = b
    return out


def resolve_bundle(ref: str | dict[str, Any], where: str, base_dir: Path | None = None) -> Bundle:
    """Turn a scenario's bundle reference into a :class:`Bundle`.

    ``ref`` is a shipped bundle's name, a path to a bundle file (``*.toml``, relative to the
    scenario file), or an inline table.
    """
    if isinstance(ref, dict):
        return bundle_from_dict(ref, where)
    if not isinstance(ref, str):
        raise InputError(where, "must be a bundle name, a bundle file path or a table")
    if ref.endswith(".toml"):
        path = Path(ref)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.exists():  # a directory or pipe: read_toml says which
            raise InputError(where, f"bundle file {str(path)!r} not found (relative paths are "
                             "relative to the scenario file)")
        return load_bundle_file(path)
    known = shipped_bundles()
    if ref not in known:
        raise InputError(where, f"unknown bundle {ref!r}; shipped bundles are: "
                         f"{', '.join(sorted(known))} (or give a path to a bundle .toml file)")
    return known[ref]

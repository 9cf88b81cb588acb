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

    [harm]                           # optional for user bundles; shipped bundles all have it
    event = "Clostridioides difficile infection"
    settings = ["hospital"]          # optional: where the harm is counted (default: all settings)
    baseline_rate_per_patient_week = { value = 0.002, source = "..." }  # events per patient-week
    relative_risk = { value = 0.8, source = "..." }    # for a patient whose care complied

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
from sim.tomlfile import read_toml

DATA_DIR = Path(__file__).parent / "data"

_TOP_KEYS = {
    "name", "title", "description", "settings", "complexity", "evidence_strength", "elements",
    "harm", "references",
}
_ELEMENT_KEYS = {"name", "title", "roles", "settings", "cross_boundary", "baseline_fidelity"}
_HARM_KEYS = {"event", "baseline_rate_per_patient_week", "relative_risk", "settings"}


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


@dataclass(frozen=True)
class Harm:
    """The patient harm a bundle prevents: event rate without it, relative risk with it."""

    event: str
    baseline_rate: float  # events per patient-week when the bundle is not complied with
    relative_risk: float  # rate ratio for a patient whose care complied with every element
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    settings: tuple[str, ...] = ()  # where the harm is counted (default: the bundle's settings)


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
    unknown = set(data) - _TOP_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise InputError(f"{where}: {key}", f"unknown key; known keys are: "
                         f"{', '.join(sorted(_TOP_KEYS))}")
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
        unknown = set(el) - _ELEMENT_KEYS
        if unknown:
            raise InputError(f"{ew}.{sorted(unknown)[0]}", "unknown key; known keys are: "
                             f"{', '.join(sorted(_ELEMENT_KEYS))}")
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
                                {"baseline_fidelity": base_src}, el_settings))
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


def _harm(raw: Any, where: str, settings: tuple[str, ...]) -> Harm:
    """Validate a bundle's ``[harm]`` table."""
    if not isinstance(raw, dict):
        raise InputError(where, "must be a table [harm] with event, "
                         "baseline_rate_per_patient_week and relative_risk")
    unknown = set(raw) - _HARM_KEYS
    if unknown:
        raise InputError(f"{where}.{sorted(unknown)[0]}", "unknown key; known keys are: "
                         f"{', '.join(sorted(_HARM_KEYS))}")
    missing = [k for k in sorted(_HARM_KEYS - {"settings"}) if k not in raw]
    if missing:
        raise InputError(f"{where}.{missing[0]}", "is required")
    event = raw["event"]
    if not isinstance(event, str) or not event.strip():
        raise InputError(f"{where}.event", "must be a non-empty description of the harm")
    rate, rate_src = _number(raw["baseline_rate_per_patient_week"],
                             f"{where}.baseline_rate_per_patient_week", 0.0, 1.0)
    rr, rr_src = _number(raw["relative_risk"], f"{where}.relative_risk", 0.0, 1.0)
    harm_settings = settings
    if "settings" in raw:
        harm_settings = _str_list(raw["settings"], f"{where}.settings", settings)
    return Harm(event, rate, rr, {"baseline_rate_per_patient_week": rate_src,
                                  "relative_risk": rr_src}, harm_settings)


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
        if not path.is_file():
            raise InputError(where, f"bundle file {str(path)!r} not found (relative paths are "
                             "relative to the scenario file)")
        return load_bundle_file(path)
    known = shipped_bundles()
    if ref not in known:
        raise InputError(where, f"unknown bundle {ref!r}; shipped bundles are: "
                         f"{', '.join(sorted(known))} (or give a path to a bundle .toml file)")
    return known[ref]

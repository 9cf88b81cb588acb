"""A structure built from municipality data: real municipalities, sized by declared ratios.

``[structure] municipalities = "norway_2025"`` (a CSV shipped in ``sim/structures/``) or a path
to a CSV with the same columns lays out, per municipality, nursing homes, home-based care and GP
practices, and per hospital trust a hospital and a mental-health service, all sized from
inhabitants through the ratios declared in :data:`sim.params.STRUCTURE` (each with its source):

- nursing homes: ``places = inhabitants × nursing_home_places_per_1000 / 1000``; units =
  places / ``places_per_nursing_home_unit``; staff = places × ``staff_per_nursing_home_unit`` /
  ``places_per_nursing_home_unit``; nursing homes = units / ``units_per_nursing_home``;
- home-based care: staff = inhabitants × ``home_care_staff_per_1000`` / 1000, in teams of
  ``staff_per_home_care_team``;
- GP practices: GPs = inhabitants / ``inhabitants_per_gp``; practices = GPs /
  ``gps_per_practice``; staff = GPs × ``staff_per_gp_practice`` / ``gps_per_practice``;
- a trust's hospital: beds = catchment inhabitants × ``somatic_beds_per_1000`` / 1000; wards =
  beds / ``beds_per_ward``, each of ``staff_per_ward`` staff on average; its mental-health
  service likewise; ``icu_units_per_trust`` intensive-care units as in a generated catchment.

Whole numbers come from the real-valued quotas by largest-remainder apportionment over the
file's municipalities (and over its trusts) (:func:`apportion`): every municipality gets at
least one unit of each service whose ratio is above 0 (so the smallest still has a nursing
home, home care and a GP practice) and at least 2 staff per unit, and the totals over the file
are the rounded totals the ratios give (the minimums are taken from the others' shares, so a
large municipality's count can be a little below its own quota, and a municipality's count
can differ by one between files). A service's staff in a municipality are then split over its
units by largest remainder, with weights ``max(0.05, 1 + size_variation × Normal)`` (stream
``population``), so unit sizes vary as in a generated catchment and add up exactly.

Hospital trusts: the data has no trust column (a file may add one: then its trusts are used).
Without it, a county's municipalities form ``round(county inhabitants / trust_population)``
trusts (at least 1, at most one per municipality), cut by municipality number at equal shares
of the county's inhabitants; a trust serves the municipalities it holds, and belongs to their
regional health authority. This is an approximation (``sim/structures/README.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sim.csvfile import read_csv
from sim.errors import InputError
from sim.population import KIND_CODE, Layout, Population, populate
from sim.rng import stream

SHIPPED_DIR = Path(__file__).parent / "structures"
AUTHORITIES = ("Helse Sør-Øst", "Helse Vest", "Helse Midt-Norge", "Helse Nord")
"""The four regional health authorities (regionale helseforetak), in the order trusts are
numbered."""
COLUMNS = ("municipality_id", "name", "county_id", "county", "regional_health_authority",
           "population")
#: [structure] keys the data and the ratios replace: writing one beside municipalities is an error.
GENERATED_ONLY = ("regions", "hospital_trusts", "wards_per_trust",
                  "mental_health_units_per_trust", "municipalities_per_trust",
                  "nursing_homes_per_municipality", "home_care_teams_per_municipality",
                  "gp_practices_per_municipality")


@dataclass(frozen=True)
class Municipality:
    """One row of a municipality file."""

    id: str
    name: str  # unique: qualified with the county where two municipalities share a name
    county_id: str
    county: str
    authority: str
    population: int
    trust: str  # the file's trust column, or '' (trusts from the county rule)
    row: str  # "file: row N (line L)" for messages


@dataclass(frozen=True)
class Trust:
    """A hospital trust: its name, regional health authority and municipalities (indices)."""

    name: str
    authority: str
    members: tuple[int, ...]


def shipped_names() -> list[str]:
    """Names of the shipped municipality files (``sim/structures/<name>.csv``)."""
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.csv"))


def resolve_source(value: str, base_dir: Path, where: str) -> str:
    """A shipped name as given, or the file's absolute path (relative to ``base_dir``)."""
    if value in shipped_names():
        return value
    path = Path(value)
    if not path.is_absolute():
        path = base_dir / path
    if not path.is_file():
        raise InputError(where, f"no shipped structure named {value!r} (shipped: "
                         f"{', '.join(shipped_names())}) and no file {str(path)!r} (relative "
                         "paths are relative to the scenario file)")
    return str(path.resolve())


def source_path(value: str) -> Path:
    """The CSV file a resolved ``municipalities`` value names."""
    return SHIPPED_DIR / f"{value}.csv" if value in shipped_names() else Path(value)


def _count(text: str, at: str, column: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise InputError(f"{at}: {column}", f"must be a whole number of inhabitants ≥ 1, got "
                         f"{text!r}")
    return int(text)


def read_municipalities(path: str | Path) -> list[Municipality]:
    """The municipalities of a CSV file, checked row by row (one-line errors)."""
    table = read_csv(path, " (municipalities: a shipped name or a path relative to the "
                     "scenario file)")
    if not table.header:
        raise InputError(table.where, f"is empty; a municipality file needs a header "
                         f"({', '.join(COLUMNS)}) and one row per municipality")
    table.require(COLUMNS, "a municipality structure")
    if not table.rows:
        raise InputError(table.where, "has a header but no municipalities; add one row per "
                         "municipality")
    with_trust = "trust" in table.header
    seen: dict[str, str] = {}
    rows = []
    for row in table.rows:
        at = f"{table.where}: {row.label}"
        cells = row.cells
        for col in ("municipality_id", "name", "county_id", "county",
                    *(("trust",) if with_trust else ())):
            if not cells[col]:
                raise InputError(f"{at}: {col}", "is empty; every municipality needs one")
        mid = cells["municipality_id"]
        if mid in seen:
            raise InputError(f"{at}: municipality_id", f"municipality {mid} is already given "
                             f"in {seen[mid]}; give each municipality once")
        seen[mid] = row.label
        authority = cells["regional_health_authority"]
        if authority not in AUTHORITIES:
            raise InputError(f"{at}: regional_health_authority", f"unknown authority "
                             f"{authority!r}; allowed: {', '.join(AUTHORITIES)}")
        rows.append(Municipality(mid, cells["name"], cells["county_id"], cells["county"],
                                 authority, _count(cells["population"], at, "population"),
                                 cells.get("trust", ""), at))
    first: dict[tuple[str, str], str] = {}
    for m in rows:  # a name twice in one county is one municipality given twice
        if first.setdefault((m.name, m.county), m.row) != m.row:
            raise InputError(f"{m.row}: name", f"{m.name!r} in {m.county} is already given in "
                             f"{first[m.name, m.county].rsplit(': ', 1)[-1]}; give each "
                             "municipality once")
    names = [m.name for m in rows]
    return [m if names.count(m.name) == 1 else replace(m, name=f"{m.name} ({m.county})")
            for m in rows]


def _half_up(x: float) -> int:
    return math.floor(x + 0.5)


def assign_trusts(munis: list[Municipality], trust_population: int) -> list[Trust]:
    """Hospital trusts and their municipalities: the file's trust column, or the county rule."""
    groups: dict[str, list[int]] = {}
    authority: dict[str, str] = {}
    for i, m in enumerate(munis):
        key = m.trust or m.county_id
        if authority.setdefault(key, m.authority) != m.authority:
            what = f"trust {m.trust!r}" if m.trust else f"county {m.county!r}"
            raise InputError(f"{m.row}: regional_health_authority", f"{what} is also in "
                             f"{authority[key]}; a {'trust' if m.trust else 'county'} belongs "
                             "to one regional health authority")
        groups.setdefault(key, []).append(i)
    # Trusts by authority, then by county number (county rule) or first row (trust column).
    order = sorted(groups, key=lambda k: (AUTHORITIES.index(authority[k]),
                                          munis[groups[k][0]].trust and f"{groups[k][0]:09d}",
                                          k))
    trusts = []
    for key in order:
        members = groups[key]
        if munis[members[0]].trust:
            trusts.append(Trust(key, authority[key], tuple(members)))
            continue
        trusts.extend(_split_county(munis, members, trust_population))
    return trusts


def _split_county(munis: list[Municipality], members: list[int],
                  trust_population: int) -> list[Trust]:
    """A county's trusts: contiguous runs by municipality number, equal shares of inhabitants."""
    members = sorted(members, key=lambda i: munis[i].id)
    pops = np.array([munis[i].population for i in members], float)
    total = pops.sum()
    k = max(1, min(len(members), _half_up(total / trust_population)))
    mid = np.cumsum(pops) - pops / 2
    group = np.minimum(k - 1, np.floor(k * mid / total).astype(int))
    used = list(dict.fromkeys(group.tolist()))
    county, auth = munis[members[0]].county, munis[members[0]].authority
    out = []
    for n, g in enumerate(used, start=1):
        name = county if len(used) == 1 else f"{county} {n}"
        out.append(Trust(name, auth, tuple(i for i, gi in zip(members, group, strict=True)
                                           if gi == g)))
    return out


def municipal_quotas(population: int, s: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """(units, staff) the ratios give a municipality's nursing homes, home care and GPs."""
    places = population * s["nursing_home_places_per_1000"] / 1000
    per_place = s["staff_per_nursing_home_unit"] / s["places_per_nursing_home_unit"]
    home_care = population * s["home_care_staff_per_1000"] / 1000
    gps = population / s["inhabitants_per_gp"]
    return {
        "nursing_home": (places / s["places_per_nursing_home_unit"], places * per_place),
        "home_care": (home_care / s["staff_per_home_care_team"], home_care),
        "gp": (gps / s["gps_per_practice"],
               gps * s["staff_per_gp_practice"] / s["gps_per_practice"]),
    }


def trust_quotas(population: int, s: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """(units, staff) the ratios give a trust's hospital, mental-health and intensive care."""
    wards = population * s["somatic_beds_per_1000"] / 1000 / s["beds_per_ward"]
    mental = population * s["mental_health_beds_per_1000"] / 1000 / s["beds_per_mental_health_unit"]
    icu = s["icu_units_per_trust"]
    return {
        "hospital": (wards, wards * s["staff_per_ward"]),
        "mental_health": (mental, mental * s["staff_per_mental_health_unit"]),
        "icu": (icu, icu * s["staff_per_icu_unit"]),
    }


def apportion(quota: np.ndarray, minimum: np.ndarray) -> np.ndarray:
    """Integers ≥ ``minimum`` summing to ``round(Σ quota)`` (largest remainder, Hamilton).

    Entries whose quota, scaled to what is left, falls below their minimum get the minimum; the
    others share the rest in proportion to their quotas. If the minimums exceed the rounded
    total, everybody gets their minimum (the total is then above what the quotas give).
    """
    quota = np.asarray(quota, float)
    minimum = np.asarray(minimum, np.int64)
    total = max(_half_up(float(quota.sum())), int(minimum.sum()))
    fixed = np.zeros(len(quota), bool)
    scaled = np.zeros(len(quota))
    while True:
        free = ~fixed
        left = total - int(minimum[fixed].sum())
        scaled[:] = 0.0
        if quota[free].sum() > 0:
            scaled[free] = quota[free] * left / quota[free].sum()
        newly = free & (scaled < minimum)
        if not newly.any():
            break
        fixed |= newly
    out = np.where(fixed, minimum, np.floor(scaled)).astype(np.int64)
    remainder = np.where(fixed, -1.0, scaled - np.floor(scaled))
    out[np.argsort(-remainder, kind="stable")[: total - int(out.sum())]] += 1
    return out


def _plan(quotas: list[dict[str, tuple[float, float]]]) -> dict[str, tuple[np.ndarray, ...]]:
    """Per kind, (units, staff) of each entity, apportioned.

    At least 1 unit where the service exists, and at least 2 staff per unit.
    """
    out = {}
    for kind in quotas[0] if quotas else ():
        units_q = np.array([q[kind][0] for q in quotas])
        staff_q = np.array([q[kind][1] for q in quotas])
        units = apportion(units_q, (units_q > 0).astype(np.int64))
        out[kind] = units, apportion(staff_q, 2 * units)
    return out


def plan(munis: list[Municipality], trusts: list[Trust], s: dict[str, Any]
         ) -> tuple[dict[str, tuple[np.ndarray, ...]], dict[str, tuple[np.ndarray, ...]]]:
    """(units, staff) by kind, of each trust's specialist services and each municipality's."""
    catchments = [sum(munis[i].population for i in t.members) for t in trusts]
    return (_plan([trust_quotas(c, s) for c in catchments]),
            _plan([municipal_quotas(m.population, s) for m in munis]))


def kind_units(structure: dict[str, Any]) -> dict[str, int]:
    """Units of each organisation kind the structure's data and ratios give (reads the file)."""
    munis = read_municipalities(source_path(structure["municipalities"]))
    trusts = assign_trusts(munis, structure["trust_population"])
    out = dict.fromkeys(KIND_CODE, 0)
    for part in plan(munis, trusts, structure):
        for kind, (units, _) in part.items():
            out[kind] += int(units.sum())
    return out


def split(total: int, weights: np.ndarray, minimum: int = 2) -> np.ndarray:
    """Integers ≥ ``minimum`` that sum to ``total``, the rest shared by weight (largest remainder).

    Needs ``total ≥ minimum × len(weights)`` (what :func:`apportion` guarantees).
    """
    spare = total - minimum * len(weights)
    share = spare * weights / weights.sum()
    base = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - base), kind="stable")
    base[order[: spare - int(base.sum())]] += 1
    return base + minimum


def build_layout(structure: dict[str, Any], rng: np.random.Generator) -> Layout:
    """Organisations and units of the structure's municipalities, trust by trust."""
    munis = read_municipalities(source_path(structure["municipalities"]))
    trusts = assign_trusts(munis, structure["trust_population"])
    lay = Layout([], [], [], [], [], [], [], [], [], [],
                 trust_name=[t.name for t in trusts], trust_region=[t.authority for t in trusts])
    cv = structure["size_variation"]

    def org(name: str, kind: str, trust: int, municipality: int = -1) -> int:
        lay.org_name.append(name)
        lay.org_kind.append(KIND_CODE[kind])
        lay.org_trust.append(trust)
        lay.org_municipality.append(municipality)
        return len(lay.org_name) - 1

    def units(orgs: list[int], kind: str, names: list[str], staff: int) -> None:
        """Units named ``names`` of ``orgs`` (one each), sharing ``staff`` by size weights."""
        weights = np.maximum(0.05, 1.0 + cv * rng.standard_normal(len(names)))
        for o, name, size in zip(orgs, names, split(staff, weights), strict=True):
            lay.unit_name.append(name)
            lay.unit_org.append(o)
            lay.unit_size.append(int(size))
            lay.unit_kind.append(kind)

    specialist = {"hospital": "hospital ward", "mental_health": "mental health unit",
                  "icu": "ICU"}
    org_label = {"hospital": "hospital", "mental_health": "mental health",
                 "icu": "intensive care"}
    specialist_plan, municipal_plan = plan(munis, trusts, structure)
    for t, trust in enumerate(trusts):
        for kind, (n_of, staff_of) in specialist_plan.items():
            n, staff = int(n_of[t]), int(staff_of[t])
            if n:
                o = org(f"{trust.name} {org_label[kind]}", kind, t)
                units([o] * n, kind, [f"{trust.name} {specialist[kind]} {k + 1}"
                                      for k in range(n)], staff)
        for i in trust.members:
            m = munis[i]
            mi = len(lay.municipality_name)
            lay.municipality_name.append(m.name)
            lay.municipality_trust.append(t)
            n, staff = (int(a[i]) for a in municipal_plan["nursing_home"])
            if n:
                homes = min(n, max(1, _half_up(n / structure["units_per_nursing_home"])))
                per_home = [n // homes + (h < n % homes) for h in range(homes)]
                orgs = [org(f"{m.name} nursing home {h + 1}", "nursing_home", t, mi)
                        for h in range(homes)]
                units([o for o, c in zip(orgs, per_home, strict=True) for _ in range(c)],
                      "nursing_home", [f"{m.name} nursing home {h + 1} unit {k + 1}"
                                       for h, c in enumerate(per_home) for k in range(c)], staff)
            n, staff = (int(a[i]) for a in municipal_plan["home_care"])
            if n:
                o = org(f"{m.name} home care", "home_care", t, mi)
                units([o] * n, "home_care", [f"{m.name} home care team {k + 1}"
                                             for k in range(n)], staff)
            n, staff = (int(a[i]) for a in municipal_plan["gp"])
            if n:
                orgs = [org(f"{m.name} GP practice {g + 1}", "gp", t, mi) for g in range(n)]
                units(orgs, "gp", [f"{m.name} GP practice {g + 1}" for g in range(n)], staff)
    if not lay.unit_org:
        raise InputError("structure", "the municipalities and ratios give no units: raise "
                         "the ratios above 0")
    return lay


def build_population(structure: dict[str, Any], params: dict[str, Any], seed: int) -> Population:
    """The population of a structure built from data (stream ``population``)."""
    rng = stream(seed, "population")
    return populate(rng, params, build_layout(structure, rng))

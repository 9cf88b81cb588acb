"""The population: organisations, units and staff as arrays (struct of arrays).

Built once per run seed from the scenario's ``[structure]`` (a generated health-trust catchment)
or from a loaded network file, and shared read-only by every strategy of that seed, so strategies
are compared on the same people (common random numbers). What changes during a run lives in
:mod:`sim.state`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp

from sim.errors import InputError
from sim.params import ORG_KINDS, ROLES, SPECIALIST_KINDS
from sim.rng import stream

KIND_CODE = {k: i for i, k in enumerate(ORG_KINDS)}
ROLE_CODE = {r: i for i, r in enumerate(ROLES)}

# Role mix per organisation kind (shares of staff). Assumption: rounded from typical Norwegian
# staffing (registered nurses dominate wards; care workers dominate municipal care; GP practices are
# physicians plus nurses/secretaries counted as nurses). To be replaced by registry data (SSB).
ROLE_MIX: dict[str, dict[str, float]] = {
    "hospital": {"nurse": 0.58, "physician": 0.22, "care_worker": 0.12, "pharmacist": 0.03,
                 "therapist": 0.0, "manager": 0.05},
    "mental_health": {"nurse": 0.40, "physician": 0.15, "care_worker": 0.15, "pharmacist": 0.0,
                      "therapist": 0.25, "manager": 0.05},
    "nursing_home": {"nurse": 0.35, "physician": 0.04, "care_worker": 0.55, "pharmacist": 0.01,
                     "therapist": 0.0, "manager": 0.05},
    "home_care": {"nurse": 0.40, "physician": 0.0, "care_worker": 0.55, "pharmacist": 0.0,
                  "therapist": 0.0, "manager": 0.05},
    "gp": {"nurse": 0.45, "physician": 0.50, "care_worker": 0.0, "pharmacist": 0.0,
           "therapist": 0.0, "manager": 0.05},
    "icu": {"nurse": 0.72, "physician": 0.18, "care_worker": 0.03, "pharmacist": 0.02,
            "therapist": 0.0, "manager": 0.05},  # assumption: intensive care is nurse-heavy
}


@dataclass
class Population:
    """Who is where: organisations, units and staff (care pathways: sim.networks.pathways)."""

    org_name: list[str]
    org_kind: np.ndarray  # (O,) int8 codes into ORG_KINDS
    org_trust: np.ndarray  # (O,) int32: catchment (hospital trust) the organisation belongs to
    org_leadership: np.ndarray  # (O,) float32 leadership support in [0, 1]
    unit_name: list[str]
    unit_org: np.ndarray  # (U,) int32
    unit_climate: np.ndarray  # (U,) float32 implementation climate in [0, 1]
    unit_workload: np.ndarray  # (U,) float32 workload in [0, 1]
    staff_unit: np.ndarray  # (N,) int32
    staff_role: np.ndarray  # (N,) int8 codes into ROLES
    staff_openness: np.ndarray  # (N,) float32 in [0, 1]
    staff_threshold: np.ndarray  # (N,) float32 complex-contagion threshold
    staff_label: list[str] | None = None  # node ids when loaded from a file
    # (O,) int32: the municipality an organisation serves (-1: a specialist organisation of the
    # trust, which serves every municipality of its catchment). Default: none given.
    org_municipality: np.ndarray | None = None
    municipality_name: list[str] = field(default_factory=list)  # by municipality index
    municipality_trust: np.ndarray | None = None  # (M,) int32: trust of each municipality
    # Names of trusts and of the regional health authority each belongs to, by trust index: a
    # structure built from data (sim.structure_data) has both; a generated catchment only
    # regions ("Region r"; its trusts are "Trust t", sim.outcomes.recorder.trust_names).
    trust_name: list[str] = field(default_factory=list)
    trust_region: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.org_municipality is None:
            self.org_municipality = np.full(len(self.org_kind), -1, np.int32)
        if self.municipality_trust is None:
            self.municipality_trust = np.zeros(len(self.municipality_name), np.int32)

    @property
    def unit_municipality(self) -> np.ndarray:
        """(U,) municipality of each unit's organisation (-1: specialist, none)."""
        return self.org_municipality[self.unit_org]

    @property
    def unit_trust(self) -> np.ndarray:
        """(U,) trust (catchment) of each unit's organisation."""
        return self.org_trust[self.unit_org]

    @property
    def n_staff(self) -> int:
        """Number of staff positions (constant: leavers are replaced)."""
        return len(self.staff_unit)

    @property
    def n_units(self) -> int:
        """Number of units."""
        return len(self.unit_org)

    @property
    def unit_kind(self) -> np.ndarray:
        """Organisation kind code of each unit."""
        return self.org_kind[self.unit_org]

    @property
    def staff_kind(self) -> np.ndarray:
        """Organisation kind code of each staff member's unit."""
        return self.org_kind[self.unit_org[self.staff_unit]]

    def membership(self) -> sp.csr_matrix:
        """Sparse (units × staff) 0/1 matrix: sums over staff of a unit in one product."""
        n = self.n_staff
        return sp.csr_matrix(
            (np.ones(n, np.float32), (self.staff_unit, np.arange(n))),
            shape=(self.n_units, n),
        )


def _beta(rng: np.random.Generator, mean: float, concentration: float, size: int) -> np.ndarray:
    return rng.beta(mean * concentration, (1 - mean) * concentration, size).astype(np.float32)


def _draw_roles(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    """Roles for a unit of ``n`` staff: shares from ROLE_MIX rounded down, the rest drawn."""
    mix = ROLE_MIX[kind]
    probs = np.array([mix[r] for r in ROLES], dtype=float)
    counts = np.floor(probs * n).astype(int)
    rest = n - counts.sum()
    if rest > 0:
        extra = rng.choice(len(ROLES), size=rest, p=probs / probs.sum())
        counts += np.bincount(extra, minlength=len(ROLES))
    return np.repeat(np.arange(len(ROLES), dtype=np.int8), counts)


def draw_staff_traits(
    rng: np.random.Generator, params: dict[str, Any], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Openness and complex-contagion threshold for ``n`` new staff members.

    Used at initialisation and for newcomers after turnover, so both come from one place.
    """
    openness = _beta(rng, params["openness_mean"], 10.0, n)
    threshold = np.clip(
        rng.normal(params["threshold_mean"], params["threshold_sd"], n), 0.0, 1.0
    ).astype(np.float32)
    return openness, threshold


def _context(rng: np.random.Generator, params: dict[str, Any], n_orgs: int,
             n_units: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    conc = params["context_concentration"]
    leadership = _beta(rng, params["leadership_mean"], conc, n_orgs)
    climate = _beta(rng, params["climate_mean"], conc, n_units)
    workload = _beta(rng, params["workload_mean"], conc, n_units)
    return leadership, climate, workload


def shared_context(pop: Population, params: dict[str, Any], seed: int) -> Population:
    """Shared causes of context: trust, municipality and organisation random effects.

    Each trust, municipality and organisation draws one effect ``u ~ Normal(0, SD)`` on the
    logit scale, from its own stream (``context:trust``, ``context:municipality``,
    ``context:organisation``; SDs ``context_sd_*``). An organisation's total ``u_t + u_m + u_o``
    (``u_m = 0`` for specialist organisations, which serve the whole catchment) raises its
    leadership and its units' climate and lowers their workload (more slack):
    ``score' = expit(logit(score) ± u)``. Organisations and units that share a trust or a
    municipality are then alike, which is what makes implementation outcomes correlate within
    clusters. With every SD 0 (the default) the population is returned unchanged.
    """
    sds = {level: params[f"context_sd_{level}"] for level in ("trust", "municipality",
                                                              "organisation")}
    if not any(sds.values()):
        return pop
    n_trusts = int(pop.org_trust.max()) + 1 if len(pop.org_trust) else 0
    sizes = {"trust": n_trusts, "municipality": len(pop.municipality_name),
             "organisation": len(pop.org_name)}
    u = {level: stream(seed, f"context:{level}").normal(0.0, sd, sizes[level])
         for level, sd in sds.items()}
    by_muni = np.append(u["municipality"], 0.0)  # index -1 (no municipality): no effect
    org_u = u["trust"][pop.org_trust] + by_muni[pop.org_municipality] + u["organisation"]
    unit_u = org_u[pop.unit_org]

    def shift(score: np.ndarray, by: np.ndarray) -> np.ndarray:
        x = np.clip(score.astype(np.float64), 1e-6, 1.0 - 1e-6)
        return (1.0 / (1.0 + np.exp(-(np.log(x / (1.0 - x)) + by)))).astype(np.float32)

    return dataclasses.replace(pop, org_leadership=shift(pop.org_leadership, org_u),
                               unit_climate=shift(pop.unit_climate, unit_u),
                               unit_workload=shift(pop.unit_workload, -unit_u))


def generate_catchment(structure: dict[str, Any], params: dict[str, Any], seed: int) -> Population:
    """Generate one or more health-trust catchments from ``[structure]`` parameters."""
    rng = stream(seed, "population")
    org_name: list[str] = []
    org_kind: list[int] = []
    org_trust: list[int] = []
    org_muni: list[int] = []
    muni_name: list[str] = []
    muni_trust: list[int] = []
    unit_name: list[str] = []
    unit_org: list[int] = []
    unit_size: list[int] = []
    unit_kind_name: list[str] = []

    def add_org(name: str, kind: str, trust: int, municipality: int = -1) -> int:
        org_name.append(name)
        org_kind.append(KIND_CODE[kind])
        org_trust.append(trust)
        org_muni.append(municipality)
        return len(org_name) - 1

    def add_units(org: int, kind: str, prefix: str, count: int, mean_size: int,
                  single: bool = False) -> None:
        cv = structure["size_variation"]
        for k in range(count):
            size = int(max(2, round(rng.normal(mean_size, cv * mean_size))))
            unit_name.append(prefix if count == 1 and single else f"{prefix} {k + 1}")
            unit_org.append(org)
            unit_size.append(size)
            unit_kind_name.append(kind)

    s = structure
    for t in range(s["hospital_trusts"]):
        tn = f"Trust {t + 1}"
        if s["regions"] > 1:  # trusts dealt out to regions in turn
            tn = f"Region {t % s['regions'] + 1} {tn}"
        if s["wards_per_trust"]:
            o = add_org(f"{tn} hospital", "hospital", t)
            add_units(o, "hospital", f"{tn} hospital ward", s["wards_per_trust"],
                      s["staff_per_ward"])
        if s["mental_health_units_per_trust"]:
            o = add_org(f"{tn} mental health", "mental_health", t)
            add_units(o, "mental_health", f"{tn} mental health unit",
                      s["mental_health_units_per_trust"], s["staff_per_mental_health_unit"])
        if s["icu_units_per_trust"]:  # none by default: the default draws stay as they were
            o = add_org(f"{tn} intensive care", "icu", t)
            add_units(o, "icu", f"{tn} ICU", s["icu_units_per_trust"], s["staff_per_icu_unit"])
        for m in range(s["municipalities_per_trust"]):
            mn = f"{tn} municipality {m + 1}"
            mi = len(muni_name)
            muni_name.append(mn)
            muni_trust.append(t)
            for h in range(s["nursing_homes_per_municipality"]):
                o = add_org(f"{mn} nursing home {h + 1}", "nursing_home", t, mi)
                add_units(o, "nursing_home", f"{mn} nursing home {h + 1} unit",
                          s["units_per_nursing_home"], s["staff_per_nursing_home_unit"])
            if s["home_care_teams_per_municipality"]:
                o = add_org(f"{mn} home care", "home_care", t, mi)
                add_units(o, "home_care", f"{mn} home care team",
                          s["home_care_teams_per_municipality"], s["staff_per_home_care_team"])
            for g in range(s["gp_practices_per_municipality"]):
                o = add_org(f"{mn} GP practice {g + 1}", "gp", t, mi)
                add_units(o, "gp", f"{mn} GP practice {g + 1}", 1, s["staff_per_gp_practice"],
                          single=True)
    if not unit_org:
        raise InputError("structure", "the structure has no units: set wards_per_trust, "
                         "municipalities_per_trust or the per-municipality counts above 0")
    return populate(rng, params, Layout(
        org_name=org_name, org_kind=org_kind, org_trust=org_trust, org_municipality=org_muni,
        municipality_name=muni_name, municipality_trust=muni_trust, unit_name=unit_name,
        unit_org=unit_org, unit_size=unit_size, unit_kind=unit_kind_name,
        # trusts stay unnamed ("Trust t" in outputs); they are dealt out to regions in turn
        trust_region=[f"Region {t % s['regions'] + 1}" for t in range(s["hospital_trusts"])]))


@dataclass
class Layout:
    """Who is where before anyone is drawn: organisations, units and their sizes.

    A generated catchment and a structure built from data (:mod:`sim.structure_data`) both lay
    out their organisations and units this way; :func:`populate` then draws the people.
    """

    org_name: list[str]
    org_kind: list[int]  # codes into ORG_KINDS
    org_trust: list[int]
    org_municipality: list[int]  # -1: a specialist organisation of its trust
    municipality_name: list[str]
    municipality_trust: list[int]
    unit_name: list[str]
    unit_org: list[int]
    unit_size: list[int]  # staff positions, >= 2
    unit_kind: list[str]  # the unit's organisation kind, for its role mix
    trust_name: list[str] = field(default_factory=list)
    trust_region: list[str] = field(default_factory=list)


def populate(rng: np.random.Generator, params: dict[str, Any], layout: Layout) -> Population:
    """Staff of a layout: roles, traits and context, drawn from ``rng`` in that order."""
    sizes = np.asarray(layout.unit_size)
    staff_unit = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    staff_role = np.concatenate([_draw_roles(rng, k, n) for k, n in zip(layout.unit_kind, sizes,
                                                                        strict=True)])
    openness, threshold = draw_staff_traits(rng, params, len(staff_unit))
    leadership, climate, workload = _context(rng, params, len(layout.org_name),
                                             len(layout.unit_org))
    return Population(
        org_name=layout.org_name, org_kind=np.asarray(layout.org_kind, np.int8),
        org_trust=np.asarray(layout.org_trust, np.int32), org_leadership=leadership,
        unit_name=layout.unit_name, unit_org=np.asarray(layout.unit_org, np.int32),
        unit_climate=climate, unit_workload=workload, staff_unit=staff_unit,
        staff_role=staff_role, staff_openness=openness, staff_threshold=threshold,
        org_municipality=np.asarray(layout.org_municipality, np.int32),
        municipality_name=layout.municipality_name,
        municipality_trust=np.asarray(layout.municipality_trust, np.int32),
        trust_name=layout.trust_name, trust_region=layout.trust_region,
    )


def population_from_graph(graph: nx.Graph, params: dict[str, Any], seed: int,
                          where: str, unit_attribute: str = "unit"
                          ) -> tuple[Population, list[Any]]:
    """Build a population from a loaded network's node attributes.

    Node attributes used (all optional): ``unit`` (or ``unit_attribute``; default: one unit
    for everybody),
    ``organisation`` (default: the unit), ``kind`` (organisation kind, default ``gp``),
    ``role`` (default ``physician`` in GP services, else ``nurse``), ``municipality`` (the
    municipality a municipal organisation serves; default: none). Returns the population and
    the node order (node *i* is staff member *i*).
    """
    rng = stream(seed, "population")
    nodes = list(graph.nodes)
    if not nodes:
        raise InputError(where, "the network has no nodes")
    units: dict[str, int] = {}
    orgs: dict[str, int] = {}
    org_kind: list[int] = []
    org_muni: list[int] = []
    munis: dict[str, int] = {}
    unit_org: list[int] = []
    staff_unit = np.empty(len(nodes), np.int32)
    staff_role = np.empty(len(nodes), np.int8)
    for i, node in enumerate(nodes):
        attrs = graph.nodes[node]
        unit = str(attrs.get(unit_attribute, "all"))
        org = str(attrs.get("organisation", unit))
        kind = str(attrs.get("kind", "gp"))
        if kind not in KIND_CODE:
            raise InputError(f"{where}: node {node!r} kind",
                             f"unknown organisation kind {kind!r}; allowed: {', '.join(ORG_KINDS)}")
        role = str(attrs.get("role", "physician" if kind == "gp" else "nurse"))
        if role not in ROLE_CODE:
            raise InputError(f"{where}: node {node!r} role",
                             f"unknown role {role!r}; allowed: {', '.join(ROLES)}")
        if org not in orgs:
            orgs[org] = len(orgs)
            org_kind.append(KIND_CODE[kind])
            muni = attrs.get("municipality")
            if muni is None or str(muni) == "" or ORG_KINDS[KIND_CODE[kind]] in SPECIALIST_KINDS:
                org_muni.append(-1)
            else:
                org_muni.append(munis.setdefault(str(muni), len(munis)))
        if unit not in units:
            units[unit] = len(units)
            unit_org.append(orgs[org])
        staff_unit[i] = units[unit]
        staff_role[i] = ROLE_CODE[role]
    openness, threshold = draw_staff_traits(rng, params, len(nodes))
    leadership, climate, workload = _context(rng, params, len(orgs), len(units))
    pop = Population(
        org_name=list(orgs), org_kind=np.asarray(org_kind, np.int8),
        org_trust=np.zeros(len(orgs), np.int32), org_leadership=leadership,
        unit_name=list(units), unit_org=np.asarray(unit_org, np.int32), unit_climate=climate,
        unit_workload=workload, staff_unit=staff_unit, staff_role=staff_role,
        staff_openness=openness, staff_threshold=threshold,
        staff_label=[str(n) for n in nodes],
        org_municipality=np.asarray(org_muni, np.int32), municipality_name=list(munis),
    )
    return pop, nodes

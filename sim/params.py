"""Parameter declarations: the one place a model parameter is defined.

Each :class:`Param` carries its type, default, unit, allowed range and the source of its default
(a citation, or ``"assumption"`` for a value to be calibrated or varied). The same declarations
validate scenario files, list the parameters on the command line (``implsim params``), give the
bounds for sensitivity analysis and generate ``docs/parameters.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sim.errors import InputError

ASSUMPTION = "assumption (to be calibrated or varied in sensitivity analysis)"
#: The source of a default set by the joint calibration to the published evidence (issue 15).
FITTED = ("joint calibration to the evidence set (calibration/posterior/evidence_fit/): the "
          "shipped posterior point")


@dataclass(frozen=True)
class Param:
    """One declared parameter.

    ``kind`` is one of ``float``, ``int``, ``bool``, ``str``, ``list[str]``, ``list[int]``.
    ``low``/``high`` bound numbers and each item of an integer list (inclusive); ``choices``
    restrict strings (and each item of a string list).
    """

    name: str
    kind: str
    default: Any
    doc: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    source: str = ASSUMPTION
    #: The range values are believed to lie in (from evidence or the calibration's prior), as
    #: opposed to ``low``/``high``, the range the equations accept. Sensitivity analysis and
    #: calibration priors use it when a file gives no range.
    plausible: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.plausible is not None:
            lo, hi = self.plausible
            if not lo < hi or (self.low is not None and lo < self.low) or (
                    self.high is not None and hi > self.high):
                raise ValueError(f"{self.name}: plausible range {self.plausible} must be "
                                 f"increasing and within [{self.low}, {self.high}]")

    def plausible_range(self) -> tuple[float | None, float | None]:
        """The plausible range if declared, else the validity bounds."""
        if self.plausible is not None:
            return self.plausible
        return self.low, self.high

    def plausible_text(self) -> str:
        """The plausible range in words (docs), or a dash when none is declared."""
        if self.plausible is None:
            return "–"
        return f"[{self.plausible[0]:g}, {self.plausible[1]:g}]"

    def allowed(self) -> str:
        """Describe the allowed values in words, for error messages and docs."""
        if self.kind in ("float", "int"):
            fmt = (lambda v: f"{int(v)}") if self.kind == "int" else (lambda v: f"{v:g}")
            lo = "-inf" if self.low is None else fmt(self.low)
            hi = "inf" if self.high is None else fmt(self.high)
            word = "an integer" if self.kind == "int" else "a number"
            return f"{word} in [{lo}, {hi}]" + (f" ({self.unit})" if self.unit else "")
        if self.kind == "bool":
            return "true or false"
        if self.kind == "list[int]":
            return (f"a list of integers in [{'-inf' if self.low is None else int(self.low)}, "
                    f"{'inf' if self.high is None else int(self.high)}]"
                    + (f" ({self.unit})" if self.unit else ""))
        if self.choices:
            opts = ", ".join(repr(c) for c in self.choices)
            return ("a list of " if self.kind == "list[str]" else "one of ") + opts
        return "a list of strings" if self.kind == "list[str]" else "a string"

    def validate(self, value: Any, where: str) -> Any:
        """Return ``value`` converted to this parameter's type, or raise :class:`InputError`."""
        bad = InputError(where, f"must be {self.allowed()}, got {value!r}")
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise bad
            return value
        if self.kind in ("float", "int"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad
            if self.kind == "int" and not float(value).is_integer():
                raise bad
            if isinstance(value, float) and not math.isfinite(value):
                raise bad
            if (self.low is not None and value < self.low) or (
                self.high is not None and value > self.high
            ):
                raise bad
            return int(value) if self.kind == "int" else float(value)
        if self.kind == "str":
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise bad
            return value
        if self.kind == "list[str]":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad
            if self.choices and any(v not in self.choices for v in value):
                raise bad
            return list(value)
        if self.kind == "list[int]":
            if not isinstance(value, list) or any(
                    isinstance(v, bool) or not isinstance(v, int)
                    or (self.low is not None and v < self.low)
                    or (self.high is not None and v > self.high) for v in value):
                raise bad
            return list(value)
        raise TypeError(f"unknown parameter kind {self.kind!r}")  # declaration bug, not input


@dataclass(frozen=True)
class ParamSet:
    """A named group of declared parameters (a scenario-file table)."""

    name: str
    doc: str
    params: tuple[Param, ...] = field(default_factory=tuple)
    # keys no longer accepted → what to write instead (a clearer error than "unknown key")
    retired: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate parameter names in {self.name}")

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def names(self) -> list[str]:
        """Names of the declared parameters, in declaration order."""
        return [p.name for p in self.params]

    def defaults(self) -> dict[str, Any]:
        """A dict of every parameter at its default."""
        return {p.name: p.default for p in self.params}

    def resolve(self, table: Mapping[str, Any] | None, where: str,
                tables: Iterable[str] = ()) -> dict[str, Any]:
        """Validate a user table against the declarations and fill in defaults.

        Unknown keys are errors that list the known ones, so a typo never passes silently.
        ``tables`` are further keys the caller reads itself (a file's sections): they are
        allowed and left out of the result.
        """
        if table is None:
            table = {}
        if not isinstance(table, Mapping):
            raise InputError(where, f"must be a table of {self.name} values, got {table!r}")
        # "file.toml:" (top level) reads "file.toml: key"; "file.toml: section" reads ".key".
        sep = " " if where.endswith(":") else "."
        own = set(self.names())
        known = own | set(tables)
        for key in table:
            if key in self.retired:
                raise InputError(f"{where}{sep}{key}", self.retired[key])
            if key not in known:
                raise InputError(
                    f"{where}{sep}{key}",
                    f"unknown key; known keys are: {', '.join(sorted(known))}",
                )
        out = self.defaults()
        for key, value in table.items():
            if key in own:
                out[key] = self[key].validate(value, f"{where}{sep}{key}")
        return out


def P(name: str, default: Any, doc: str, **kw: Any) -> Param:
    """Declare a parameter, inferring its kind from the default."""
    kind = kw.pop("kind", None)
    if kind is None:
        if isinstance(default, bool):
            kind = "bool"
        elif isinstance(default, int):
            kind = "int"
        elif isinstance(default, float):
            kind = "float"
        elif isinstance(default, list):
            kind = "list[str]"
        else:
            kind = "str"
    return Param(name=name, kind=kind, default=default, doc=doc, **kw)


ORG_KINDS = ("hospital", "mental_health", "nursing_home", "home_care", "gp", "icu")
"""Organisation kinds (SPEC §3). Hospital, mental-health and intensive-care (``icu``: a trust's
intensive-care organisation, for device-related bundles such as central lines) services are
specialist care; the rest are municipal/primary care, so ties between the two groups cross the
care boundary. The GTT counts ICU stays as somatic hospital stays."""
SPECIALIST_KINDS = ("hospital", "mental_health", "icu")
ROLES = ("nurse", "physician", "care_worker", "pharmacist", "therapist", "manager")
LEVELS = ("unit", "organisation", "municipality", "trust", "kind", "system")
"""Levels of the time series recorded by default, finest first (:mod:`sim.outcomes.recorder`
aggregates them)."""
ALL_LEVELS = ("unit", "organisation", "municipality", "trust", "region", "kind", "system")
"""Every level, finest first: :data:`LEVELS` and the opt-in ``region`` (the regional health
authority of each trust), recorded only when ``[output] levels`` names it, so the tables of a
scenario that does not ask for it keep their level categories (:func:`sim.outcomes.recorder.
level_categories`)."""


# --- Behaviour of staff: the mechanisms of SPEC §5 ---------------------------------------------
MODEL = ParamSet(
    "parameters",
    "Mechanism parameters (one step = one week).",
    (
        P("p_awareness", 0.005, "Weekly chance that an unaware staff member hears of a bundle "
          "through organisational channels (newsletters, meetings).", unit="1/week",
          low=0.0, high=1.0),
        P("p_word_of_mouth", 0.05, "Chance per week and per using colleague tie that an unaware "
          "staff member becomes aware.", unit="1/week/tie", low=0.0, high=1.0),
        P("p_innovation", 0.00044, "Spontaneous (external-influence) weekly adoption hazard of an "
          "aware staff member in a neutral context: the Bass p.", unit="1/week",
          low=0.0, high=1.0,
          plausible=(0.0002, 0.01),
          source=f"{FITTED}; posterior median 0.00032, 90% interval "
          "[0.00022, 0.00061]; plausible range = the prior"),
        P("q_imitation", 0.11, "Social-influence weekly hazard at full exposure (all weighted "
          "neighbours using): the Bass q.", unit="1/week", low=0.0, high=1.0,
          plausible=(0.005, 0.3),
          source=f"{FITTED}; posterior median 0.11, 90% interval "
          "[0.037, 0.27]; plausible range = the prior"),
        P("contagion", "simple", "Social influence model: 'simple' (Bass-like, hazard grows with "
          "the weighted share of using neighbours) or 'complex' (threshold: influence acts only "
          "once that share reaches the staff member's threshold).",
          choices=("simple", "complex")),
        P("threshold_mean", 0.3, "Mean adoption threshold for complex contagion (share of "
          "weighted neighbours using).", unit="share", low=0.0, high=1.0),
        P("threshold_sd", 0.1, "Spread of thresholds across staff.", unit="share",
          low=0.0, high=0.5),
        P("opinion_leader_share", 0.05, "Share of staff who are opinion leaders (highest "
          "network degree).", unit="share", low=0.0, high=1.0),
        P("opinion_leader_weight", 3.0, "How much more an opinion leader's example weighs in "
          "colleagues' exposure.", unit="×", low=1.0, high=20.0,
          source="assumption; opinion leaders per Flodgren et al. 2019 (Cochrane)"),
        P("openness_mean", 0.5, "Mean openness to evidence-based practice (EBPAS-like score "
          "scaled to [0, 1]).", unit="score", low=0.05, high=0.95),
        P("beta_openness", 1.0, "Log-hazard effect of openness (per unit above 0.5).",
          unit="log-hazard", low=0.0, high=5.0),
        P("beta_knowledge", 2.0, "Log-hazard effect of knowledge on adoption (knowledge in "
          "[0, 1]).", unit="log-hazard", low=0.0, high=5.0),
        P("leadership_mean", 0.5, "Mean leadership support of organisations.", unit="score",
          low=0.05, high=0.95),
        P("climate_mean", 0.5, "Mean implementation climate of units.", unit="score",
          low=0.05, high=0.95),
        P("workload_mean", 0.5, "Mean workload of units (1 = no slack).", unit="score",
          low=0.05, high=0.95),
        P("context_concentration", 10.0, "Beta concentration of organisation/unit context "
          "scores around their means (higher = more alike).", unit="", low=1.0, high=200.0),
        P("context_sd_trust", 0.0, "SD of a hospital trust's shared effect on the context of "
          "all its organisations (logit scale: raises leadership and climate, lowers "
          "workload); shared causes make implementation alike within a trust.",
          unit="logit", low=0.0, high=5.0,
          source="assumption: 0, no shared variation (earlier versions); to be calibrated to "
          "between-trust intra-cluster correlations"),
        P("context_sd_municipality", 0.0, "SD of a municipality's shared effect on the "
          "context of its municipal organisations (logit scale, as context_sd_trust).",
          unit="logit", low=0.0, high=5.0,
          source="assumption: 0, no shared variation (earlier versions); to be calibrated to "
          "between-municipality intra-cluster correlations"),
        P("context_sd_organisation", 0.0, "SD of an organisation's shared effect on its own "
          "leadership and on all its units' climate and workload (logit scale), beside the "
          "independent Beta draws of each score.", unit="logit", low=0.0, high=5.0,
          source="assumption: 0, no shared variation (earlier versions)"),
        P("beta_leadership", 1.0, "Log-hazard effect of leadership support (per unit above "
          "0.5) on trying and keeping a bundle.", unit="log-hazard", low=0.0, high=5.0),
        P("beta_climate", 1.0, "Log-hazard effect of implementation climate.",
          unit="log-hazard", low=0.0, high=5.0),
        P("beta_workload", 1.0, "Log-hazard penalty of workload (per unit above 0.5).",
          unit="log-hazard", low=0.0, high=5.0),
        P("beta_bundle", 1.0, "Log-hazard effect of a bundle's evidence strength minus its "
          "complexity.", unit="log-hazard", low=0.0, high=5.0),
        P("beta_concurrent", 0.3, "Log-hazard penalty on trying a bundle per other bundle the "
          "person is trying at the same time (competing demands).", unit="log-hazard",
          low=0.0, high=5.0),
        P("adoption_ceiling", 0.54, "Destination (Bass market potential): the share of "
          "eligible staff who would take up a bundle at all, in a neutral context without "
          "support; context and support shift it on the log-odds scale "
          "(sim.mechanisms.destination). 1: no limit (earlier versions).", unit="share",
          low=0.0, high=1.0,
          plausible=(0.05, 0.95),
          source=f"{FITTED}; posterior median 0.51, 90% interval "
          "[0.23, 0.9]; plausible range = the prior"),
        P("beta_ceiling_support", 4.6, "Log-odds by which full support (facilitation, "
          "feedback, champions, reminders) widens the destination; when support ends the "
          "destination narrows again and practice beyond it decays.", unit="log-odds",
          low=0.0, high=10.0,
          plausible=(0.0, 6.0),
          source=f"{FITTED}; posterior median 2.9, 90% interval "
          "[0.42, 5.7]; plausible range = the prior"),
        P("p_routinise", 0.04, "Weekly chance that a staff member trying a bundle makes it "
          "routine, at full fidelity.", unit="1/week", low=0.0, high=1.0),
        P("p_abandon", 0.01, "Weekly hazard that a user without support abandons the bundle "
          "(neutral context).", unit="1/week", low=0.0, high=1.0),
        P("routine_protection", 0.8, "Share by which routine use lowers the abandonment "
          "hazard.", unit="share", low=0.0, high=1.0),
        P("learning_by_doing", 0.05, "Weekly knowledge gain from using a bundle (share of the "
          "gap to full knowledge).", unit="1/week", low=0.0, high=1.0),
        P("knowledge_decay", 0.005, "Weekly loss of knowledge when not using the bundle.",
          unit="1/week", low=0.0, high=1.0),
        P("fidelity_gain", 0.1, "Weekly gain of element fidelity while using (share of the "
          "gap to 1, at full knowledge).", unit="1/week", low=0.0, high=1.0),
        P("fidelity_decay", 0.01, "Weekly drift of element fidelity back to baseline without "
          "reinforcement.", unit="1/week", low=0.0, high=1.0),
        P("element_correlation", 0.5, "Correlation of a patient's element care within a unit "
          "(copula weight): all-or-none compliance is (1 - rho) x the product of the elements' "
          "performance (independent elements) + rho x the weakest element's (comonotonic: one "
          "common factor drives every element). 0: independence; 1: the weakest element.",
          unit="share", low=0.0, high=1.0,
          source="assumption: 0.5, halfway between independence and one common factor, until "
          "calibrated (issue 14: real element performance is positively correlated; 0 gives "
          "the independence of earlier versions). "
          "min(u, v) is the Fréchet-Hoeffding upper-bound (comonotonicity) copula (copBasic "
          "docs, M, citing Nelsen 2006, An introduction to copulas, p. 11); a convex mixture "
          "of copulas is a copula"),
        P("turnover_annual", 0.15, "Mean annual staff turnover (leavers replaced by unaware "
          "newcomers).", unit="1/year", low=0.0, high=1.0,
          source="assumption; Norwegian nursing turnover is commonly reported near 10-20%/year"),
        P("capacity_gain", 0.5, "Implementation capacity a unit gains from each bundle it "
          "implements (learning transfer).", unit="capacity", low=0.0, high=5.0,
          plausible=(0.0, 1.0),
          source="assumption: no evidence target constrains it (only the product "
          "beta_capacity x capacity_gain matters, experiments/antibiotics_first_transfer.toml); "
          "plausible range also an assumption"),
        P("org_spillover", 0.5, "Weight of the organisation's mean capacity in a unit's "
          "effective capacity (what sister units learned).", unit="share", low=0.0, high=1.0),
        P("beta_capacity", 0.6, "Log-hazard effect of effective capacity: speeds trying and "
          "slows abandoning later bundles.", unit="log-hazard/capacity", low=0.0, high=5.0,
          plausible=(0.0, 1.2),
          source="assumption: no evidence target constrains it; the antibiotics-first result "
          "is conditional on it (experiments/antibiotics_first_transfer.toml); plausible range "
          "also an assumption"),
        P("penetration_threshold", 0.5, "All-or-none compliance at which a unit counts as "
          "having implemented a bundle: penetration counts such units, and the first week a "
          "unit reaches it raises its implementation capacity (learning transfer).",
          unit="share", low=0.0, high=1.0),
        P("sustainability_weeks", 52, "Weeks after support ends at which sustainability "
          "(the share of the gain retained) is measured.", unit="weeks", low=1, high=520),
        P("sustainability_min_gain", 0.05, "Smallest gain in system compliance (support end "
          "minus week 0) for which the retained share of the gain is defined; below it "
          "sustainability is undefined (NaN, with the reason in sustainability_undefined).",
          unit="share", low=1e-6, high=1.0,
          source="assumption: 5 percentage points"),
        P("sustained_share_of_peak", 0.8, "A unit counts as having sustained a bundle when its "
          "compliance sustainability_weeks after support ends is at least this share of its "
          "peak during support.", unit="share", low=0.0, high=1.0,
          source="assumption (issue 14: 'keep ≥ 80% of their peak')"),
    ),
    retired={"success_fidelity": "no longer a parameter: a unit has implemented a bundle when "
             "its all-or-none compliance reaches penetration_threshold (one definition for "
             "penetration and learning transfer); set penetration_threshold instead"},
)


# --- Structure of the default catchment (SPEC §10) ---------------------------------------------
STRUCTURE = ParamSet(
    "structure",
    "Organisations and units of a generated health-trust catchment.",
    (
        P("regions", 1, "Regional health authorities the trusts are spread over (names only).",
          low=1, high=20, source="SPEC §10: 4 regional health authorities"),
        P("hospital_trusts", 1, "Hospital trusts (each with its own municipalities).",
          low=1, high=100),
        P("wards_per_trust", 20, "Somatic wards per hospital trust.", low=0, high=500,
          source="SPEC §10: ~20 wards per trust"),
        P("mental_health_units_per_trust", 4, "Units of the trust's mental-health service.",
          low=0, high=200),
        P("municipalities_per_trust", 10, "Municipalities in each trust's catchment.",
          low=0, high=400, source="SPEC §10: ~10 municipalities per trust catchment"),
        P("nursing_homes_per_municipality", 3, "Nursing homes per municipality.", low=0,
          high=100, source="SPEC §11: ~990 nursing homes / 356 municipalities ≈ 2.8"),
        P("units_per_nursing_home", 2, "Units (wards) per nursing home.", low=1, high=20),
        P("home_care_teams_per_municipality", 3, "Home-based care teams per municipality.",
          low=0, high=100),
        P("gp_practices_per_municipality", 4, "GP practices per municipality.", low=0,
          high=500, source="SPEC §11: 5,224 GPs / 356 municipalities ≈ 15 GPs, ~4 practices"),
        P("staff_per_ward", 45, "Mean staff per hospital ward.", unit="staff", low=2, high=500),
        P("staff_per_mental_health_unit", 30, "Mean staff per mental-health unit.",
          unit="staff", low=2, high=500),
        P("staff_per_nursing_home_unit", 35, "Mean staff per nursing-home unit.",
          unit="staff", low=2, high=500),
        P("staff_per_home_care_team", 40, "Mean staff per home-care team.", unit="staff",
          low=2, high=500),
        P("staff_per_gp_practice", 8, "Mean staff per GP practice (GPs, nurses, secretaries).",
          unit="staff", low=2, high=100),
        P("icu_units_per_trust", 0, "Intensive-care units of the trust's intensive-care "
          "organisation (0: none; the central-line bundle needs them).", low=0, high=100,
          source="assumption: none in the default catchment, so adding ICUs is a scenario's "
          "choice (experiments/keystone.toml)"),
        P("staff_per_icu_unit", 60, "Mean staff per intensive-care unit.", unit="staff",
          low=2, high=500, source="assumption: ~8 beds at about 1-1.5 nurses per bed per shift"),
        P("size_variation", 0.15, "Coefficient of variation of unit sizes.", unit="share",
          low=0.0, high=1.0),
        # A structure built from municipality data (sim.structure_data): the counts above that
        # say how many trusts, municipalities and units there are give way to these ratios.
        P("municipalities", "", "Build the catchments from municipality data instead of the "
          "counts above: a shipped name ('norway_2025') or a CSV file (columns "
          "municipality_id, name, county_id, county, regional_health_authority, population; "
          "optional trust), relative to the scenario file. Empty: generate."),
        P("trust_population", 280000, "Without a trust column: inhabitants per hospital trust; "
          "a county's municipalities form round(county inhabitants / this) trusts.",
          unit="inhabitants", low=1000, high=100000000,
          source="assumption: 5,550,203 inhabitants (norway_2025) / 20 trusts (SPEC §10: ~20 "
          "hospital trusts); gives 20 trusts for norway_2025"),
        P("somatic_beds_per_1000", 1.94, "Somatic hospital beds per 1,000 inhabitants of a "
          "trust's catchment (wards = beds / beds_per_ward).", unit="beds/1,000", low=0.0,
          high=50.0,
          source="derived from SSB: 18,209 specialist beds in 2023 (Specialist health service, "
          "main figures) × the somatic hospitals' share in 2015, 11,535 of 19,519 beds (SSB, "
          "'Sykehussenger til besvær') = 10,761 beds / 5,550,203 inhabitants (assumption: the "
          "2015 share holds)"),
        P("beds_per_ward", 21.0, "Beds of a somatic ward.", unit="beds", low=1.0, high=500.0,
          source="assumption: ~21 beds at ~85% occupancy, as [patients] patients_per_ward"),
        P("mental_health_beds_per_1000", 0.667, "Mental-health inpatient beds per 1,000 "
          "inhabitants of a trust's catchment.", unit="beds/1,000", low=0.0, high=50.0,
          source="derived from SSB as somatic_beds_per_1000: 18,209 beds (2023) × 3,971 / "
          "19,519 (mental health care's share in 2015) = 3,704 beds / 5,550,203 inhabitants"),
        P("beds_per_mental_health_unit", 14.0, "Beds of a mental-health unit.", unit="beds",
          low=1.0, high=500.0,
          source="assumption: 12 inpatients ([patients] patients_per_mental_health_unit) at "
          "~85% occupancy"),
        P("nursing_home_places_per_1000", 7.17, "Nursing-home places per 1,000 inhabitants "
          "(the data has no age groups, so per inhabitant, not per inhabitant 80+).",
          unit="places/1,000", low=0.0, high=100.0,
          source="SSB, Care services (updated 16 June 2025): 39,816 nursing-home beds on "
          "31.12.2024; / 5,550,203 inhabitants (norway_2025) = 7.17 per 1,000"),
        P("places_per_nursing_home_unit", 20.0, "Places of a nursing-home unit (units = "
          "places / this; nursing homes = units / units_per_nursing_home).", unit="places",
          low=1.0, high=500.0,
          source="SPEC §11: ~40,000 places in ~990 nursing homes ≈ 40 a home, 2 units each"),
        P("home_care_staff_per_1000", 8.0, "Home-based care staff per 1,000 inhabitants "
          "(teams = staff / staff_per_home_care_team).", unit="staff/1,000", low=0.0,
          high=200.0,
          source="assumption: a generated catchment's home care per municipality (3 teams of "
          "40) × 357 municipalities ≈ 43,000 staff / 5.55 M inhabitants ≈ 7.7 per 1,000. "
          "Upper bound from SSB, Care services: 160,779 care man-years (2024) = "
          "29.0 per 1,000, minus the model's nursing-home staff (12.6 per 1,000) leaves 16.4, "
          "which includes services for people with disabilities"),
        P("inhabitants_per_gp", 1057.0, "Inhabitants per regular GP (fastlege).",
          unit="inhabitants", low=10.0, high=100000.0,
          source="Helsedirektoratet, Allmennlegetjenesten statusrapport høsten 2023, table "
          "1.1 (October 2023): 5,224 regular GPs; 5,301,951 list inhabitants with a regular GP "
          "+ 220,462 without = 5,522,413, i.e. 1,057 per GP (mean list length 1,010)"),
        P("gps_per_practice", 4.0, "Regular GPs per GP practice (practice staff = GPs × "
          "staff_per_gp_practice / this).", unit="GPs", low=1.0, high=50.0,
          source="assumption: 4 GPs in a practice of staff_per_gp_practice = 8 (half of a "
          "practice's staff are physicians, role mix)"),
    ),
)


# --- Collaboration network layers (SPEC §4) -----------------------------------------------------
NETWORK = ParamSet(
    "network",
    "Layers of the staff collaboration network (generated), or a network file to load.",
    (
        P("within_unit_degree", 6, "Mean number of colleagues each staff member works closely "
          "with in their own unit (even; ring-lattice degree).", unit="ties", low=0, high=100),
        P("within_unit_rewiring", 0.1, "Watts–Strogatz rewiring probability within units "
          "(low = clustered, high = random).", unit="share", low=0.0, high=1.0),
        P("cross_unit_degree", 1.0, "Mean ties per staff member to other units of the same "
          "organisation.", unit="ties", low=0.0, high=50.0),
        P("cross_boundary_degree", 0.3, "Mean care-pathway ties per staff member across the "
          "specialist/municipal boundary (within the trust's catchment).", unit="ties",
          low=0.0, high=50.0),
        P("file", "", "A network file to load instead of generating one: GraphML, or a CSV "
          "edge list (columns source,target[,relation,weight]) with a node table given in "
          "'nodes'. Relative paths are relative to the scenario file."),
        P("nodes", "", "CSV node table for a CSV edge list (an id column, optional 'unit', "
          "'organisation', 'kind', 'role')."),
        P("node_id_column", "id", "Name of the id column of the node table."),
        P("unit_attribute", "unit", "Node attribute that names a loaded node's unit (e.g. "
          "'city' for the Medical Innovation data); nodes without it share one unit."),
        P("directed_influence", False, "For loaded directed networks: influence flows only "
          "from a nominated person to the one who named them (True) or both ways (False)."),
        P("pathways_file", "", "CSV of care pathways (patient flows between units; columns "
          "from_unit,to_unit,patients_per_week, units by name) instead of generated ones. "
          "Relative paths are relative to the scenario file."),
        P("pathways_dispersion", 0.3, "How much specialist units differ in where their "
          "patients live: each unit's split of its discharges over the trust's municipalities "
          "is Dirichlet(a / d^2) around the municipalities' size shares a, so a share's SD is "
          "d sqrt(a (1 - a) / (1 + d^2)); 0: every unit splits exactly by size.", unit="",
          low=0.0, high=10.0, source="assumption"),
    ),
)


# --- Patients (SPEC §3: patients enter as flows per unit) ---------------------------------------
PATIENTS = ParamSet(
    "patients",
    "Patients under each unit's care per week (the census), at the unit's mean staff size; a "
    "unit's census scales with its size. Harm is counted per patient-week.",
    (
        P("patients_per_ward", 18.0, "Inpatients on a somatic ward of mean size.",
          unit="patients", low=0.0, high=1000.0,
          source="assumption: ~21 beds at ~85% occupancy"),
        P("patients_per_mental_health_unit", 12.0, "Inpatients in a mental-health unit.",
          unit="patients", low=0.0, high=1000.0, source="assumption"),
        P("mental_health_length_of_stay_days", 18.0, "Mean length of a mental-health "
          "inpatient stay: a unit's discharges per week (along its care pathways) = census x 7 "
          "/ length of stay (a somatic ward's use [measurement] length_of_stay_days).",
          unit="days", low=0.1, high=3650.0,
          source="velferd.no 2019, 'Kortere liggetid i psykisk helsevern', citing SSB: mean "
          "length of stay in mental health care fell from 27 (2009) to 18 bed-days (2018)"),
        P("residents_per_nursing_home_unit", 20.0, "Residents of a nursing-home unit.",
          unit="patients", low=0.0, high=1000.0,
          source="SPEC §11: ~40,000 places in ~990 nursing homes ≈ 40 per home; 2 units each"),
        P("clients_per_home_care_team", 60.0, "Clients of a home-care team.", unit="patients",
          low=0.0, high=5000.0, source="assumption"),
        P("patients_per_gp_practice", 4400.0, "Listed patients of a GP practice.",
          unit="patients", low=0.0, high=100000.0,
          source="assumption: ~1,100 listed patients per GP (5,224 GPs, SPEC §11) × 4 GPs"),
        P("patients_per_icu_unit", 7.0, "Patients in an intensive-care unit of mean size.",
          unit="patients", low=0.0, high=1000.0,
          source="assumption: ~8 beds at ~85% occupancy"),
        # All-cause harm per setting: the budget that bundle-addressed harm rates share
        P("all_cause_harm_rate_hospital", 0.2712, "All-cause harm (GTT categories E-I) per "
          "patient-week on a somatic ward at week 0: bundle-addressed harm rates cannot sum "
          "past it, an all-cause bundle acts on what the others leave, and the GTT background "
          "is what no bundle addresses. The week-0 GTT share is 1 − exp(−rate × "
          "length_of_stay_days / 7).", unit="1/patient-week", low=0.0, high=5.0,
          source="derived from SPEC §11 / FHI 2014: GTT 15.9% (2010), 16.1% (2011) of "
          "admissions with >= 1 harm; with stays of 4.5 days (length_of_stay_days, "
          "assumption) −ln(1 − 0.16) / (4.5 / 7) = 0.2712 per patient-week"),
        P("all_cause_harm_rate_icu", 0.6, "All-cause harm per patient-week in an "
          "intensive-care unit at week 0.", unit="1/patient-week", low=0.0, high=5.0,
          source="assumption: about twice the somatic ward rate (sicker patients, more "
          "devices)"),
        P("all_cause_harm_rate_mental_health", 0.05, "All-cause harm per patient-week in a "
          "mental-health unit at week 0.", unit="1/patient-week", low=0.0, high=5.0,
          source="assumption"),
        P("all_cause_harm_rate_nursing_home", 0.1, "All-cause harm per resident-week in a "
          "nursing-home unit at week 0.", unit="1/patient-week", low=0.0, high=5.0,
          source="assumption"),
        P("all_cause_harm_rate_home_care", 0.05, "All-cause harm per client-week in "
          "home-based care at week 0.", unit="1/patient-week", low=0.0, high=5.0,
          source="assumption"),
        P("all_cause_harm_rate_gp", 0.001, "All-cause harm per listed-patient-week in a GP "
          "practice at week 0.", unit="1/patient-week", low=0.0, high=5.0,
          source="assumption"),
    ),
)


# --- Measurement as the programme did it: the optional [measurement] table ------------------
SEVERITY_KEYS = ("severity_share_E", "severity_share_F", "severity_share_G",
                 "severity_share_H", "severity_share_I")
_SEVERITY_SOURCE = ("Helsedirektoratet, Pasientskader i Norge 2020 målt med GTT, table 2: stays "
                    "with >= 1 harm by severity E 5.5%, F 7.6%, G 0.65%, H 0.30%, I 0.15% of "
                    "stays, normalised to shares of harms (assumption: one harm per harmed stay "
                    "and category)")


@dataclass(frozen=True)
class WeekListParam(Param):
    """A list of week numbers (the base declarations have no integer lists)."""

    def allowed(self) -> str:
        """Describe the allowed values."""
        return "a list of week numbers (integers ≥ 0)"

    def validate(self, value: Any, where: str) -> Any:
        """Return the weeks as a list of ints, or raise :class:`InputError`."""
        ok = isinstance(value, list) and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            and float(v).is_integer() and v >= 0 for v in value)
        if not ok:
            raise InputError(where, f"must be {self.allowed()}, got {value!r}")
        return [int(v) for v in value]


@dataclass(frozen=True)
class MeasurementSet(ParamSet):
    """``[measurement]``: per-field checks, then the checks that involve several fields."""

    def resolve(self, table: Any, where: str) -> dict[str, Any]:
        """Validate and fill defaults; severity shares must sum to 1, culture means come paired."""
        out = super().resolve(table, where)
        total = sum(out[k] for k in SEVERITY_KEYS)
        if abs(total - 1.0) > 1e-6:
            given = [k for k in SEVERITY_KEYS if k in (table or {})] or list(SEVERITY_KEYS)
            raise InputError(f"{where}.{given[0]}", f"the severity shares E-I must sum to 1, "
                             f"they sum to {total:g}")
        pair = ("teamwork_positive", "safety_climate_positive")
        if (out[pair[0]] is None) != (out[pair[1]] is None):
            missing = pair[0] if out[pair[0]] is None else pair[1]
            raise InputError(f"{where}.{missing}", f"give both {pair[0]} and {pair[1]} (mean % "
                             "positive across units), or neither")
        return out


MEASUREMENT = MeasurementSet(
    "measurement",
    "Measurement as the programme did it (optional section): Global Trigger Tool harm per trust, "
    "audited compliance on SPC charts, Safety Attitudes Questionnaire surveys, and the time "
    "until the charts detect a change.",
    (
        # Global Trigger Tool
        P("gtt_records_per_month", 20, "Closed records reviewed per hospital trust per month "
          "(0: no GTT).", unit="records", low=0, high=1000000,
          source="In Safe Hands / national GTT: 11,728 records by 47 GTT teams in 2012 ≈ 21 a "
          "team a month (Helsedirektoratet, Pasientskader i Norge)"),
        P("month_weeks", 4, "Weeks per GTT month.", unit="weeks", low=1, high=13,
          source="assumption: 13 four-week months a year keep months whole weeks"),
        P("gtt_baseline_months", 12, "GTT months reviewed before the programme (at week-0 "
          "harm rates); the harm chart's centre is frozen on them.", unit="months", low=1,
          high=120, source="the national GTT began in 2010, In Safe Hands in 2011 (SPEC §11)"),
        P("length_of_stay_days", 4.5, "Mean length of a somatic hospital stay: admissions per "
          "week = census × 7 / length of stay.", unit="days", low=0.1, high=365.0,
          source="assumption: ~4.5 days, as in the shipped bundles' harm rates"),
        P("severity_share_E", 0.39, "Share of harms of severity E (temporary, intervention "
          "needed).", unit="share", low=0.0, high=1.0, source=_SEVERITY_SOURCE),
        P("severity_share_F", 0.535, "Share of harms of severity F (temporary, prolonged "
          "stay).", unit="share", low=0.0, high=1.0, source=_SEVERITY_SOURCE),
        P("severity_share_G", 0.045, "Share of harms of severity G (permanent harm).",
          unit="share", low=0.0, high=1.0, source=_SEVERITY_SOURCE),
        P("severity_share_H", 0.02, "Share of harms of severity H (life-sustaining "
          "intervention needed).", unit="share", low=0.0, high=1.0, source=_SEVERITY_SOURCE),
        P("severity_share_I", 0.01, "Share of harms of severity I (contributed to death).",
          unit="share", low=0.0, high=1.0, source=_SEVERITY_SOURCE),
        # compliance audits and SPC
        P("audit_sample_size", 20, "Patients audited per charted unit, bundle and period.",
          unit="patients", low=1, high=1000000,
          source="assumption: In Safe Hands units audited ~20 records a month (Extranet)"),
        P("audit_period_weeks", 4, "Weeks per audit period.", unit="weeks", low=1, high=52),
        P("audit_baseline_periods", 6, "Audit periods measured before the programme (at "
          "week-0 compliance); the compliance chart's centre is frozen on them.",
          unit="periods", low=1, high=104,
          source="assumption: a baseline of ~6 points before changes, as improvement guides "
          "advise"),
        P("chart_kinds", ["hospital"], "Organisation kinds whose units chart compliance.",
          kind="list[str]", choices=ORG_KINDS),
        P("chart_units", [], "Named units to chart instead of chart_kinds (empty: use "
          "chart_kinds).", kind="list[str]"),
        P("spc_rules", ["outside", "shift", "trend"], "Shewhart rules that count as a signal.",
          kind="list[str]", choices=("outside", "shift", "trend"),
          source="Provost & Murray, The Health Care Data Guide (2011)"),
        P("spc_sigma", 3.0, "Width of the control limits in standard errors.", low=0.5,
          high=10.0, source="Montgomery, Introduction to Statistical Quality Control"),
        P("spc_shift_length", 8, "Points in a row on one side of the centre for a shift.",
          low=2, high=100, source="Provost & Murray (2011)"),
        P("spc_trend_length", 6, "Points rising (or falling) in a row for a trend.", low=2,
          high=100, source="Provost & Murray (2011)"),
        P("spc_centre", "baseline", "Centre line: estimated from the baseline points "
          "('baseline', as a unit would) or the true baseline proportion ('known', idealised).",
          choices=("baseline", "known")),
        P("spc_plots", 2, "Charted units whose SPC charts (first replicate) are drawn.",
          unit="units", low=0, high=1000),
        P("null_simulations", 1000, "In-control charts simulated for the expected false-signal "
          "share in the detection summary (0: skip).", low=0, high=1000000),
        # safety culture (SAQ)
        P("teamwork_positive", None, "Mean % positive on the SAQ teamwork-climate scale across "
          "units; with safety_climate_positive it sets each unit's climate (default: not "
          "given, the climate is the model's).", kind="float", unit="%", low=0.0, high=100.0),
        P("safety_climate_positive", None, "Mean % positive on the SAQ safety-climate scale "
          "across units.", kind="float", unit="%", low=0.0, high=100.0),
        P("culture_concentration", 10.0, "Beta concentration of unit culture around the means "
          "(higher: units more alike).", low=0.5, high=10000.0),
        P("culture_file", "", "CSV of per-unit survey figures (columns unit, "
          "teamwork_positive, safety_climate_positive in %); relative to the scenario file."),
        P("teamwork_weight", 0.5, "Weight of teamwork (vs safety climate) in the climate a "
          "unit's culture gives.", unit="share", low=0.0, high=1.0),
        P("culture_drift", 0.2, "Rise of the shares positive per unit rise of a unit's mean "
          "compliance (reported culture only; not fed back).", low=0.0, high=5.0),
        WeekListParam("survey_weeks", "list[int]", [], "Weeks at which every unit is surveyed "
                      "(empty: week 0 and every 52 weeks).", unit="weeks"),
        P("survey_response_rate", 0.6, "Share of a unit's staff who answer the survey.",
          unit="share", low=0.0, high=1.0,
          source="assumption: response rates of ~60% in the Norwegian hospital surveys"),
    ),
    retired={"baseline_harm_share": "no longer a [measurement] key: the week-0 GTT share is "
             "derived from the all-cause harm rate, 1 − exp(−rate × length_of_stay_days / 7); "
             "set [patients] all_cause_harm_rate_hospital (per patient-week) instead"},
)


ALL_SETS: tuple[ParamSet, ...] = (MODEL, STRUCTURE, NETWORK, PATIENTS)


def markdown_table(pset: ParamSet) -> str:
    """Render a parameter set as a Markdown table (for docs/parameters.md and --help)."""
    lines = [
        f"## `[{pset.name}]`",
        "",
        pset.doc,
        "",
        "| name | default | allowed | plausible | meaning | source |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in pset.params:
        lines.append(f"| `{p.name}` | `{p.default!r}` | {p.allowed()} | {p.plausible_text()} "
                     f"| {p.doc} | {p.source} |")
    return "\n".join(lines) + "\n"

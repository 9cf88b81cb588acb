"""Resource preflight: what a scenario or batch will cost, estimated before anything is built.

Every size in a file is inside its declared range, yet the ranges multiply: 100 trusts × 500
wards × 500 staff is 25 million staff (tens of GB), and ``null_simulations = 1000000`` is half
an hour of charts after the runs. So before a world is built the cost is estimated from the
declared sizes alone, and refused above two limits declared here once:

- **memory** of one process (one run, with what it records): ``MAX_MEMORY_GB``, overridden by
  ``--max-memory-gb`` or the environment variable ``IMPLSIM_MAX_MEMORY_GB``;
- **work that an interruption would lose**: ``implsim run`` keeps nothing until it ends (every
  replicate and the null simulations), an experiment or calibration keeps each finished chunk.
  ``MAX_WORK_MINUTES`` of one core, overridden by ``--max-work-minutes`` or
  ``IMPLSIM_MAX_WORK_MINUTES``. Resumable batches may be longer in all: their total is shown,
  not refused.

The cost model is deliberately simple and errs on the high side; its constants were fitted to
peak resident memory and run time measured on the project's 2-core machine (2026-12-02: the
default catchment with 1, 4, 16 and 32 trusts, 30 and 120 weeks; ``implsim run`` of the
default with 5 and 20 replicates: 1.24 and 3.75 GB; experiments/measurement.toml with 1,000
and 20,000 null simulations: 0.84 ms per simulation of its 5 charts). A network loaded from a
file is sized by the file itself (the readers refuse oversized files), so it is not estimated.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sim.errors import InputError

if TYPE_CHECKING:
    from sim.scenario import Scenario

MAX_MEMORY_GB = 8.0
"""Default memory limit of one process (GB)."""
MAX_WORK_MINUTES = 10.0
"""Default limit on work an interruption would lose (minutes of one core)."""
MEMORY_ENV = "IMPLSIM_MAX_MEMORY_GB"
WORK_ENV = "IMPLSIM_MAX_WORK_MINUTES"

# Cost model (see the module docstring for how the constants were measured).
_BASE_BYTES = 320e6  # Python, numpy, pandas, scipy, Mesa and a small run
_BYTES_PER_STAFF_BUNDLE = 100.0  # state arrays, eligibility, context, performed pairs
_BYTES_PER_TIE = 60.0  # pairs, CSR entries, build temporaries
_BYTES_PER_ROW = 560.0  # one recorded entity × week × bundle kept (series, elements, concat)
_STAFF_BUNDLE_WEEKS_PER_S = 5e6  # weekly steps with recording (benchmarks: 9.7-16.5 M)
_RUN_OVERHEAD_S = 0.2  # building the world and the tables of one run
_CHART_POINT_S = 5e-6  # one point of one simulated in-control chart
_BYTES_PER_RUN_RECORD = 500.0  # an experiment's run list and its store index, per run


@dataclass(frozen=True)
class Size:
    """What one run of a generated catchment holds."""

    staff: int
    units: int
    entities: int  # rows per recorded week and bundle (every recorded level)
    ties: int  # entries of the influence matrix (a tie counts once from each end)
    bundles: int
    weeks: int
    recorded_weeks: int

    def memory(self, tables: int = 1) -> float:
        """Peak bytes of one run; ``tables`` runs' recorded tables kept together."""
        rows = self.entities * self.recorded_weeks * self.bundles * tables
        return (_BASE_BYTES + _BYTES_PER_STAFF_BUNDLE * self.staff * self.bundles
                + _BYTES_PER_TIE * self.ties + _BYTES_PER_ROW * rows)

    def seconds(self) -> float:
        """Seconds of one core for one strategy run."""
        return _RUN_OVERHEAD_S + self.staff * self.bundles * self.weeks / _STAFF_BUNDLE_WEEKS_PER_S


def _limit(value: float | None, env: str, default: float, option: str) -> float:
    if value is None:
        raw = os.environ.get(env, "")
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise InputError(env, f"must be a number, got {raw!r}") from None
        option = env
    if not math.isfinite(value) or value <= 0:
        raise InputError(option, f"must be a positive number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Limits:
    """The memory (GB) and lost-work (core-minutes) limits in force."""

    memory_gb: float = MAX_MEMORY_GB
    work_minutes: float = MAX_WORK_MINUTES

    @classmethod
    def of(cls, memory_gb: float | None = None, work_minutes: float | None = None) -> Limits:
        """The given limits, else the environment's, else the declared defaults."""
        return cls(_limit(memory_gb, MEMORY_ENV, MAX_MEMORY_GB, "--max-memory-gb"),
                   _limit(work_minutes, WORK_ENV, MAX_WORK_MINUTES, "--max-work-minutes"))


_limits: Limits | None = None


def configure(memory_gb: float | None = None, work_minutes: float | None = None) -> Limits:
    """Set the limits for this process (the command line's options); returns them."""
    global _limits
    _limits = Limits.of(memory_gb, work_minutes)
    return _limits


def limits() -> Limits:
    """The limits in force: configured, else from the environment and the defaults."""
    return _limits if _limits is not None else Limits.of()


def _gb(nbytes: float) -> str:
    return f"{nbytes / 1e9:.1f} GB" if nbytes >= 1e8 else f"{nbytes / 1e6:.0f} MB"


def _minutes(seconds: float) -> str:
    if seconds >= 5400:
        return f"{seconds / 3600:,.1f} core-hours"
    return f"{seconds / 60:,.1f} core-minutes" if seconds >= 60 else f"{seconds:.0f} core-seconds"


@dataclass(frozen=True)
class Catchment:
    """Per organisation kind (units, staff, organisations) of a whole structure."""

    kinds: dict[str, tuple[int, int, int]]
    trusts: int
    municipalities: int


def catchment(structure: dict[str, Any]) -> Catchment:
    """What a structure holds, from its declared counts or its municipality data's plan.

    Generated catchments use mean unit sizes (the spread is added in :func:`size`); a
    municipality file is read and apportioned as :mod:`sim.structure_data` builds it (~40 ms
    for norway_2025, so remembered: an experiment asks once per arm and design point).
    """
    stamp = None
    if structure.get("municipalities"):  # a rewritten file is read again
        from sim.structure_data import source_path

        st = os.stat(source_path(structure["municipalities"]))
        stamp = (st.st_mtime_ns, st.st_size)
    return _catchment(tuple(sorted(structure.items())), stamp)


@lru_cache(maxsize=256)
def _catchment(items: tuple[tuple[str, Any], ...], stamp: tuple[int, int] | None) -> Catchment:
    s = dict(items)
    if s.get("municipalities"):
        from sim.structure_data import assign_trusts, plan, read_municipalities, source_path

        munis = read_municipalities(source_path(s["municipalities"]))
        trusts = assign_trusts(munis, s["trust_population"])
        kinds: dict[str, tuple[int, int, int]] = {}
        for part in plan(munis, trusts, s):
            for kind, (units, staff) in part.items():
                orgs = units if kind in ("nursing_home", "gp") else (units > 0)
                kinds[kind] = (int(units.sum()), int(staff.sum()), int(orgs.sum()))
        return Catchment(kinds, len(trusts), len(munis))
    trusts, m = s["hospital_trusts"], s["municipalities_per_trust"]
    per_trust = {  # (units, staff per unit, organisations) per trust
        "hospital": (s["wards_per_trust"], s["staff_per_ward"], int(s["wards_per_trust"] > 0)),
        "mental_health": (s["mental_health_units_per_trust"], s["staff_per_mental_health_unit"],
                          int(s["mental_health_units_per_trust"] > 0)),
        "icu": (s["icu_units_per_trust"], s["staff_per_icu_unit"],
                int(s["icu_units_per_trust"] > 0)),
        "nursing_home": (m * s["nursing_homes_per_municipality"] * s["units_per_nursing_home"],
                         s["staff_per_nursing_home_unit"], m * s["nursing_homes_per_municipality"]),
        "home_care": (m * s["home_care_teams_per_municipality"], s["staff_per_home_care_team"],
                      m * int(s["home_care_teams_per_municipality"] > 0)),
        "gp": (m * s["gp_practices_per_municipality"], s["staff_per_gp_practice"],
               m * s["gp_practices_per_municipality"]),
    }
    return Catchment({k: (trusts * u, trusts * u * n, trusts * o)
                      for k, (u, n, o) in per_trust.items()}, trusts, trusts * m)


def size(structure: dict[str, Any], network: dict[str, Any], output: dict[str, Any],
         bundles: int, weeks: int, levels: tuple[str, ...] | None = None) -> Size:
    """The size of one run of a catchment, from the declared counts (or data) alone.

    ``levels``: the recorded levels (default: what ``output`` records).
    """
    from sim.outcomes.recorder import recorded_levels

    c = catchment(structure)
    units = sum(u for u, _, _ in c.kinds.values())
    orgs = sum(o for _, _, o in c.kinds.values())
    # mean sizes, and a margin for the spread of unit sizes
    staff = int(sum(n for _, n, _ in c.kinds.values()) * (1 + structure["size_variation"] / 2))
    degree = (network["within_unit_degree"] + network["cross_unit_degree"]
              + network["cross_boundary_degree"])
    ties = int(staff * degree)  # adjacency entries: each tie once from either end
    rec = recorded_levels(output) if levels is None else levels
    entities = {"unit": units, "organisation": orgs, "municipality": c.municipalities,
                "trust": c.trusts, "region": c.trusts, "kind": len(c.kinds), "system": 1}
    every = output["every_weeks"]
    return Size(staff, units, sum(entities[lv] for lv in rec), ties, bundles, weeks,
                weeks // every + 2)


def scenario_size(scenario: Scenario, levels: tuple[str, ...] | None = None) -> Size | None:
    """The size of one run of ``scenario`` (None for a network loaded from a file)."""
    if scenario.network["file"]:
        return None
    return size(scenario.structure, scenario.network, scenario.output, len(scenario.bundles),
                scenario.weeks, levels)


def _refuse_memory(need: float, what: str, where: str, lim: Limits) -> None:
    if need > lim.memory_gb * 1e9:
        raise InputError(where, f"{what} needs about {_gb(need)} of memory, above the limit "
                         f"of {lim.memory_gb:g} GB; make it smaller, or raise the limit with "
                         f"--max-memory-gb or {MEMORY_ENV} if the machine has the memory")


def _refuse_work(seconds: float, what: str, where: str, lim: Limits, advice: str) -> None:
    if seconds > lim.work_minutes * 60:
        raise InputError(where, f"{what} is about {_minutes(seconds)} of work{advice}, above "
                         f"the limit of {lim.work_minutes:g} core-minutes; make it smaller, "
                         f"or raise the limit with --max-work-minutes or {WORK_ENV}")


def check_scenario(scenario: Scenario, where: str | None = None) -> None:
    """Refuse a scenario one run of which would not fit in memory (called on every load)."""
    sz = scenario_size(scenario)
    if sz is None:
        return
    _refuse_memory(sz.memory(), f"one run ({sz.staff:,} staff in {sz.units:,} units, "
                   f"{sz.ties:,} tie ends, {sz.bundles} bundles, "
                   f"{sz.recorded_weeks * sz.entities:,} recorded entity-weeks)",
                   where or f"{scenario.path}: structure", limits())


def null_charts(scenario: Scenario) -> tuple[int, int]:
    """In-control charts the detection summary simulates, and the points of the longest."""
    m = scenario.measurement
    if m is None or not m["null_simulations"]:
        return 0, 0
    points = max(m["audit_baseline_periods"] + scenario.weeks // m["audit_period_weeks"],
                 m["gtt_baseline_months"] + scenario.weeks // m["month_weeks"])
    # one set per bundle's audited compliance and one for the GTT harm share
    return m["null_simulations"] * (len(scenario.bundles) + 1), points


def check_run(scenario: Scenario, replicates: int, where: str = "") -> str:
    """Refuse an ``implsim run`` above the limits; return a one-line estimate otherwise.

    ``implsim run`` keeps every replicate's tables in memory and writes them at the end, then
    simulates the null charts: all of it is lost when interrupted.
    """
    lim = limits()
    where = where or f"{scenario.path}"
    runs = replicates * len(scenario.strategies)
    per = (f"{replicates} replicates × {len(scenario.strategies)} "
           f"{'strategy' if len(scenario.strategies) == 1 else 'strategies'}")
    charts, points = null_charts(scenario)
    sz = scenario_size(scenario)
    null_s = charts * points * _CHART_POINT_S
    null_bytes = scenario.measurement["null_simulations"] * points * 8 if charts else 0
    if charts:
        _refuse_work(null_s, f"measurement.null_simulations = "
                     f"{scenario.measurement['null_simulations']:,} ({charts:,} in-control "
                     f"charts of {points} points)", f"{where}: measurement.null_simulations",
                     lim, ", simulated after the runs and kept nowhere if interrupted")
    if sz is None:
        return f"{runs} runs"
    _refuse_memory(sz.memory(tables=runs) + null_bytes, f"{runs} runs kept in memory until "
                   f"written ({per}, {sz.staff:,} staff)", f"{where}: replicates", lim)
    total = runs * sz.seconds() + null_s
    _refuse_work(total, f"{runs} runs ({per} of {sz.staff:,} staff × {sz.bundles} bundles × "
                 f"{sz.weeks} weeks)"
                 + (f" and {charts:,} null charts" if charts else ""), f"{where}: replicates",
                 lim, ", all kept only in memory until the end (implsim experiment keeps each "
                 "finished run)")
    return f"{runs} runs, ~{_minutes(total)}, peak ~{_gb(sz.memory(tables=runs))}"


def check_runs(runs: int, where: str, what: str = "runs") -> None:
    """Refuse a batch whose list of runs (or design points) alone would not fit in memory.

    Checked from the counts, before the list is made: a grid of ten factors of a hundred
    values is 10^20 points.
    """
    _refuse_memory(_BASE_BYTES + _BYTES_PER_RUN_RECORD * runs, f"the batch's list of "
                   f"{runs:,} {what}", where, limits())


def check_batch(sizes: list[tuple[Size | None, int]], chunk: int, where: str) -> str:
    """Refuse a resumable batch whose process or chunk exceeds the limits; return its estimate.

    ``sizes``: (size of one run, number of such runs) per kind of run (arm × design point).
    ``chunk``: runs per task: what a worker loses when interrupted.
    """
    lim = limits()
    runs = sum(n for _, n in sizes)
    check_runs(runs, where)
    known = [(s, n) for s, n in sizes if s is not None]
    if not known:
        return f"estimate: {runs:,} runs"
    big = max(known, key=lambda sn: sn[0].memory())[0]
    _refuse_memory(big.memory(), f"one run ({big.staff:,} staff in {big.units:,} units, "
                   f"{big.ties:,} tie ends)", where, lim)
    slow = max(known, key=lambda sn: sn[0].seconds())[0]
    _refuse_work(chunk * slow.seconds(), f"one task of {chunk} runs of {slow.staff:,} staff × "
                 f"{slow.bundles} bundles × {slow.weeks} weeks", where, lim,
                 " (what an interrupted worker loses)")
    total = sum(s.seconds() * n for s, n in known)
    return (f"estimate: {runs:,} runs, ~{_minutes(total)} in all, peak ~{_gb(big.memory())} "
            "per process")

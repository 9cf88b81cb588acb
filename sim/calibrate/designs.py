"""Study designs in the model: each evidence target's figure, as the model would have reported it.

An evidence target (:mod:`sim.calibrate.evidence`) with a ``[design]`` names a scenario file, the
arm and comparator strategies, the follow-up week and what is read. One *replicate* of a design
builds the scenario's world from one seed and runs the arm (and the comparator, on the same world
and streams: common random numbers), then forms the figure in the source's own units:

- ``compare = "arms"``: element performance of the arm minus the comparator at follow-up, in
  percentage points (the reviews' adjusted risk difference in compliance with desired practice);
- ``compare = "before_after"``: the arm's level at follow-up (``level_after``, in %, or the
  harm rate in its indicator unit, or the GTT share) — with ``patients_per_period`` the level is
  an audit of that many patients (binomial), as the study saw it;
- ``compare = "smd"``: the standardised mean difference over units of the change from week 0 to
  follow-up between the arms (pooled SD), as meta-analyses of practice behaviour pool it.

:func:`distance` turns a figure into a standardised distance from the published one: a review's
median and IQR as the distribution of effects across settings (a split normal with the quartiles
at ±0.674 SD), a single study's figure with its sampling SE, a pooled estimate with its 95% CI.
The joint calibration (:mod:`sim.calibrate.joint`) adds them up; the validation report
(:mod:`sim.calibrate.validation`) forms predictive intervals from many replicates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from sim.calibrate.evidence import EvidenceTarget
from sim.errors import InputError
from sim.factors import apply_point, intervention_name, interventions, parse_key
from sim.model import ImplementationModel
from sim.rng import stream
from sim.scenario import Scenario, load_scenario
from sim.world import World, build_world

__all__ = ["DesignRun", "distance", "figures", "scenario_for", "spread_sd"]

Z_QUARTILE = 0.6744897501960817  # the upper quartile of the standard normal
Z_975 = 1.959963984540054


@lru_cache(maxsize=32)
def _load(path: str) -> Scenario:
    return load_scenario(path)


def scenario_for(target: EvidenceTarget, point: Mapping[str, float] | None = None) -> Scenario:
    """The design's scenario with ``point`` applied (keys naming absent interventions skipped).

    A joint calibration varies intervention parameters (``interventions.training.x``) that only
    some designs use; each design takes the keys that name its interventions.
    """
    if target.design is None:
        raise InputError(target.path, "has no [design]: the model cannot reproduce it")
    base = _load(target.design.scenario)
    if not point:
        return base
    present = {intervention_name(spec) for spec in interventions(base)}
    mine = {}
    for key, value in point.items():
        k = parse_key(key, f"{target.path}: point")
        if k.intervention and k.intervention not in present:
            continue
        mine[key] = value
    return apply_point(base, mine, f"{target.path}: design")


@dataclass
class DesignRun:
    """What one replicate of a scenario's strategies gives the designs that use it."""

    level0: dict[str, np.ndarray]  # strategy → (U,) element performance (or rate) at week 0
    level: dict[str, np.ndarray]  # strategy → (U,) the same at follow-up
    weights: np.ndarray  # (U,) performers (element) or exposure weights per unit
    system0: dict[str, float]
    system: dict[str, float]


def _element_index(world: World, scenario: Scenario, target: EvidenceTarget) -> int:
    names = [el.name for bundle in world.bundles for el in bundle.elements]
    if not target.element:  # a review speaks of one desired practice: the design's only one
        if len(names) != 1:
            raise InputError(f"{target.path}: element", f"{scenario.path} has {len(names)} "
                             "elements; name the bundle and element the figure is about")
        return 0
    for e_idx, (b, name) in enumerate(zip(world.element_bundle, names, strict=True)):
        if scenario.bundle_names[b] == target.bundle and name == target.element:
            return e_idx
    raise InputError(f"{target.path}: element", f"no element {target.element!r} of bundle "
                     f"{target.bundle!r} in {scenario.path}")


def _run_strategy(scenario: Scenario, name: str, seed: int, world: World,
                  target: EvidenceTarget, weeks: int) -> tuple[np.ndarray, np.ndarray, float,
                                                               float, np.ndarray]:
    by_name = {s.name: s for s in scenario.strategies}
    if name not in by_name:
        raise InputError(f"{target.path}: design", f"no strategy {name!r} in {scenario.path}; "
                         f"strategies: {', '.join(by_name)}")
    assert target.design is not None
    out = target.design.output
    if out == "gtt_share":
        return _gtt(scenario, by_name[name], seed, world, weeks)
    model = ImplementationModel(scenario, by_name[name], seed, world)
    model.datacollector = None
    if out == "element":
        e = _element_index(world, scenario, target)
        weights = world.performed.per_unit_element[:, e].astype(float)
        read = lambda: model.state.unit_element[:, e].astype(float)  # noqa: E731
    else:  # harm_rate: the bundle's rate in its indicator unit over the counted units
        from sim.outcomes import harm
        b = scenario.bundle_names.index(target.bundle)
        exposure = harm.exposure_per_patient_week(world.bundles)
        weights = model.census * model._harm_counted[:, b] * exposure[b]

        def read() -> np.ndarray:
            return harm.unit_rate_indicator(model._harm_counted, model._harm_rate,
                                            model._harm_rr, exposure,
                                            model.state.unit_compliance)[:, b].astype(float)
    before = read()
    for _ in range(weeks):
        model.step()
    after = read()
    return before, after, _mean(before, weights), _mean(after, weights), weights


def _gtt(scenario: Scenario, strategy: Any, seed: int, world: World,
         weeks: int) -> tuple[np.ndarray, np.ndarray, float, float, np.ndarray]:
    """The true GTT share (%) of the system's somatic admissions at week 0 and at ``weeks``."""
    from sim.outcomes import gtt, harm

    model = ImplementationModel(scenario, strategy, seed, world)
    model.datacollector = None
    pop = world.pop
    census = model.census
    los = scenario.measurement["length_of_stay_days"] / 7.0 if scenario.measurement else 4.5 / 7
    somatic = np.isin(pop.unit_kind, gtt.SOMATIC_CODES)
    admissions = census[somatic] / los
    all_cause = harm.all_cause_rate(pop, scenario.patients)[somatic]

    def hazard() -> np.ndarray:
        return gtt.modelled_hazard(model.state.unit_compliance.astype(float),
                                   model._harm_counted, model._harm_rate, model._harm_rr)[somatic]

    h0 = hazard()
    background = gtt.background_hazard(h0, all_cause)
    for _ in range(weeks):
        model.step()
    h1 = hazard()
    s0 = 100.0 * float(gtt.true_share(h0 + background, admissions, los))
    s1 = 100.0 * float(gtt.true_share(h1 + background, admissions, los))
    return np.array([s0]), np.array([s1]), s0, s1, np.ones(1)


def _mean(values: np.ndarray, weights: np.ndarray) -> float:
    ok = np.isfinite(values) & (weights > 0)
    if not ok.any():
        return math.nan
    return float(np.sum(values[ok] * weights[ok]) / np.sum(weights[ok]))


def _smd(arm0: np.ndarray, arm1: np.ndarray, cmp0: np.ndarray, cmp1: np.ndarray) -> float:
    """Standardised mean difference of unit changes, arm vs comparator (pooled SD)."""
    a = (arm1 - arm0)[np.isfinite(arm1 - arm0)]
    c = (cmp1 - cmp0)[np.isfinite(cmp1 - cmp0)]
    if len(a) < 2 or len(c) < 2:
        return math.nan
    pooled = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(c) - 1) * c.var(ddof=1))
                       / (len(a) + len(c) - 2))
    return float((a.mean() - c.mean()) / pooled) if pooled > 0 else math.nan


def figures(targets: Iterable[EvidenceTarget], point: Mapping[str, float] | None, seed: int,
            noise: bool = True) -> dict[str, float]:
    """One replicate of every target's design at ``point``: its model figure, by target name.

    Targets that share a scenario share its runs (one world per scenario from ``seed``, each
    strategy run once). With ``noise``, designs with ``patients_per_period`` draw the study's
    audit (stream ``evidence:<name>`` of ``seed``), so a figure is what the study would have
    reported, not the model's true level.
    """
    targets = list(targets)
    out: dict[str, float] = {}
    groups: dict[tuple[str, str, str, int], list[EvidenceTarget]] = {}
    for t in targets:
        if t.design is None:
            raise InputError(t.path, "has no [design]: the model cannot reproduce it")
        key = (t.design.scenario, t.design.output, f"{t.bundle}/{t.element}",
               int(t.follow_up_weeks or 0))
        groups.setdefault(key, []).append(t)
    for (_, _, _, weeks), group in groups.items():
        scenario = scenario_for(group[0], point)
        run_seed = int(stream(seed, f"evidence:{_key(group[0])}").integers(2**31))
        world = build_world(scenario, run_seed)
        cache: dict[str, tuple[np.ndarray, np.ndarray, float, float, np.ndarray]] = {}
        for t in group:
            d = t.design
            assert d is not None
            for name in filter(None, (d.arm, d.comparator)):
                if name not in cache:
                    cache[name] = _run_strategy(scenario, name, run_seed, world, t, weeks)
            arm0, arm1, s0, s1, _ = cache[d.arm]
            scale = 100.0 if d.output == "element" else 1.0  # shares in %, rates as they are
            if d.compare == "arms":
                value = scale * (s1 - cache[d.comparator][3])
            elif d.compare == "smd":
                value = _smd(arm0, arm1, cache[d.comparator][0], cache[d.comparator][1])
            else:
                if d.patients_per_period and noise and d.output == "element":
                    rng = stream(seed, f"evidence:{t.name}")
                    n = d.patients_per_period
                    s0 = rng.binomial(n, np.clip(s0, 0, 1)) / n
                    s1 = rng.binomial(n, np.clip(s1, 0, 1)) / n
                value = _after(t, s0, s1, scale)
            out[t.name] = float(value)
    return out


def _key(target: EvidenceTarget) -> str:
    """A design's stream key: its scenario's folder and file name (never a full path).

    A checkout anywhere then draws the same numbers.
    """
    assert target.design is not None
    path = Path(target.design.scenario)
    return f"{path.parent.name}/{path.name}"


def _after(t: EvidenceTarget, level0: float, level1: float, scale: float) -> float:
    """A before/after figure in the study's terms.

    A change is the model's change; a level after is the model's level, or, when the study
    gives its baseline, that baseline moved by the model's change (a percentage) or by the
    model's ratio to week 0 (a rate or share).
    """
    if t.measure not in ("level_after", "rate_after", "share_after"):
        return scale * (level1 - level0)
    if t.baseline is None:
        return scale * level1
    if scale != 1.0:
        return t.baseline + scale * (level1 - level0)
    return t.baseline * level1 / level0 if level0 > 0 else math.nan


def spread_sd(target: EvidenceTarget) -> tuple[float, float]:
    """The (lower, upper) SDs of the published figure's distribution, from its spread.

    IQR: the quartiles are ±0.674 SD of a split normal around the median (the spread of effects
    across the review's settings); 95% CI: ±1.96 SE; a single study with ``patients_per_period``
    and a percentage: the binomial SE of a before/after difference; otherwise an assumed 25% of
    the reported change (after minus baseline, or the effect itself; stated in the report).
    """
    s = target.spread
    v = target.value
    if s is not None and s.kind == "IQR":
        return (v - s.low) / Z_QUARTILE, (s.high - v) / Z_QUARTILE
    if s is not None and s.kind == "95% CI":
        return (v - s.low) / Z_975, (s.high - v) / Z_975
    if s is not None and s.kind == "SD":
        return s.low, s.high
    d = target.design
    if d is not None and d.patients_per_period and target.baseline is not None:
        p0, p1 = target.baseline / 100.0, v / 100.0
        n = d.patients_per_period
        se = 100.0 * math.sqrt(p0 * (1 - p0) / n + p1 * (1 - p1) / n)
        return se, se
    change = abs(v - target.baseline) if target.baseline is not None else abs(v)
    return 0.25 * change, 0.25 * change


def distance(target: EvidenceTarget, figure: float) -> float:
    """Standardised distance of a model figure from the published one (inf when undefined)."""
    if not math.isfinite(figure):
        return math.inf
    lo, hi = spread_sd(target)
    sd = lo if figure < target.value else hi
    return abs(figure - target.value) / max(sd, 1e-9)


Z_95 = 1.6448536269514722  # two-sided 90%


def agrees(target: EvidenceTarget, figure: float) -> bool:
    """Whether a (mean) model figure agrees with the published one, by its kind of spread.

    A review's IQR must hold it; a single study's or a pooled estimate's SE or CI must hold it
    within the 90% level (|z| ≤ 1.645); a figure with no spread read must lie within the
    assumed spread of :func:`spread_sd` (25% of the reported change: |z| ≤ 1).
    """
    if not math.isfinite(figure):
        return False
    s = target.spread
    if s is not None and s.kind == "IQR":
        return s.low <= figure <= s.high
    d = target.design
    stated = s is not None or (d is not None and d.patients_per_period > 0
                               and target.baseline is not None)
    return distance(target, figure) <= (Z_95 if stated else 1.0)

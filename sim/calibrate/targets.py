"""Targets: which model output each observed series is compared with, and how far apart they are.

A target joins an :class:`~sim.calibrate.observed.ObservedSeries` to one recorded output of the
model (``adoption``, ``compliance``, ``fidelity`` or ``penetration``) at one level (``unit``,
``kind`` or ``system``: the observed ``group`` names an entity at that level). Observed period
*k* is compared with the model's week ``round(week_offset + k × weeks_per_period)``.

How far a simulation is from the data (the ABC distance):

- ``binomial``: the deviance ``2 [max_p log L(p) − log L(p_sim)]`` of the observed counts under
  the simulated shares, L binomial (the maximum is at p = y/n). Counts from audits of a few
  patients weigh less than counts from many: the likelihood knows the sample size.
- ``beta_binomial``: the same with a beta-binomial likelihood of intra-class correlation ``rho``
  (overdispersion: patients of one unit, or periods of one audit, are more alike than
  independent draws; the variance is n p (1−p) (1 + (n−1) rho)); its maximum over p is found
  numerically.
- ``rmse``, ``mae``, ``max``: root-mean-square, mean and largest absolute difference between
  observed and simulated shares, for curves (e.g. cumulative adoption over months).

A deviance is a likelihood-based distance: it is 0 when the simulated shares are the
best-fitting ones (the observed shares, for the binomial) and grows as the simulation explains
the counts less well; ABC then keeps the simulations whose deviance is below a shrinking
tolerance. For the posterior predictive check, a count
target draws the observation noise of its likelihood (:meth:`Target.draw_observed`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import betaln, expit, gammaln, xlog1py, xlogy

from sim.calibrate.observed import ObservedSeries
from sim.errors import InputError
from sim.outcomes.catalogue import SERIES
from sim.params import ORG_KINDS
from sim.scenario import Scenario
from sim.world import World

__all__ = ["COUNT_DISTANCES", "CURVE_DISTANCES", "DISTANCES", "LEVELS", "OUTPUTS", "Target",
           "beta_binomial_loglik", "binomial_loglik", "curve_distance", "deviance"]

OUTPUTS = SERIES  # the outcomes recorded weekly at every level
LEVELS = ("unit", "kind", "system")
COUNT_DISTANCES = ("binomial", "beta_binomial")
CURVE_DISTANCES = ("rmse", "mae", "max")
DISTANCES = COUNT_DISTANCES + CURVE_DISTANCES
_P_MIN = 1e-9  # simulated shares are kept inside (0, 1) so a log-likelihood stays finite


def _log_choose(n: np.ndarray, y: np.ndarray) -> np.ndarray:
    return gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1)


def binomial_loglik(y: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Elementwise log P(Y = y) for Y ~ Binomial(n, p)."""
    y, n, p = (np.asarray(a, float) for a in (y, n, p))
    return _log_choose(n, y) + xlogy(y, p) + xlog1py(n - y, -p)


def beta_binomial_loglik(y: np.ndarray, n: np.ndarray, p: np.ndarray,
                         rho: float) -> np.ndarray:
    """Elementwise log P(Y = y) for a beta-binomial with mean share p and correlation rho.

    The beta parameters are ``a = p (1 − rho) / rho`` and ``b = (1 − p) (1 − rho) / rho``.
    """
    y, n, p = (np.asarray(a, float) for a in (y, n, p))
    a = p * (1.0 - rho) / rho
    b = (1.0 - p) * (1.0 - rho) / rho
    return _log_choose(n, y) + betaln(y + a, n - y + b) - betaln(a, b)


def _beta_binomial_max(y: np.ndarray, n: np.ndarray, rho: float) -> np.ndarray:
    """Per observation, the largest beta-binomial log-likelihood over the mean share.

    Unlike the binomial's, it is not always at p = y / n, so it is found by a golden-section
    search on the logit of p (deterministic; the log-likelihood is unimodal in p).
    """
    lo = np.full(np.shape(y), -25.0)
    hi = np.full(np.shape(y), 25.0)
    g = (math.sqrt(5.0) - 1.0) / 2.0

    def f(x: np.ndarray) -> np.ndarray:
        return beta_binomial_loglik(y, n, np.clip(expit(x), _P_MIN, 1.0 - _P_MIN), rho)

    for _ in range(80):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        left = f(a) > f(b)
        hi = np.where(left, b, hi)
        lo = np.where(left, lo, a)
    best = np.maximum(f((lo + hi) / 2.0),
                      beta_binomial_loglik(y, n, np.clip(np.asarray(y, float) / n, _P_MIN,
                                                         1.0 - _P_MIN), rho))
    return best


def deviance(kind: str, y: np.ndarray, n: np.ndarray, p: np.ndarray,
             rho: float = 0.05) -> np.ndarray:
    """Deviance summed over the last axis: −2 [log L(p) − max log L], shares kept in (0, 1).

    The maximum is at the observed share y / n for the binomial and found numerically for the
    beta-binomial, so the deviance is ≥ 0 and 0 only for the best-fitting shares. ``p`` may
    have leading axes (one row per simulation); ``y`` and ``n`` are per observation.
    """
    p = np.clip(p, _P_MIN, 1.0 - _P_MIN)
    y, n = np.asarray(y, float), np.asarray(n, float)
    if kind == "binomial":
        sat = np.clip(y / n, _P_MIN, 1.0 - _P_MIN)
        ll, ll_max = binomial_loglik(y, n, p), binomial_loglik(y, n, sat)
    elif kind == "beta_binomial":
        ll, ll_max = beta_binomial_loglik(y, n, p, rho), _beta_binomial_max(y, n, rho)
    else:
        raise ValueError(f"not a count likelihood: {kind!r}")
    return 2.0 * np.maximum(ll_max - ll, 0.0).sum(axis=-1)


def curve_distance(kind: str, observed: np.ndarray, simulated: np.ndarray) -> np.ndarray:
    """Distance between observed and simulated shares over the last axis."""
    diff = np.abs(np.asarray(simulated, float) - np.asarray(observed, float))
    if kind == "rmse":
        return np.sqrt(np.mean(diff ** 2, axis=-1))
    if kind == "mae":
        return np.mean(diff, axis=-1)
    if kind == "max":
        return np.max(diff, axis=-1)
    raise ValueError(f"not a curve distance: {kind!r}")


@dataclass
class Target:
    """One observed series compared with one model output (see the module docstring)."""

    name: str
    data: ObservedSeries
    output: str
    level: str
    distance: str
    rho: float = 0.05
    weight: float = 1.0
    weeks_per_period: float = 1.0
    week_offset: float = 0.0
    period_name: str = "period"
    weeks: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def table(self) -> pd.DataFrame:
        """The observed rows."""
        return self.data.table

    def week_of(self, period: np.ndarray) -> np.ndarray:
        """Model week of observed periods."""
        return np.rint(self.week_offset + np.asarray(period, float) * self.weeks_per_period
                       ).astype(np.int64)

    def bind(self, scenario: Scenario, world: World, where: str) -> None:
        """Check the data against the model, and fix the week of every observed row.

        Errors name the data file, the line and what the model has instead: an unknown
        bundle, an unknown group, a group where the bundle applies to nobody, a period outside
        the simulated weeks, or (adoption times) people who are not in the model's network.
        """
        src = self.data.source
        tab = self.table
        bundles = scenario.bundle_names
        self.check_recorded(scenario, where)
        for b, line in zip(tab["bundle"], tab["line"], strict=True):
            if b not in bundles:
                raise InputError(f"{src}: bundle", f"line {line}: {b!r} is not a bundle of the "
                                 f"scenario; its bundles: {', '.join(bundles)}")
        entities, eligible = _entities(self.level, world)
        for g, b, line in zip(tab["group"], tab["bundle"], tab["line"], strict=True):
            if g not in entities:
                names = sorted(entities)
                shown = ", ".join(names[:6]) + (f", … ({len(names)} in all)"
                                                if len(names) > 6 else "")
                raise InputError(f"{src}: group", f"line {line}: no {self.level} named {g!r} "
                                 f"in the model (target {self.name!r} compares at level "
                                 f"{self.level!r}); the model's {self.level}s: {shown}")
            if eligible[g][bundles.index(b)] <= 0:
                raise InputError(f"{src}: group", f"line {line}: bundle {b!r} applies to "
                                 f"nobody in {self.level} {g!r} (its settings and roles); "
                                 "nothing to compare with")
        self.weeks = self.week_of(tab["period"].to_numpy())
        recorded = set(range(0, scenario.weeks + 1, scenario.output["every_weeks"]))
        recorded.add(scenario.weeks)
        for period, week, line in zip(tab["period"], self.weeks, tab["line"], strict=True):
            if week not in recorded:
                why = (f"after the scenario's last week ({scenario.weeks})"
                       if week > scenario.weeks or week < 0 else
                       f"not recorded (output.every_weeks = {scenario.output['every_weeks']})")
                raise InputError(f"{src}: period", f"line {line}: period {period:g} is week "
                                 f"{week} ({where}: weeks_per_period = {self.weeks_per_period:g}"
                                 f", week_offset = {self.week_offset:g}), {why}")
        if self.data.format == "adoption_times":
            labels = set(world.pop.staff_label or [])
            if not labels:
                raise InputError(f"{where}", f"adoption-time data ({src}) need a scenario that "
                                 "loads the same network: set [network] file and nodes")
            missing = [n for n in self.data.nodes if n not in labels]
            if missing:
                raise InputError(src, f"person {missing[0]!r} is not in the model's network "
                                 f"({len(missing)} of {len(self.data.nodes)} missing); the "
                                 "scenario must load the network of the same people")

    def check_recorded(self, scenario: Scenario, where: str) -> None:
        """The scenario must record the target's level: else every distance is infinite.

        The calibration's store keeps every level up to the finest target's (the experiment
        engine sets ``[output] levels``), but unit rows also need ``[output] unit_level``.
        Checked before the first simulation: without it ABC would spend its whole budget and
        then ask for a larger one, which cannot help.
        """
        from sim.outcomes.recorder import recorded_levels
        from sim.params import LEVELS as ALL_LEVELS

        if self.level not in recorded_levels({**scenario.output, "levels": ALL_LEVELS[:-1]}):
            raise InputError(f"{where}.level", f"target {self.name!r} compares at level "
                             f"{self.level!r}, but {scenario.path} records no {self.level} "
                             "rows ([output] unit_level = false): set unit_level = true in "
                             "its [output], or compare at level \"kind\" or \"system\"")
        if self.output not in OUTPUTS:
            raise InputError(f"{where}.output", f"{self.output!r} is not recorded; recorded "
                             f"outputs: {', '.join(OUTPUTS)}")

    def simulated(self, timeseries: pd.DataFrame, n_points: int) -> np.ndarray:
        """(n_points, n_obs) simulated shares at the observed rows (NaN where not recorded).

        ``timeseries`` is the experiment store's table: ``point``, ``week``, ``level``,
        ``entity``, ``bundle`` and the outputs.
        """
        tab = self.table
        keys = pd.DataFrame({"week": self.weeks, "entity": tab["group"].to_numpy(),
                             "bundle": tab["bundle"].to_numpy(), "obs": np.arange(len(tab))})
        rows = timeseries.loc[timeseries["level"].astype(str) == self.level,
                              ["point", "week", "entity", "bundle", self.output]]
        rows = rows.astype({"week": np.int64, "entity": str, "bundle": str})
        merged = rows.merge(keys, on=["week", "entity", "bundle"], how="inner")
        out = np.full((n_points, len(tab)), np.nan)
        out[merged["point"].to_numpy(), merged["obs"].to_numpy()] = merged[self.output]
        return out

    def distances(self, simulated: np.ndarray) -> np.ndarray:
        """(n,) distance of each simulation (rows of ``simulated``); inf when any is missing."""
        y = self.table["numerator"].to_numpy(float)
        n = self.table["denominator"].to_numpy(float)
        if self.distance in COUNT_DISTANCES:
            d = deviance(self.distance, y, n, simulated, self.rho)
        else:
            d = curve_distance(self.distance, y / n, simulated)
        return np.where(np.isnan(simulated).any(axis=1), np.inf, d)

    def draw_observed(self, simulated: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Shares an observer would record from simulated true shares (predictive checks).

        Count targets add their likelihood's sampling noise at the observed denominators;
        curve targets compare shares directly, so they are returned unchanged.
        """
        if self.distance not in COUNT_DISTANCES:
            return simulated
        n = self.table["denominator"].to_numpy(np.int64)
        p = np.clip(np.nan_to_num(simulated, nan=0.0), _P_MIN, 1.0 - _P_MIN)
        if self.distance == "beta_binomial":
            a = p * (1.0 - self.rho) / self.rho
            p = rng.beta(a, a * (1.0 - p) / p)
        return rng.binomial(np.broadcast_to(n, p.shape), p) / n


def _entities(level: str, world: World) -> tuple[set[str], dict[str, np.ndarray]]:
    """Names of the model's entities at ``level`` and their eligible staff per bundle."""
    pop = world.pop
    per_unit = world.eligible_per_unit
    if level == "unit":
        return set(pop.unit_name), {n: per_unit[i] for i, n in enumerate(pop.unit_name)}
    if level == "kind":
        kinds = pop.unit_kind
        out = {ORG_KINDS[k]: per_unit[kinds == k].sum(axis=0) for k in np.unique(kinds)}
        return set(out), out
    return {"all"}, {"all": per_unit.sum(axis=0)}

"""Priors of the fitted parameters, and the coordinates the sampler works in.

A prior is ``uniform``, ``loguniform`` or ``normal`` (truncated) on ``[low, high]``; the bounds
default to the parameter's declared range (:mod:`sim.params`), so a prior can never propose a
value the scenario would reject. The ABC sampler works in *internal* coordinates, ``log θ`` for
a log-uniform prior and ``θ`` otherwise, where every prior is uniform or normal on a box: its
Gaussian perturbation kernel then moves rates like ``p_innovation`` (spanning orders of
magnitude) in proportion to their size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.errors import InputError

__all__ = ["PRIOR_KINDS", "Prior", "log_prior", "sample_prior"]

PRIOR_KINDS = ("uniform", "loguniform", "normal")


@dataclass(frozen=True)
class Prior:
    """The prior of one fitted parameter (``name`` is a design-point key, e.g. ``parameters.x``).

    ``truth`` is an optional known value (synthetic data): it is reported and plotted, never used
    by the sampler.
    """

    name: str
    kind: str
    low: float
    high: float
    mean: float = math.nan
    sd: float = math.nan
    truth: float | None = None

    def __post_init__(self) -> None:
        where = f"fit {self.name}"
        if self.kind not in PRIOR_KINDS:
            raise InputError(f"{where}.prior", f"must be one of {', '.join(PRIOR_KINDS)}, got "
                             f"{self.kind!r}")
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise InputError(where, f"needs finite bounds low < high, got [{self.low}, "
                             f"{self.high}]")
        if self.kind == "loguniform" and self.low <= 0:
            raise InputError(f"{where}.low", f"a log-uniform prior needs low > 0, got "
                             f"{self.low}; give low = (a small positive value)")
        if self.kind == "normal" and not (math.isfinite(self.mean) and self.sd > 0):
            raise InputError(where, "a normal prior needs mean and sd > 0")

    @property
    def bounds_internal(self) -> tuple[float, float]:
        """The support in internal coordinates."""
        if self.kind == "loguniform":
            return math.log(self.low), math.log(self.high)
        return self.low, self.high

    def to_internal(self, x: np.ndarray) -> np.ndarray:
        """Natural values → internal coordinates."""
        return np.log(x) if self.kind == "loguniform" else np.asarray(x, float)

    def to_natural(self, z: np.ndarray) -> np.ndarray:
        """Internal coordinates → natural values (clipped onto the bounds against rounding)."""
        x = np.exp(z) if self.kind == "loguniform" else np.asarray(z, float)
        return np.clip(x, self.low, self.high)

    def describe(self) -> str:
        """The prior in words, for tables."""
        if self.kind == "normal":
            return f"normal({self.mean:g}, {self.sd:g}) on [{self.low:g}, {self.high:g}]"
        return f"{self.kind}[{self.low:g}, {self.high:g}]"


def log_prior(priors: list[Prior], z: np.ndarray) -> np.ndarray:
    """(n,) log prior density of internal points ``z`` (n, d), up to a constant; -inf outside.

    In internal coordinates the uniform and log-uniform priors are flat on their box, so only
    the normal ones contribute a shape.
    """
    z = np.atleast_2d(z)
    out = np.zeros(len(z))
    for k, p in enumerate(priors):
        lo, hi = p.bounds_internal
        col = z[:, k]
        out[(col < lo) | (col > hi)] = -np.inf
        if p.kind == "normal":
            out += -0.5 * ((col - p.mean) / p.sd) ** 2
    return out


def sample_prior(priors: list[Prior], rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, d) internal draws from the priors (a truncated normal by inversion)."""
    from scipy.stats import norm

    cols = []
    for p in priors:
        lo, hi = p.bounds_internal
        u = rng.random(n)
        if p.kind == "normal":
            a, b = norm.cdf((lo - p.mean) / p.sd), norm.cdf((hi - p.mean) / p.sd)
            cols.append(np.clip(p.mean + p.sd * norm.ppf(a + u * (b - a)), lo, hi))
        else:
            cols.append(lo + u * (hi - lo))
    return np.column_stack(cols)

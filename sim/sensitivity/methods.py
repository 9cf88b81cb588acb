"""Sensitivity methods: one small adapter per SALib sampler/analyzer pair, one signature for all.

Every method has ``sample(problem, n, seed) -> X`` and ``analyze(problem, X, Y, seed) ->``
a tidy table with one row per factor (or factor pair) and index: ``factor``, ``factor_2``
(second-order pairs only), ``index``, ``value``, ``conf`` (half-width of the interval),
``conf_low`` and ``conf_high``. The pipeline therefore treats every method alike, and the
convergence check (indices on growing prefixes of the sample) needs only ``prefixes``.

- ``morris``: elementary effects on r trajectories (screening): μ, μ* (with interval), σ;
- ``sobol``: Saltelli/Sobol' sequence, first (S1), total (ST) and second-order (S2) indices;
- ``fast``: extended FAST, S1 and ST;
- ``pawn``: PAWN, moment-independent (KS distance between conditional and unconditional output
  distributions, median over slices), with a bootstrap interval computed here (SALib gives none).

SALib's delta (Borgonovo's δ) is left out: in SALib 1.6 it takes nearly a minute for 1,000 rows,
four factors and 50 resamples, and it changes the process's warning settings.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.stats

from sim.errors import InputError
from sim.params import P, ParamSet
from sim.rng import stream

COLUMNS = ["factor", "factor_2", "index", "value", "conf", "conf_low", "conf_high"]


def analysis_seed(seed: int, purpose: str) -> int:
    """A seed in [1, 2³²) for one SALib call, derived from the SA seed and a purpose.

    SALib treats seed 0 as "no seed" and some analyzers pass it to ``np.random.seed``, which
    takes 32-bit seeds only.
    """
    return int(stream(seed, f"sensitivity:{purpose}").integers(1, 2**32 - 1))


@contextmanager
def _salib_globals_restored() -> Iterator[None]:
    """Run SALib code that changes process-wide state, then put that state back.

    The FAST analyzer seeds and draws from NumPy's global RNG (``np.random.seed``); restoring
    its state keeps every other user of the global RNG unaffected by an analysis. The warning it
    raises about its intervals is silenced here; the summary states the method's caveat once.
    """
    state = np.random.get_state()  # noqa: NPY002 (saving the legacy global state on purpose)
    fmt = warnings.formatwarning
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        warnings.formatwarning = fmt
        np.random.set_state(state)  # noqa: NPY002


def _rows(names: list[str], index: str, values: Any, conf: Any = None) -> list[dict[str, Any]]:
    out = []
    for k, name in enumerate(names):
        v = float(values[k])
        c = float("nan") if conf is None else float(conf[k])
        out.append({"factor": name, "factor_2": "", "index": index, "value": v, "conf": c,
                    "conf_low": v - c, "conf_high": v + c})
    return out


def _names(problem: dict[str, Any]) -> list[str]:
    """Factor names, or group names (first-seen order) when the problem has groups."""
    groups = problem.get("groups")
    return list(dict.fromkeys(groups)) if groups else list(problem["names"])


def _spread(lo: int, hi: int, k: int = 6) -> list[int]:
    """Up to ``k`` sizes from ``lo`` to ``hi``, evenly spaced on a log scale."""
    if hi <= lo:
        return [hi]
    sizes = np.unique(np.round(np.geomspace(lo, hi, k)).astype(int))
    return [int(s) for s in sizes]


class Method:
    """A sampler/analyzer pair. Subclasses set the class attributes and the four methods."""

    name: ClassVar[str]
    OPTIONS: ClassVar[ParamSet]
    supports_groups: ClassVar[bool] = False
    main: ClassVar[tuple[str, ...]]
    """Indices to rank by (the first) and to follow in the convergence plot."""
    sample_unit: ClassVar[str] = "samples"
    caveat: ClassVar[str] = ""
    """A limitation of the method that the summary states."""

    def __init__(self, options: dict[str, Any], conf_level: float = 0.95,
                 resamples: int = 1000) -> None:
        self.options = options
        self.conf_level = conf_level
        self.resamples = resamples

    def with_resamples(self, resamples: int) -> Method:
        """A copy with fewer bootstrap resamples (for the convergence check)."""
        return type(self)(self.options, self.conf_level, resamples)

    def check(self, problem: dict[str, Any], n: int, where: str) -> None:
        """Raise :class:`InputError` when ``n`` is not a usable sample size."""
        if n < 1:
            raise InputError(where, f"missing: set samples (the number of {self.sample_unit})")

    @classmethod
    def check_options(cls, options: dict[str, Any], where: str) -> None:
        """Raise :class:`InputError` for option values that do not fit together."""

    def n_rows(self, problem: dict[str, Any], n: int) -> int:
        """Rows of the sample for size ``n``."""
        raise NotImplementedError

    def sample(self, problem: dict[str, Any], n: int, seed: int) -> np.ndarray:
        """The sample matrix (rows = points, columns = factors in problem order)."""
        raise NotImplementedError

    def analyze(self, problem: dict[str, Any], X: np.ndarray, Y: np.ndarray,
                seed: int) -> pd.DataFrame:
        """Indices with intervals, tidy (see the module docstring)."""
        raise NotImplementedError

    def prefixes(self, problem: dict[str, Any], n: int) -> list[tuple[int, int]]:
        """(sample size, rows) of prefixes of the sample that are themselves valid samples."""
        raise NotImplementedError


class Morris(Method):
    """Morris elementary effects: a cheap screening of many factors (r trajectories)."""

    name = "morris"
    OPTIONS = ParamSet("morris", "Morris options.", (
        P("num_levels", 4, "Grid levels of the trajectories (even).", low=2, high=100),
    ))
    supports_groups = True
    main = ("mu_star",)
    sample_unit = "trajectories"

    def _steps(self, problem: dict[str, Any]) -> int:
        return len(_names(problem)) + 1

    def check(self, problem: dict[str, Any], n: int, where: str) -> None:
        """At least two trajectories; an even number of levels."""
        super().check(problem, n, where)
        if n < 2:
            raise InputError(where, f"morris needs at least 2 trajectories, got {n}")

    @classmethod
    def check_options(cls, options: dict[str, Any], where: str) -> None:
        """The grid needs an even number of levels (so that steps are balanced)."""
        if options["num_levels"] % 2:
            raise InputError(f"{where}.num_levels", f"must be even, got {options['num_levels']}")

    def n_rows(self, problem: dict[str, Any], n: int) -> int:
        """Trajectories × (factors or groups + 1) points."""
        return n * self._steps(problem)

    def sample(self, problem: dict[str, Any], n: int, seed: int) -> np.ndarray:
        """Morris trajectories on a ``num_levels`` grid."""
        from SALib.sample import morris

        return morris.sample(problem, n, num_levels=self.options["num_levels"], seed=seed)

    def analyze(self, problem: dict[str, Any], X: np.ndarray, Y: np.ndarray,
                seed: int) -> pd.DataFrame:
        """μ* with its bootstrap interval, μ and σ."""
        from SALib.analyze import morris

        res = morris.analyze(problem, X, Y, num_resamples=self.resamples,
                             conf_level=self.conf_level, num_levels=self.options["num_levels"],
                             seed=analysis_seed(seed, "morris"))
        names = list(res["names"])
        rows = (_rows(names, "mu_star", res["mu_star"], res["mu_star_conf"])
                + _rows(names, "mu", res["mu"]) + _rows(names, "sigma", res["sigma"]))
        return pd.DataFrame(rows, columns=COLUMNS)

    def prefixes(self, problem: dict[str, Any], n: int) -> list[tuple[int, int]]:
        """The first r' trajectories."""
        return [(r, r * self._steps(problem)) for r in _spread(min(n, max(2, n // 8)), n)]


class Sobol(Method):
    """Sobol' variance decomposition with Saltelli's scheme: S1, ST and (optionally) S2."""

    name = "sobol"
    OPTIONS = ParamSet("sobol", "Sobol' options.", (
        P("calc_second_order", True, "Also estimate second-order indices S2 (N·(2D+2) rows "
          "instead of N·(D+2))."),
    ))
    supports_groups = True
    main = ("ST", "S1")
    sample_unit = "base samples"

    def _block(self, problem: dict[str, Any]) -> int:
        d = len(_names(problem))
        return 2 * d + 2 if self.options["calc_second_order"] else d + 2

    def check(self, problem: dict[str, Any], n: int, where: str) -> None:
        """N must be a power of 2 (the balance properties of Sobol' sequences need it)."""
        super().check(problem, n, where)
        if n < 2 or n & (n - 1):
            raise InputError(where, f"sobol needs a power of 2 (e.g. 256, 512, 1024), got {n}")

    def n_rows(self, problem: dict[str, Any], n: int) -> int:
        """N·(2D+2) with second order, N·(D+2) without (D = factors or groups)."""
        return n * self._block(problem)

    def sample(self, problem: dict[str, Any], n: int, seed: int) -> np.ndarray:
        """Saltelli's extension of a scrambled Sobol' sequence."""
        from SALib.sample import sobol

        return sobol.sample(problem, n, calc_second_order=self.options["calc_second_order"],
                            scramble=True, seed=seed)

    def analyze(self, problem: dict[str, Any], X: np.ndarray, Y: np.ndarray,
                seed: int) -> pd.DataFrame:
        """S1 and ST with bootstrap intervals; S2 for each pair when asked for."""
        from SALib.analyze import sobol

        second = self.options["calc_second_order"]
        res = sobol.analyze(problem, Y, calc_second_order=second,
                            num_resamples=self.resamples, conf_level=self.conf_level,
                            seed=analysis_seed(seed, "sobol"))
        names = _names(problem)
        rows = (_rows(names, "S1", res["S1"], res["S1_conf"])
                + _rows(names, "ST", res["ST"], res["ST_conf"]))
        if second:
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    v, c = float(res["S2"][i, j]), float(res["S2_conf"][i, j])
                    rows.append({"factor": names[i], "factor_2": names[j], "index": "S2",
                                 "value": v, "conf": c, "conf_low": v - c, "conf_high": v + c})
        return pd.DataFrame(rows, columns=COLUMNS)

    def prefixes(self, problem: dict[str, Any], n: int) -> list[tuple[int, int]]:
        """The first N' base samples (powers of 2), each a block of rows."""
        sizes = [n >> k for k in range(6) if n >> k >= 8][::-1] or [n]
        return [(m, m * self._block(problem)) for m in sizes]


class Fast(Method):
    """Extended Fourier amplitude sensitivity test (eFAST): S1 and ST."""

    name = "fast"
    OPTIONS = ParamSet("fast", "eFAST options.", (
        P("M", 4, "Interference parameter (harmonics used).", low=1, high=50),
    ))
    main = ("ST", "S1")
    sample_unit = "points per factor"
    caveat = ("eFAST's bootstrap intervals are indicative only (SALib issue 649), and its ST "
              "has a small positive bias: a factor without effect gets an ST of a few percent.")

    def check(self, problem: dict[str, Any], n: int, where: str) -> None:
        """More than 4M² points per factor (the eFAST condition)."""
        super().check(problem, n, where)
        m = self.options["M"]
        if n <= 4 * m * m:
            raise InputError(where, f"fast needs more than 4·M² = {4 * m * m} points per "
                             f"factor (M = {m}), got {n}")

    def n_rows(self, problem: dict[str, Any], n: int) -> int:
        """N points on each factor's search curve."""
        return n * problem["num_vars"]

    def sample(self, problem: dict[str, Any], n: int, seed: int) -> np.ndarray:
        """One search curve per factor, with random phase shifts."""
        from SALib.sample import fast_sampler

        return fast_sampler.sample(problem, n, M=self.options["M"], seed=seed)

    def analyze(self, problem: dict[str, Any], X: np.ndarray, Y: np.ndarray,
                seed: int) -> pd.DataFrame:
        """S1 and ST with SALib's bootstrap intervals."""
        from SALib.analyze import fast

        with _salib_globals_restored():
            res = fast.analyze(problem, Y, M=self.options["M"], num_resamples=self.resamples,
                               conf_level=self.conf_level, seed=analysis_seed(seed, "fast"))
        names = list(problem["names"])
        return pd.DataFrame(_rows(names, "S1", res["S1"], res["S1_conf"])
                            + _rows(names, "ST", res["ST"], res["ST_conf"]), columns=COLUMNS)

    def prefixes(self, problem: dict[str, Any], n: int) -> list[tuple[int, int]]:
        """None: a prefix of an eFAST sample is not an eFAST sample (the curves are periodic).

        Check convergence by repeating with a larger ``samples``.
        """
        return []


class Pawn(Method):
    """PAWN: KS distance between conditional and unconditional output distributions.

    Moment-independent (it compares whole distributions, not variances), on a Latin hypercube.
    The point estimates are SALib's; the interval of the median comes from a bootstrap over
    sample rows computed here with a vectorised KS statistic (the same slices and statistic as
    SALib, checked in the tests), since SALib gives none and calling it per resample is slow.
    """

    name = "pawn"
    OPTIONS = ParamSet("pawn", "PAWN options.", (
        P("S", 10, "Slices of each factor's range (conditioning intervals).", low=2, high=1000),
        P("bootstrap", 200, "Bootstrap resamples for the interval of the median.", low=10,
          high=100_000),
    ))
    main = ("median",)
    sample_unit = "sample rows"
    caveat = ("PAWN's KS distance is not zero for a factor without effect (each slice is a "
              "finite subsample); compare factors with the dummy's value.")

    def with_resamples(self, resamples: int) -> Method:
        """A copy with at most ``resamples`` bootstrap resamples."""
        options = {**self.options, "bootstrap": min(self.options["bootstrap"], resamples)}
        return type(self)(options, self.conf_level, resamples)

    def check(self, problem: dict[str, Any], n: int, where: str) -> None:
        """At least 5 rows per slice, so that conditional distributions mean something."""
        super().check(problem, n, where)
        need = 5 * self.options["S"]
        if n < need:
            raise InputError(where, f"pawn needs at least 5 rows per slice, {need} rows with "
                             f"S = {self.options['S']}; got {n}")

    def n_rows(self, problem: dict[str, Any], n: int) -> int:
        """N rows."""
        return n

    def sample(self, problem: dict[str, Any], n: int, seed: int) -> np.ndarray:
        """A Latin hypercube of N rows."""
        from SALib.sample import latin

        return latin.sample(problem, n, seed=seed)

    def analyze(self, problem: dict[str, Any], X: np.ndarray, Y: np.ndarray,
                seed: int) -> pd.DataFrame:
        """Median (ranked, with a bootstrap interval), mean, minimum, maximum and CV over slices."""
        from SALib.analyze import pawn

        s = self.options["S"]
        res = pawn.analyze(problem, X, Y, S=s)
        names = list(problem["names"])
        rng = np.random.default_rng(analysis_seed(seed, "pawn"))
        boots = np.empty((self.options["bootstrap"], len(names)))
        for b in range(len(boots)):
            idx = rng.integers(0, len(Y), len(Y))
            boots[b] = pawn_medians(X[idx], Y[idx], s)
        # Normal-approximation interval from the bootstrap spread, as SALib's own intervals:
        # resampling rows with replacement adds ties that bias the KS statistic upwards, so
        # percentile intervals can miss the estimate itself.
        z = float(scipy.stats.norm.ppf(0.5 + self.conf_level / 2.0))
        rows = _rows(names, "median", res["median"], z * np.nanstd(boots, axis=0, ddof=1))
        for index in ("mean", "minimum", "maximum", "CV"):
            rows += _rows(names, index, res[index])
        return pd.DataFrame(rows, columns=COLUMNS)

    def prefixes(self, problem: dict[str, Any], n: int) -> list[tuple[int, int]]:
        """The first N' rows (the rows of a Latin hypercube come in random order)."""
        least = 5 * self.options["S"]
        return [(m, m) for m in _spread(min(n, max(least, n // 8)), n)]


def pawn_medians(X: np.ndarray, Y: np.ndarray, S: int) -> np.ndarray:
    """Median over S slices of the KS statistic between Y in a slice of a factor and all Y.

    The slices are SALib's (quantiles of the factor, each ``[q_s, q_s+1)``); the statistic is
    ``scipy.stats.ks_2samp``'s, max |F_slice − F_all| over the data, computed with sorted
    arrays instead of one SciPy call per slice.
    """
    ys = np.sort(Y)
    f_all = np.searchsorted(ys, ys, side="right") / len(ys)
    edges = np.linspace(0.0, 1.0, S + 1)
    out = np.full(X.shape[1], np.nan)
    for d in range(X.shape[1]):
        q = np.nanquantile(X[:, d], edges)
        stats = []
        for k in range(S):
            sel = np.sort(Y[(X[:, d] >= q[k]) & (X[:, d] < q[k + 1])])
            if len(sel):
                f_sel = np.searchsorted(sel, ys, side="right") / len(sel)
                stats.append(np.max(np.abs(f_sel - f_all)))
        if stats:
            out[d] = np.median(stats)
    return out


METHODS: dict[str, type[Method]] = {m.name: m for m in (Morris, Sobol, Fast, Pawn)}


def make_method(name: str, options: dict[str, Any], where: str, *, conf_level: float = 0.95,
                resamples: int = 1000) -> Method:
    """A method adapter with its options validated (unknown options list the known ones)."""
    if name not in METHODS:
        raise InputError(where, f"unknown method {name!r}; known: {', '.join(METHODS)}")
    cls = METHODS[name]
    resolved = cls.OPTIONS.resolve(options, where)
    cls.check_options(resolved, where)
    return cls(resolved, conf_level, resamples)

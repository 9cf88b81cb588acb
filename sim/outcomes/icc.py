"""Intra-cluster correlation (ICC) of unit outcomes between municipalities and between trusts.

A cluster trial of municipalities or trusts needs the ICC of its outcome to size itself: the
share of the variance of a unit's compliance (or adoption) that lies between clusters. Shared
causes (``context_sd_municipality``, ``context_sd_trust``) raise it.

Estimator: the one-way ANOVA estimator ICC(1) for unequal cluster sizes,
``(MSB − MSW) / (MSB + (n0 − 1) MSW)`` with ``n0 = (N − Σ n_j² / N) / (k − 1)``. Why this and not
a mixed model (statsmodels' MixedLM variance components; not a dependency of the project): it
is a closed form of three sums per cluster (units, sum and sum of squares of the outcome), so a
run keeps only those sums (:func:`cluster_sums`, a few thousand rows at national scale where
unit rows are not recorded), and a bootstrap over clusters is one matrix product; it is the
estimator cluster-trial sample-size formulas use, and it can be negative (reported as is).

Observations are the units where the bundle applies (NaN compliance: left out), unweighted
(each unit one observation, as the units of a trial arm). Between municipalities: the units of
municipal services (specialist units serve every municipality of their trust and are left out);
between trusts: every unit. ``kind`` "all" pools the kinds of unit, so where kinds differ in
compliance the mix matters: municipalities with the same mix (a generated catchment) give a
negative ICC, real ones with different mixes a positive one even without shared causes (as
do colleagues' influence within a municipality's network and its shared hospital ties); the
rows of one organisation kind (nursing homes between municipalities, say) are the figure for a
trial of that kind of unit. Only recorded weeks can be asked for (``[output] icc_weeks``,
default the last week).

Interval: a percentile bootstrap over clusters (``ICC_DRAWS`` resamples of the clusters with
replacement, within each replicate, stream ``icc``; none with fewer than
``MIN_BOOTSTRAP_CLUSTERS`` clusters); the statistic is the mean over replicates
of each replicate's ICC, so with replicates the interval is that of the mean ICC of one
realisation of the structure, and the row's ``icc_sd_replicates`` shows how much realisations
differ. The interval does not assume normal outcomes, which compliance (bounded, often 0) is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.params import ORG_KINDS, SPECIALIST_KINDS
from sim.rng import stream

if TYPE_CHECKING:
    from sim.outcomes.recorder import Recorder
    from sim.population import Population

ICC_LEVELS = ("municipality", "trust")
ICC_METRICS = ("compliance", "adoption")
ICC_DRAWS = 1000  # bootstrap resamples: the 2.5% and 97.5% points are stable to ~0.01 (assumption)
CONFIDENCE = 0.95
#: Fewer clusters than this give no interval: resampling 2 or 3 clusters (two trusts, say) says
#: nothing about the spread (assumption).
MIN_BOOTSTRAP_CLUSTERS = 5
_KEYS = ("strategy", "bundle", "level", "kind", "metric", "week")


def icc(values: np.ndarray, groups: np.ndarray) -> float:
    """One-way ANOVA ICC(1) of ``values`` clustered by ``groups`` (NaN values left out)."""
    values, groups = np.asarray(values, float), np.asarray(groups)
    keep = ~np.isnan(values)
    _, of = np.unique(groups[keep], return_inverse=True)
    n, s, q = _sums(values[keep], of)
    return float(anova_icc(n, s, q))


def _sums(values: np.ndarray, of: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cluster: units, sum and sum of squares (clusters without a value left out)."""
    n = np.bincount(of).astype(float)
    s = np.bincount(of, values, minlength=len(n))
    q = np.bincount(of, values * values, minlength=len(n))
    has = n > 0
    return n[has], s[has], q[has]


def anova_icc(n: np.ndarray, s: np.ndarray, q: np.ndarray,
              counts: np.ndarray | None = None) -> np.ndarray:
    """ICC(1) from cluster sums: units ``n``, sums ``s``, sums of squares ``q`` (each (k,)).

    ``counts`` (D, k): how often each cluster is drawn in each of D resamples; the result is then
    (D,). NaN where it is undefined (fewer than 2 clusters, no within-cluster degrees of freedom,
    or no variance at all).
    """
    c = np.ones((1, len(n))) if counts is None else np.asarray(counts, float)
    k = c.sum(axis=1)
    big_n = c @ n
    total = c @ s
    between_raw = c @ (s * s / n)
    with np.errstate(invalid="ignore", divide="ignore"):
        ssb = between_raw - total * total / big_n
        ssw = c @ q - between_raw
        msb = ssb / (k - 1)
        msw = ssw / (big_n - k)
        n0 = (big_n - (c @ (n * n)) / big_n) / (k - 1)
        denom = msb + (n0 - 1) * msw
        out = np.where((k > 1) & (big_n > k) & (denom > 1e-12), (msb - msw) / denom, np.nan)
    return out if counts is not None else out[:1].reshape(())


_SUM_COLUMNS = ("bundle", "level", "kind", "metric", "week", "n", "sum", "sumsq")


def cluster_sums(recorder: Recorder, pop: Population, eligible: np.ndarray,
                 bundle_names: Sequence[str], weeks: Sequence[int]) -> pd.DataFrame:
    """Per bundle × level × kind × metric × week × cluster: units, sum and sum of squares.

    ``kind`` is "all" (every unit of the level) or one organisation kind; clusters without a
    unit are left out. What a run keeps for the ICC (:func:`icc_table` combines replicates
    and strategies).
    """
    specialist = np.isin(pop.unit_kind, [ORG_KINDS.index(k) for k in SPECIALIST_KINDS])
    clusters = {"municipality": np.where(specialist, -1, pop.unit_municipality),
                "trust": pop.unit_trust}
    kind_names = ["all", *ORG_KINDS]
    kinds = np.stack([np.ones(pop.n_units, bool),
                      *[pop.unit_kind == ORG_KINDS.index(k) for k in ORG_KINDS]])  # (K, U)
    n_k, n_b = len(kind_names), len(bundle_names)
    elig = eligible.astype(np.float64)
    cols: dict[str, list[np.ndarray]] = {c: [] for c in _SUM_COLUMNS}
    for week in weeks:
        i = recorder._row[week]
        with np.errstate(invalid="ignore", divide="ignore"):
            adoption = np.where(elig > 0, recorder.users[i] / elig, np.nan)
        metric = {"compliance": recorder.compliance[i].astype(np.float64), "adoption": adoption}
        for level, of_unit in clusters.items():
            n_c = int(of_unit.max()) + 1 if len(of_unit) else 0
            for name, values in metric.items():
                v = values.T  # (B, U)
                # every bundle × kind × cluster at once: one bincount over (b, k, cluster) bins;
                # nonzero walks b, then k, then units in order, so each bin adds its units in
                # unit order, as a per-bundle, per-kind bincount does (the same floats)
                keep = (of_unit >= 0)[None, None, :] & kinds[None, :, :] & ~np.isnan(v)[:, None]
                bb, kk, uu = np.nonzero(keep)
                if len(bb) == 0:
                    continue
                flat = (bb * n_k + kk) * n_c + of_unit[uu]
                x = v[bb, uu]
                size = n_b * n_k * n_c
                n = np.bincount(flat, minlength=size).astype(float)
                sm = np.bincount(flat, x, minlength=size)
                sq = np.bincount(flat, x * x, minlength=size)
                has = np.flatnonzero(n > 0)
                b_of, k_of = has // (n_k * n_c), has // n_c % n_k
                cols["bundle"].append(np.asarray(bundle_names, object)[b_of])
                cols["level"].append(np.full(len(has), level, object))
                cols["kind"].append(np.asarray(kind_names, object)[k_of])
                cols["metric"].append(np.full(len(has), name, object))
                cols["week"].append(np.full(len(has), week, np.int64))
                cols["n"].append(n[has])
                cols["sum"].append(sm[has])
                cols["sumsq"].append(sq[has])
    if not cols["n"]:
        return pd.DataFrame(columns=list(_SUM_COLUMNS))
    return pd.DataFrame({c: np.concatenate(v) for c, v in cols.items()})


def icc_table(sums: pd.DataFrame, seed: int, draws: int = ICC_DRAWS) -> pd.DataFrame:
    """One row per strategy × bundle × level × kind × metric × week: the ICC and its interval.

    Columns: replicates, n_clusters (per replicate), mean_cluster_size (units), icc (mean over
    replicates), icc_lo / icc_hi (percentile cluster bootstrap, :data:`CONFIDENCE`),
    icc_sd_replicates (NaN with one replicate), method.
    """
    cols = [*_KEYS, "replicates", "n_clusters", "mean_cluster_size", "icc", "icc_lo", "icc_hi",
            "icc_sd_replicates", "method"]
    if sums.empty:
        return pd.DataFrame(columns=cols)
    rng = stream(seed, "icc")
    out = []
    for key, part in sums.groupby(list(_KEYS), sort=False, observed=True):
        per_rep, boot, sizes, ks = [], np.zeros(draws), [], []
        reps = list(part.groupby("replicate", sort=True))
        for _, rep in reps:
            n, s, q = (rep[c].to_numpy(float) for c in ("n", "sum", "sumsq"))
            per_rep.append(float(anova_icc(n, s, q)))
            counts = rng.multinomial(len(n), np.full(len(n), 1.0 / len(n)), size=draws)
            boot += anova_icc(n, s, q, counts)
            sizes.append(n.mean())
            ks.append(len(n))
        boot /= len(reps)
        tail = (1 - CONFIDENCE) / 2
        enough = min(ks) >= MIN_BOOTSTRAP_CLUSTERS
        lo, hi = (np.nanquantile(boot, [tail, 1 - tail]) if enough and np.isfinite(boot).sum() > 1
                  else (np.nan, np.nan))
        out.append([*key, len(reps), float(np.mean(ks)), float(np.mean(sizes)),
                    float(np.mean(per_rep)), float(lo), float(hi),
                    float(np.std(per_rep, ddof=1)) if len(per_rep) > 1 else np.nan,
                    "ANOVA ICC(1); percentile cluster bootstrap" if enough else
                    f"ANOVA ICC(1); no interval (< {MIN_BOOTSTRAP_CLUSTERS} clusters)"])
    return pd.DataFrame(out, columns=cols)

"""How much of an output's variance is seed noise, and whether that is too much for the indices.

A stochastic model gives a different output for every seed at the same factor values. With
``R`` replicates per sample point:

- the *seed noise* σ²_seed is the within-point variance across replicates (averaged over
  points); its share of the variance of single-run outputs says how noisy the model is;
- the indices are computed on replicate means, whose noise variance is σ²_seed / R. Compared
  with the variance of the means across points, it is the share of what the indices
  decompose that is noise rather than factor effects. Above ``threshold`` (10% by default)
  the output is flagged: weak factors cannot be told from noise at this design, and noise
  inflates total and interaction indices (without common random numbers a dummy factor picks
  up about that share as its total index).

With common random numbers replicate *k* of every point shares a seed, so part of the noise
cancels in the differences between points that the indices use: the share is then an upper
bound.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["output", "points", "replicates", "var_runs", "var_seed", "seed_noise_share",
           "var_means", "noise_var_of_means", "noise_share_of_means", "too_noisy", "message"]


def noise_report(runs: np.ndarray, output: str, threshold: float = 0.1) -> dict[str, object]:
    """The noise figures of one output from its (points, replicates) single-run values."""
    reps = runs.shape[1]
    ok = ~np.isnan(runs).all(axis=1)
    runs = runs[ok]
    row: dict[str, object] = {"output": output, "points": int(ok.sum()), "replicates": reps}
    flat = runs[~np.isnan(runs)]
    var_runs = float(np.var(flat, ddof=1)) if flat.size > 1 else float("nan")
    counts = (~np.isnan(runs)).sum(axis=1)
    means = np.nanmean(runs, axis=1) if len(runs) else np.zeros(0)
    var_means = float(np.var(means, ddof=1)) if len(means) > 1 else float("nan")
    if reps < 2 or not (counts >= 2).any():
        row |= {"var_runs": var_runs, "var_seed": float("nan"), "seed_noise_share": float("nan"),
                "var_means": var_means, "noise_var_of_means": float("nan"),
                "noise_share_of_means": float("nan"), "too_noisy": False,
                "message": f"{output}: one replicate per point, so seed noise cannot be told "
                           "from factor effects; use replicates ≥ 2 to measure it."}
        return row
    multi = runs[counts >= 2]
    var_seed = float(np.mean(np.nanvar(multi, axis=1, ddof=1)))
    noise_of_means = var_seed / reps
    share = var_seed / var_runs if var_runs > 0 else float("nan")
    if var_means > 0:
        ratio = noise_of_means / var_means
    else:
        ratio = float("inf") if noise_of_means > 0 else float("nan")
    too_noisy = bool(ratio > threshold)
    if too_noisy:
        message = (f"{output}: seed noise is {ratio:.0%} of the variance of the replicate means "
                   f"(limit {threshold:.0%}), too much for this sample: weak factors cannot be "
                   f"told from noise and total/interaction indices are inflated. Add replicates "
                   f"(the noise of a mean falls as 1/replicates; now {reps}) or samples.")
    elif var_means == 0 and noise_of_means == 0:
        message = f"{output}: does not vary at all; its indices are undefined."
    else:
        message = (f"{output}: seed noise is {share:.1%} of the variance of single runs and "
                   f"{ratio:.1%} of the variance of the replicate means (limit "
                   f"{threshold:.0%}): fine.")
    row |= {"var_runs": var_runs, "var_seed": var_seed, "seed_noise_share": share,
            "var_means": var_means, "noise_var_of_means": noise_of_means,
            "noise_share_of_means": ratio, "too_noisy": too_noisy, "message": message}
    return row


def noise_table(runs: dict[str, np.ndarray], threshold: float = 0.1) -> pd.DataFrame:
    """One row of noise figures per output."""
    return pd.DataFrame([noise_report(r, name, threshold) for name, r in runs.items()],
                        columns=COLUMNS)

"""Compare two runs' ``summary.csv`` figure by figure, to show they have the same statistics.

Usage: ``python scripts/compare_runs.py BEFORE_DIR AFTER_DIR [--figures a,b,...]``

For each strategy × bundle × figure: the mean and standard deviation over replicates before and
after, the difference, its standard error (Welch, as if the runs were independent) and
z = difference / SE. Where the two runs share their worlds (a change of weekly draws only), the
runs are positively correlated and the Welch SE is conservative (the z's scatter with SD below 1).
Used to show that a change of random draws (issue 16's
counter-based draws) leaves the model's statistics unchanged: with many figures, |z| > 3 should be
rare (about 0.3% under no change) and the z's should scatter around 0 with SD near 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

FIGURES = ("adoption", "fidelity", "compliance", "penetration", "harm_expected",
           "harm_averted_vs_baseline")


def compare(before: pd.DataFrame, after: pd.DataFrame, figures: list[str]) -> pd.DataFrame:
    """One row per strategy × bundle × figure: means, SDs, difference, SE and z."""
    rows = []
    keys = ["strategy", "bundle"]
    for key, b in before.groupby(keys, sort=False):
        a = after.set_index(keys).loc[key]
        for fig in figures:
            x, y = b[fig].to_numpy(float), a[fig].to_numpy(float)
            se = np.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
            diff = y.mean() - x.mean()
            rows.append({"strategy": key[0], "bundle": key[1], "figure": fig,
                         "n_before": len(x), "n_after": len(y),
                         "mean_before": x.mean(), "mean_after": y.mean(),
                         "sd_before": x.std(ddof=1), "sd_after": y.std(ddof=1),
                         "difference": diff, "se": se, "z": diff / se if se > 0 else np.nan})
    return pd.DataFrame(rows)


def main() -> None:
    """Print the comparison table and a one-line summary of the z's."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--figures", default=",".join(FIGURES))
    args = ap.parse_args()
    figures = args.figures.split(",")
    table = compare(pd.read_csv(args.before / "summary.csv"),
                    pd.read_csv(args.after / "summary.csv"), figures)
    with pd.option_context("display.width", 200, "display.max_rows", 500,
                           "display.float_format", "{:.4g}".format):
        print(table.drop(columns=["n_before", "n_after"]).to_string(index=False))
    z = table["z"].dropna()
    print(f"\n{len(z)} figures, {table['n_before'].iloc[0]} vs {table['n_after'].iloc[0]} "
          f"replicates: mean z {z.mean():+.2f}, SD of z {z.std(ddof=1):.2f}, "
          f"|z| > 2: {int((z.abs() > 2).sum())}, |z| > 3: {int((z.abs() > 3).sum())}")


if __name__ == "__main__":
    main()

"""Results per real municipality: inhabitants, size class and health authority beside them.

A structure built from data (``[structure] municipalities``) knows each municipality's
inhabitants and regional health authority; the municipality rows of the time series know its
outcomes. Joined, they answer "do small municipalities lag?" and "does one authority lag?"
(``municipalities.csv`` and the figure of :mod:`sim.plots.municipalities`). The figures are each
municipality's own rows (its municipal services; the trusts' specialist services are not a
municipality's) at the last recorded week, the mean over replicates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.outcomes.catalogue import SERIES

#: Size classes by inhabitants: (label, lower bound inclusive); each runs to the next bound.
SIZE_CLASSES = (("< 2k", 0), ("2–5k", 2_000), ("5–20k", 5_000), ("20–100k", 20_000),
                ("> 100k", 100_000))


def size_class(inhabitants: np.ndarray) -> pd.Categorical:
    """The size class (:data:`SIZE_CLASSES`) of each municipality's number of inhabitants."""
    labels = [c[0] for c in SIZE_CLASSES]
    bounds = np.asarray([c[1] for c in SIZE_CLASSES[1:]])
    codes = np.searchsorted(bounds, np.asarray(inhabitants), side="right")
    return pd.Categorical.from_codes(codes, categories=labels)


def municipality_results(timeseries: pd.DataFrame, structure: dict[str, Any]) -> pd.DataFrame:
    """Per strategy × bundle × municipality: its last-week outcomes and who it is.

    Empty unless the structure is built from data and the municipality level is recorded.
    Columns: strategy, bundle, municipality, county, trust, regional_health_authority, inhabitants,
    size_class, replicates, then adoption, compliance, fidelity, penetration (mean over
    replicates).
    """
    if not structure.get("municipalities") or not (timeseries["level"] == "municipality").any():
        return pd.DataFrame()
    from sim.structure_data import assign_trusts, read_municipalities, source_path

    data = read_municipalities(source_path(structure["municipalities"]))
    trust_of = {i: t.name for t in assign_trusts(data, structure["trust_population"])
                for i in t.members}
    munis = pd.DataFrame([{"municipality": m.name, "county": m.county, "trust": trust_of[i],
                           "regional_health_authority": m.authority,
                           "inhabitants": m.population} for i, m in enumerate(data)])
    last = timeseries["week"].max()
    rows = timeseries[(timeseries["level"] == "municipality") & (timeseries["week"] == last)]
    rows = rows.assign(municipality=rows["entity"].astype(str))
    rows = rows[rows["municipality"].isin(set(munis["municipality"]))]
    out = (rows.groupby(["strategy", "bundle", "municipality"], observed=True, sort=False)
           .agg(replicates=("replicate", "nunique"), **{m: (m, "mean") for m in SERIES})
           .reset_index())
    out = out.merge(munis, on="municipality", how="left")
    out["size_class"] = size_class(out["inhabitants"].to_numpy())
    first = ["strategy", "bundle", "municipality", "county", "trust",
             "regional_health_authority", "inhabitants", "size_class", "replicates"]
    return out[[*first, *SERIES]]

"""Statistical process control for bundle compliance: p-charts and the Shewhart run rules.

The programme being modelled followed all-or-none bundle compliance on p-charts, so the simulator
has to say when such a chart would have *shown* an improvement, not only when compliance rose.
This module is deliberately pure (arrays in, frozen result out) so that it can be applied to
observed audit counts and to simulated ones alike.

Sources
-------
- Limits: D. C. Montgomery, *Introduction to Statistical Quality Control* (the p-chart with
  variable sample size): ``p̄ ± k·sqrt(p̄(1 − p̄)/n_i)``, one pair of limits per subgroup; a
  negative lower limit is set to 0 (and, symmetrically here, an upper limit above 1 to 1,
  since a proportion cannot leave [0, 1]). With a *known* centre (Montgomery's "standard
  given" case) the centre is not estimated from the data.
- Rules: L. P. Provost & S. K. Murray, *The Health Care Data Guide* (2011), rules for
  detecting special cause on Shewhart charts:

  1. ``outside`` – a single point outside a control limit;
  2. ``shift`` – eight or more consecutive points on the same side of the centre line
     (a point exactly on the centre line neither breaks nor adds to the run);
  3. ``trend`` – six consecutive points each increasing (or each decreasing).

  Provost & Murray ignore tied consecutive values when counting a trend; here, as the
  programme's own protocol did, **a tie breaks the trend** (the stricter reading, fewer
  false trends). The Guide's two zone rules (2 of 3 in the outer third, 15 in the inner
  third) are not implemented.

Points with denominator 0 (no audited patients that period) have p = NaN and NaN limits; they
are *skipped* by every rule: they are never flagged and neither break nor count toward a run
or trend (the run continues across the gap).

Detection time
--------------
Flags (``shift``, ``trend``) mark *every* point of a qualifying run, which is what a chart
reader sees in hindsight. The moment a prospective reader could have known is different: a
run of eight is only a signal once the eighth point is plotted. :func:`detection_flags` and
:func:`first_signal` therefore use the index at which a rule is first *satisfied* – the point
beyond a limit, the ``shift_length``-th point of a run, the ``trend_length``-th point of a
trend – never the start of the run. Note that when the centre line is estimated from all
points it uses later data too; for a fair "time until SPC detects the improvement" freeze it
with ``baseline_points`` or give a known ``centre``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

Direction = Literal["up", "down", "any"]

#: Points whose p is within this of the centre line count as *on* it (guards float noise only;
#: equal fractions x/n = Σx/Σn already give identical floats).
ON_CENTRE_TOL = 1e-12

FRAME_COLUMNS = ("period", "numerator", "denominator", "p", "centre", "lcl", "ucl", "outside",
                 "shift", "trend", "signal")


@dataclass(frozen=True, eq=False)
class PChart:
    """A computed p-chart: per-point proportions, limits and rule flags (arrays are read-only).

    Direction-specific flags are kept separately because one point can belong to an upward and
    a downward trend at once (the peak), and because "improvement detected" needs the upward
    ones only.
    """

    periods: np.ndarray
    numerators: np.ndarray
    denominators: np.ndarray
    p: np.ndarray
    centre: float
    lcl: np.ndarray
    ucl: np.ndarray
    outside_up: np.ndarray
    outside_down: np.ndarray
    shift_up: np.ndarray
    shift_down: np.ndarray
    trend_up: np.ndarray
    trend_down: np.ndarray
    sigma: float
    shift_length: int
    trend_length: int
    baseline_points: int | None
    centre_known: bool

    def __len__(self) -> int:
        return int(self.p.shape[0])

    @property
    def outside(self) -> np.ndarray:
        """Rule 1: point above the UCL or below the LCL."""
        return self.outside_up | self.outside_down

    @property
    def shift(self) -> np.ndarray:
        """Rule 2: point belongs to a run of ≥ ``shift_length`` on one side of the centre."""
        return self.shift_up | self.shift_down

    @property
    def trend(self) -> np.ndarray:
        """Rule 3: point belongs to ≥ ``trend_length`` strictly rising or falling points."""
        return self.trend_up | self.trend_down

    @property
    def signal_up(self) -> np.ndarray:
        """Point flagged by any rule in the upward direction (improvement for compliance)."""
        return self.outside_up | self.shift_up | self.trend_up

    @property
    def signal_down(self) -> np.ndarray:
        """Point flagged by any rule in the downward direction."""
        return self.outside_down | self.shift_down | self.trend_down

    @property
    def signal(self) -> np.ndarray:
        """Point flagged by any rule in either direction."""
        return self.signal_up | self.signal_down

    def to_frame(self, detail: bool = False) -> pd.DataFrame:
        """Tidy table, one row per point, columns :data:`FRAME_COLUMNS`.

        With ``detail=True`` the six direction-specific flags are appended so that callers can
        tell an upward from a downward signal without recomputing.
        """
        frame = pd.DataFrame({
            "period": self.periods,
            "numerator": self.numerators,
            "denominator": self.denominators,
            "p": self.p,
            "centre": np.full(len(self), self.centre),
            "lcl": self.lcl,
            "ucl": self.ucl,
            "outside": self.outside,
            "shift": self.shift,
            "trend": self.trend,
            "signal": self.signal,
        })
        if detail:
            for name in ("outside_up", "outside_down", "shift_up", "shift_down", "trend_up",
                         "trend_down"):
                frame[name] = getattr(self, name)
        return frame


def _counts(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    """Validate one count series and return it as int64 (whole, finite, non-negative)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {arr.shape}")
    if arr.dtype.kind == "b":
        raise ValueError(f"{name} must be counts (whole numbers), not booleans")
    if arr.dtype.kind not in "iuf":
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be counts (whole numbers); got {values!r}") from None
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name} must be whole numbers; got {arr[i]!r} at index {i}")
    arr = arr.astype(np.int64)
    if (arr < 0).any():
        i = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"{name} must not be negative; got {arr[i]} at index {i}")
    return arr


def _is_whole(value: object) -> bool:
    """Whether an option is an integer (bools excluded: ``True`` is not a run length)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _readonly(arr: np.ndarray) -> np.ndarray:
    """Freeze an array so that the frozen dataclass is frozen in substance, not just name."""
    arr.setflags(write=False)
    return arr


def _runs_same_side(p: np.ndarray, centre: float, valid: np.ndarray, length: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flags and detection points of runs of ≥ ``length`` on one side of the centre.

    Returns (flag_up, flag_down, detect_up, detect_down). Points on the centre line and invalid
    points are skipped: they do not count and do not break a run.
    """
    n = p.shape[0]
    flag = {1: np.zeros(n, bool), -1: np.zeros(n, bool)}
    detect = {1: np.zeros(n, bool), -1: np.zeros(n, bool)}
    run: list[int] = []
    run_side = 0

    def close() -> None:
        if run_side != 0 and len(run) >= length:
            flag[run_side][run] = True
            detect[run_side][run[length - 1:]] = True

    for i in range(n):
        if not valid[i]:
            continue
        diff = p[i] - centre
        if abs(diff) <= ON_CENTRE_TOL:
            continue
        side = 1 if diff > 0 else -1
        if side != run_side:
            close()
            run, run_side = [], side
        run.append(i)
    close()
    return flag[1], flag[-1], detect[1], detect[-1]


def _trends(p: np.ndarray, valid: np.ndarray, length: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flags and detection points of ≥ ``length`` strictly monotone consecutive points.

    Returns (flag_up, flag_down, detect_up, detect_down). Invalid points are skipped (the
    comparison is with the previous valid point); an equal value ends the trend.
    """
    n = p.shape[0]
    out = {}
    idx = np.flatnonzero(valid)
    vals = p[idx]
    for sign in (1, -1):
        flag = np.zeros(n, bool)
        detect = np.zeros(n, bool)
        start = 0
        for j in range(1, len(idx) + 1):
            if j < len(idx) and sign * (vals[j] - vals[j - 1]) > 0:
                continue
            members = idx[start:j]
            if len(members) >= length:
                flag[members] = True
                detect[members[length - 1:]] = True
            start = j
        out[sign] = (flag, detect)
    return out[1][0], out[-1][0], out[1][1], out[-1][1]


def p_chart(numerators: Sequence[float] | np.ndarray,
            denominators: Sequence[float] | np.ndarray, *,
            baseline_points: int | None = None, centre: float | None = None,
            sigma: float = 3.0, shift_length: int = 8, trend_length: int = 6,
            periods: Sequence[object] | np.ndarray | None = None) -> PChart:
    """Compute a p-chart (Montgomery) and flag special causes (Provost & Murray).

    Parameters
    ----------
    numerators, denominators
        Counts per period, e.g. patients with every bundle element done / patients audited.
        Whole non-negative numbers with numerator ≤ denominator; a denominator of 0 is allowed
        (nobody audited) and gives p = NaN and NaN limits for that point.
    baseline_points
        Estimate the centre from the first ``baseline_points`` points only and keep it frozen,
        so that a later improvement shows up as signals instead of dragging the centre along.
        ``None`` uses all points.
    centre
        A known centre line (Montgomery's "standard given"), e.g. the true compliance of a
        simulated in-control process. Excludes ``baseline_points``.
    sigma
        Width of the limits in standard errors (3 by convention).
    shift_length, trend_length
        Run lengths of the shift and trend rules (8 and 6 for Shewhart charts in the Guide).
    periods
        Labels for the points (e.g. week numbers); ``0 … n−1`` when omitted.

    Raises
    ------
    ValueError
        For mismatched lengths, non-whole or negative counts, numerator > denominator, no
        data to estimate the centre from, or out-of-range options.
    """
    x = _counts(numerators, "numerators")
    n = _counts(denominators, "denominators")
    if x.shape != n.shape:
        raise ValueError(f"numerators and denominators differ in length "
                         f"({x.shape[0]} vs {n.shape[0]})")
    if x.shape[0] == 0:
        raise ValueError("a p-chart needs at least one point")
    over = x > n
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise ValueError(f"numerator {x[i]} exceeds denominator {n[i]} at index {i}")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number; got {sigma!r}")
    for name, value in (("shift_length", shift_length), ("trend_length", trend_length)):
        if not _is_whole(value) or value < 2:
            raise ValueError(f"{name} must be a whole number ≥ 2; got {value!r}")
    if periods is None:
        labels = np.arange(x.shape[0])
    else:
        labels = np.asarray(periods)
        if labels.shape != x.shape:
            raise ValueError(f"periods has {labels.shape[0] if labels.ndim else 0} labels for "
                             f"{x.shape[0]} points")

    if centre is not None:
        if baseline_points is not None:
            raise ValueError("give either centre (known) or baseline_points (estimated), not both")
        if not (np.isfinite(centre) and 0.0 <= centre <= 1.0):
            raise ValueError(f"centre must be a proportion in [0, 1]; got {centre!r}")
        p_bar = float(centre)
    else:
        if baseline_points is None:
            used = slice(None)
        else:
            if not _is_whole(baseline_points) or not 1 <= baseline_points <= x.shape[0]:
                raise ValueError(f"baseline_points must be a whole number in 1…{x.shape[0]}; "
                                 f"got {baseline_points!r}")
            used = slice(0, int(baseline_points))
        total = int(n[used].sum())
        if total == 0:
            raise ValueError("every denominator in the baseline is 0, so the centre line is "
                             "undefined")
        p_bar = int(x[used].sum()) / total

    valid = n > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(valid, x / np.where(valid, n, 1), np.nan)
        half = sigma * np.sqrt(p_bar * (1.0 - p_bar) / np.where(valid, n, 1))
    ucl = np.where(valid, np.minimum(p_bar + half, 1.0), np.nan)
    lcl = np.where(valid, np.maximum(p_bar - half, 0.0), np.nan)
    outside_up = valid & (p > ucl)
    outside_down = valid & (p < lcl)
    shift_up, shift_down, _, _ = _runs_same_side(p, p_bar, valid, shift_length)
    trend_up, trend_down, _, _ = _trends(p, valid, trend_length)
    return PChart(
        periods=_readonly(labels.copy()), numerators=_readonly(x), denominators=_readonly(n),
        p=_readonly(p), centre=p_bar, lcl=_readonly(lcl), ucl=_readonly(ucl),
        outside_up=_readonly(outside_up), outside_down=_readonly(outside_down),
        shift_up=_readonly(shift_up), shift_down=_readonly(shift_down),
        trend_up=_readonly(trend_up), trend_down=_readonly(trend_down),
        sigma=float(sigma), shift_length=int(shift_length), trend_length=int(trend_length),
        baseline_points=None if baseline_points is None else int(baseline_points),
        centre_known=centre is not None,
    )


def detection_flags(chart: PChart, direction: Direction = "up") -> np.ndarray:
    """Per point, whether some rule is *satisfied* there, using only that and earlier points.

    True at a point beyond a limit, at the ``shift_length``-th and later points of a run, and
    at the ``trend_length``-th and later points of a trend – the points where a prospective
    reader of the chart would see the signal. (The centre line itself may use later data;
    see the module notes.)
    """
    if direction not in ("up", "down", "any"):
        raise ValueError(f"direction must be 'up', 'down' or 'any'; got {direction!r}")
    valid = chart.denominators > 0
    _, _, shift_up, shift_down = _runs_same_side(chart.p, chart.centre, valid, chart.shift_length)
    _, _, trend_up, trend_down = _trends(chart.p, valid, chart.trend_length)
    up = chart.outside_up | shift_up | trend_up
    down = chart.outside_down | shift_down | trend_down
    return {"up": up, "down": down, "any": up | down}[direction]


def first_signal(chart: PChart, direction: Direction = "up", start: int = 0) -> int | None:
    """Index of the first point, at or after ``start``, where a rule is first satisfied.

    This is the detection time: for an upward shift it is the index of the ``shift_length``-th
    point above the centre, not of the first one; for a trend the ``trend_length``-th point.
    ``start`` (e.g. the index where an intervention began) only restricts where detection may
    happen; a run may have begun before it. Returns None when nothing signals.
    """
    if start < 0:
        raise ValueError(f"start must be ≥ 0; got {start}")
    hits = np.flatnonzero(detection_flags(chart, direction)[start:])
    return int(hits[0]) + start if hits.size else None


def _step_edges(x: np.ndarray) -> np.ndarray:
    """Edges half-way between points (and half a spacing beyond the ends) for step limits."""
    if x.shape[0] == 1:
        return np.array([x[0] - 0.5, x[0] + 0.5])
    mid = (x[:-1] + x[1:]) / 2
    return np.concatenate([[2 * x[0] - mid[0]], mid, [2 * x[-1] - mid[-1]]])


def plot_spc(chart: PChart, path: str | Path, title: str = "", ylabel: str = "compliance"
             ) -> Path:
    """Draw the p-chart: points, centre line, step-wise limits, signals marked by rule.

    Limits are drawn as steps centred on each point because with varying denominators each
    point has its own limits; signalling points get a distinct marker per rule so a reader can
    see *why* a point is flagged.
    """
    from matplotlib.figure import Figure  # here: charting (detection) needs no matplotlib

    numeric = np.issubdtype(chart.periods.dtype, np.number)
    x = chart.periods.astype(float) if numeric else np.arange(len(chart), dtype=float)
    fig = Figure(figsize=(10.0, 4.4))
    ax = fig.subplots()
    ax.plot(x, chart.p, color="tab:blue", marker="o", ms=4, lw=1.2, label="p (observed)",
            zorder=3)
    centre_label = ("centre (known)" if chart.centre_known else
                    f"centre (first {chart.baseline_points} points)"
                    if chart.baseline_points is not None else "centre")
    ax.axhline(chart.centre, color="black", lw=1.2, label=f"{centre_label} = {chart.centre:.3f}")
    edges = _step_edges(x)
    ax.stairs(chart.ucl, edges, baseline=None, color="tab:gray", lw=1.0, ls="--",
              label=f"UCL / LCL ({chart.sigma:g}σ)")
    ax.stairs(chart.lcl, edges, baseline=None, color="tab:gray", lw=1.0, ls="--")
    marks = (
        ("outside", "o", "tab:red", 9, "outside limits"),
        ("shift", "s", "tab:orange", 12, f"shift (≥{chart.shift_length} one side)"),
        ("trend", "^", "tab:purple", 14, f"trend (≥{chart.trend_length} rising/falling)"),
    )
    for name, marker, colour, size, label in marks:
        flags = getattr(chart, name)
        if flags.any():
            ax.plot(x[flags], chart.p[flags], ls="none", marker=marker, ms=size, mfc="none",
                    mec=colour, mew=1.6, label=label, zorder=4)
    if chart.baseline_points is not None and chart.baseline_points < len(chart):
        ax.axvline(edges[chart.baseline_points], color="tab:green", lw=1.0, ls=":",
                   label="end of baseline")
    if not numeric:
        ax.set_xticks(x, [str(v) for v in chart.periods], rotation=45, ha="right")
    values = np.concatenate([chart.p, chart.lcl, chart.ucl, [chart.centre]])
    lo, hi = np.nanmin(values), np.nanmax(values)
    pad = max(0.05 * (hi - lo), 0.01)
    ax.set_ylim(max(lo - pad, -0.02), min(hi + pad, 1.02))
    ax.set_xlabel("period")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    n_sig = int(chart.signal.sum())
    ax.set_title(f"{title}  (p-chart, {n_sig} signalling point{'s' * (n_sig != 1)})".strip(),
                 fontsize=11)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path

"""Published figures beside the model's curves: which apply to a plot, and how they are drawn.

Why: a reader of an uptake curve or an arm comparison should see, on the same axes, what trials
and reviews reported (issue 15), and see at once how far the comparison is like for like. The
figures come from :func:`sim.calibrate.evidence.evidence_set`; only *verified* ones are shown
(a figure not read in its source is never drawn). The selection rules live here, once:

* an **effect** (``median_absolute_change`` or ``absolute_change`` in percentage points, e.g. a
  Cochrane review's median and IQR) belongs to an arm whose set of intervention types equals
  the figure's ``interventions`` exactly, compared with a comparator that has none;
* a **level** (``level_after`` or ``share_after`` in %) belongs to a plot of the bundle (and
  element) the figure names, for a strategy whose intervention types equal the figure's; a
  level naming no bundle (e.g. the national share of admissions with harm) is never drawn on
  a compliance axis;
* figures in other units (rates, SMDs, fidelity points) cannot be drawn on a share axis and are
  never selected.

Values are converted to the plot's units: ``unit="share"`` divides percentages and percentage
points by 100, ``unit="percent"`` keeps them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: matplotlib is imported by whoever draws; sim.calibrate pulls in
    # the experiment code, which draws with this module
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from sim.calibrate.evidence import EvidenceTarget

EFFECT_MEASURES = ("median_absolute_change", "absolute_change")
LEVEL_MEASURES = ("level_after", "share_after")
#: Where a figure without a stated follow-up is drawn (and said so in its label).
DEFAULT_WEEK = 52
#: Marker colour of a published figure drawn without an arm's colour.
GREY = "#444444"
UNITS = {"share": 0.01, "percent": 1.0}

#: Per arm (or strategy) and bundle: the set of intervention types it runs for that bundle.
ArmTypes = Mapping[str, Mapping[str, frozenset[str]]]


@dataclass(frozen=True)
class PublishedRange:
    """One published figure in a plot's units, with what a legend needs to say."""

    name: str
    source: str  # "Forsetlund 2009"
    measure: str
    value: float
    low: float | None
    high: float | None
    spread_kind: str
    baseline: float | None
    follow_up_weeks: int | None
    use: str
    bundle: str
    element: str
    interventions: frozenset[str]
    unit: str  # "share" or "percent": the plot's unit the numbers are in

    @property
    def is_effect(self) -> bool:
        """A change (effect vs a comparator) rather than a level."""
        return self.measure in EFFECT_MEASURES

    @property
    def week(self) -> int:
        """The week the figure is drawn at: its follow-up, else :data:`DEFAULT_WEEK`."""
        return self.follow_up_weeks if self.follow_up_weeks is not None else DEFAULT_WEEK

    def label(self, time_axis: bool = True) -> str:
        """Legend text in the source's own units (percent or percentage points).

        ``time_axis``: the figure is drawn at a week (say which, and why when not stated);
        otherwise (an end-of-run comparison) only whether the source states a follow-up.
        """
        f = 1 / UNITS[self.unit]
        value = f"{self.value * f:.3g}"
        spread = (f" ({self.spread_kind} {self.low * f:.3g}–{self.high * f:.3g})"
                  if self.low is not None and self.high is not None else "")
        role = "" if self.use == "fit" else f" [{self.use.replace('_', '-')}]"
        if self.follow_up_weeks is None:
            when = f"follow-up not stated, drawn at wk {DEFAULT_WEEK}" if time_axis \
                else "follow-up not stated"
        else:
            when = f"at wk {self.follow_up_weeks}" if time_axis \
                else f"follow-up {self.follow_up_weeks} wk"
        if self.is_effect:
            median = "median " if self.measure == "median_absolute_change" else ""
            spread = spread or " (no spread given)"
            return (f"published{role}: {self.source}, {median}{value}{spread} pts\n"
                    f"  effect on one desired practice vs no intervention; {when}")
        before = f"{self.baseline * f:.3g} → " if self.baseline is not None else ""
        return f"published{role}: {self.source}, {before}{value}%{spread}; {when}"


def source_label(target: EvidenceTarget) -> str:
    """First author and year: ``Forsetlund 2009`` (year from the file name, as named)."""
    author = target.citation.split()[0].rstrip(",.") if target.citation.split() else target.name
    year = re.search(r"(?:^|_)(\d{4})(?:_|$)", target.name)
    return f"{author} {year.group(1)}" if year else author


def _drawable(t: EvidenceTarget) -> bool:
    """Whether the figure is in % (levels) or percentage points (effects)."""
    unit = t.unit.strip().lower()
    if t.measure in EFFECT_MEASURES:
        return unit.startswith("percentage points")
    # a level is a bundle's (or element's) performance only where it names the bundle: a
    # share of admissions with harm, say, is in % but is no compliance
    return t.measure in LEVEL_MEASURES and unit.startswith("%") and bool(t.bundle)


def _record(t: EvidenceTarget, unit: str) -> PublishedRange:
    s = UNITS[unit]
    spread = t.spread
    return PublishedRange(
        name=t.name, source=source_label(t), measure=t.measure, value=t.value * s,
        low=spread.low * s if spread else None, high=spread.high * s if spread else None,
        spread_kind=spread.kind if spread else "",
        baseline=t.baseline * s if t.baseline is not None else None,
        follow_up_weeks=t.follow_up_weeks, use=t.use, bundle=t.bundle, element=t.element,
        interventions=frozenset(t.interventions), unit=unit)


@lru_cache(maxsize=4)
def _evidence(directory: str = "") -> dict[str, EvidenceTarget]:
    """The evidence files (default: calibration/evidence/), read once per process.

    A plot asks for them per curve; imported here, as sim.calibrate imports the experiment
    code that draws with this module.
    """
    from sim.calibrate.evidence import EVIDENCE_DIR, evidence_set

    return evidence_set(directory or EVIDENCE_DIR)


def ranges_for(*, bundle: str = "", element: str = "", interventions: Iterable[str] = (),
               unit: str = "share", kind: str = "any",
               evidence: Mapping[str, EvidenceTarget] | None = None,
               directory: str | Path = "") -> list[PublishedRange]:
    """The verified figures that apply to a plot of ``bundle`` (and ``element``) for an arm.

    ``interventions`` is the arm's set of intervention types; a figure applies only when its
    own set equals it exactly (no intervention types: nothing applies). A figure naming a
    bundle applies to that bundle only, one naming an element to that element's curve only;
    a figure naming neither (a review) applies to any bundle's curve. ``kind`` is ``"effect"``,
    ``"level"`` or ``"any"``. ``evidence`` (default: the files in ``directory``, default
    calibration/evidence/) is what :func:`sim.calibrate.evidence.evidence_set` returns.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    types = frozenset(interventions)
    if not types:
        return []
    targets = evidence if evidence is not None else _evidence(str(directory or ""))
    out = []
    for t in targets.values():
        if not t.verified or not _drawable(t) or frozenset(t.interventions) != types:
            continue
        if (t.bundle and t.bundle != bundle) or (t.element and t.element != element):
            continue
        r = _record(t, unit)
        if kind == "any" or (kind == "effect") == r.is_effect:
            out.append(r)
    return sorted(out, key=lambda r: r.name)


def effects_by_arm(arms: Iterable[str], bundle: str, types: ArmTypes | None, comparator: str,
                   unit: str = "share",
                   evidence: Mapping[str, EvidenceTarget] | None = None
                   ) -> dict[str, list[PublishedRange]]:
    """Per arm, the published effects that match it for ``bundle`` (empty dict: none).

    A review's effect is against no intervention, so nothing is matched when the comparator
    itself runs interventions for the bundle, nor for the comparator.
    """
    if not types or types.get(comparator, {}).get(bundle, frozenset()):
        return {}
    if evidence is None:
        evidence = _evidence()
    out = {}
    for arm in arms:
        if arm == comparator:
            continue
        found = ranges_for(bundle=bundle, interventions=types.get(arm, {}).get(bundle, ()),
                           unit=unit, kind="effect", evidence=evidence)
        if found:
            out[arm] = found
    return out


# --- the arms' intervention types ----------------------------------------------------------------
def strategy_types(strategy: Mapping[str, Any], bundles: Iterable[str]) -> dict[str, frozenset]:
    """Per bundle, the intervention types a resolved strategy runs for it.

    ``strategy`` is one entry of :meth:`sim.scenario.Scenario.resolved`'s ``strategies`` (as in
    a run's or an experiment store's manifest): a bundle the strategy does not introduce gets
    none; an intervention counts for the bundles it lists.
    """
    introduced = strategy.get("bundles")
    out = {}
    for b in bundles:
        if introduced is not None and b not in introduced:
            out[b] = frozenset()
            continue
        out[b] = frozenset(str(iv["type"]) for iv in strategy.get("interventions", [])
                           if b in iv.get("bundles", [b]))
    return out


def scenario_types(resolved: Mapping[str, Any]) -> dict[str, dict[str, frozenset]]:
    """Per strategy of a resolved scenario (:meth:`Scenario.resolved`), per bundle, its types."""
    bundles = [b["name"] for b in resolved.get("bundles", [])]
    return {s["name"]: strategy_types(s, bundles) for s in resolved.get("strategies", [])}


def manifest_types(experiment: Mapping[str, Any]) -> dict[str, dict[str, frozenset]]:
    """Per arm of an experiment store's manifest (its ``experiment`` table), per bundle.

    Each arm is a single-strategy scenario (:meth:`sim.experiment.design.Experiment.resolved`).
    """
    out = {}
    for arm in experiment.get("arms", []):
        strategies = scenario_types(arm.get("scenario", {}))
        out[arm["name"]] = next(iter(strategies.values()), {})
    return out


# --- drawing -------------------------------------------------------------------------------------
def draw_effect(ax: Axes, r: PublishedRange, *, at: float, base: float = 0.0,
                colour: Any = GREY, horizontal: bool = False) -> Any:
    """A published effect as a hollow diamond with its spread as an error bar.

    ``base`` is what the effect is added to (the comparator's level on a level axis; 0 on an
    axis of differences); ``at`` is the other coordinate (a week on a vertical time axis, or
    a row's position when ``horizontal``). The artist carries :meth:`PublishedRange.label`
    as its legend label.
    """
    y = base + r.value
    err = ([[r.value - r.low], [r.high - r.value]] if r.low is not None and r.high is not None
           else None)
    kw = {"fmt": "D", "mfc": "white", "mec": colour, "color": colour, "ms": 6, "capsize": 4,
          "lw": 1.2, "ls": "none", "zorder": 4, "label": r.label(time_axis=not horizontal)}
    if horizontal:
        return ax.errorbar(y, at, xerr=err, **kw)
    return ax.errorbar(at, y, yerr=err, **kw)


def draw_level(ax: Axes, r: PublishedRange, colour: Any = GREY) -> Any:
    """A published level over time: its baseline at week 0, its after-level at follow-up.

    A dotted line joins them (the path between is not known); the spread, if any, is an error
    bar at follow-up.
    """
    err = ([[r.value - r.low], [r.high - r.value]] if r.low is not None and r.high is not None
           else None)
    if r.baseline is not None:
        ax.plot([0, r.week], [r.baseline, r.value], color=colour, ls=":", lw=1.2, marker="s",
                mfc="white", mec=colour, ms=5, zorder=4)
    return ax.errorbar(r.week, r.value, yerr=err, fmt="s", mfc="white", mec=colour,
                       color=colour, ms=6, capsize=4, lw=1.2, zorder=5, label=r.label())


def is_published(label: str) -> bool:
    """Whether a legend label is one of these overlays (for tests and legend layout)."""
    return label.startswith("published")


def tight_layout(fig: Figure, note: str = "") -> int:
    """``fig.tight_layout()``, with the published figures' legend below the panels if any.

    Their labels are long (source, spread, what the figure measures), so they get a legend of
    their own under the panels, and the figure grows by its height; a figure with no published
    overlay is laid out exactly as before. ``note`` titles that legend (e.g. what the model's
    curve is, to set it apart). Returns the number of published entries.
    """
    handles: dict[str, Any] = {}
    for ax in fig.axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if is_published(label):
                handles.setdefault(label, h)
    if not handles:
        fig.tight_layout()
        return 0
    lines = sum(label.count("\n") + 1 for label in handles) + (1 if note else 0)
    w, h = fig.get_size_inches()
    extra = 0.2 + 0.16 * lines
    fig.set_size_inches(w, h + extra)
    fig.legend(list(handles.values()), list(handles), loc="lower center", fontsize=7,
               ncol=1 if w < 9 else 2, title=note or None, title_fontsize=7, frameon=False)
    rows = -(-lines // (1 if w < 9 else 2))
    fig.tight_layout(rect=(0, min(0.6, (0.25 + 0.16 * rows) / (h + extra)), 1, 1))
    return len(handles)


def model_legend(ax: Axes, **kwargs: Any) -> Any:
    """``ax.legend(**kwargs)`` of the model's curves only (the published ones go below)."""
    pairs = [(h, lab) for h, lab in zip(*ax.get_legend_handles_labels(), strict=True)
             if not is_published(lab)]
    if not pairs:
        return None
    handles, labels = zip(*pairs, strict=True)
    return ax.legend(handles, labels, **kwargs)

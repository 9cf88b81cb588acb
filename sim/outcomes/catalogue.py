"""The outcome catalogue: every outcome of a run declared once, with how it is shown.

``summary.csv`` has one row per run × bundle and one column per outcome; tables, plots,
sensitivity outputs, calibration targets and the web pages take an outcome's label, unit and
display scale from here, so a new outcome (or a renamed one) is one edit in this file. The
values are computed in :mod:`sim.outcomes.proctor` (the end-of-run summary) and
:mod:`sim.outcomes.recorder` (the weekly series); this module only describes them.

The incremental outcomes (:data:`INCREMENTAL_OUTCOMES`) are not summary columns: they exist
only against a comparator arm, in the table of :func:`sim.outcomes.statistics.incremental_table`
(comparison.csv of ``implsim run``, incremental.csv of ``implsim report``, the dashboard).

The named selections at the bottom say which outcomes each table compares; they are checked
against the declarations when the module is imported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """One outcome column: its name, how it reads, and what a bigger value means.

    ``scale`` divides the stored value for display (cost is stored in NOK and shown in M NOK);
    ``shown_unit`` is the unit after that division. ``summed`` says the outcome adds up over
    bundles into a programme total (cost, harm events); shares, ratios and times do not, so
    they exist per bundle only.
    """

    name: str
    label: str
    unit: str
    description: str
    higher_is_better: bool
    scale: float = 1.0
    shown_unit: str = ""
    summed: bool = False

    @property
    def per_bundle_only(self) -> bool:
        """Whether the outcome has no programme total (shares, ratios, times)."""
        return not self.summed

    @property
    def display_unit(self) -> str:
        """The unit of a shown (scaled) value."""
        return self.shown_unit or self.unit

    @property
    def is_share(self) -> bool:
        """Shares lie in [0, 1]; their headings carry no unit."""
        return self.unit.startswith("share")

    @property
    def heading(self) -> str:
        """Short column heading: ``compliance``, ``cost (M NOK)``, ``harm averted (events)``."""
        return self.label if self.is_share else f"{self.label} ({self.display_unit})"

    @property
    def axis_label(self) -> str:
        """Axis label with the unit spelled out: ``adoption (share of eligible staff)``."""
        return f"{self.label} ({self.display_unit})"

    def shown(self, value: float) -> float:
        """A stored value in display units."""
        return value / self.scale


_SUSTAINED = "share of the gain kept"
_GAIN = ("(c(end + L) − c(0)) / (c(end) − c(0)) of system compliance c, clipped to [0, 1]; "
         "NaN when undefined")
_DECLARED = (
    Outcome("adoption", "adoption", "share of eligible staff",
            "share of eligible staff using the bundle at the end", True),
    Outcome("fidelity", "fidelity", "share of elements done",
            "mean element fidelity where the bundle applies, at the end", True),
    Outcome("compliance", "compliance", "share, all-or-none",
            "all-or-none compliance at the end", True),
    Outcome("penetration", "penetration", "share of applicable units",
            "share of applicable units at or above the compliance threshold, at the end",
            True),
    Outcome("sustainability", "sustainability", f"{_SUSTAINED} (sustainability_weeks later)",
            f"{_GAIN}; L = sustainability_weeks", True),
    Outcome("sustainability_6m", "sustained 6 months", f"{_SUSTAINED} 26 weeks later",
            f"{_GAIN}; L = 26 weeks", True),
    Outcome("sustainability_12m", "sustained 12 months", f"{_SUSTAINED} 52 weeks later",
            f"{_GAIN}; L = 52 weeks", True),
    Outcome("compliance_support_end", "compliance when support ended", "share, all-or-none",
            "system compliance in the week support for the bundle ended", True),
    Outcome("compliance_sustained", "compliance after support", "share, all-or-none",
            "system compliance sustainability_weeks after support ended", True),
    Outcome("sustained_units", "units sustained", "share of improved units",
            "share of the units that improved during support whose compliance "
            "sustainability_weeks after it ended is ≥ sustained_share_of_peak × their peak",
            True),
    Outcome("cost", "cost", "NOK", "intervention cost booked to the bundle", False,
            scale=1e6, shown_unit="M NOK", summed=True),
    Outcome("harm_expected", "harm expected", "events",
            "expected harm events over the run with the compliance reached", False,
            summed=True),
    Outcome("harm_averted_vs_baseline", "harm averted vs week 0", "events",
            "harm events averted against staying at week-0 compliance (not against a "
            "comparator: see harm_averted)", True, summed=True),
    Outcome("harm_rate_indicator", "harm rate", "events per 1,000 exposure units (the "
            "bundle's own unit in harm_rate_indicator_unit)",
            "expected harm events per 1,000 exposure units (e.g. catheter-days) in the last "
            "recorded week", False, shown_unit="per 1,000 exposure units"),
    Outcome("weeks_to_50pct_compliance", "weeks to 50% compliance", "weeks",
            "first week system compliance reached 50% (NaN if never)", False),
    Outcome("weeks_to_80pct_compliance", "weeks to 80% compliance", "weeks",
            "first week system compliance reached 80% (NaN if never)", False),
    Outcome("weeks_to_50pct_adoption", "weeks to 50% adoption", "weeks",
            "first week system adoption reached 50% (NaN if never)", False),
    Outcome("weeks_to_80pct_adoption", "weeks to 80% adoption", "weeks",
            "first week system adoption reached 80% (NaN if never)", False),
)

#: Every outcome of a run by name (a column of ``summary.csv`` each).
OUTCOMES: dict[str, Outcome] = {o.name: o for o in _DECLARED}

#: Incremental outcomes: an arm against the comparator, from the paired mean differences over
#: replicates (:func:`sim.outcomes.statistics.incremental_table`), never per run.
INCREMENTAL_OUTCOMES: dict[str, Outcome] = {o.name: o for o in (
    Outcome("harm_averted", "harm averted", "events",
            "the comparator's harm_expected − the arm's: mean of the paired differences",
            True, summed=True),
    Outcome("cost_per_harm_averted", "cost per harm averted", "NOK per event",
            "mean Δcost / mean harm averted against the comparator; NaN with the reason in "
            "cost_per_harm_averted_undefined", False, scale=1e3,
            shown_unit="1000 NOK per event"),
)}

#: Outcomes that add up over bundles (the "all bundles" totals of report and dashboard).
SUMMED: tuple[str, ...] = tuple(o.name for o in _DECLARED if o.summed)

#: Recorded each recorded week at every level (``timeseries.parquet``, in its column order):
#: what a calibration target can compare with observed data.
SERIES: tuple[str, ...] = ("adoption", "compliance", "fidelity", "penetration")

#: The arm tables of ``implsim run`` (comparison.csv) and ``implsim report`` (arms.csv).
COMPARED: tuple[str, ...] = (
    "weeks_to_50pct_compliance", "weeks_to_80pct_compliance", "compliance", "adoption",
    "fidelity", "penetration", "sustainability_6m", "sustainability_12m", "sustained_units",
    "cost", "harm_expected")

#: Differences between arms (pairs.csv of ``implsim report``).
PAIRED: tuple[str, ...] = ("compliance", "adoption", "fidelity", "penetration",
                           "sustainability_12m", "cost", "harm_expected")

#: Paired differences against the comparator (``delta_<outcome>`` of the incremental table);
#: ``cost`` and ``harm_expected`` give harm averted and the cost per harm averted.
INCREMENTAL: tuple[str, ...] = ("compliance", "adoption", "fidelity", "penetration",
                                "sustainability_12m", "harm_expected", "cost")

#: The table ``implsim run`` prints.
CONSOLE: tuple[str, ...] = ("adoption", "fidelity", "compliance", "penetration",
                            "sustainability", "cost")

#: The dashboard's arm table, in the order shown.
DASHBOARD: tuple[str, ...] = ("compliance", "adoption", "sustainability_12m", "cost",
                              "harm_expected", "harm_rate_indicator")

#: Reached-level shares reported beside the times to a level (``reached_50pct_share``).
REACHED: dict[str, str] = {"weeks_to_50pct_compliance": "reached_50pct_share",
                           "weeks_to_80pct_compliance": "reached_80pct_share"}


def outcome(name: str) -> Outcome:
    """The declaration of ``name``, a run's or an incremental one (KeyError names them all)."""
    known = OUTCOMES | INCREMENTAL_OUTCOMES
    try:
        return known[name]
    except KeyError:
        raise KeyError(f"no outcome {name!r}; outcomes: {', '.join(known)}") from None


def title(output: str) -> str:
    """A readable title of an outcome name, or of ``name:bundle`` (SA outputs).

    The label without a unit: an index computed from the stored values is in stored units.
    Names outside the catalogue (a test function's ``y``) are returned as they are.
    """
    name, _, bundle = output.partition(":")
    if name not in OUTCOMES:
        return output
    text = OUTCOMES[name].label
    return f"{text}, {bundle.replace('_', ' ')}" if bundle else text


def _check(names: Iterable[str], what: str) -> None:
    unknown = [n for n in names if n not in OUTCOMES]
    if unknown:
        raise KeyError(f"{what} names {unknown} not in the outcome catalogue")


for _what, _names in (("SERIES", SERIES), ("COMPARED", COMPARED), ("PAIRED", PAIRED),
                      ("INCREMENTAL", INCREMENTAL), ("CONSOLE", CONSOLE),
                      ("DASHBOARD", DASHBOARD), ("REACHED", REACHED)):
    _check(_names, _what)

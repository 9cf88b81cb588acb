"""Published evidence targets: one file per published figure, read and checked in one place.

The behavioural defaults are to be anchored in what trials, reviews and programmes reported
(issue 15). Each figure lives in its own TOML file under ``calibration/evidence/`` with its
citation, where it was read, and the source's own words, so a reviewer can check every number
against its source; a figure that could not be read in its source is marked ``verified = false``
and can never be used in a fit (``use = "not_used"``).

File format::

    name = "wathne_2018_guideline_adherence"     # = the file name
    title = "Hospital antibiotic guideline adherence after stewardship (cluster RCT)"
    citation = "Wathne JS et al. ... Antimicrob Resist Infect Control 2018;7:109"
    read_at = "https://..."                       # where the figure was read
    quote = "Adherence to guidelines had an absolute increase from 60 to 66% ..."
    verified = true                               # read in the source (search tool)
    use = "fit"                                   # "fit", "hold_out" or "not_used"
    setting = ["hospital"]                        # organisation kinds of the study
    interventions = ["audit_feedback", "training"]  # the model's nearest intervention types
    bundle = "antibiotic_stewardship"             # optional: bundle and element it speaks to
    element = "guideline_concordant_choice"
    follow_up_weeks = 52                          # when the figure is read (needed by a design)
    notes = "..."                                 # optional: how the design maps to the model

    [design]                      # required unless use = "not_used" (sim.calibrate.designs)
    scenario = "designs/wathne_2018.toml"   # the study as a scenario, relative to this file
    arm = "audit & feedback + academic detailing"   # the supported strategy
    comparator = "control wards"  # needed by compare = "arms" and "smd"
    compare = "before_after"      # "arms" | "before_after" | "smd" (see COMPARES)
    output = "element"            # "element" | "harm_rate" | "gtt_share" (see OUTPUTS)
    patients_per_period = 901     # optional: the study's audit noise
    replicates = 0                # optional: fewer replicates for a costly design

    [figure]
    measure = "level_after"       # what value is: see MEASURES
    value = 66.0
    unit = "% of patients on antibiotics"
    baseline = 60.0               # optional: the level before
    spread = { kind = "IQR", low = 0.5, high = 16.0 }   # optional: IQR, 95% CI, range
    n = 1802                      # optional: patients, studies or units behind it
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import InputError
from sim.interventions import REGISTRY
from sim.params import ORG_KINDS
from sim.tomlfile import check_keys, read_toml

EVIDENCE_DIR = Path(__file__).resolve().parents[2] / "calibration" / "evidence"
USES = ("fit", "hold_out", "not_used")
MEASURES = ("level_after", "absolute_change", "median_absolute_change", "rate_ratio",
            "rate_after", "share_after", "standardised_mean_difference")
SPREADS = ("IQR", "95% CI", "range", "SD")
_KEYS = {"name", "title", "citation", "read_at", "quote", "verified", "use", "setting",
         "interventions", "bundle", "element", "follow_up_weeks", "notes", "figure", "design"}
#: How a design's model figure is formed: the intervention arm minus the comparator at follow-up
#: (paired, common random numbers), the intervention arm's change from week 0, or the
#: standardised mean difference over units of that change between the arms.
COMPARES = ("arms", "before_after", "smd")
#: What a design reads from a run: an element's performance (%), the bundle's harm rate in its
#: own indicator unit (e.g. per 1,000 catheter-days), or the GTT share of admissions with harm.
OUTPUTS = ("element", "harm_rate", "gtt_share")
_DESIGN_KEYS = {"scenario", "arm", "comparator", "compare", "output", "patients_per_period",
                "replicates"}
_REQUIRED = ("name", "title", "citation", "quote", "verified", "use", "setting", "figure")
_FIGURE_KEYS = {"measure", "value", "unit", "baseline", "spread", "n"}


@dataclass(frozen=True)
class Spread:
    """The spread a source gives around its figure (an IQR, a confidence interval, ...)."""

    kind: str
    low: float
    high: float


@dataclass(frozen=True)
class Design:
    """How the model reproduces a study: which scenario, which arms, what is read and compared.

    ``scenario`` is a scenario file (absolute after loading); ``arm`` and ``comparator`` name its
    strategies; ``patients_per_period`` adds the study's sampling noise (a binomial audit of
    that many patients at baseline and at follow-up) to the model's predictive interval.
    """

    scenario: str
    arm: str
    comparator: str = ""
    compare: str = "arms"
    output: str = "element"
    patients_per_period: int = 0
    replicates: int = 0


@dataclass(frozen=True)
class EvidenceTarget:
    """One published figure with its source, its wording and the role it plays."""

    name: str
    title: str
    citation: str
    quote: str
    verified: bool
    use: str
    setting: tuple[str, ...]
    measure: str
    value: float
    unit: str
    path: str
    read_at: str = ""
    interventions: tuple[str, ...] = ()
    bundle: str = ""
    element: str = ""
    follow_up_weeks: int | None = None
    baseline: float | None = None
    spread: Spread | None = None
    n: int | None = None
    notes: str = ""
    design: Design | None = None


def _text(raw: dict[str, Any], key: str, where: str, required: bool = True) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise InputError(f"{where}: {key}", "must be a non-empty string")
    return value


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(where, f"must be a finite number, got {value!r}")
    return float(value)


def _figure(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InputError(where, "must be a table [figure] with measure, value and unit")
    check_keys(raw, _FIGURE_KEYS, where)
    measure = raw.get("measure")
    if measure not in MEASURES:
        raise InputError(f"{where}.measure", f"must be one of {', '.join(MEASURES)}, got "
                         f"{measure!r}")
    out: dict[str, Any] = {"measure": measure, "value": _finite(raw.get("value"),
                                                               f"{where}.value"),
                           "unit": _text(raw, "unit", where)}
    if "baseline" in raw:
        out["baseline"] = _finite(raw["baseline"], f"{where}.baseline")
    if "n" in raw:
        n = raw["n"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError(f"{where}.n", f"must be a positive integer, got {n!r}")
        out["n"] = n
    if "spread" in raw:
        s = raw["spread"]
        if not isinstance(s, dict) or set(s) != {"kind", "low", "high"}:
            raise InputError(f"{where}.spread", "must be { kind = \"IQR\", low = ..., high = ... }")
        if s["kind"] not in SPREADS:
            raise InputError(f"{where}.spread.kind", f"must be one of {', '.join(SPREADS)}, got "
                             f"{s['kind']!r}")
        low, high = _finite(s["low"], f"{where}.spread.low"), _finite(s["high"],
                                                                       f"{where}.spread.high")
        if s["kind"] != "SD" and not low <= out["value"] <= high:
            raise InputError(f"{where}.spread", f"the {s['kind']} [{low:g}, {high:g}] must "
                             f"contain the value {out['value']:g}")
        out["spread"] = Spread(s["kind"], low, high)
    return out


def _design(raw: Any, where: str, base_dir: Path) -> Design:
    if not isinstance(raw, dict):
        raise InputError(where, "must be a table [design] with scenario and arm")
    check_keys(raw, _DESIGN_KEYS, where)
    scenario, arm = _text(raw, "scenario", where), _text(raw, "arm", where)
    path = (base_dir / scenario).resolve()
    if not path.is_file():
        raise InputError(f"{where}.scenario", f"no file {path}; give a scenario file relative "
                         "to the evidence file")
    compare = raw.get("compare", "arms")
    if compare not in COMPARES:
        raise InputError(f"{where}.compare", f"must be one of {', '.join(COMPARES)}, got "
                         f"{compare!r}")
    output = raw.get("output", "element")
    if output not in OUTPUTS:
        raise InputError(f"{where}.output", f"must be one of {', '.join(OUTPUTS)}, got "
                         f"{output!r}")
    counts = {}
    for key in ("patients_per_period", "replicates"):
        v = raw.get(key, 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise InputError(f"{where}.{key}", f"must be an integer >= 0, got {v!r}")
        counts[key] = v
    comparator = _text(raw, "comparator", where, required=False)
    if compare in ("arms", "smd") and not comparator:
        raise InputError(f"{where}.comparator", f"compare = {compare!r} needs the comparator "
                         "strategy's name")
    return Design(str(path), arm, comparator, compare, output, **counts)


def evidence_from_dict(raw: dict[str, Any], where: str,
                       base_dir: Path | None = None) -> EvidenceTarget:
    """Validate one evidence file's table."""
    check_keys(raw, _KEYS, where, ": ")
    for key in _REQUIRED:
        if key not in raw:
            raise InputError(f"{where}: {key}", "is required")
    verified = raw["verified"]
    if not isinstance(verified, bool):
        raise InputError(f"{where}: verified", f"must be true or false, got {verified!r}")
    use = raw["use"]
    if use not in USES:
        raise InputError(f"{where}: use", f"must be one of {', '.join(USES)}, got {use!r}")
    if not verified and use != "not_used":
        raise InputError(f"{where}: use", "a figure not verified in its source cannot be used: "
                         "set use = \"not_used\" (or read it in the source and set verified)")
    setting = raw["setting"]
    if (not isinstance(setting, list) or not setting
            or any(k not in ORG_KINDS for k in setting)):
        raise InputError(f"{where}: setting", f"must be a list of: {', '.join(ORG_KINDS)}")
    interventions = raw.get("interventions", [])
    if not isinstance(interventions, list) or any(not isinstance(i, str) or i not in REGISTRY
                                                  for i in interventions):
        raise InputError(f"{where}: interventions", "must be a list of intervention types: "
                         f"{', '.join(sorted(REGISTRY))}")
    weeks = raw.get("follow_up_weeks")
    if weeks is not None and (isinstance(weeks, bool) or not isinstance(weeks, int)
                              or weeks < 0):
        raise InputError(f"{where}: follow_up_weeks", f"must be weeks (an integer >= 0), got "
                         f"{weeks!r}")
    fig = _figure(raw["figure"], f"{where}: figure")
    design = None
    if "design" in raw:
        design = _design(raw["design"], f"{where}: design",
                         base_dir if base_dir is not None else Path(where).parent)
        if weeks is None:
            raise InputError(f"{where}: follow_up_weeks", "a design needs the follow-up in "
                             "weeks (when the figure is read)")
    target = EvidenceTarget(
        name=_text(raw, "name", where), title=_text(raw, "title", where),
        citation=_text(raw, "citation", where), quote=_text(raw, "quote", where),
        verified=verified, use=use, setting=tuple(setting), path=where,
        read_at=_text(raw, "read_at", where, required=False),
        interventions=tuple(interventions), bundle=_text(raw, "bundle", where, False),
        element=_text(raw, "element", where, False), follow_up_weeks=weeks,
        notes=_text(raw, "notes", where, False), design=design, **fig)
    if use != "not_used" and design is None:
        raise InputError(f"{where}: design", f"a figure with use = {use!r} needs a [design] "
                         "table saying how the model reproduces the study")
    return target


def load_evidence(path: str | Path) -> EvidenceTarget:
    """Load one evidence file; its ``name`` must equal the file name."""
    path = Path(path)
    target = evidence_from_dict(read_toml(path, "evidence target"), str(path), path.parent)
    if target.name != path.stem:
        raise InputError(f"{path}: name", f"must equal the file name {path.stem!r}")
    return target


def evidence_set(directory: str | Path = EVIDENCE_DIR) -> dict[str, EvidenceTarget]:
    """Every evidence target in ``directory``, by name."""
    return {t.name: t for t in (load_evidence(p) for p in sorted(Path(directory).glob("*.toml")))}

"""The validation report: every published figure beside the model's predictive interval.

``implsim validate-evidence [--out DIR]`` runs every evidence target's design
(:mod:`sim.calibrate.designs`) with the shipped defaults, ``replicates`` times from one seed
(each replicate a new world and new chance events, the study's audit noise included), and writes
``validation.md`` and ``validation.png`` (default: ``docs/``). Each row says whether the figure
was fitted or held out and whether it passes:

- a review median with an IQR passes when the model's median effect lies inside the IQR (the
  reviews' spread is the spread of effects across settings, so a typical setting should fall in
  its middle half);
- any other figure passes when the model's 90% predictive interval contains it.

Figures marked ``not_used`` are listed with the reason and not compared. The document carries a
fingerprint of everything that decides its numbers (evidence files, design scenarios, declared
defaults, the code of the model), so a test can tell when it is stale without running it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.calibrate import designs
from sim.calibrate.evidence import EVIDENCE_DIR, EvidenceTarget, evidence_set

__all__ = ["Row", "fingerprint", "render", "validate", "write_report"]

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REPLICATES = 40
SEED = 20261202
_CODE = ("sim/mechanisms", "sim/interventions", "sim/outcomes", "sim/model.py", "sim/params.py",
         "sim/population.py", "sim/world.py", "sim/networks", "sim/calibrate/designs.py",
         "sim/calibrate/validation.py", "sim/bundles/data")


@dataclass(frozen=True)
class Row:
    """One target's published figure and the model's replicates of it."""

    target: EvidenceTarget
    values: np.ndarray  # (R,) model figures (NaN-free), empty when not compared

    @property
    def q05(self) -> float:
        """The 5th percentile of the model's figures."""
        return float(np.quantile(self.values, 0.05))

    @property
    def median(self) -> float:
        """The median of the model's figures."""
        return float(np.median(self.values))

    @property
    def q95(self) -> float:
        """The 95th percentile of the model's figures."""
        return float(np.quantile(self.values, 0.95))

    @property
    def rule(self) -> str:
        """How the figure is judged (see the module docstring)."""
        t = self.target
        if t.measure == "median_absolute_change" and t.spread is not None and \
                t.spread.kind == "IQR":
            return "model median inside the IQR"
        d = t.design
        if t.spread is None and not (d is not None and d.patients_per_period):
            return "model median within ±25% of the reported change (no spread read: assumption)"
        return "90% interval contains the figure"

    @property
    def passed(self) -> bool:
        """Whether the model agrees with the figure by :attr:`rule`."""
        t = self.target
        if len(self.values) == 0:
            return False
        if self.rule == "model median inside the IQR":
            assert t.spread is not None
            return t.spread.low <= self.median <= t.spread.high
        if self.rule.startswith("model median within"):
            return designs.agrees(t, self.median)
        return self.q05 <= t.value <= self.q95


def fingerprint(directory: Path = EVIDENCE_DIR) -> str:
    """A hash of the evidence files, their designs and the model code and defaults."""
    h = hashlib.sha256()
    files = sorted(directory.glob("*.toml"))
    scenarios = {Path(t.design.scenario) for t in evidence_set(directory).values()
                 if t.design is not None}
    bundles = {p for s in scenarios for p in s.parent.glob("*.toml")}
    code: set[Path] = set()
    for c in _CODE:
        path = ROOT / c
        code |= {path} if path.is_file() else {p for p in path.rglob("*")
                                                if p.suffix in (".py", ".toml", ".csv")}
    for p in sorted({*files, *scenarios, *bundles, *code}):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


LATER_WEEKS = (52, 104, 156)


def later_effects(rows: list[Row], replicates: int = REPLICATES // 2,
                  seed: int = SEED) -> dict[str, list[float]]:
    """Median effects of the fitted two-arm designs read later than the figures were.

    The evidence constrains the 12-month effects only; these show what the calibrated model
    does after support ends (``LATER_WEEKS``), so nobody mistakes them for validated figures.
    """
    out = {}
    for r in rows:
        t = r.target
        if t.use != "fit" or t.design is None or t.design.compare != "arms" or \
                t.design.output != "element":
            continue
        medians = []
        for weeks in LATER_WEEKS:
            later = dataclasses.replace(t, follow_up_weeks=weeks)
            medians.append(float(np.median([designs.figures([later], None, seed + k)[t.name]
                                            for k in range(replicates)])))
        out[t.name] = medians
    return out


def validate(replicates: int = REPLICATES, seed: int = SEED,
             directory: Path = EVIDENCE_DIR) -> list[Row]:
    """Run every fitted and held-out target's design ``replicates`` times at the defaults."""
    rows = []
    for t in evidence_set(directory).values():
        if t.use == "not_used" or t.design is None:
            rows.append(Row(t, np.zeros(0)))
            continue
        n = t.design.replicates or replicates
        values = np.array([designs.figures([t], None, seed + k, noise=True)[t.name]
                           for k in range(n)])
        rows.append(Row(t, values[np.isfinite(values)]))
    return rows


def _fmt(x: float) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.3g}"


def _published(t: EvidenceTarget) -> str:
    text = _fmt(t.value)
    if t.spread is not None:
        text += f" ({t.spread.kind} {_fmt(t.spread.low)}–{_fmt(t.spread.high)})"
    if t.baseline is not None:
        text = f"{_fmt(t.baseline)} → {text}"
    return text


def _short(unit: str) -> str:
    """A unit short enough for an axis label."""
    return unit if len(unit) <= 40 else unit.split("(")[0].strip()[:40]


def _author(t: EvidenceTarget) -> str:
    """A short label from the file name: the words before the year, and the year."""
    words = t.name.split("_")
    at = next((i for i, w in enumerate(words) if w.isdigit() and len(w) == 4), len(words))
    label = " ".join(w.upper() if len(w) <= 3 else w.capitalize() for w in words[:at])
    return f"{label} {words[at]}" if at < len(words) else label


def render(rows: list[Row], replicates: int, seed: int, fp: str, figure: str,
           later: dict[str, list[float]] | None = None) -> str:
    """The Markdown report."""
    compared = [r for r in rows if len(r.values)]
    fails = [r for r in compared if not r.passed]
    lines = [
        "# Validation against published evidence",
        "",
        "Generated by `implsim validate-evidence` from `calibration/evidence/`; do not edit by "
        "hand. Each published figure is set beside the model's 90% predictive interval (5th–95th "
        f"percentile of {replicates} replicates, seed {seed}, the shipped defaults; a design may "
        "set fewer replicates). Fitted figures entered the joint calibration "
        "(`calibration/evidence_fit.toml`); held-out ones did not, so they test it.",
        "",
        f"Fingerprint of the inputs: `{fp}`",
        "",
        f"**{len(compared) - len(fails)} of {len(compared)} compared figures pass** "
        f"({sum(r.target.use == 'fit' for r in compared)} fitted, "
        f"{sum(r.target.use == 'hold_out' for r in compared)} held out).",
        "",
        f"![published figures and the model's intervals]({figure})",
        "",
        "| target | role | measure | published | model median [90% interval] | rule | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in compared:
        t = r.target
        lines.append(
            f"| {_author(t)}: {t.title} | {t.use.replace('_', '-')} | {t.measure} "
            f"({t.unit}) | {_published(t)} | {_fmt(r.median)} [{_fmt(r.q05)}, "
            f"{_fmt(r.q95)}] | {r.rule} | {'pass' if r.passed else '**fail**'} |")
    if later:
        lines += ["", "## Beyond the evidence: the same trials read later", "",
                  "The fitted reviews' designs run on past 12 months (support ends at week 52; "
                  f"median of {replicates // 2} replicates). No target constrains these: they show "
                  "what the calibrated model does after support ends, not validated figures.", "",
                  "| strategy (review) | " + " | ".join(f"week {w}" for w in LATER_WEEKS) + " |",
                  "| --- |" + " --- |" * len(LATER_WEEKS)]
        for name, medians in later.items():
            t = next(r.target for r in rows if r.target.name == name)
            assert t.design is not None
            lines.append(f"| {t.design.arm} ({_author(t)}) | "
                         + " | ".join(f"{m:+.1f} points" for m in medians) + " |")
    lines += ["", "## Not compared", "",
              "| target | why |", "| --- | --- |"]
    for r in rows:
        if not len(r.values):
            why = ("not verified in its source" if not r.target.verified
                   else "no model output in the source's units (see its notes)")
            lines.append(f"| {_author(r.target)}: {r.target.title} | {why} |")
    lines += ["", "## Sources", ""]
    for r in rows:
        lines.append(f"- `{r.target.name}`: {r.target.citation}")
    return "\n".join(lines) + "\n"


def plot(rows: list[Row], path: Path) -> Path:
    """Small multiples: the published figure (and spread) beside the model's interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    compared = [r for r in rows if len(r.values)]
    cols = 3
    nrows = max(1, math.ceil(len(compared) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(11, 2.6 * nrows), squeeze=False)
    for ax, r in zip(axes.flat, compared, strict=False):
        t = r.target
        if t.spread is not None:
            ax.plot([0, 0], [t.spread.low, t.spread.high], color="tab:orange", lw=6, alpha=0.5,
                    solid_capstyle="butt", label="published spread (IQR or 95% CI)")
        else:  # the spread the fit and the pass rule used: the study's SE, or the assumption
            lo, hi = designs.spread_sd(t)
            d = t.design
            k = designs.Z_95 if d is not None and d.patients_per_period else 1.0
            ax.plot([0, 0], [t.value - k * lo, t.value + k * hi], color="tab:orange", lw=6,
                    alpha=0.25, solid_capstyle="butt", linestyle=(0, (1, 1)),
                    label="spread used (study's 90% SE band, or assumed ±25% of the change)")
        ax.plot([0], [t.value], "D", color="tab:orange", label="published")
        ax.plot([1, 1], [r.q05, r.q95], color="tab:blue", lw=6, alpha=0.5,
                solid_capstyle="butt", label="model 90%")
        ax.plot([1], [r.median], "o", color="tab:blue", label="model median")
        ax.set_xlim(-0.8, 1.8)
        d = t.design
        spread = (f"\n({t.spread.kind})" if t.spread is not None else
                  f"\n(binomial SE, n = {2 * d.patients_per_period})"
                  if d is not None and d.patients_per_period else "\n(assumed ±25%)")
        before = f"\nbefore: {t.baseline:g}" if t.baseline is not None else ""
        ax.set_xticks([0, 1], [f"published{spread}{before}", f"model\n({t.use.replace('_', '-')})"])
        verdict = "pass" if r.passed else "FAIL"
        ax.set_title(f"{_author(t)} ({t.use.replace('_', '-')}): {verdict}", fontsize=9,
                     color="black" if r.passed else "tab:red")
        ax.set_ylabel(_short(t.unit), fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(compared):]:
        ax.axis("off")
    seen: dict[str, object] = {}
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, h)
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=3, fontsize=8,
               frameon=False)
    fig.suptitle("Published figures and the model's 90% predictive intervals (shipped defaults)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(out: Path = DOCS, replicates: int = REPLICATES, seed: int = SEED) -> Path:
    """Validate and write ``validation.md`` and ``validation.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rows = validate(replicates, seed)
    plot(rows, out / "validation.png")
    text = render(rows, replicates, seed, fingerprint(), "validation.png",
                  later_effects(rows, replicates // 2, seed))
    (out / "validation.md").write_text(text)
    return out / "validation.md"

"""Observe like the programme does: the ``[measurement]`` scenario section and what it yields.

Planners in In Safe Hands saw the world through three instruments, not through the true state:
the Global Trigger Tool (monthly harm from ~20 sampled records per trust,
:mod:`sim.outcomes.gtt`), SPC charts of bundle compliance audited on a sample of patients
(:mod:`sim.outcomes.audit`, :mod:`sim.outcomes.spc`), and the Safety Attitudes
Questionnaire (:mod:`sim.outcomes.culture`). A scenario with a ``[measurement]`` table gets, per
strategy and replicate:

- ``gtt``: per trust × month, the observed GTT sample beside the true share with ≥ 1 harm;
- ``compliance_observed``: per charted unit × bundle × audit period, audited vs true compliance;
- ``detection``: per chart (unit × bundle, or trust), weeks until the chart signals the change
  (:mod:`sim.outcomes.detection`);
- ``survey``: per unit × survey week × scale, the reported % positive.

Every draw comes from a stream of the run seed (``measurement:…``; the audits' ``audit:…``, shared
with audit & feedback: :mod:`sim.outcomes.audit`), read only after the model has run, so adding
``[measurement]`` never changes the model's trajectory. The one exception is
deliberate: culture figures (``teamwork_positive`` … or ``culture_file``) set the units'
implementation climate at initialisation (see :mod:`sim.outcomes.culture`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.errors import InputError
from sim.params import SEVERITY_KEYS

if TYPE_CHECKING:
    from sim.model import ImplementationModel
    from sim.scenario import Scenario
    from sim.world import World

# --- preflight checks that need the population -------------------------------------------------
def chart_units(world: World, m: dict[str, Any], where: str = "measurement.chart_units"
                ) -> list[int]:
    """Indices of the units that chart compliance: named ones, or all of the chosen kinds."""
    names = world.pop.unit_name
    if m["chart_units"]:
        index = {n: i for i, n in enumerate(names)}
        bad = [n for n in m["chart_units"] if n not in index]
        if bad:
            raise InputError(where, f"no unit named {bad[0]!r}; examples: "
                             f"{', '.join(names[:3])}")
        return [index[n] for n in m["chart_units"]]
    from sim.population import KIND_CODE

    codes = [KIND_CODE[k] for k in m["chart_kinds"]]
    return [int(u) for u in np.flatnonzero(np.isin(world.pop.unit_kind, codes))]


def check(scenario: Scenario, world: World) -> None:
    """Errors that need the population or the horizon, raised before any run."""
    m = scenario.measurement
    if m is None:
        return
    where = f"{scenario.path}: measurement"
    chart_units(world, m, f"{where}.chart_units")
    late = [w for w in m["survey_weeks"] if w > scenario.weeks]
    if late:
        raise InputError(f"{where}.survey_weeks", f"week {late[0]} is after the last week "
                         f"({scenario.weeks})")


# --- one strategy run --------------------------------------------------------------------------
def observe(scenario: Scenario, world: World, model: ImplementationModel, seed: int
            ) -> dict[str, pd.DataFrame]:
    """What the programme would have seen of one strategy run (see the module docstring)."""
    from sim.outcomes import audit, culture, gtt, harm
    from sim.outcomes.detection import ChartSpec, detect
    from sim.rng import stream

    m = scenario.measurement
    assert m is not None
    rec, pop = model.recorder, world.pop
    spec = ChartSpec.from_measurement(m)
    horizon = scenario.weeks
    detection: list[dict[str, Any]] = []

    # Compliance audits on SPC charts (one audit definition: sim.outcomes.audit)
    k = m["audit_baseline_periods"]
    compliance = audit.audits(rec.compliance, rec.weeks, chart_units(world, m), pop.unit_name,
                              scenario.bundle_names, audit.AuditSpec.of(m), seed)
    for (unit, bundle), obs in compliance.groupby(["unit", "bundle"], sort=False):
        c0 = float(obs["true_compliance"].iloc[0])
        d = detect(obs["compliant"].to_numpy(), obs["audited"].to_numpy(),
                   obs["week"].to_numpy(), k, spec, "up", known_centre=c0)
        detection.append({"measure": "compliance", "entity": unit, "bundle": bundle,
                          "true_baseline": c0,
                          "true_end": float(obs["true_compliance"].iloc[-1]), **d})

    # Global Trigger Tool per trust
    census = harm.unit_census(pop, scenario.patients, scenario.structure)
    counted, rate, rr = harm.harm_tables(pop, world.bundles, scenario.patients)
    hazard = gtt.modelled_hazard(rec.compliance, counted, rate, rr)  # (T, U)
    all_cause = harm.all_cause_rate(pop, scenario.patients)
    shares = np.array([m[s] for s in SEVERITY_KEYS])
    shares = shares / shares.sum()
    gtt_frames = []
    if m["gtt_records_per_month"] > 0:
        for flow in gtt.hospital_flows(pop, census, m["length_of_stay_days"]):
            weekly = gtt.weekly(hazard[:, flow.units], rec.weeks, horizon)
            bg = gtt.background_hazard(weekly[0], all_cause[flow.units])
            series = gtt.trust_series(flow, weekly, bg, m["gtt_records_per_month"],
                                      m["month_weeks"], m["gtt_baseline_months"], shares,
                                      stream(seed, f"measurement:gtt:{flow.trust}"))
            gtt_frames.append(series)
            d = detect(series["records_harmed"].to_numpy(), series["records"].to_numpy(),
                       series["week"].to_numpy(), m["gtt_baseline_months"], spec, "down",
                       known_centre=float(series["true_share"].iloc[0]))
            detection.append({"measure": "harm", "entity": flow.trust, "bundle": "GTT",
                              "true_baseline": float(series["true_share"].iloc[0]),
                              "true_end": float(series["true_share"].iloc[-1]), **d})
    gtt_table = pd.concat(gtt_frames, ignore_index=True) if gtt_frames else pd.DataFrame(
        columns=list(gtt.COLUMNS))

    # Safety Attitudes Questionnaire
    culture0 = culture.initial_culture(pop, m, seed, scenario.base_dir)
    survey = culture.survey(pop, culture0, rec.compliance, rec.weeks, m, horizon, seed)

    return {"gtt": gtt_table, "compliance_observed": compliance,
            "detection": pd.DataFrame(detection, columns=DETECTION_COLUMNS),
            "survey": survey}


DETECTION_COLUMNS = ["measure", "entity", "bundle", "true_baseline", "true_end", "centre",
                     "weeks_to_signal", "rule"]


# --- across replicates: summary, files, plots --------------------------------------------------
def concat(parts: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Stack the measurement tables of several strategy runs or replicates, table by table."""
    out: dict[str, pd.DataFrame] = {}
    for name in dict.fromkeys(k for p in parts for k in p):
        frames = [p[name] for p in parts if name in p]
        full = [f for f in frames if len(f)]
        out[name] = pd.concat(full, ignore_index=True) if full else frames[0]
    return out


def null_shares(scenario: Scenario, detection: pd.DataFrame, seed: int) -> dict[tuple[str, str],
                                                                                float]:
    """Expected false-signal share per (measure, bundle), at the median true baseline."""
    from sim.outcomes.detection import ChartSpec, null_signal_share
    from sim.rng import stream

    m = scenario.measurement
    assert m is not None
    reps = m["null_simulations"]
    if reps == 0 or detection.empty:
        return {}
    spec = ChartSpec.from_measurement(m)
    out = {}
    for (measure, bundle), g in detection.groupby(["measure", "bundle"], sort=False):
        p = float(np.median(g["true_baseline"]))
        if measure == "compliance":
            k, n = m["audit_baseline_periods"], m["audit_sample_size"]
            points, direction = scenario.weeks // m["audit_period_weeks"], "up"
        else:
            k, n = m["gtt_baseline_months"], m["gtt_records_per_month"]
            points, direction = scenario.weeks // m["month_weeks"], "down"
        rng = stream(seed, f"measurement:null:{measure}:{bundle}")
        out[(measure, bundle)] = null_signal_share(p, n, k, points, spec, direction, reps, rng)
    return out


def write_outputs(tables: dict[str, pd.DataFrame], scenario: Scenario, seed: int, out: Path
                  ) -> list[str]:
    """Write the measurement tables and plots of a run into ``out``; return the file names."""
    files, draw = write_measurement(tables, scenario, seed, out)
    return files + draw()


def write_measurement(tables: dict[str, pd.DataFrame], scenario: Scenario, seed: int, out: Path
                      ) -> tuple[list[str], Callable[[], list[str]]]:
    """Write the measurement tables now; return their names and a function drawing the plots.

    Split so that a run's tables are all on disk before its first figure is drawn (and figures
    can be left out): see :mod:`sim.outputs`.
    """
    from sim.outcomes.detection import summarise

    m = scenario.measurement
    assert m is not None
    files = []
    for name in ("gtt", "compliance_observed", "detection", "survey"):
        tables.get(name, pd.DataFrame()).to_csv(out / f"{name}.csv", index=False)
        files.append(f"{name}.csv")
    detection = tables.get("detection", pd.DataFrame(columns=DETECTION_COLUMNS))
    summary = summarise(detection, scenario.weeks, null_shares(scenario, detection, seed))
    summary.to_csv(out / "detection_summary.csv", index=False)
    files.append("detection_summary.csv")

    def draw() -> list[str]:
        from sim.plots.detection import plot_detection, plot_gtt, plot_spc_examples

        plot_gtt(tables.get("gtt", pd.DataFrame()), out / "gtt.png", scenario.name)
        plot_detection(detection, summary, out / "detection.png", scenario.name, scenario.weeks)
        return ["gtt.png", "detection.png", *plot_spc_examples(tables, scenario, out)]

    return files, draw

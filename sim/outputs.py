"""The files of a run: what ``implsim run`` writes, as a library function.

:func:`write_run` writes a :class:`sim.simulate.RunResult` into a directory the way the command
line does (time series, summary, end-of-run figures per level, element performance, arm
comparison, SPC charts, measurement tables, manifest and uptake plot), so notebooks and the UI
write the same files from the same code.

Why tables come first: a figure takes longer to draw than its table takes to write (matplotlib's
import and text layout are most of a one-replicate run's output time), so every table is on
disk, and ``on_tables`` is told, before the first figure is drawn; ``plots=False`` draws none
(matplotlib is then never imported). The manifest is written last and lists what exists, in the
same order whether figures were drawn first or last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sim import provenance
from sim.rng import replicate_seeds

if TYPE_CHECKING:
    from sim.scenario import Scenario
    from sim.simulate import RunResult

#: A file written now (its name), or a figure to draw after every table (returns its names).
Slot = str | Callable[[], list[str]]


def write_run(result: RunResult, scenario: Scenario, out: str | Path, *, seed: int,
              replicates: int, command: str = "", spc_units: Sequence[str] = (),
              plots: bool = True, on_tables: Callable[[], None] | None = None) -> list[str]:
    """Write every output of a run into ``out`` (created); returns the files written.

    ``seed`` and ``replicates`` are the root seed and replicate count the result was run with
    (:func:`sim.simulate.run_replicates`); they go into the manifest with the replicate seeds.
    ``plots=False`` writes the same tables and no PNG; ``on_tables`` is called once every table
    is written and before any figure is drawn (the command line prints its table there).
    """
    from sim.errors import output_dir

    out = output_dir(out)
    slots = _write_tables(result, scenario, out, seed, spc_units)
    if on_tables is not None:
        on_tables()
    files: list[str] = []
    for slot in slots:
        if isinstance(slot, str):
            files.append(slot)
        elif plots:
            files += slot()
    manifest = provenance.manifest(
        {"root_seed": seed, "replicates": replicates,
         "replicate_seeds": replicate_seeds(seed, replicates),
         "scenario": scenario.resolved()},
        command=command, files=files)
    (out / "manifest.json").write_text(provenance.manifest_text(manifest))
    return ["manifest.json", *files]


def _write_tables(result: RunResult, scenario: Scenario, out: Path, seed: int,
                  spc_units: Sequence[str]) -> list[Slot]:
    """Write every table now; return the files in manifest order, figures as slots to fill."""
    from sim.outcomes.icc import icc_table
    from sim.outcomes.municipalities import municipality_results
    from sim.outcomes.recorder import level_summary
    from sim.outcomes.statistics import compare_arms

    @cache
    def types() -> dict:  # which published figures belong to which strategy (figures only)
        from sim.plots.published import scenario_types

        return scenario_types(scenario.resolved())

    def uptake() -> list[str]:
        from sim.plots.uptake import plot_uptake

        plot_uptake(result.timeseries, out / "uptake.png", scenario.name, types(),
                    scenario.comparator_name)
        return ["uptake.png"]

    def elements() -> list[str]:
        from sim.plots.elements import plot_elements

        plot_elements(result.elements, result.timeseries, out / "elements.png", scenario.name,
                      types())
        return ["elements.png"]

    def municipalities_png() -> list[str]:
        from sim.plots.municipalities import plot_municipalities

        plot_municipalities(by_municipality, out / "municipalities.png", scenario.name)
        return ["municipalities.png"]

    def comparison_png() -> list[str]:
        from sim.plots.comparison import plot_comparison

        plot_comparison(comparison, out / "comparison.png", scenario.name, types())
        return ["comparison.png"]

    result.timeseries.to_parquet(out / "timeseries.parquet", index=False)
    result.summary.to_csv(out / "summary.csv", index=False)
    level_summary(result.timeseries).to_csv(out / "levels.csv", index=False)
    slots: list[Slot] = ["timeseries.parquet", "summary.csv", "levels.csv", uptake]
    if len(result.clusters):
        icc_table(result.clusters, seed).to_csv(out / "icc.csv", index=False)
        slots.append("icc.csv")
    by_municipality = municipality_results(result.timeseries, scenario.structure)
    if len(by_municipality):
        by_municipality.to_csv(out / "municipalities.csv", index=False)
        slots += ["municipalities.csv", municipalities_png]
    if len(result.elements):
        result.elements.to_parquet(out / "elements.parquet", index=False)
        slots += ["elements.parquet", elements]
    comparison = compare_arms(result.summary, scenario.comparator_name)
    comparison.to_csv(out / "comparison.csv", index=False)
    slots += ["comparison.csv", comparison_png]
    if spc_units:
        slots += _write_spc(result.spc, scenario, out)
    if scenario.measurement is not None:  # GTT, audited compliance, detection, survey
        from sim.outcomes.observe import write_measurement

        tables, draw = write_measurement(result.measurement, scenario, seed, out)
        slots += [*tables, draw]
    return slots


def _write_spc(spc, scenario: Scenario, out: Path) -> list[Slot]:
    """spc.csv now; the chosen units' p-charts (first replicate) as a slot to draw later."""
    spc.to_csv(out / "spc.csv", index=False)
    if spc.empty:
        return ["spc.csv"]

    def charts() -> list[str]:
        from sim.outcomes.audit import settings
        from sim.plots.detection import plot_compliance_charts

        first = spc[spc["replicate"] == spc["replicate"].min()]
        return plot_compliance_charts(first, settings(scenario.measurement), out / "spc")

    return ["spc.csv", charts]

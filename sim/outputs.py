"""The files of a run: what ``implsim run`` writes, as a library function.

:func:`write_run` writes a :class:`sim.simulate.RunResult` into a directory the way the command
line does (time series, summary, end-of-run figures per level, element performance, arm
comparison, SPC charts, measurement tables, manifest and uptake plot), so notebooks and the UI
write the same files from the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sim import provenance
from sim.rng import replicate_seeds

if TYPE_CHECKING:
    from sim.scenario import Scenario
    from sim.simulate import RunResult


def write_run(result: RunResult, scenario: Scenario, out: str | Path, *, seed: int,
              replicates: int, command: str = "", spc_units: Sequence[str] = ()) -> list[str]:
    """Write every output of a run into ``out`` (created); returns the files written.

    ``seed`` and ``replicates`` are the root seed and replicate count the result was run with
    (:func:`sim.simulate.run_replicates`); they go into the manifest with the replicate seeds.
    """
    from sim.errors import output_dir
    from sim.outcomes.recorder import level_summary
    from sim.outcomes.statistics import compare_arms
    from sim.plots.comparison import plot_comparison
    from sim.plots.published import scenario_types
    from sim.plots.uptake import plot_uptake

    out = output_dir(out)
    resolved = scenario.resolved()
    types = scenario_types(resolved)  # to match published figures to strategies
    result.timeseries.to_parquet(out / "timeseries.parquet", index=False)
    result.summary.to_csv(out / "summary.csv", index=False)
    level_summary(result.timeseries).to_csv(out / "levels.csv", index=False)
    files = ["timeseries.parquet", "summary.csv", "levels.csv", "uptake.png"]
    if len(result.elements):
        from sim.plots.elements import plot_elements

        result.elements.to_parquet(out / "elements.parquet", index=False)
        plot_elements(result.elements, result.timeseries, out / "elements.png", scenario.name,
                      types)
        files += ["elements.parquet", "elements.png"]
    comparison = compare_arms(result.summary, scenario.comparator_name)
    comparison.to_csv(out / "comparison.csv", index=False)
    plot_comparison(comparison, out / "comparison.png", scenario.name, types)
    files += ["comparison.csv", "comparison.png"]
    if spc_units:
        files += _write_spc(result.spc, scenario, out)
    if scenario.measurement is not None:  # GTT, audited compliance, detection, survey
        from sim.outcomes.observe import write_outputs

        files += write_outputs(result.measurement, scenario, seed, out)
    manifest = provenance.manifest(
        {"root_seed": seed, "replicates": replicates,
         "replicate_seeds": replicate_seeds(seed, replicates),
         "scenario": resolved},
        command=command, files=files)
    (out / "manifest.json").write_text(provenance.manifest_text(manifest))
    plot_uptake(result.timeseries, out / "uptake.png", scenario.name, types,
                scenario.comparator_name)
    return ["manifest.json", *files]


def _write_spc(spc, scenario: Scenario, out: Path) -> list[str]:
    """spc.csv and p-charts (first replicate) of the chosen units' ``[measurement]`` audits."""
    from sim.outcomes.audit import settings
    from sim.plots.detection import plot_compliance_charts

    spc.to_csv(out / "spc.csv", index=False)
    if spc.empty:
        return ["spc.csv"]
    first = spc[spc["replicate"] == spc["replicate"].min()]
    return ["spc.csv", *plot_compliance_charts(first, settings(scenario.measurement),
                                               out / "spc")]

"""The ``implsim`` command line.

``implsim run [SCENARIO] --out DIR`` runs a scenario (the built-in default without a file) and
writes ``timeseries.parquet``, ``summary.csv``, ``manifest.json`` and, after every table,
figures such as ``uptake.png`` (``--no-plots``: none).
``implsim params`` lists every declared parameter; ``implsim bundles`` the shipped bundles;
``implsim validate SCENARIO`` checks a file; ``implsim calibrate FILE --out DIR`` fits
parameters to observed uptake. Bad input ends with a one-line message and exit
code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from sim.errors import InputError, output_dir
from sim.memory import retain_freed_memory


def _resumable[T](args: argparse.Namespace, kept: str, batch: Callable[[], T],
                  again: str = "resume") -> T | None:
    """Run a long batch; on Ctrl-C say what is kept and how to go on, and return None.

    A scheduler that cannot be reached (OSError) is an input error naming ``--scheduler``; a
    batch the cluster lost (``BatchLost``) is one line ending in the command that resumes it.
    """
    from sim.experiment.execute import BatchLost

    try:
        return batch()
    except BatchLost as exc:
        raise InputError(exc.where, f"{exc.message}: implsim {shlex.join(args.argv)}") from None
    except KeyboardInterrupt:
        print(f"implsim: interrupted; finished {kept}. Run the same command again to {again}.",
              file=sys.stderr)
        return None
    except OSError as exc:  # scheduler unreachable and the like
        raise InputError("--scheduler" if args.scheduler else args.out, str(exc)) from None


def _os_error(exc: OSError) -> str:
    """One line for a failed read or write (read-only directory, full disk, no permission)."""
    where = exc.filename or ""
    what = exc.strerror or (str(exc).splitlines() or [type(exc).__name__])[0]
    return (f"{where + ': ' if where else ''}{what}; check that the output directory is "
            "writable and its disk has space")


def _check_writable(out: Path) -> None:
    """Refuse an ``--out`` nobody can write into before the runs, not after them."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=out, prefix=".implsim-probe-"):
            pass
    except OSError as exc:
        raise InputError("--out", f"cannot write into {out} ({exc.strerror}); give a writable "
                         "directory") from None


def _cmd_run(args: argparse.Namespace) -> int:
    from sim.checks import print_warnings, scenario_findings
    from sim.outputs import write_run
    from sim.preflight import check_run
    from sim.progress import Progress
    from sim.scenario import load_scenario
    from sim.simulate import check_units, preflight, run_replicates

    scenario = load_scenario(args.scenario)
    seed = scenario.seed if args.seed is None else args.seed
    reps = scenario.replicates if args.replicates is None else args.replicates
    if reps < 1:
        raise InputError("--replicates", f"must be at least 1, got {reps}")
    if seed < 0:
        raise InputError("--seed", f"must be a non-negative integer, got {seed}")
    check_run(scenario, reps)  # memory and work refused before anything is built
    world = preflight(scenario, seed)
    spc_units = [u.strip() for u in args.spc_units.split(",") if u.strip()] if args.spc_units \
        else []
    check_units(world, spc_units, "--spc-units")
    out = output_dir(args.out)
    _check_writable(out)
    print_warnings(scenario_findings(scenario))  # once the input is accepted, before the runs

    bar = Progress(reps * len(scenario.strategies) * scenario.weeks, "weeks simulated",
                   quiet=args.quiet)
    result = run_replicates(scenario, seed, reps, on_week=bar.advance,
                            spc_units=spc_units)

    def tables_written() -> None:  # the result before the figures: they take longer to draw
        if not args.quiet:
            _print_table(result.summary)
            if args.plots:
                print("drawing figures...", file=sys.stderr, flush=True)

    files = write_run(result, scenario, out, seed=seed, replicates=reps,
                      command="implsim " + " ".join(args.argv), spc_units=spc_units,
                      plots=args.plots, on_tables=tables_written)
    if not args.quiet:
        print(f"\nwrote {out}/: " + ", ".join(files))
    return 0


def _print_table(summary) -> None:
    from sim.outcomes.catalogue import CONSOLE, OUTCOMES

    table = summary.groupby(["strategy", "bundle"], sort=False)[list(CONSOLE)].mean()
    for name in CONSOLE:
        table[name] = OUTCOMES[name].shown(table[name])
    table = table.rename(columns={name: OUTCOMES[name].heading for name in CONSOLE})
    print("Implementation outcomes at the end (mean over replicates):")
    with __import__("pandas").option_context("display.width", 140, "display.max_columns", 20):
        print(table.round(3).to_string())


def _cmd_experiment(args: argparse.Namespace) -> int:
    from sim.checks import print_warnings
    from sim.experiment import load_experiment, run_experiment

    if args.workers is not None and args.workers < 1:
        raise InputError("--workers", f"must be at least 1, got {args.workers}")
    experiment = load_experiment(args.file)
    print_warnings(experiment.warnings)
    runs = len(experiment.runs())
    if not args.quiet:
        print(f"{experiment.name}: {len(experiment.arms)} arms × {len(experiment.points)} "
              f"design points × {experiment.replicates} replicates = {runs} runs → {args.out}"
              f" ({experiment.estimate})", flush=True)
    report = _resumable(args, f"chunks are kept in {args.out}", lambda: run_experiment(
        experiment, args.out, scheduler=args.scheduler, workers=args.workers,
        serial=args.serial, quiet=args.quiet))
    if report is None:
        return 130
    if not args.quiet:
        print(f"done: {report.ran} runs now, {report.skipped} already stored, "
              f"{report.total} in all. Next: implsim report {args.out}")
    return 0


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from sim.checks import print_warnings
    from sim.preflight import check_runs
    from sim.sensitivity import load_spec, run_sensitivity

    if args.workers is not None and args.workers < 1:
        raise InputError("--workers", f"must be at least 1, got {args.workers}")
    spec = load_spec(args.file)
    check_runs(spec.n_rows() * spec.replicates, f"{args.file}: samples")
    print_warnings(spec.warnings)
    if not args.quiet:
        rows = spec.n_rows()
        what = (f"test function {spec.test_function.name}" if spec.test_function else
                f"up to {rows * spec.replicates} runs")
        print(f"{spec.name}: {spec.method.name}, {len(spec.factors)} factors, {rows} sample "
              f"rows × {spec.replicates} replicates ({what}) → {args.out}", flush=True)
    result = _resumable(args, f"runs are kept in {args.out}/store", lambda: run_sensitivity(
        spec, args.out, scheduler=args.scheduler, workers=args.workers, serial=args.serial,
        quiet=args.quiet, command="implsim " + " ".join(args.argv)))
    if result is None:
        return 130
    if not args.quiet:
        print(result.summary, end="")
        print(f"\nwrote {args.out}/: " + ", ".join(result.files))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from sim.experiment import write_report
    from sim.experiment.report import FILES

    out = write_report(args.dir)
    print(f"wrote {out}/: " + ", ".join(f for f in FILES if (out / f).exists()))
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from sim.calibrate import load_calibration, run_calibration
    from sim.checks import print_warnings, scenario_findings

    if args.workers is not None and args.workers < 1:
        raise InputError("--workers", f"must be at least 1, got {args.workers}")
    cal = load_calibration(args.file)
    print_warnings(scenario_findings(cal.scenario))
    report = _resumable(args, f"generations are kept in {args.out}", lambda: run_calibration(
        cal, args.out, scheduler=args.scheduler, workers=args.workers, quiet=args.quiet,
        command="implsim " + " ".join(args.argv)), again="continue")
    if report is None:
        return 130
    if not args.quiet:
        import pandas as pd

        with pd.option_context("display.width", 140, "display.max_columns", 20):
            print("\nPosterior (weighted; 90% interval q05–q95):")
            print(report.summary.drop(columns=["prior"]).to_string(
                index=False, float_format=lambda v: f"{v:.4g}"))
        for target, df in report.ppc.groupby("target", sort=False):
            print(f"posterior predictive check, {target}: {int(df['covered'].sum())} of "
                  f"{len(df)} observations inside the simulated 5–95% band")
        print(f"\n{report.simulations} simulations, {report.seconds:.0f} s; wrote {report.out}/: "
              + ", ".join(report.files))
    return 0


def _cmd_calibrate_evidence(args: argparse.Namespace) -> int:
    from sim.calibrate.joint import load_joint, run_joint
    from sim.experiment.store import exclusive

    if args.workers < 1:
        raise InputError("--workers", f"must be at least 1, got {args.workers}")
    cal = load_joint(args.file)
    say = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    with exclusive(args.out):  # one driver per output directory
        result = _resumable(args, f"generations are kept in {args.out}",
                            lambda: run_joint(cal, args.out, workers=args.workers,
                                              progress=say), again="continue")
    if result is None:
        return 130
    if not args.quiet:
        import pandas as pd

        summ = pd.read_csv(Path(args.out) / "posterior_summary.csv")
        print(summ.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        sims = sum(g.simulations for g in result.generations)
        print(f"{len(result.generations)} generations, {sims} particles simulated; stopped: "
              f"{result.stopped}; wrote {args.out}/")
    return 0


def _cmd_validate_evidence(args: argparse.Namespace) -> int:
    from sim.calibrate.validation import DOCS, write_report

    if args.replicates < 2:
        raise InputError("--replicates", f"must be at least 2, got {args.replicates}")
    path = write_report(Path(args.out) if args.out else DOCS, args.replicates)
    print(f"wrote {path} and {path.with_suffix('.png')}")
    return 0


def _cmd_params(args: argparse.Namespace) -> int:
    from sim.docs import parameters_markdown

    print(parameters_markdown(), end="")
    return 0


def _cmd_bundles(args: argparse.Namespace) -> int:
    from sim.bundles import shipped_bundles

    for name, b in shipped_bundles().items():
        cross = sum(e.cross_boundary for e in b.elements)
        print(f"{name:38s} {len(b.elements)} elements ({cross} cross-boundary); "
              f"settings: {', '.join(b.settings)}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    """Check a scenario, experiment, sensitivity, calibration or bundle file: every problem."""
    from sim.checks import SemanticError, print_warnings

    try:
        said, findings = _validated(args.scenario)
    except SemanticError as exc:  # every error and warning, one line each
        for f in exc.findings:
            if f.level == "error":
                print(f"implsim: error: {f}", file=sys.stderr)
        print_warnings(exc.findings)
        errors = sum(f.level == "error" for f in exc.findings)
        print(f"implsim: {args.scenario}: {errors} error{'' if errors == 1 else 's'}",
              file=sys.stderr)
        return 2
    print_warnings(findings)
    print(f"{args.scenario}: valid — {said}")
    return 0


def _validated(path: str) -> tuple[str, list]:
    """Load ``path`` as the kind of file it is; what it holds, and its warnings."""
    from sim.checks import scenario_findings
    from sim.tomlfile import read_toml

    def count(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}".replace("strategys", "strategies")

    data = read_toml(Path(path), "scenario", path)  # the kind validate is first for
    if "elements" in data:
        from sim.bundles.bundle import load_bundle_file
        from sim.checks import bundle_findings, refuse

        bundle = load_bundle_file(path)
        return (f"bundle of {count(len(bundle.elements), 'element')}",
                refuse(bundle_findings(bundle, path)))
    if "fit" in data and "data" in data:
        from sim.calibrate import load_calibration

        cal = load_calibration(path)
        return (f"calibration of {count(len(cal.priors), 'parameter')} to "
                f"{count(len(cal.targets), 'target')}", scenario_findings(cal.scenario))
    if "fit" in data:
        from sim.calibrate.joint import load_joint

        joint = load_joint(path)
        return (f"joint calibration of {count(len(joint.priors), 'parameter')} to "
                f"{count(len(joint.targets), 'evidence target')}", [])
    if any(k in data for k in ("method", "factors", "test_function")):
        from sim.preflight import check_runs
        from sim.sensitivity import load_spec

        spec = load_spec(path)
        runs = spec.n_rows() * spec.replicates
        check_runs(runs, f"{path}: samples")
        return (f"{spec.method.name}, {count(len(spec.factors), 'factor')}, {spec.n_rows():,} "
                f"sample rows × {count(spec.replicates, 'replicate')}", spec.warnings)
    if isinstance(data.get("scenario"), str) or "arms" in data or "design" in data:
        from sim.experiment import load_experiment

        exp = load_experiment(path)
        return (f"{count(len(exp.arms), 'arm')} × {count(len(exp.points), 'design point')} × "
                f"{count(exp.replicates, 'replicate')}; {exp.estimate}", exp.warnings)
    from sim.preflight import check_run
    from sim.scenario import load_scenario
    from sim.simulate import preflight

    sc = load_scenario(path)
    estimate = check_run(sc, sc.replicates)  # as implsim run would, before building
    world = preflight(sc)
    return (f"{count(len(sc.bundles), 'bundle')}, {count(len(sc.strategies), 'strategy')}, "
            f"{sc.weeks} weeks, {world.pop.n_staff:,} staff in {world.pop.n_units} units; "
            f"implsim run: {estimate}", scenario_findings(sc))


def _cmd_explore(args: argparse.Namespace) -> int:
    from sim.scenario import load_scenario
    from sim.ui.serve import SCENARIO_ENV, serve

    if args.scenario is not None:
        load_scenario(args.scenario)  # a bad file stops here with one line, not in the page
    scenario = str(Path(args.scenario).resolve()) if args.scenario else ""
    return serve("sim.ui.explorer", args.host, args.port, {SCENARIO_ENV: scenario}, args.root)


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from sim.ui.results import open_results
    from sim.ui.serve import RESULTS_ENV, serve

    open_results(args.dir)  # not a results directory: one line here, not in the page
    return serve("sim.ui.dashboard", args.host, args.port,
                 {RESULTS_ENV: str(Path(args.dir).resolve())}, args.root)


def _add_page_options(p: argparse.ArgumentParser) -> None:
    """Where a web app listens and which folder its page may open files from."""
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                   "127.0.0.1: this machine only)")
    p.add_argument("--root", default=None, metavar="DIR", help="folder whose files the page "
                   "may open (default: $IMPLSIM_UI_ROOT, else the working directory)")


def _add_limit_options(p: argparse.ArgumentParser) -> None:
    """The resource limits (sim.preflight): refused above them before anything is built."""
    from sim.preflight import MAX_MEMORY_GB, MAX_WORK_MINUTES, MEMORY_ENV, WORK_ENV

    p.add_argument("--max-memory-gb", type=float, default=None, metavar="GB",
                   help=f"memory one process may need (default ${MEMORY_ENV}, else "
                   f"{MAX_MEMORY_GB:g})")
    p.add_argument("--max-work-minutes", type=float, default=None, metavar="MIN",
                   help="core-minutes of work an interruption may lose (default "
                   f"${WORK_ENV}, else {MAX_WORK_MINUTES:g})")


def _add_cluster_options(p: argparse.ArgumentParser) -> None:
    """Where batch runs go: a running scheduler, a local cluster, or this process."""
    p.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="address of a running Dask scheduler (default: a local cluster)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes of the local cluster (default: one per core)")
    p.add_argument("--serial", action="store_true", help="run in this process without Dask")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="implsim", description="Agent-based simulation of collective implementation of "
        "patient-safety bundles.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run a scenario and write tables, manifest and plot")
    p.add_argument("scenario", nargs="?", default=None,
                   help="scenario TOML file (default: the built-in catchment scenario)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=None, help="root seed (default: the scenario's)")
    p.add_argument("--replicates", type=int, default=None,
                   help="replicates per strategy (default: the scenario's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or table")
    p.add_argument("--spc-units", default="", metavar="UNIT[,UNIT...]",
                   help="write SPC p-charts (spc.csv, spc/*.png) of these units' audited "
                   "compliance, audited as [measurement] declares (its defaults without one)")
    p.add_argument("--plots", action=argparse.BooleanOptionalAction, default=True,
                   help="draw the PNG figures after the tables (default); --no-plots writes "
                   "the same tables and manifest without any figure, and faster")
    _add_limit_options(p)
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("experiment", help="run or resume an experiment into a results store")
    p.add_argument("file", help="experiment TOML file")
    p.add_argument("--out", required=True, help="results store directory (resumed if present)")
    _add_cluster_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_limit_options(p)
    p.set_defaults(func=_cmd_experiment)
    p = sub.add_parser("sensitivity", help="run or resume a sensitivity analysis (SALib)")
    p.add_argument("file", help="sensitivity-analysis TOML file")
    p.add_argument("--out", required=True,
                   help="output directory (indices, plots; runs in DIR/store, resumed if present)")
    _add_cluster_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    _add_limit_options(p)
    p.set_defaults(func=_cmd_sensitivity)
    p = sub.add_parser("report", help="tables and plots from a results store")
    p.add_argument("dir", help="results store directory")
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser("calibrate", help="fit parameters to observed uptake (ABC-SMC)")
    p.add_argument("file", help="calibration TOML file (see calibration/)")
    p.add_argument("--out", required=True,
                   help="output directory (a finished or interrupted one is continued)")
    p.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="address of a running Dask scheduler (default: run in this process)")
    p.add_argument("--workers", type=int, default=None,
                   help="start a local Dask cluster of N worker processes (default: none)")
    p.add_argument("--quiet", action="store_true", help="no progress or tables")
    _add_limit_options(p)
    p.set_defaults(func=_cmd_calibrate)
    p = sub.add_parser("calibrate-evidence", help="fit the behavioural defaults to the "
                       "published evidence set (ABC-SMC over the evidence targets' designs)")
    p.add_argument("file", help="joint calibration TOML (calibration/evidence_fit.toml)")
    p.add_argument("--out", required=True,
                   help="output directory (a finished or interrupted one is continued)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress or tables")
    _add_limit_options(p)
    p.set_defaults(func=_cmd_calibrate_evidence, scheduler=None)
    p = sub.add_parser("validate-evidence", help="run every evidence target's design at the "
                       "defaults and write validation.md and validation.png")
    p.add_argument("--out", default=None, help="directory (default: the project's docs/)")
    p.add_argument("--replicates", type=int, default=40, help="replicates per design "
                   "(default 40; the committed report uses 40)")
    p.set_defaults(func=_cmd_validate_evidence)
    p = sub.add_parser("params", help="list every declared parameter (Markdown)")
    p.set_defaults(func=_cmd_params)
    p = sub.add_parser("bundles", help="list the shipped bundles")
    p.set_defaults(func=_cmd_bundles)
    p = sub.add_parser("validate", help="check a scenario, experiment, sensitivity, "
                       "calibration or bundle file: every error and warning at once")
    p.add_argument("scenario", help="the TOML file")
    _add_limit_options(p)
    p.set_defaults(func=_cmd_validate)
    p = sub.add_parser("explore", help="live model explorer in the browser (Solara)")
    p.add_argument("scenario", nargs="?", default=None,
                   help="scenario TOML file (default: the built-in catchment, made small)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free)")
    _add_page_options(p)
    p.set_defaults(func=_cmd_explore)
    p = sub.add_parser("dashboard", help="results dashboard of an experiment or sensitivity "
                       "directory in the browser (Solara)")
    p.add_argument("dir", help="results store (implsim experiment --out) or sensitivity "
                   "analysis directory")
    p.add_argument("--port", type=int, default=8766, help="port (default 8766; 0 = any free)")
    _add_page_options(p)
    p.set_defaults(func=_cmd_dashboard)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``implsim`` console script."""
    retain_freed_memory()  # an entry point owns the process: a week's temporaries reuse pages
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        from sim import preflight

        preflight.configure(getattr(args, "max_memory_gb", None),
                            getattr(args, "max_work_minutes", None))
        return args.func(args)
    except InputError as exc:
        print(f"implsim: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system refused: one line, not a library's traceback
        print(f"implsim: error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("implsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

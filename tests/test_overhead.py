"""Process overhead of a run (issue 16): light imports, tables before figures, ``--no-plots``.

Why: a one-replicate ``implsim run`` was dominated by imports and PNGs. What is checked here can
fail without timing anything: which modules an import or a run loads (in a fresh subprocess, so
other tests' imports do not count), which files exist when, and that leaving the figures out
changes no table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.test_cli import write_small

#: Never needed to import the package or its command line.
HEAVY = ("matplotlib", "pandas", "scipy", "mesa", "networkx", "dask", "distributed", "solara",
         "SALib", "pyarrow")
#: Never needed by a run without figures (dask, solara, SALib: batches, UI, SA only; scipy.stats
#: only to audit, i.e. with [measurement] or --spc-units).
NOT_FOR_A_RUN = ("matplotlib", "scipy.stats", "dask", "distributed", "solara", "SALib")
#: The small scenario observed as [measurement] declares, and one unit's SPC charts: every kind
#: of table and figure a run writes.
MEASURED = ("[measurement]\nsurvey_weeks = [0, 12]\naudit_baseline_periods = 1\n"
            "gtt_baseline_months = 1\n\n[structure]")
SPC_UNIT = "Trust 1 hospital ward 1"


def loaded(names: set[str], prefixes: tuple[str, ...]) -> set[str]:
    """The modules among ``names`` that are one of ``prefixes`` or inside one."""
    return {m for m in names for p in prefixes if m == p or m.startswith(p + ".")}


def files_in(d: Path) -> dict[str, bytes]:
    """Every file under ``d`` by relative path, but the manifest (it holds the time)."""
    return {str(p.relative_to(d)): p.read_bytes() for p in d.rglob("*")
            if p.is_file() and p.name != "manifest.json"}


def loaded_after(code: str) -> set[str]:
    """Top-level names in ``sys.modules`` of a fresh interpreter after running ``code``."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=300, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", ["sim", "sim.cli"])
def test_importing_the_package_or_the_cli_loads_no_heavy_library(module):
    loaded = loaded_after(f"import {module}")
    assert module in loaded
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, set[str]]]:
    """The measured small scenario run twice in fresh processes, with and without figures."""
    root = tmp_path_factory.mktemp("overhead")
    scenario = write_small(root)
    scenario.write_text(scenario.read_text().replace("[structure]", MEASURED))
    out = {}
    for flag in ("--plots", "--no-plots"):
        d = root / flag.strip("-")
        argv = ["run", str(scenario), "--out", str(d), "--replicates", "2", "--quiet", flag,
                "--spc-units", SPC_UNIT]
        loaded = loaded_after(f"from sim.cli import main\nassert main({argv!r}) == 0")
        out[flag] = (d, loaded)
    return out


def test_no_plots_writes_no_png_and_loads_no_plotting(runs):
    d, modules = runs["--no-plots"]
    assert not list(d.rglob("*.png")) and not (d / "spc").exists()
    assert not loaded(modules, tuple(n for n in NOT_FOR_A_RUN if n != "scipy.stats"))
    assert {"sim.model", "sim.outcomes.detection"} <= modules  # the probe ran and audited


def test_a_plain_run_without_plots_loads_neither_matplotlib_nor_scipy_stats(tmp_path):
    argv = ["run", str(write_small(tmp_path)), "--out", str(tmp_path / "o"), "--quiet",
            "--replicates", "1", "--no-plots"]
    modules = loaded_after(f"from sim.cli import main\nassert main({argv!r}) == 0")
    assert "sim.outcomes.statistics" in modules  # the arm comparison was made
    assert not loaded(modules, NOT_FOR_A_RUN)


def test_no_plots_writes_the_same_tables_byte_for_byte(runs):
    with_plots = files_in(runs["--plots"][0])
    without = files_in(runs["--no-plots"][0])
    figures = {f for f in with_plots if f.endswith(".png")}
    assert {f.split("/")[0] for f in figures} >= {"uptake.png", "elements.png", "comparison.png",
                                                  "gtt.png", "detection.png", "spc",
                                                  "measurement_spc"}
    assert {"spc.csv", "gtt.csv", "detection_summary.csv"} <= set(without)
    assert without == {f: b for f, b in with_plots.items() if f not in figures}


def test_the_manifest_lists_what_exists_and_only_the_figures_differ(runs):
    listed = {}
    for flag, (d, _) in runs.items():
        files = json.loads((d / "manifest.json").read_text())["files"]
        assert all((d / f).is_file() for f in files), flag
        assert sorted(files) == sorted(str(p.relative_to(d)) for p in d.rglob("*")
                                       if p.is_file() and p.name != "manifest.json"), flag
        listed[flag] = files
    assert listed["--no-plots"] == [f for f in listed["--plots"] if not f.endswith(".png")]


def test_every_table_is_written_before_the_first_figure(tmp_path):
    from sim import load_scenario, run_replicates
    from sim.outputs import write_run

    path = write_small(tmp_path)
    path.write_text(path.read_text().replace("[structure]", MEASURED))
    sc = load_scenario(path)
    result = run_replicates(sc, 5, 1, spc_units=[SPC_UNIT])
    out = tmp_path / "out"
    seen: dict[str, set[str]] = {}

    def on_tables() -> None:
        seen["files"] = set(files_in(out))

    files = write_run(result, sc, out, seed=5, replicates=1, spc_units=[SPC_UNIT],
                      on_tables=on_tables)
    tables = {f for f in files if not f.endswith(".png")} - {"manifest.json"}
    assert seen["files"] == tables and {"spc.csv", "gtt.csv"} <= tables
    assert set(files_in(out)) - tables == {f for f in files if f.endswith(".png")} != set()


def test_the_t_quantile_is_the_one_scipy_stats_gives():
    """mean_ci and diff_interval use scipy.special.stdtrit (scipy.stats is slow to import)."""
    from scipy import stats

    from sim.outcomes.statistics import diff_interval, mean_ci

    rng = np.random.default_rng(3)
    for n in (2, 3, 7, 40):
        v = rng.normal(size=n)
        m, lo, hi, k = mean_ci(v, 0.9)
        want = stats.t.interval(0.9, n - 1, loc=v.mean(), scale=stats.sem(v))
        assert k == n and m == pytest.approx(v.mean())
        assert (lo, hi) == pytest.approx(want, rel=1e-12)
    a, b = rng.normal(size=5), rng.normal(1.0, 2.0, size=8)
    va, vb = a.var(ddof=1) / 5, b.var(ddof=1) / 8
    df = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 7)
    half = stats.t.ppf(0.975, df) * np.sqrt(va + vb)
    m, lo, hi = diff_interval(a, b, paired=False)
    assert (lo, hi) == pytest.approx((m - half, m + half), rel=1e-12)

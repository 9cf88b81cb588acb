"""The Python API: ``from sim import run, load_scenario, Scenario``, light to import, and the
README's notebook example runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_api_names_are_the_functions():
    import sim
    from sim import Scenario, load_scenario, run, run_replicates
    from sim.scenario import Scenario as S
    from sim.simulate import run as r

    assert run is r and Scenario is S and callable(load_scenario) and callable(run_replicates)
    with pytest.raises(AttributeError):
        sim.no_such_name  # noqa: B018


def _loaded(module: str) -> set[str]:
    code = (f"import sys, {module}; "
            "print(' '.join(m for m in ('pandas', 'networkx', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return set(out.stdout.split())


def test_import_sim_is_light():
    assert _loaded("sim") == set()


def test_import_sim_scenario_does_not_load_networkx():
    assert "networkx" not in _loaded("sim.scenario")


def test_import_sim_scenario_does_not_load_pandas_or_networkx():
    assert not {"pandas", "networkx"} & _loaded("sim.scenario")


def test_readme_notebook_example_runs():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    table = namespace["table"]
    assert len(table) == len(namespace["scenario"].strategies)
    assert table["adoption"].between(0, 1).all()


def test_write_run_writes_what_implsim_run_writes(tmp_path):
    """The library function behind ``implsim run``: same files, listed in the manifest."""
    import json

    from sim import load_scenario, run_replicates
    from sim.outputs import write_run

    scenario = load_scenario().with_overrides(structure={"wards_per_trust": 2,
                                                         "municipalities_per_trust": 1})
    scenario.weeks = 8
    result = run_replicates(scenario, 3, 2)
    files = write_run(result, scenario, tmp_path / "out", seed=3, replicates=2)
    assert files[0] == "manifest.json"
    assert {"timeseries.parquet", "summary.csv", "comparison.csv", "uptake.png"} <= set(files)
    assert all((tmp_path / "out" / f).is_file() for f in files)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["files"] == files[1:] and len(manifest["replicate_seeds"]) == 2

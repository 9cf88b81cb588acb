"""The documentation matches the code: README examples run, generated docs are current."""

from __future__ import annotations

import re
from pathlib import Path

from sim.docs import parameters_markdown
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def test_readme_scenario_example_is_valid(tmp_path):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    # scenario examples; sensitivity ([factors]) and calibration ([[targets]]) files are other
    # formats, checked by their own tests
    blocks = [b for b in blocks if "[factors]" not in b and "[[targets]]" not in b]
    assert blocks, "README has no scenario example"
    for i, block in enumerate(blocks):
        path = tmp_path / f"example{i}.toml"
        path.write_text(block)
        sc = load_scenario(path)
        assert sc.strategies


def test_readme_python_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    code = code.replace("load_scenario()", "load_scenario().with_overrides(structure={"
                        "'wards_per_trust': 2, 'municipalities_per_trust': 1})")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert len(scope["result"].summary) == 8  # 2 strategies × 4 bundles


def test_parameters_doc_is_current():
    assert (ROOT / "docs" / "parameters.md").read_text() == parameters_markdown()


def test_readme_names_both_commands_and_ci_runs_the_test_one():
    text = (ROOT / "README.md").read_text()
    install_run = "bash scripts/install.sh && .venv/bin/implsim run --out out/"
    test_cmd = "bash scripts/install.sh dev && .venv/bin/python -m pytest -n 2"
    assert install_run in text and test_cmd in text
    assert test_cmd in (ROOT / ".ci" / "run").read_text()

"""Library modules leave matplotlib's process-wide state alone (issue 13, acceptance 4).

Importing a module must not choose a backend (``matplotlib.use``) or start pyplot: a notebook or
an application that imports ``sim`` keeps its own. Checked in a fresh interpreter whose backend
is set to ``svg`` through the environment, as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

MODULES = ("sim", "sim.scenario", "sim.simulate", "sim.outputs", "sim.model", "sim.cli",
           "sim.plots.uptake", "sim.plots.comparison", "sim.plots.detection", "sim.plots.arms",
           "sim.experiment.report", "sim.outcomes.spc", "sim.outcomes.statistics",
           "sim.ui.figures", "sim.ui.results", "sim.calibrate.plots", "sim.sensitivity.plots",
           "sim.sensitivity", "sim.calibrate")

CHECK = f"""
import importlib, json, sys
import matplotlib
before = (matplotlib.get_backend(), matplotlib.rcParams["backend"])
for name in {MODULES!r}:
    importlib.import_module(name)
after = (matplotlib.get_backend(), matplotlib.rcParams["backend"])
print(json.dumps({{"before": before, "after": after,
                   "pyplot": "matplotlib.pyplot" in sys.modules}}))
"""


def test_imports_keep_the_backend_and_do_not_start_pyplot():
    env = {**os.environ, "MPLBACKEND": "svg"}
    proc = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    state = json.loads(proc.stdout.strip().splitlines()[-1])
    assert state["before"] == ["svg", "svg"]
    assert state["after"] == state["before"]
    assert not state["pyplot"]


def test_figures_save_without_pyplot(tmp_path):
    """A figure is written under any backend (here svg) and leaves pyplot unloaded."""
    code = f"""
import sys
import numpy as np
from sim.outcomes.spc import p_chart, plot_spc
chart = p_chart(np.array([3, 4, 5, 9, 9, 9]), np.array([10] * 6))
plot_spc(chart, {str(tmp_path / "spc.png")!r}, title="t")
assert "matplotlib.pyplot" not in sys.modules
"""
    env = {**os.environ, "MPLBACKEND": "svg"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "spc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

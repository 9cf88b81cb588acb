"""implsim: agent-based simulation of collective implementation of patient-safety bundles.

The Python API for notebooks and scripts::

    from sim import load_scenario, run
    scenario = load_scenario()            # the built-in default, or a scenario file
    result = run(scenario, seed=1)        # every strategy once: result.summary, .timeseries

The names are loaded on first use (module ``__getattr__``), so ``import sim`` stays light: it
imports neither numpy-heavy run code nor pandas, networkx or matplotlib.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> module that defines it.
_API = {
    "run": "sim.simulate",
    "run_replicates": "sim.simulate",
    "RunResult": "sim.simulate",
    "load_scenario": "sim.scenario",
    "Scenario": "sim.scenario",
    "InputError": "sim.errors",
}

__all__ = ["InputError", "RunResult", "Scenario", "__version__", "load_scenario", "run",
           "run_replicates"]

if TYPE_CHECKING:
    from sim.errors import InputError
    from sim.scenario import Scenario, load_scenario
    from sim.simulate import RunResult, run, run_replicates


def __getattr__(name: str) -> Any:
    """Load an API name from its module the first time it is asked for."""
    if name in _API:
        value = getattr(import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})

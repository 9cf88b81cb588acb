"""Freed week temporaries are reused without page faults once the model has asked glibc to keep
them (sim.memory)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHURN = """
import resource, numpy as np
{setup}
def week():  # several temporaries alive at once, then all freed, as in a model step
    temporaries = [np.ones(1_000_000) for _ in range(6)]  # 6 × 8 MB
    del temporaries
for _ in range(3):  # warm up: the heap grows once
    week()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    week()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(setup: str) -> int:
    out = subprocess.run([sys.executable, "-c", CHURN.format(setup=setup)], check=True,
                         capture_output=True, text=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning")
def test_retained_memory_is_reused_without_page_faults():
    plain = faults("")
    kept = faults("from sim.memory import retain_freed_memory\nassert retain_freed_memory()")
    assert plain > 20 * 1000  # the freed blocks were given back and faulted in afresh
    assert kept < 100


MODEL = """
import sim.memory
from sim.model import ImplementationModel
from sim.scenario import load_scenario
sc = load_scenario(None)
sc.weeks = 2
ImplementationModel(sc).run()
assert not sim.memory._done, "the model changed malloc settings"
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning")
def test_constructing_and_stepping_a_model_leaves_malloc_untouched():
    """Only entry points (CLI, workers, benchmarks) tune malloc: a library user's process keeps
    its own settings, so freed blocks still go back to the OS (and fault in afresh)."""
    assert faults(MODEL) > 20 * 1000

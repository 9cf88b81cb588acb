"""Batch throughput: default-catchment runs per second with 1 and 2 Dask workers.

    python benchmarks/batch_throughput.py [--runs 32] [--repeats 3]

Runs the same batch (one strategy of the built-in default scenario, three years, system-level
time series kept) serially in this process, then on a local Dask cluster with 1 and 2 worker
processes, each into a fresh results store. Prints the median wall time over repeats, runs per
second, and the scaling efficiency of 2 workers (speed-up ÷ 2). Wall times include starting the
cluster, which is what a user waits for.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sim.experiment import load_experiment, run_experiment
from sim.memory import retain_freed_memory

EXPERIMENT = """
name = "throughput"
scenario = "default"
replicates = {runs}
seed = 7
timeseries = "system"
chunk_size = 2
[[arms]]
name = "training + facilitation"
strategy = "training + facilitation"
"""


def throughput(runs: int, repeats: int) -> dict[str, float]:
    """Median wall seconds of the batch: serially in this process, and on 1 and 2 Dask workers."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "throughput.toml"
        path.write_text(EXPERIMENT.format(runs=runs))
        exp = load_experiment(path)
        results = {}
        for label, kwargs in (("serial (in process)", {"serial": True}),
                              ("dask, 1 worker", {"workers": 1}),
                              ("dask, 2 workers", {"workers": 2})):
            times, cpu = [], []
            for k in range(repeats):
                out = Path(tmp) / f"{label.replace(' ', '_')}-{k}"
                t0, c0 = time.perf_counter(), time.process_time()
                run_experiment(exp, out, quiet=True, **kwargs)
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            results[label] = statistics.median(times)
            if kwargs.get("serial"):  # all the work is in this process: its CPU time is the cost
                results["serial CPU s"] = statistics.median(cpu)
    return results


def report(results: dict[str, float], runs: int) -> None:
    """Print the table of wall times, runs per second and the 2-worker scaling."""
    print(f"{'mode':22s} {'wall s':>8s} {'runs/s':>8s}")
    for label, t in results.items():
        if label != "serial CPU s":
            print(f"{label:22s} {t:8.2f} {runs / t:8.2f}")
    if "serial CPU s" in results:
        cpu = results["serial CPU s"]
        print(f"serial CPU time: {cpu:.2f} s ({cpu / runs:.3f} CPU s per run; what a run costs "
              "on an idle core)")
    one, two = results["dask, 1 worker"], results["dask, 2 workers"]
    print(f"scaling efficiency of 2 workers: {one / two / 2:.0%} (speed-up {one / two:.2f}×; "
          f"wall times include starting the cluster)")


def main() -> None:
    retain_freed_memory()  # as the CLI does: week temporaries reuse freed pages
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = throughput(args.runs, args.repeats)
    print(f"{args.runs} default-catchment runs (156 weeks, ~4,700 staff), median of "
          f"{args.repeats}:")
    report(results, args.runs)


if __name__ == "__main__":
    main()

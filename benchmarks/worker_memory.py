"""Worker memory over a long batch: do Dask workers level off?

    python benchmarks/worker_memory.py [--runs 3000] [--workers 2] [--weeks 26]

Runs one long experiment (one arm on the tiny one-trust structure of ``tests/tiny.py``, or the
default catchment with ``--catchment``) on a local cluster of ``--workers`` processes, started as
:func:`sim.experiment.execute.local_cluster` starts it for ``implsim experiment``. After every
chunk the driver samples each worker's resident set size; it prints the RSS after ``--at`` runs
(500) and at the end, and the ratio. Issue 17's target: the end within 10% of the 500-run level.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from tiny import TINY_STRUCTURE  # noqa: E402

from sim.experiment import load_experiment, run_experiment  # noqa: E402
from sim.experiment.execute import auto_chunk_size, local_cluster  # noqa: E402

EXPERIMENT = """
name = "worker_memory"
scenario = "default"
replicates = {runs}
seed = 17
timeseries = "system"
weeks = {weeks}
{structure}
[[arms]]
name = "training + facilitation"
strategy = "training + facilitation"
"""

MB = 1024 * 1024


def measure(runs: int, workers: int, weeks: int, catchment: bool) -> list[tuple[int, list[int]]]:
    """(runs done, RSS of each worker) after every chunk of the batch, first at 0 runs."""
    from dask.distributed import Client

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "worker_memory.toml"
        path.write_text(EXPERIMENT.format(runs=runs, weeks=weeks,
                                          structure="" if catchment else TINY_STRUCTURE))
        experiment = load_experiment(path)
        size = experiment.settings["chunk_size"] or auto_chunk_size(runs)
        per_chunk = collections.Counter(r.run_id // size for r in experiment.runs())
        with local_cluster(workers) as cluster, Client(cluster) as client:
            procs = [psutil.Process(pid) for pid in sorted(client.run(os.getpid).values())]
            samples = [(0, [p.memory_info().rss for p in procs])]

            def sample(chunk: int) -> None:
                samples.append((samples[-1][0] + per_chunk[chunk],
                                [p.memory_info().rss for p in procs]))

            run_experiment(experiment, Path(tmp) / "store", scheduler=cluster.scheduler_address,
                           quiet=True, on_chunk=sample)
    return samples


def at(samples: list[tuple[int, list[int]]], runs: int) -> list[int]:
    """Worker RSS at the first sample with at least ``runs`` runs done."""
    return next(rss for done, rss in samples if done >= runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--weeks", type=int, default=26, help="weeks per run (default 26)")
    parser.add_argument("--at", type=int, default=500, help="the early level (default 500)")
    parser.add_argument("--catchment", action="store_true",
                        help="the default catchment (~4,700 staff) instead of the tiny structure")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    samples = measure(args.runs, args.workers, args.weeks, args.catchment)
    wall = time.perf_counter() - t0
    where = "default catchment" if args.catchment else "tiny structure"
    print(f"{args.runs} runs of {args.weeks} weeks ({where}) on {args.workers} workers, "
          f"{wall:.0f} s; load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at "
          "the end")
    step = max(args.runs // 12, 1)
    print(f"{'runs done':>10s}  " + "  ".join(f"worker {i} MB" for i in range(args.workers)))
    shown = -step
    for done, rss in samples:
        if done - shown >= step or done == samples[-1][0]:
            print(f"{done:10d}  " + "  ".join(f"{r / MB:11.0f}" for r in rss))
            shown = done
    early, end = at(samples, args.at), samples[-1][1]
    for i, (a, b) in enumerate(zip(early, end, strict=True)):
        print(f"worker {i}: {a / MB:.0f} MB after {args.at} runs, {b / MB:.0f} MB at the end: "
              f"ratio {b / a:.3f}")
    ratio = sum(end) / sum(early)
    verdict = "within" if ratio <= 1.10 else "NOT within"
    print(f"all workers: ratio {ratio:.3f}, {verdict} 10% of the {args.at}-run level (target)")


if __name__ == "__main__":
    main()

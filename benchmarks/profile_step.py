"""Where a week's time goes: a profile of the model step, per function, in ms per step.

    python benchmarks/profile_step.py                              # default catchment
    python benchmarks/profile_step.py experiments/national.toml   # national, 4 bundles
    python benchmarks/profile_step.py experiments/national.toml --bundles 1 \
        --strategy "no extra support"                              # as the reference compares

Runs ``--warmup`` weeks first (so adoption is under way, as in most of a run), then times
``--weeks`` more phase by phase (the model loop's own timer, no profiler: ms per step of each
phase of ``sim.model.PHASES``), then profiles ``--weeks`` more with cProfile and prints the
functions with the most own time, then the step and phase functions, with their total
(cumulative) time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from sim.memory import retain_freed_memory
from sim.model import PHASES, ImplementationModel
from sim.scenario import load_scenario
from sim.world import build_world


def main() -> None:
    retain_freed_memory()  # as the CLI does: week temporaries reuse freed pages
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", nargs="?", default=None)
    parser.add_argument("--strategy", default="training + facilitation")
    parser.add_argument("--bundles", type=int, default=None, help="keep only the first N")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--weeks", type=int, default=40)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    sc = load_scenario(args.scenario)
    if args.bundles:
        sc.bundles = sc.bundles[:args.bundles]
    sc.weeks = args.warmup + 2 * args.weeks
    world = build_world(sc, sc.seed)
    model = ImplementationModel(sc, args.strategy, sc.seed, world)
    for _ in range(args.warmup):
        model.step()
    timer = model.loop.time_phases()
    t0 = time.perf_counter()
    for _ in range(args.weeks):
        model.step()
    per_step = (time.perf_counter() - t0) / args.weeks * 1000
    model.loop.timer = None
    print(f"{world.pop.n_staff:,} staff, {len(sc.bundles)} bundles, "
          f"{len(world.performed.staff):,} performed pairs: {per_step:.1f} ms/step "
          f"(weeks {args.warmup + 1}-{args.warmup + args.weeks})\n")
    print(f"{'ms/step':>8s}  phase")
    for name, seconds in timer.items():
        print(f"{seconds / args.weeks * 1000:8.2f}  {name}")
    rest = per_step - sum(timer.values()) / args.weeks * 1000
    print(f"{rest:8.2f}  (start of week, data collection)\n")
    profile = cProfile.Profile()
    t0 = time.perf_counter()
    profile.enable()
    for _ in range(args.weeks):
        model.step()
    profile.disable()
    per_step = (time.perf_counter() - t0) / args.weeks * 1000
    print(f"{world.pop.n_staff:,} staff, {len(sc.bundles)} bundles, "
          f"{len(world.performed.staff):,} performed pairs: {per_step:.1f} ms/step "
          f"(weeks {args.warmup + args.weeks + 1}-{args.warmup + 2 * args.weeks}, under the "
          "profiler)\n")
    stats = pstats.Stats(profile)
    rows = []
    for (path, _, name), (_, calls, own, total, _) in stats.stats.items():
        where = path.split("/sim/")[-1] if "/sim/" in path else name
        rows.append((own, total, calls, f"{where}:{name}" if "/sim/" in path else name))
    print(f"{'own ms/step':>12s} {'total ms/step':>14s} {'calls/step':>11s}  function")
    top = sorted(rows, reverse=True)[:args.top]
    # the step and its phase functions, whatever their own time (their total is the phase's)
    phases = {f":{p.run.__name__}" for p in PHASES} | {"model.py:step"}
    top += sorted((r for r in rows if r not in top and r[3].endswith(tuple(phases))),
                  key=lambda r: -r[1])
    for own, total, calls, label in top:
        print(f"{own / args.weeks * 1000:12.2f} {total / args.weeks * 1000:14.2f} "
              f"{calls / args.weeks:11.1f}  {label}")


if __name__ == "__main__":
    main()

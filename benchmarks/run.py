"""implsim benchmark suite: prints one table of speed and memory figures.

    python benchmarks/run.py                 # everything (~3–5 minutes on 2 cores)
    python benchmarks/run.py --quick         # catchment only, no batch, short reference run

For the default catchment and the national scenario (one strategy, "training + facilitation"):
world build time, model run time, time per step, staff-bundle-steps per second and peak memory
(each measured in a fresh process, median of ``--repeats``). For a batch of catchment runs:
runs per second with 1 and 2 Dask workers. Against the per-agent Mesa reference
(``reference_mesa.py``), one bundle on the catchment and on the national network: the speed
ratio, in all (build + run) and per step. The compiled kernels against the numpy path, phase by
phase on the same state (``kernels.py``). Where the time goes: ``profile_step.py``. Finally, how
close a national step is to the memory-bandwidth bound: the bytes a step must at least touch
divided by the measured copy bandwidth of this machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from sim.memory import retain_freed_memory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def _measure(path: str | None, weeks: int | None, queue: mp.Queue) -> None:
    """Child process: build and run one strategy; report timings and peak memory."""
    from sim.model import ImplementationModel
    from sim.scenario import load_scenario
    from sim.world import build_world

    retain_freed_memory()  # a spawned child: set it here, as a worker does
    sc = load_scenario(path)
    if weeks:
        sc.weeks = weeks
    strategy = next(s for s in sc.strategies if s.name == "training + facilitation")
    t0 = time.perf_counter()
    world = build_world(sc, sc.seed)
    t1 = time.perf_counter()
    model = ImplementationModel(sc, strategy, sc.seed, world)
    t2 = time.perf_counter()
    model.run()
    t3 = time.perf_counter()
    model.recorder.table(world.pop, sc.bundle_names, world.eligible_per_unit,
                         sc.parameters["penetration_threshold"], sc.output)
    if sc.output["elements"]:  # what a run builds (sim.simulate.run)
        model.recorder.element_table(world.pop, sc.bundles, world.element_bundle,
                                     world.eligible_per_unit, sc.output)
    t4 = time.perf_counter()
    queue.put({"staff": world.pop.n_staff, "bundles": len(sc.bundles),
               "elements": len(world.element_bundle), "ties": int(world.adjacency.nnz),
               "pairs": len(world.performed.staff),
               "weeks": sc.weeks, "build": t1 - t0, "init": t2 - t1, "run": t3 - t2,
               "table": t4 - t3, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
               / 1024})


def measure(path: str | None, repeats: int, weeks: int | None = None) -> dict:
    """Median figures over ``repeats`` fresh processes."""
    ctx = mp.get_context("spawn")
    runs = []
    for _ in range(repeats):
        q = ctx.Queue()
        p = ctx.Process(target=_measure, args=(path, weeks, q))
        p.start()
        runs.append(q.get())
        p.join()
    out = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    out["total"] = out["build"] + out["init"] + out["run"]
    out["per_step_ms"] = out["run"] / out["weeks"] * 1000
    out["sbs_per_s"] = out["staff"] * out["bundles"] * out["weeks"] / out["run"]
    return out


def reference_ratio(weeks: int, path: str | None = None) -> dict[str, float]:
    """Seconds to build and to run the vectorised model and the per-agent reference, one bundle,
    same world (the world itself is built once, outside the timings)."""
    from reference_mesa import ReferenceModel

    from sim.model import ImplementationModel
    from sim.scenario import load_scenario
    from sim.world import build_world

    sc = load_scenario(path)
    sc.bundles = sc.bundles[:1]
    sc.strategies = [s for s in sc.strategies if s.name == "no extra support"]
    sc.weeks = weeks
    world = build_world(sc, 1)
    # once per process, like the imports: numba's start and loading the compiled kernels from
    # its cache (none on IMPLSIM_KERNELS=numpy); reported as "jit", not counted in the ratio
    tj = time.perf_counter()
    warm = ImplementationModel(sc, seed=1, world=world)
    warm.step()
    t0 = time.perf_counter()
    model = ImplementationModel(sc, seed=1, world=world)
    t1 = time.perf_counter()
    model.run()
    t2 = time.perf_counter()
    ref = ReferenceModel(world, sc.parameters, 0, 1)
    t3 = time.perf_counter()
    for _ in range(weeks):
        ref.step()
    t4 = time.perf_counter()
    return {"staff": world.pop.n_staff, "jit": t0 - tj, "vec_build": t1 - t0, "vec_run": t2 - t1,
            "ref_build": t3 - t2, "ref_run": t4 - t3}


def copy_bandwidth() -> float:
    """Measured memory copy bandwidth in GB/s (read + write), best of 5."""
    src = np.ones(64 * 1024 * 1024 // 4, np.float32)  # 64 MB
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best / 1e9


def minimal_bytes_per_step(n: int, b: int, pairs: int) -> float:
    """Bytes a week must at least read and write with this design.

    Every state array once each way (stage and knowledge per staff × bundle, fidelity per
    performed pair), the pairs' two gather indices and baselines once, the carried neighbour sums
    (float32 counts, float64 weighted) once each way, and one uniform draw per staff × bundle (each
    rule draws only for the entries it applies to, which together are at most all of them). The
    network itself is read only where someone's use changed, which is left out.
    """
    state = n * b * (1 + 4) * 2 + pairs * 4 * 2
    indices = pairs * (8 + 8 + 4)
    sums = n * b * (4 + 8) * 2
    draws = n * b * 4
    return state + indices + sums + draws


def main() -> None:
    retain_freed_memory()  # as the CLI does: week temporaries reuse freed pages
    parser = argparse.ArgumentParser(description="implsim benchmarks")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reference-weeks", type=int, default=52)
    args = parser.parse_args()
    rows = [("default catchment", None, None)]
    if not args.quick:
        rows.append(("national", str(ROOT / "experiments" / "national.toml"), None))
    print(f"implsim benchmarks (median of {args.repeats} fresh processes)\n")
    print(f"{'scenario':18s} {'staff':>8s} {'weeks':>5s} {'build s':>8s} {'run s':>7s} "
          f"{'total s':>8s} {'ms/step':>8s} {'staff·bundle·steps/s':>21s} {'peak MB':>8s}")
    results = {}
    for label, path, weeks in rows:
        r = measure(path, args.repeats, weeks)
        results[label] = r
        print(f"{label:18s} {int(r['staff']):8,d} {int(r['weeks']):5d} {r['build']:8.2f} "
              f"{r['run']:7.2f} {r['total']:8.2f} {r['per_step_ms']:8.1f} "
              f"{r['sbs_per_s']:21,.0f} {r['peak_mb']:8.0f}")
    if not args.quick:
        from batch_throughput import report, throughput

        runs = 32
        print(f"\nbatch of {runs} catchment runs (one strategy each):")
        report(throughput(runs, 1), runs)
    print()
    refs = [("catchment", None, args.reference_weeks)]
    if not args.quick:
        refs.append(("national", str(ROOT / "experiments" / "national.toml"), 10))
    print("per-agent Mesa reference vs vectorised model, one bundle, same world and rules:")
    for label, path, weeks in refs:
        r = reference_ratio(weeks, path)
        vec, ref = r["vec_build"] + r["vec_run"], r["ref_build"] + r["ref_run"]
        print(f"  {label} ({int(r['staff']):,} staff), {weeks} weeks: reference {ref:.2f} s "
              f"(build {r['ref_build']:.2f}), vectorised {vec:.3f} s (build "
              f"{r['vec_build']:.3f}): {ref / vec:.0f}× faster in all, "
              f"{r['ref_run'] / r['vec_run']:.0f}× per step (before: a first model and week, "
              f"{r['jit']:.2f} s, once per process)")
    from kernels import compare
    from kernels import report as report_kernels

    from sim import kernels as kernel_path

    if kernel_path.PATH == "numba":
        label, path = ("catchment", None) if args.quick else (
            "national", str(ROOT / "experiments" / "national.toml"))
        print(f"\ncompiled kernels vs numpy path, {label}, paired on the same state "
              "(benchmarks/kernels.py):")
        report_kernels(compare(path, weeks=20 if args.quick else 40))
    if "national" in results:
        r = results["national"]
        bw = copy_bandwidth()
        need = minimal_bytes_per_step(int(r["staff"]), int(r["bundles"]), int(r["pairs"]))
        bound_ms = need / (bw * 1e9) * 1000
        print(f"\nnational step: {need / 1e6:.0f} MB must be touched; copy bandwidth {bw:.1f} GB/s "
              f"→ bound {bound_ms:.1f} ms/step; measured {r['per_step_ms']:.1f} ms/step "
              f"({bound_ms / r['per_step_ms']:.0%} of the bound)")
    print("\n" + json.dumps({k: {kk: round(v, 4) for kk, v in r.items()}
                             for k, r in results.items()}))


if __name__ == "__main__":
    main()

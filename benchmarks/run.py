"""implsim benchmark suite: prints its tables and each of issue 16's targets beside its figure.

    python benchmarks/run.py                 # everything (~10 minutes on 2 cores)
    python benchmarks/run.py --quick         # catchment only, no batch (< 1 minute)

Every figure is the median of ``--repeats`` fresh (spawned) processes, CPU time beside wall time
(the machine is shared: CPU-time ratios are the figures to compare). For the default catchment
and the national scenario (one strategy, "training + facilitation"): world build time, model run
time, time per step, staff-bundle-steps per second and peak memory. For a batch of catchment
runs: runs per second serially and with 1 and 2 Dask workers. Against the per-agent Mesa
reference (``reference_mesa.py``), one bundle, over the scenario's whole horizon (the national
one in one process: it takes minutes): the speed ratio, in all (build + run) and per step.
Side by side with a plain numpy + scipy.sparse float32 model of simpler rules on the same world
(``plain_numpy.py``): CPU ms per step per 1M staff·bundle and the throughput ratio. The
random-gather floor: gathering 10M random edges of a 1M-staff float32 array. The compiled
kernels against the numpy path, phase by phase on the same state (``kernels.py``). Where the
time goes: ``profile_step.py``. Finally, how close a national step is to the memory-bandwidth
bound.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from sim.memory import retain_freed_memory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def _measure(path: str | None, weeks: int | None, bundles: int | None, strategy: str,
             queue: mp.Queue) -> None:
    """Child process: build and run one strategy; report wall and CPU timings and peak memory."""
    from sim.model import ImplementationModel
    from sim.scenario import load_scenario
    from sim.world import build_world

    retain_freed_memory()  # a spawned child: set it here, as a worker does
    sc = load_scenario(path)
    if weeks:
        sc.weeks = weeks
    if bundles:
        sc.bundles = sc.bundles[:bundles]
    strategy_ = next(s for s in sc.strategies if s.name == strategy)
    t0 = time.perf_counter()
    world = build_world(sc, sc.seed)
    t1 = time.perf_counter()
    model = ImplementationModel(sc, strategy_, sc.seed, world)
    t2, c2 = time.perf_counter(), time.process_time()
    model.run()
    t3, c3 = time.perf_counter(), time.process_time()
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
               "run_cpu": c3 - c2, "table": t4 - t3,
               "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def _fresh(target, args: tuple, repeats: int) -> dict:
    """Run ``target(*args, queue)`` in ``repeats`` fresh (spawned) processes; median figures."""
    ctx = mp.get_context("spawn")
    runs = []
    for _ in range(repeats):
        q = ctx.Queue()
        p = ctx.Process(target=target, args=(*args, q))
        p.start()
        runs.append(q.get())
        p.join()
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def measure(path: str | None, repeats: int, weeks: int | None = None,
            bundles: int | None = None, strategy: str = "training + facilitation") -> dict:
    """Median figures over ``repeats`` fresh processes."""
    out = _fresh(_measure, (path, weeks, bundles, strategy), repeats)
    out["total"] = out["build"] + out["init"] + out["run"]
    out["per_step_ms"] = out["run"] / out["weeks"] * 1000
    out["sbs_per_s"] = out["staff"] * out["bundles"] * out["weeks"] / out["run"]
    out["cpu_ms_per_m"] = per_million(out["run_cpu"], out["weeks"], out["staff"], out["bundles"])
    return out


def per_million(cpu: float, weeks: int, staff: int, bundles: int) -> float:
    """CPU ms per step per 1M staff·bundle (issue 16's unit of throughput)."""
    return cpu / weeks * 1000 / (staff * bundles / 1e6)


def _reference(path: str | None, weeks: int | None, queue: mp.Queue) -> None:
    """Child process: the vectorised model and the per-agent reference, one bundle, same world
    (built once, outside the timings), over ``weeks`` (default: the scenario's whole horizon)."""
    from reference_mesa import ReferenceModel

    from sim.model import ImplementationModel
    from sim.scenario import load_scenario
    from sim.world import build_world

    retain_freed_memory()
    sc = load_scenario(path)
    sc.bundles = sc.bundles[:1]
    sc.strategies = [s for s in sc.strategies if s.name == "no extra support"]
    sc.weeks = weeks or sc.weeks
    world = build_world(sc, 1)
    # once per process, like the imports: numba's start and loading the compiled kernels from
    # its cache (none on IMPLSIM_KERNELS=numpy); reported as "jit", not counted in the ratio
    tj = time.perf_counter()
    warm = ImplementationModel(sc, seed=1, world=world)
    warm.step()
    t0, c0 = time.perf_counter(), time.process_time()
    model = ImplementationModel(sc, seed=1, world=world)
    t1, c1 = time.perf_counter(), time.process_time()
    model.run()
    t2, c2 = time.perf_counter(), time.process_time()
    ref = ReferenceModel(world, sc.parameters, 0, 1)
    t3, c3 = time.perf_counter(), time.process_time()
    for _ in range(sc.weeks):
        ref.step()
    t4, c4 = time.perf_counter(), time.process_time()
    queue.put({"staff": world.pop.n_staff, "weeks": sc.weeks, "jit": t0 - tj, "vec_build": t1 - t0,
               "vec_run": t2 - t1, "ref_build": t3 - t2, "ref_run": t4 - t3,
               "vec_cpu": c2 - c0, "ref_cpu": c4 - c2, "vec_run_cpu": c2 - c1,
               "ref_run_cpu": c4 - c3})


def reference_ratio(weeks: int | None, path: str | None = None, repeats: int = 1) -> dict:
    """Seconds (wall and CPU) to build and run the vectorised model and the per-agent
    reference, one bundle, same world; medians of ``repeats`` fresh processes."""
    return _fresh(_reference, (path, weeks), repeats)


def _plain(path: str | None, bundles: int | None, queue: mp.Queue) -> None:
    """Child process: the plain numpy baseline (``plain_numpy.py``) over the whole horizon."""
    from plain_numpy import measure as plain_measure

    queue.put(plain_measure(path, bundles))


def plain_numpy(path: str | None, bundles: int | None, repeats: int) -> dict:
    """The plain numpy float32 baseline's figures, medians of ``repeats`` fresh processes."""
    return _fresh(_plain, (path, bundles), repeats)


def gather_floor(staff: int = 1_000_000, edges: int = 10_000_000, repeats: int = 5
                 ) -> dict[str, float]:
    """Median ms of gathering ``edges`` random entries of a float32 array of ``staff`` (the floor
    of a neighbour sum by a random network), wall and CPU, and of the CSR product that gathers
    and sums them per row."""
    import scipy.sparse as sp

    rng = np.random.default_rng(16)
    x = rng.random(staff, dtype=np.float32)
    idx = rng.integers(0, staff, edges, dtype=np.intp)  # int32 indices gather ~2× slower
    rows = np.sort(rng.integers(0, staff, edges))  # CSR: edges grouped by row, random columns
    adj = sp.csr_matrix((np.ones(edges, np.float32), (rows, idx)), shape=(staff, staff))
    figures: dict[str, list[float]] = {"gather": [], "gather_cpu": [], "matvec": []}
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        x[idx]
        t1, c1 = time.perf_counter(), time.process_time()
        adj @ x
        t2 = time.perf_counter()
        figures["gather"].append((t1 - t0) * 1000)
        figures["gather_cpu"].append((c1 - c0) * 1000)
        figures["matvec"].append((t2 - t1) * 1000)
    return {k: statistics.median(v) for k, v in figures.items()}


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
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per figure")
    parser.add_argument("--quick", action="store_true", help="catchment only, no batch")
    parser.add_argument("--reference-weeks", type=int, default=None,
                        help="weeks of the Mesa comparison (default: the whole horizon)")
    args = parser.parse_args()
    national = str(ROOT / "experiments" / "national.toml")
    load = os.getloadavg()
    print(f"implsim benchmarks (median of {args.repeats} fresh processes; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores)\n")
    rows = [("default catchment", None, None)]
    if not args.quick:
        rows.append(("national", national, None))
    print(f"{'scenario':18s} {'staff':>8s} {'weeks':>5s} {'build s':>8s} {'run s':>7s} "
          f"{'run CPU s':>9s} {'total s':>8s} {'ms/step':>8s} {'staff·bundle·steps/s':>21s} "
          f"{'peak MB':>8s}")
    results = {}
    for label, path, weeks in rows:
        r = measure(path, args.repeats, weeks)
        results[label] = r
        print(f"{label:18s} {int(r['staff']):8,d} {int(r['weeks']):5d} {r['build']:8.2f} "
              f"{r['run']:7.2f} {r['run_cpu']:9.2f} {r['total']:8.2f} {r['per_step_ms']:8.1f} "
              f"{r['sbs_per_s']:21,.0f} {r['peak_mb']:8.0f}")
    batch = None
    if not args.quick:
        from batch_throughput import report, throughput

        runs = 32
        print(f"\nbatch of {runs} catchment runs (one strategy each):")
        batch = throughput(runs, 1)
        report(batch, runs)
    print()
    refs = [("catchment", None, args.repeats)]
    if not args.quick:  # a whole national horizon per agent takes minutes: one process
        refs.append(("national", national, 1))
    print("per-agent Mesa reference vs vectorised model, one bundle, same world and rules, "
          "wall (CPU):")
    ratios = {}
    for label, path, repeats in refs:
        r = reference_ratio(args.reference_weeks, path, repeats)
        vec, ref = r["vec_build"] + r["vec_run"], r["ref_build"] + r["ref_run"]
        ratios[label] = r["ref_cpu"] / r["vec_cpu"]
        print(f"  {label} ({int(r['staff']):,} staff), {int(r['weeks'])} weeks, median of "
              f"{repeats}: reference {ref:.2f} s ({r['ref_cpu']:.2f} CPU; build "
              f"{r['ref_build']:.2f}), vectorised {vec:.3f} s ({r['vec_cpu']:.3f} CPU; build "
              f"{r['vec_build']:.3f}): {ref / vec:.0f}× faster in all ({ratios[label]:.0f}× "
              f"CPU), {r['ref_run'] / r['vec_run']:.0f}× per step "
              f"({r['ref_run_cpu'] / r['vec_run_cpu']:.0f}× CPU; before: a first model and week, "
              f"{r['jit']:.2f} s, once per process)")
    print("\nside by side with a plain numpy + scipy.sparse float32 model of simpler rules "
          "(plain_numpy.py), same world, whole horizon, CPU time:")
    side = [("default catchment", None, results["default catchment"])]
    if not args.quick:
        side = [("national", 1, measure(national, args.repeats, bundles=1)),
                ("national", None, results["national"])]
    print(f"  {'':40s} {'throughput vs plain':>20s} {'CPU ms/step per 1M staff·bundle':>32s}")
    throughput_ratios = []
    for label, bundles, implsim in side:
        path = national if label == "national" else None
        plain = plain_numpy(path, bundles, args.repeats)
        b = int(implsim["bundles"])
        throughput_ratios.append(plain["cpu_ms_per_step_per_m"] / implsim["cpu_ms_per_m"])
        print(f"  {f'{label}: plain numpy float32, {b} bundle(s)':40s} {1.0:20.2f} "
              f"{plain['cpu_ms_per_step_per_m']:32.1f}")
        print(f"  {f'{label}: implsim, {b} bundle(s)':40s} {throughput_ratios[-1]:20.2f} "
              f"{implsim['cpu_ms_per_m']:32.1f}")
    floor = gather_floor()
    print(f"\nrandom-gather floor, 10M random edges at 1M staff: gather {floor['gather']:.1f} ms "
          f"({floor['gather_cpu']:.1f} CPU), CSR product (gather and sum per row) "
          f"{floor['matvec']:.1f} ms")
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
    print_targets(results, ratios, throughput_ratios, floor, batch)
    print("\n" + json.dumps({k: {kk: round(v, 4) for kk, v in r.items()}
                             for k, r in results.items()}))


def print_targets(results: dict, ratios: dict, throughput_ratios: list[float], floor: dict,
                  batch: dict | None) -> None:
    """Each figure of issue 16's Targets list beside its target ("--" where not measured)."""
    rows = []
    if batch is not None:
        per_s = 32 / batch["dask, 2 workers"]
        rows.append(("Sobol' 12 factors, N = 1,024 (26,624 runs), 2 workers",
                     f"{26_624 / per_s / 60:.0f} min*", "< 30 min", 26_624 / per_s / 60 < 30))
        if "serial CPU s" in batch:  # the machine is shared: what two idle cores would take
            cpu_min = 26_624 * batch["serial CPU s"] / 32 / 2 / 60
            rows.append(("Sobol' as above, from serial CPU s per run ÷ 2 cores",
                         f"{cpu_min:.0f} min*", "< 30 min", cpu_min < 30))
    else:
        rows.append(("Sobol' 12 factors, N = 1,024 (26,624 runs), 2 workers", "--", "< 30 min",
                     None))
    c = ratios.get("catchment")
    rows.append(("catchment replicate vs per-agent Mesa, whole horizon (CPU)", f"{c:.0f}×",
                 "≥ 100×", c >= 100))
    nat = results.get("national")
    if nat is not None:
        step = nat["cpu_ms_per_m"] / floor["gather_cpu"]
        rows.append(("national step per 1M staff·bundle ÷ random-gather floor", f"{step:.1f}×",
                     "≤ 1.5×", step <= 1.5))
    else:
        rows.append(("national step per 1M staff·bundle ÷ random-gather floor", "--", "≤ 1.5×",
                     None))
    worst = min(throughput_ratios)
    where = "national" if nat is not None else "catchment"
    rows.append((f"throughput vs plain numpy baseline ({where}, worst row)", f"{worst:.2f}×",
                 "≥ 1.00×", worst >= 1))
    if nat is not None:
        both = nat["build"] + nat["init"] + 2 * (nat["run"] + nat["table"])
        rows.append(("national run, both strategies (build + 2 × one strategy)",
                     f"{both:.1f} s", "< 30 s", both < 30))
        rows.append(("national run, peak memory (one strategy)", f"{nat['peak_mb']:.0f} MB",
                     "< 2048 MB", nat["peak_mb"] < 2048))
    else:
        rows += [("national run, both strategies", "--", "< 30 s", None),
                 ("national run, peak memory", "--", "< 2048 MB", None)]
    step = results["default catchment"]["per_step_ms"]
    rows.append(("model step at catchment size (4 bundles, wall)", f"{step:.1f} ms", "< 20 ms",
                 step < 20))
    print("\nissue 16 targets:")
    print(f"  {'figure':62s} {'measured':>10s} {'target':>10s}  met")
    for name, value, target, met in rows:
        verdict = "--" if met is None else ("yes" if met else "NO")
        print(f"  {name:62s} {value:>10s} {target:>10s}  {verdict}")
    if batch is not None:
        print("  * at the 2-worker rate of 156-week batch runs; the Sobol' runs are 104 weeks")


if __name__ == "__main__":
    main()

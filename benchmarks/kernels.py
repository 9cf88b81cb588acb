"""Compiled kernels against the numpy reference: CPU ms per step of each phase, paired in-process.

    python benchmarks/kernels.py                                   # default catchment
    python benchmarks/kernels.py experiments/national.toml

The machine is shared and loaded, so timings of separate processes differ by ±30% whatever they
run. Here every phase that has a kernel runs twice each week on the same state, once per path
(``sim.kernels.PATH``), the order alternating week by week: the state, the levers and the random
generators are restored between the two, so both see identical inputs and draws, and the two
results are checked to be identical (bit for bit) every week. Reported: the median over weeks of
each phase's CPU time (``time.process_time``) on both paths and their ratio, and the share of the
numpy week that the kernels' phases are. ``--warmup`` weeks run first (on the default path; the
kernels load from numba's on-disk cache then).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from sim import kernels
from sim.loop import Loop, Phase, Week
from sim.memory import retain_freed_memory
from sim.model import ImplementationModel
from sim.scenario import load_scenario

#: Phases with a kernel, and the state arrays each changes in place or replaces.
KERNEL_PHASES = {
    "adoption": ("stage",),
    "abandonment, then routinisation": ("stage",),
    "fidelity": ("fidelity",),
    "compliance": ("unit_element", "unit_compliance", "unit_fidelity"),
}


def paired(model: ImplementationModel, phase: Phase, changes: tuple[str, ...],
           times: dict[str, list[float]], week_no: list[int]) -> Phase:
    """``phase`` run on both paths from the same state; the numba result is kept."""
    st = model.state

    def snapshot() -> tuple:
        streams = {k: g.bit_generator.state for k, g in model._streams.items()}
        return {k: getattr(st, k).copy() for k in changes}, streams

    def restore(snap: tuple) -> None:
        arrays, streams = snap
        for k, v in arrays.items():
            setattr(st, k, v.copy())
        for k, s in streams.items():
            model._streams[k].bit_generator.state = s

    def run(week: Week) -> None:
        before = snapshot()
        order = ("numpy", "numba") if week_no[0] % 2 == 0 else ("numba", "numpy")
        results = {}
        for i, path in enumerate(order):
            if i:
                restore(before)
            kernels.PATH = path
            t0 = time.process_time()
            phase.run(week)
            times[f"{phase.name}|{path}"].append(time.process_time() - t0)
            results[path] = {k: getattr(st, k).copy() for k in changes}
        kernels.PATH = "numba"
        for k in changes:
            if not np.array_equal(results["numpy"][k], results["numba"][k], equal_nan=True):
                raise AssertionError(f"week {st.week}, {phase.name}: {k} differs between paths")
        if order[-1] != "numba":  # keep the numba result (identical anyway)
            for k in changes:
                setattr(st, k, results["numba"][k])
    return Phase(phase.name, run)


def timed(phase: Phase, times: dict[str, list[float]]) -> Phase:
    """``phase`` with its CPU time recorded (phases without a kernel run once)."""
    def run(week: Week) -> None:
        t0 = time.process_time()
        phase.run(week)
        times[phase.name].append(time.process_time() - t0)
    return Phase(phase.name, run)


def compare(scenario: str | None, strategy: str = "training + facilitation", warmup: int = 60,
            weeks: int = 40) -> dict:
    """Median CPU ms per step of each kernel phase on both paths, and of the other phases.

    Returns ``{"staff", "bundles", "phases": {name: (numpy ms, numba ms)}, "others": ms}``.
    """
    retain_freed_memory()
    if kernels.PATH != "numba":
        raise SystemExit("numba is not available (or IMPLSIM_KERNELS=numpy): nothing to compare")
    sc = load_scenario(scenario)
    sc.weeks = warmup + weeks
    model = ImplementationModel(sc, strategy, sc.seed)
    for _ in range(warmup):
        model.step()
    times: dict[str, list[float]] = {}
    week_no = [0]
    phases = []
    for p in model.loop.phases:
        if p.name in KERNEL_PHASES:
            times[f"{p.name}|numpy"], times[f"{p.name}|numba"] = [], []
            phases.append(paired(model, p, KERNEL_PHASES[p.name], times, week_no))
        else:
            times[p.name] = []
            phases.append(timed(p, times))
    model.loop = Loop(phases)
    for w in range(weeks):
        week_no[0] = w
        model.step()
    ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
    return {"staff": model.pop.n_staff, "bundles": len(sc.bundles),
            "phases": {n: (ms[f"{n}|numpy"], ms[f"{n}|numba"]) for n in KERNEL_PHASES},
            "others": sum(v for k, v in ms.items() if "|" not in k)}


def report(r: dict) -> None:
    """Print :func:`compare`'s table."""
    print(f"{'numpy':>8s} {'numba':>8s} {'ratio':>6s}  phase (median CPU ms per step)")
    week = [r["others"], r["others"]]
    for name, (a, b) in r["phases"].items():
        week[0] += a
        week[1] += b
        print(f"{a:8.2f} {b:8.2f} {a / b:5.2f}×  {name}")
    print(f"{r['others']:8.2f} {r['others']:8.2f}     -   the other phases (numpy on both)")
    print(f"{week[0]:8.2f} {week[1]:8.2f} {week[0] / week[1]:5.2f}×  the phases' sum")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", nargs="?", default=None)
    parser.add_argument("--strategy", default="training + facilitation")
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--weeks", type=int, default=40)
    args = parser.parse_args()
    r = compare(args.scenario, args.strategy, args.warmup, args.weeks)
    print(f"{r['staff']:,} staff, {r['bundles']} bundles, weeks {args.warmup + 1}-"
          f"{args.warmup + args.weeks}; both paths on the same state each week (results "
          "identical every week)")
    report(r)


if __name__ == "__main__":
    main()

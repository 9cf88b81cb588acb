"""Compiled kernels against the numpy reference: CPU ms per step by phase, interleaved processes.

    python benchmarks/kernels.py                                   # default catchment
    python benchmarks/kernels.py experiments/national.toml --rounds 3

Each round runs one fresh process per path (``IMPLSIM_KERNELS=numpy`` then ``numba``, the order
alternating between rounds), each building the world, stepping ``--warmup`` weeks (which also
loads the kernels from numba's on-disk cache) and timing ``--weeks`` more by CPU time
(``time.process_time``: the machine is shared, so CPU time and ratios, not wall time). Prints the
median CPU ms per step of each phase on both paths and their ratio, and checks that both paths
ended in the same state (a hash of stages and fidelity).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time


def child(scenario: str | None, strategy: str, warmup: int, weeks: int) -> dict:
    """One process: per-phase CPU seconds per step on the path of ``IMPLSIM_KERNELS``."""
    from sim.loop import Loop, Phase
    from sim.memory import retain_freed_memory
    from sim.model import ImplementationModel
    from sim.scenario import load_scenario

    retain_freed_memory()
    sc = load_scenario(scenario)
    sc.weeks = warmup + weeks
    model = ImplementationModel(sc, strategy, sc.seed)
    totals = dict.fromkeys(model.loop.names, 0.0)

    def timed(phase: Phase) -> Phase:
        def run(week: object) -> None:
            t0 = time.process_time()
            phase.run(week)
            totals[phase.name] += time.process_time() - t0
        return Phase(phase.name, run)

    for _ in range(warmup):
        model.step()
    totals = dict.fromkeys(totals, 0.0)
    model.loop = Loop([timed(p) for p in model.loop.phases])
    t0 = time.process_time()
    for _ in range(weeks):
        model.step()
    step = (time.process_time() - t0) / weeks
    digest = hashlib.sha256(model.state.stage.tobytes() + model.state.fidelity.tobytes())
    return {"step": step * 1000, **{k: v / weeks * 1000 for k, v in totals.items()},
            "hash": digest.hexdigest()[:12], "staff": model.pop.n_staff}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", nargs="?", default=None)
    parser.add_argument("--strategy", default="training + facilitation")
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--weeks", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.scenario, args.strategy, args.warmup, args.weeks)))
        return
    runs: dict[str, list[dict]] = {"numpy": [], "numba": []}
    for r in range(args.rounds):
        for path in (("numpy", "numba") if r % 2 == 0 else ("numba", "numpy")):
            cmd = [sys.executable, __file__, *([args.scenario] if args.scenario else []),
                   "--strategy", args.strategy, "--warmup", str(args.warmup),
                   "--weeks", str(args.weeks), "--child"]
            out = subprocess.run(cmd, env={**os.environ, "IMPLSIM_KERNELS": path},
                                 capture_output=True, text=True, check=True)
            runs[path].append(json.loads(out.stdout.strip().splitlines()[-1]))
    hashes = {path: {r["hash"] for r in rs} for path, rs in runs.items()}
    keys = [k for k in runs["numpy"][0] if k not in ("hash", "staff")]
    print(f"{int(runs['numpy'][0]['staff']):,} staff, weeks {args.warmup + 1}-"
          f"{args.warmup + args.weeks}, median of {args.rounds} interleaved rounds, CPU ms/step")
    print(f"{'numpy':>8s} {'numba':>8s} {'ratio':>6s}  phase")
    for k in keys:
        a = statistics.median(r[k] for r in runs["numpy"])
        b = statistics.median(r[k] for r in runs["numba"])
        ratio = f"{a / b:5.2f}×" if b > 0 else "     -"
        print(f"{a:8.2f} {b:8.2f} {ratio}  {'(whole step)' if k == 'step' else k}")
    same = hashes["numpy"] == hashes["numba"] and len(hashes["numpy"]) == 1
    print(f"final state identical on both paths: {same} ({', '.join(hashes['numba'])})")


if __name__ == "__main__":
    main()

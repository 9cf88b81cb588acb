"""A plain numpy + scipy.sparse float32 model of simple adoption rules: the speed baseline.

    python benchmarks/plain_numpy.py                             # default catchment, 4 bundles
    python benchmarks/plain_numpy.py experiments/national.toml --bundles 1

Why: issue 16 compares implsim's throughput with what a minimal hand-written array model of
simpler rules achieves on the same world ("plain numpy float32 baseline ... CPU ms per step per
1M staff·bundle"). The rules are the per-agent reference's (``reference_mesa.py``: turnover,
awareness from the organisation and from using colleagues, trying at context × (p·e^{β_K k} +
q·exposure) with opinion leaders weighing more, abandonment, learning and forgetting), for all
bundles at once as staff × bundle float32 arrays, everybody deciding from last week. Neighbour
counts are recomputed every week by sparse products (no incremental sums), one uniform draw per
rule per staff × bundle; no interventions, routinisation, elements or outputs. It is a speed
yardstick only: its results are not checked against implsim's (the reference model's test does
that for the rules).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

from sim.scenario import load_scenario
from sim.world import World, build_world


class PlainModel:
    """The simple rules on a world's people and ties, every array float32 (stages as int8)."""

    def __init__(self, world: World, params: dict, n_bundles: int, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        p = params
        self.p_leave = np.float32(1.0 - (1.0 - p["turnover_annual"]) ** (1.0 / 52.0))
        self.p_aware = np.float32(p["p_awareness"])
        self.log_not_wom = np.float32(np.log1p(-p["p_word_of_mouth"]))
        self.p_innov, self.q = np.float32(p["p_innovation"]), np.float32(p["q_imitation"])
        self.beta_k = np.float32(p["beta_knowledge"])
        self.learn = np.float32(p["learning_by_doing"])
        self.decay = np.float32(p["knowledge_decay"])
        self.adj = sp.csr_matrix(world.adjacency, dtype=np.float32)
        w = world.leader_weight.astype(np.float32)
        self.weighted_adj = (self.adj @ sp.diags(w)).tocsr().astype(np.float32)
        total = np.asarray(self.weighted_adj.sum(axis=1), np.float32).ravel()
        self.inv_total = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)[:, None]
        b = n_bundles
        self.eligible = world.eligible[:, :b].astype(bool)
        ctx = world.log_ctx[:, :b].astype(np.float32)
        self.ctx = np.exp(ctx)
        self.abandon = np.minimum(np.float32(1.0), np.float32(p["p_abandon"]) * np.exp(-ctx))
        n = world.pop.n_staff
        self.aware = np.zeros((n, b), bool)
        self.using = np.zeros((n, b), bool)
        self.knowledge = np.zeros((n, b), np.float32)

    def draws(self) -> np.ndarray:
        """One uniform float32 per staff × bundle."""
        return self.rng.random(self.knowledge.shape, dtype=np.float32)

    def step(self) -> None:
        """One week: everybody decides from last week's neighbours, then everybody moves."""
        use = (self.using & self.eligible).astype(np.float32)
        ties = self.adj @ use  # using colleagues
        exposure = (self.weighted_adj @ use) * self.inv_total
        unaware = ~self.aware & self.eligible
        chance = 1.0 - (1.0 - self.p_aware) * np.exp(self.log_not_wom * ties)
        aware = self.aware | (unaware & (self.draws() < chance))
        hazard = self.ctx * (self.p_innov * np.exp(self.beta_k * self.knowledge)
                             + self.q * exposure)
        trying = aware & ~self.using & (self.draws() < hazard)
        using = (self.using | trying) & ~(self.using & (self.draws() < self.abandon))
        self.knowledge += np.where(using, self.learn * (1.0 - self.knowledge),
                                   -self.decay * self.knowledge)
        left = self.draws()[:, :1] < self.p_leave  # turnover: the position gets a newcomer
        self.aware, self.using = aware & ~left, using & ~left
        self.knowledge[left[:, 0]] = 0.0


def measure(path: str | None, bundles: int | None, weeks: int | None = None) -> dict:
    """Wall and CPU seconds of ``weeks`` (default: the scenario's) weekly steps of the plain model
    on the scenario's world, and the CPU ms per step per 1M staff·bundle."""
    sc = load_scenario(path)
    if bundles:
        sc.bundles = sc.bundles[:bundles]
    weeks = weeks or sc.weeks
    world = build_world(sc, sc.seed)
    model = PlainModel(world, sc.parameters, len(sc.bundles), sc.seed)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(weeks):
        model.step()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    units = world.pop.n_staff * len(sc.bundles) / 1e6
    return {"staff": world.pop.n_staff, "bundles": len(sc.bundles), "weeks": weeks, "wall": wall,
            "cpu": cpu, "cpu_ms_per_step_per_m": cpu / weeks * 1000 / units,
            "adoption": float(model.using[model.eligible].mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", nargs="?", default=None)
    parser.add_argument("--bundles", type=int, default=None, help="keep only the first N")
    parser.add_argument("--weeks", type=int, default=None, help="default: the scenario's")
    args = parser.parse_args()
    r = measure(args.scenario, args.bundles, args.weeks)
    print(f"plain numpy float32, {r['staff']:,} staff × {r['bundles']} bundles, {r['weeks']} "
          f"weeks: wall {r['wall']:.2f} s, CPU {r['cpu']:.2f} s, "
          f"{r['cpu_ms_per_step_per_m']:.1f} CPU ms per step per 1M staff·bundle "
          f"(final adoption {r['adoption']:.1%})")


if __name__ == "__main__":
    main()

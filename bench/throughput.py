"""Full trials per minute: object swap + one render + the pull primitive, with N worker processes.

    python bench/throughput.py --workers 1 2 --seconds 60

Each worker builds its own environment (shader compilation and a warm-up episode are excluded),
then runs expert-pose episodes back to back for `--seconds`; the figure is total trials / minutes.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import check_at_least, check_positive, option, parse_config  # noqa: E402


def worker(rank: int, task: str, image_size: int, fresh_scene: bool, seconds: float, barrier, queue):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import numpy as np

    from sim_envs import make_env
    from sim_envs.config import PullEnvConfig

    env = make_env(PullEnvConfig(task=task, image_size=image_size, fresh_scene=fresh_scene))
    env.reset(seed=rank * 10**6)
    env.step(env.unwrapped.privileged().expert_action(np.random.default_rng(0)))
    barrier.wait()
    t0, n, succ = time.perf_counter(), 0, 0
    while time.perf_counter() - t0 < seconds:
        seed = rank * 10**6 + n + 1
        env.reset(seed=seed)
        info = env.step(env.unwrapped.privileged().expert_action(np.random.default_rng(seed)))[4]
        n += 1
        succ += info["success"]
    queue.put((n, succ, time.perf_counter() - t0))


def measure(workers: int, task: str, image_size: int, fresh_scene: bool, seconds: float) -> dict:
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(r, task, image_size, fresh_scene, seconds, barrier, queue))
             for r in range(workers)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    trials = sum(r[0] for r in results)
    wall = max(r[2] for r in results)
    return {"workers": workers, "trials": trials, "seconds": round(wall, 1),
            "trials_per_min": round(trials / wall * 60, 1),
            "expert_success": round(sum(r[1] for r in results) / trials, 3)}


@dataclass
class ThroughputConfig:
    seconds: float = option(60, "measured time per setting (> 0)")
    task: str = option("StorageFurniture", "category or alias")
    image_size: int = option(336, "rendered image side (>= 16)")
    fresh_scene: bool = option(True, "build every episode on a fresh scene (the default of the environment); "
                                     "--no-fresh-scene swaps objects in one scene")
    workers: tuple[int, ...] = option((1, 2), "worker counts to measure")

    def __post_init__(self):
        check_positive(self, "seconds")
        check_at_least(self, image_size=16, workers=1)


def main(argv=None) -> int:
    cfg, _ = parse_config(ThroughputConfig, argv, "python bench/throughput.py", __doc__)
    from sim_envs.cli import resolve_or_die

    resolve_or_die(cfg.task)  # a bad name exits here, not in the spawned workers (which would hang)
    rows = [measure(w, cfg.task, cfg.image_size, cfg.fresh_scene, cfg.seconds) for w in cfg.workers]
    print(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(), "task": cfg.task,
                      "image_size": cfg.image_size, "fresh_scene": cfg.fresh_scene, "results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

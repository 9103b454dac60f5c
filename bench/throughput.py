"""Full trials per minute: object swap + one render + the pull primitive, with N worker processes.

    python bench/throughput.py --workers 1 2 --seconds 60

Each worker builds its own environment (shader compilation and a warm-up episode are excluded),
then runs expert-pose episodes back to back for `--seconds`; the figure is total trials / minutes.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def worker(rank: int, task: str, image_size: int, seconds: float, barrier, queue):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import numpy as np

    from sim_envs import make_env
    from sim_envs.config import PullEnvConfig

    env = make_env(PullEnvConfig(task=task, image_size=image_size))
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


def measure(workers: int, task: str, image_size: int, seconds: float) -> dict:
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(r, task, image_size, seconds, barrier, queue)) for r in range(workers)]
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


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to measure")
    p.add_argument("--seconds", type=float, default=60, help="measured time per setting")
    p.add_argument("--task", default="StorageFurniture", help="category or alias")
    p.add_argument("--image-size", type=int, default=336, help="rendered image side")
    a = p.parse_args()
    rows = [measure(w, a.task, a.image_size, a.seconds) for w in a.workers]
    print(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(), "task": a.task,
                      "image_size": a.image_size, "results": rows}, indent=2))


if __name__ == "__main__":
    main()

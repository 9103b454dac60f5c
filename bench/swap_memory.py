"""Memory over many object swaps: resets cycling through every category's test instances, with
the process's resident memory sampled as it goes. Flat memory means swaps leak nothing.

    .venv/bin/python bench/swap_memory.py --swaps 1000
"""
from __future__ import annotations

import argparse
import time


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--swaps", type=int, default=1000, help="number of resets (each builds a new object)")
    p.add_argument("--every", type=int, default=100, help="print memory every N swaps")
    args = p.parse_args(argv)
    from tqdm import tqdm

    from sim_envs import make_env
    from sim_envs.categories import ALL, resolve
    from sim_envs.config import PullEnvConfig

    env = make_env(PullEnvConfig(task="drawer", split="test"))
    u = env.unwrapped
    jobs = [(c, i) for i in range(20) for c in ALL]
    rows, t0 = [], time.perf_counter()
    for k in tqdm(range(args.swaps), desc="swaps"):
        cat, pos = jobs[k % len(jobs)]
        inst = u.source.instances(resolve(cat), "test")[pos]
        env.reset(seed=k, options={"task": cat, "instance_id": inst, "split": "test"})
        if (k + 1) % args.every == 0:
            rows.append((k + 1, rss_mib(), len(u.sim_scene.entities)))
    dt = time.perf_counter() - t0
    print(f"{'swaps':>6} {'RSS MiB':>8} {'entities':>8}")
    for n, m, e in rows:
        print(f"{n:6d} {m:8.1f} {e:8d}")
    print(f"growth after the first {args.every}: {rows[-1][1] - rows[0][1]:+.1f} MiB; "
          f"{args.swaps / dt:.1f} resets/s (build + settle + render)")
    env.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

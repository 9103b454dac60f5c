"""Memory over many object swaps: resets cycling through every category's test instances, with
the process's resident memory sampled as it goes. Flat memory means swaps leak nothing.

    .venv/bin/python bench/swap_memory.py --swaps 1000
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import ConfigError, check_at_least, option, parse_config  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class SwapMemoryConfig:
    swaps: int = option(1000, "number of resets (each builds a new object; >= 1)")
    every: int = option(100, "print memory every N swaps (1 <= N <= --swaps)")

    def __post_init__(self):
        check_at_least(self, swaps=1, every=1)
        if self.every > self.swaps:
            raise ConfigError("every", self.every, f"must be <= --swaps ({self.swaps})")


def main(argv=None) -> int:
    cfg, _ = parse_config(SwapMemoryConfig, argv, "python bench/swap_memory.py", __doc__)
    from infra.progress import progress_bar
    from sim_envs import make_env
    from sim_envs.categories import ALL, resolve
    from sim_envs.config import PullEnvConfig

    env = make_env(PullEnvConfig(task="drawer", split="test"))
    u = env.unwrapped
    jobs = [(c, i) for i in range(20) for c in ALL]
    rows, t0 = [], time.perf_counter()
    for k in progress_bar(range(cfg.swaps), desc="swaps"):
        cat, pos = jobs[k % len(jobs)]
        inst = u.source.instances(resolve(cat), "test")[pos]
        env.reset(seed=k, options={"task": cat, "instance_id": inst, "split": "test"})
        if (k + 1) % cfg.every == 0:
            rows.append((k + 1, rss_mib(), len(u.sim_scene.entities)))
    dt = time.perf_counter() - t0
    print(f"{'swaps':>6} {'RSS MiB':>8} {'entities':>8}")
    for n, m, e in rows:
        print(f"{n:6d} {m:8.1f} {e:8d}")
    print(f"growth after the first {cfg.every}: {rows[-1][1] - rows[0][1]:+.1f} MiB; "
          f"{cfg.swaps / dt:.1f} resets/s (build + settle + render)")
    env.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

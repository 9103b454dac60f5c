"""Procedural object generation time per category (uncached spec generation, then SAPIEN build).

    .venv/bin/python bench/generation.py --instances 20
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import check_at_least, done, option, parse_config  # noqa: E402


@dataclass
class GenerationConfig:
    instances: int = option(20, "instances per category (>= 1)")

    def __post_init__(self):
        check_at_least(self, instances=1)


def main(argv=None) -> int:
    cfg, _ = parse_config(GenerationConfig, argv, "python bench/generation.py", __doc__)
    import sapien

    from sim_envs import objects, vulkan  # noqa: F401  (vulkan: lavapipe before SAPIEN renders)
    from sim_envs.categories import ALL
    from sim_envs.objects.build import build_articulation

    scene = sapien.Scene()
    gen_ms, build_ms = {}, {}
    for cat in ALL:
        g, b = [], []
        for i in range(cfg.instances):
            t = time.perf_counter()
            spec = objects.generate.__wrapped__(cat, i)
            g.append(time.perf_counter() - t)
            t = time.perf_counter()
            art = build_articulation(scene, spec, 1.0)
            b.append(time.perf_counter() - t)
            scene.remove_articulation(art)
        gen_ms[cat], build_ms[cat] = 1e3 * np.median(g), 1e3 * np.median(b)
        print(f"{cat:16s} generate {gen_ms[cat]:6.2f} ms   build {build_ms[cat]:6.2f} ms")
    return done(f"median over categories: generate {np.median(list(gen_ms.values())):.2f} ms, "
                f"build {np.median(list(build_ms.values())):.2f} ms; slowest generate "
                f"{max(gen_ms.values()):.2f} ms ({max(gen_ms, key=gen_ms.get)})")


if __name__ == "__main__":
    raise SystemExit(main())

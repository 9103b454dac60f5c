"""Quick smoke test of the simulator alone: privileged (expert) pulls in the built-in procedural world.

Not the main job (that is `python -m evaluation.pipeline`: collect -> train -> evaluate -> tables).
This runs N episodes of one task with the privileged pose (affordance-sampled pixel on the target
part, approach along minus the true normal), appends one JSON line per episode, and writes a summary
JSON and a snapshot of the first episode; no agent, no dataset, no model.

    python -m sim_envs.demo --category drawer --episodes 20 --out out/demo
"""
from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from infra.cli import check_at_least, done, option, parse_config

from .cli import check_split, partnet_option, split_option


@dataclass
class DemoConfig:
    category: str = option("drawer", "category name or alias")
    split: str = split_option("test")
    episodes: int = option(20, "number of episodes (>= 1)")
    seed: int = option(0, "seed of the first episode; episode i uses seed + i")
    partnet_dir: str | None = partnet_option()
    out: str = option("out/demo", "output directory")

    def __post_init__(self):
        check_at_least(self, episodes=1)
        check_split(self)


def main(argv=None) -> int:
    cfg, _ = parse_config(DemoConfig, argv, "python -m sim_envs.demo", __doc__)
    from infra.files import atomic_write_text, save_figure
    from infra.provenance import SIM_PACKAGES, versions

    from .cli import make_env_or_die, resolve_or_die

    resolve_or_die(cfg.category)
    import numpy as np

    from infra.progress import progress_bar

    from .config import PullEnvConfig
    from .snapshot import render_panel

    env_cfg = PullEnvConfig(task=cfg.category, split=cfg.split, partnet_dir=cfg.partnet_dir)
    env = make_env_or_die(env_cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    t0 = time.time()
    bar = progress_bar(range(cfg.episodes), desc=f"expert pulls {cfg.category}", unit="ep")
    for i in bar:
        seed = cfg.seed + i
        obs, info = env.reset(seed=seed)
        if i == 0:
            save_figure(render_panel(obs, info), out / "snapshot.png", dpi=100)
        action = env.unwrapped.privileged().expert_action(np.random.default_rng(seed))
        _, _, _, _, info = env.step(action)
        rows.append(info)
        bar.set_postfix(success=f"{np.mean([r['success'] for r in rows]):.2f}")
    elapsed = time.time() - t0
    atomic_write_text(out / "episodes.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    summary = {
        "command": "python -m sim_envs.demo " + " ".join(argv if argv is not None else sys.argv[1:]),
        "task": cfg.category, "split": cfg.split, "episodes": len(rows),
        "success_rate": float(np.mean([r["success"] for r in rows])),
        "success_manipllm_rate": float(np.mean([r["success_manipllm"] for r in rows])),
        "failure_reasons": {k: sum(r["failure_reason"] == k for r in rows)
                            for k in sorted({r["failure_reason"] for r in rows}) if k},
        "seconds_per_episode": elapsed / len(rows), "seed": cfg.seed,
        "config": env_cfg.to_dict(), "versions": versions(SIM_PACKAGES), "machine": platform.platform(),
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    return done(f"{cfg.category}: success {summary['success_rate']:.2f} "
                f"(ManipLLM criterion {summary['success_manipllm_rate']:.2f}) over {len(rows)} episodes; "
                f"wrote {out}/episodes.jsonl, summary.json, snapshot.png")


if __name__ == "__main__":
    raise SystemExit(main())

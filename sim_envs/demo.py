"""The main job for now: privileged (expert) pulls in the built-in procedural world.

Runs N episodes of a task with the privileged pose (affordance-sampled pixel on the target part,
approach along minus the true normal), appends one JSON line per episode, and writes a summary JSON
and a snapshot of the first episode.

    python -m sim_envs.demo --category drawer --episodes 20 --out out/demo
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m sim_envs.demo", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--category", default="drawer", help="category name or alias")
    p.add_argument("--split", default="test", choices=["train", "test"], help="instance split")
    p.add_argument("--episodes", type=int, default=20, help="number of episodes (> 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode; episode i uses seed + i")
    p.add_argument("--partnet-dir", default=None, help="PartNet-Mobility directory instead of procedural objects")
    p.add_argument("--out", default="out/demo", help="output directory")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from .cli import atomic_write_text, die, make_env_or_die, resolve_or_die

    if args.episodes <= 0:
        die(f"--episodes {args.episodes}: must be a positive integer")
    resolve_or_die(args.category)
    import matplotlib.pyplot as plt
    import numpy as np
    from tqdm import tqdm

    from .config import PullEnvConfig
    from .snapshot import render_panel

    cfg = PullEnvConfig(task=args.category, split=args.split, partnet_dir=args.partnet_dir)
    env = make_env_or_die(cfg)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    t0 = time.time()
    bar = tqdm(range(args.episodes), desc=f"expert pulls {args.category}", unit="ep")
    for i in bar:
        seed = args.seed + i
        obs, info = env.reset(seed=seed)
        if i == 0:
            fig = render_panel(obs, info)
            fig.savefig(out / "snapshot.png", dpi=100)
            plt.close(fig)
        action = env.unwrapped.privileged().expert_action(np.random.default_rng(seed))
        _, _, _, _, info = env.step(action)
        rows.append(info)
        bar.set_postfix(success=f"{np.mean([r['success'] for r in rows]):.2f}")
    elapsed = time.time() - t0
    atomic_write_text(out / "episodes.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    summary = {
        "command": "python -m sim_envs.demo " + " ".join(argv if argv is not None else sys.argv[1:]),
        "task": args.category, "split": args.split, "episodes": len(rows),
        "success_rate": float(np.mean([r["success"] for r in rows])),
        "success_manipllm_rate": float(np.mean([r["success_manipllm"] for r in rows])),
        "failure_reasons": {k: sum(r["failure_reason"] == k for r in rows)
                            for k in sorted({r["failure_reason"] for r in rows}) if k},
        "seconds_per_episode": elapsed / len(rows), "seed": args.seed,
        "config": cfg.to_dict(), "versions": versions(), "machine": platform.platform(),
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    print(f"{args.category}: success {summary['success_rate']:.2f} "
          f"(ManipLLM criterion {summary['success_manipllm_rate']:.2f}) over {len(rows)} episodes; "
          f"wrote {out}/episodes.jsonl, summary.json, snapshot.png")
    return 0


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("sapien", "mani_skill", "numpy", "torch", "gymnasium"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


if __name__ == "__main__":
    raise SystemExit(main())

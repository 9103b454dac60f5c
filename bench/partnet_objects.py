"""The privileged experts and the search ceiling on real PartNet-Mobility objects, per object and
collision mode.

    python bench/partnet_objects.py --partnet-dir data/partnet_real --trials 10 --collision hull coacd

For every object folder whose category is one of the benchmark's 30, `--trials` episodes (episode
seeds 0..N-1: scale, joint state, target part and camera sampled as in any episode) under the default
physics. Each episode is pulled once by the reference protocol's action (`reference_action`, what data
collection samples) and once by the motion-aware expert (`expert_action`, the oracle's), then searched
by the ceiling (evaluation.ceiling, `--budget` actions, the expert's first). Per object and mode:
success of both experts under both criteria, the ceiling's solvable fraction, the expert's failure
reasons, the seconds the first load took (a CoACD decomposition included) and a later one, and, for the
expert's first failed trial, a rollout video (OUT/videos/<id>_<mode>.mp4) to see what stops the part.
Writes OUT/partnet_objects.csv and the per-trial records OUT/trials.jsonl.
"""
from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import check_at_least, done, option, parse_config  # noqa: E402


@dataclass
class PartnetBenchConfig:
    partnet_dir: str = option("data/partnet_real", "a PartNet-Mobility directory (one folder per object id)")
    trials: int = option(10, "expert trials per object and mode")
    collision: tuple[str, ...] = option(("hull", "coacd"), "collision modes to compare (coacd, hull, pieces)")
    objects: str = option("all", "comma-separated object ids, or 'all'")
    budget: int = option(12, "the ceiling's most actions per episode (evaluation.ceiling; 0: no search)")
    out: str = option("out/bench/partnet", "output directory")

    def __post_init__(self):
        check_at_least(self, trials=1, budget=0)


def main(argv=None) -> int:
    cfg, _ = parse_config(PartnetBenchConfig, argv, "python bench/partnet_objects.py", __doc__)
    import numpy as np
    import pandas as pd

    from agents.baselines.oracle import OracleAgent
    from evaluation.ceiling import search
    from evaluation.episodes import WorkItem
    from infra.files import atomic_write_text
    from infra.progress import progress_bar
    from sim_envs import make_env, partnet
    from sim_envs.categories import resolve
    from sim_envs.config import PullEnvConfig
    from sim_envs.recording import filmed_step, save_rollout

    entries = partnet.scan(cfg.partnet_dir)
    ids = sorted(entries) if cfg.objects == "all" else cfg.objects.split(",")
    out = Path(cfg.out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    rows, trials = [], []
    for mode in cfg.collision:
        env = make_env(PullEnvConfig(task=entries[ids[0]].category,
                                     split=partnet.split_of(ids[0], entries[ids[0]].category),
                                     partnet_dir=cfg.partnet_dir, partnet_collision=mode))
        u = env.unwrapped
        for oid in progress_bar(ids, desc=f"objects ({mode})"):
            e = entries[oid]
            split = partnet.split_of(oid, e.category)
            task = resolve(e.category)
            loads, recs, filmed = [], [], False
            for seed in range(cfg.trials):
                options = {"task": task.name, "instance_id": oid, "split": split}
                t0 = time.perf_counter()
                try:
                    obs, info = env.reset(seed=seed, options=options)
                except Exception as ex:  # an object SAPIEN cannot load, or without a usable joint
                    recs.append({"object_id": oid, "mode": mode, "seed": seed, "success": False,
                                 "success_manipllm": False, "reference_success": False, "solvable": False,
                                 "failure_reason": f"episode_error: {type(ex).__name__}: {ex}"})
                    continue
                loads.append(time.perf_counter() - t0)
                reference = env.step(u.privileged().reference_action(np.random.default_rng(seed)))[4]
                obs, _ = env.reset(seed=seed, options=options)
                view = u.privileged()
                action = OracleAgent().act([obs], seeds=[seed], privileged=[view])[0]
                info, frames = filmed_step(env, action, film=not filmed)
                if not filmed and not info["success"]:
                    save_rollout(out / "videos" / f"{oid}_{mode}", obs, action, {**info, "episode": seed}, frames)
                    filmed = True
                solvable = None
                if cfg.budget:
                    item = WorkItem(seed, task.name, task.category, "seen" if task.seen else "unseen", split, seed,
                                    oid, seed)
                    solvable = bool(search(env, item, cfg.budget)["solvable_success"])
                recs.append({"object_id": oid, "category": e.category, "mode": mode, "seed": seed,
                             **{k: info.get(k) for k in ("target_link", "target_label", "joint_type", "dq", "dq_pre",
                                                         "cosine", "attached_link", "success", "success_manipllm",
                                                         "failure_reason", "sim_steps", "qpos_settled")},
                             "reference_success": bool(reference["success"]),
                             "reference_failure_reason": reference["failure_reason"], "solvable": solvable,
                             "plan_size": len(view.pull_plan())})
            trials += recs
            reasons = Counter((r["failure_reason"] or "success").split(":")[0] for r in recs)
            rows.append({"object_id": oid, "category": e.category, "mode": mode, "trials": len(recs),
                         "reference": round(float(np.mean([r["reference_success"] for r in recs])), 3),
                         "success": round(float(np.mean([r["success"] for r in recs])), 3),
                         "success_manipllm": round(float(np.mean([r["success_manipllm"] for r in recs])), 3),
                         "ceiling": round(float(np.mean([bool(r["solvable"]) for r in recs])), 3)
                         if cfg.budget else None,
                         "first_load_s": round(loads[0], 2) if loads else None,
                         "later_load_s": round(float(np.median(loads[1:])), 3) if len(loads) > 1 else None,
                         "reasons": "; ".join(f"{k} {v}" for k, v in reasons.most_common())})
        env.close()
    df = pd.DataFrame(rows)
    atomic_write_text(out / "partnet_objects.csv", df.to_csv(index=False))
    atomic_write_text(out / "trials.jsonl", "".join(json.dumps(r, default=float) + "\n" for r in trials))
    with pd.option_context("display.width", 220, "display.max_colwidth", 90):
        print(df.to_string(index=False))
    return done(f"wrote {out / 'partnet_objects.csv'}")


if __name__ == "__main__":
    raise SystemExit(main())

"""Can the benchmark's primitive open every category? Privileged expert pulls (the motion-aware
expert, `PrivilegedView.expert_action`: a pixel of the true target part whose pull along its true
normal moves the part, where the gripper fits) on test instances, per category.

    python -m sim_envs.openability --categories all --instances 10
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from infra.cli import check_at_least, option, parse_config

from .cli import categories_option, partnet_option


def expert_trials(env, task: str, instance_ids, split: str = "test", seed: int = 0, tries: int = 1) -> list[dict]:
    """One expert episode per instance (episode seed = seed + position); a record per episode. With
    `tries` > 1 the episode is replayed with the privileged candidate actions (the search ceiling's,
    evaluation.ceiling) until one opens the part: what the primitive can do, not what one pull does."""
    records = []
    keys = ("category", "object_id", "target_link", "joint_type", "dq", "cosine", "success", "success_manipllm",
            "failure_reason")
    for k, inst in enumerate(instance_ids):
        ep_seed = seed + k
        options = {"task": task, "instance_id": inst, "split": split}
        env.reset(seed=ep_seed, options=options)
        rng = np.random.default_rng(ep_seed)
        view = env.unwrapped.privileged()
        actions = [view.expert_action(rng)] + (view.candidate_actions(rng, tries - 1) if tries > 1 else [])
        for t, action in enumerate(actions):
            if t:
                env.reset(seed=ep_seed, options=options)
            info = env.step(action)[4]
            if info["success"]:
                break
        records.append({**{key: info.get(key) for key in keys}, "tries": t + 1})
    return records


def free_travel(env, task: str, instance_id, split: str = "test", seconds: float = 1.0) -> dict[str, float]:
    """Drive each movable joint alone from closed toward its upper limit with a stiff position
    drive; the fraction of its range it reaches (< 1 means a part jams on another part)."""
    u = env.unwrapped
    env.reset(seed=0, options={"task": task, "instance_id": instance_id, "split": split})
    obj, c = u.articulated_object, u.cfg
    q_closed = obj.qpos()
    out = {}
    for j in obj.joints:
        obj.set_qpos(q_closed)
        lo, hi = j.limits
        j.joint.set_drive_properties(1e4, 200.0)
        j.joint.set_drive_target(hi)
        for _ in range(c.steps(seconds)):
            u.sim_scene.step()
        out[j.link.name] = float((obj.qpos()[j.dof] - lo) / (hi - lo))
        j.joint.set_drive_properties(0.0, c.joint_damping)
    obj.set_qpos(q_closed)
    return out


def summarize(records: list[dict]):
    """Per-category success table (pandas DataFrame) under both criteria."""
    import pandas as pd

    df = pd.DataFrame(records)
    df["success"] = df["success"].astype(bool)
    df["success_manipllm"] = df["success_manipllm"].astype(bool)
    return df.groupby("category", sort=False).agg(trials=("success", "size"), success=("success", "mean"),
                                                  success_manipllm=("success_manipllm", "mean"))


@dataclass
class OpenabilityConfig:
    categories: str = categories_option()
    instances: int = option(10, "test instances per category (the first N, >= 1)")
    seed: int = option(0, "episode seed of the first trial")
    tries: int = option(1, "expert actions per episode until one opens the part (1: the expert's one pull)")
    partnet_dir: str | None = partnet_option()
    out: str | None = option(None, "also write the per-trial records here (JSON lines); None = do not")

    def __post_init__(self):
        check_at_least(self, instances=1, tries=1)


def main(argv=None) -> int:
    cfg, _ = parse_config(OpenabilityConfig, argv, "python -m sim_envs.openability", __doc__)
    from infra.files import atomic_write_text, json_default
    from infra.progress import progress_bar

    from .cli import make_env_or_die, resolve_or_die
    from .config import PullEnvConfig

    tasks = resolve_or_die(cfg.categories, many=True)
    env = make_env_or_die(PullEnvConfig(task=tasks[0].name, split="test", partnet_dir=cfg.partnet_dir))
    records = []
    for task in progress_bar(tasks, desc="categories", unit="category"):
        ids = list(env.unwrapped.source.instances(task, "test"))[: cfg.instances]
        records += expert_trials(env, task.name, ids, seed=cfg.seed, tries=cfg.tries)
    env.close()
    table = summarize(records)
    print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    print(f"overall: success {np.mean([r['success'] for r in records]):.3f}  "
          f"success_manipllm {np.mean([r['success_manipllm'] for r in records]):.3f}  ({len(records)} trials)")
    if cfg.out:
        atomic_write_text(cfg.out, "".join(json.dumps(r, default=json_default) + "\n" for r in records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

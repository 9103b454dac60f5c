"""Render what the agent sees: RGB, depth, object mask, target-part mask and normals side by side.

    python -m sim_envs.snapshot --category drawer --instance 3 --seed 0 --out out/snapshot.png

`--record N` also runs the privileged expert's pull on the first N episodes (seeds SEED..SEED+N-1) and
writes each rollout as a video next to the PNG (OUT_rollout_K.mp4; sim_envs.recording).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infra.cli import ConfigError, check_at_least, done, option, parse_config

from .cli import check_split, partnet_option, split_option


@dataclass
class SnapshotConfig:
    category: str = option("drawer", "category name or alias (e.g. StorageFurniture, drawer, cabinet_door)")
    instance: str | None = option(None, "instance id (procedural: integer; PartNet: folder name); "
                                           "None = sampled from the split")
    split: str = split_option("train")
    seed: int = option(0, "episode seed (scale, joint state, target part, camera)")
    partnet_dir: str | None = partnet_option()
    image_size: int = option(336, "rendered image side in pixels (>= 16)")
    out: str = option("out/snapshot.png", "output PNG path")
    record: int = option(0, "also film the expert's pull on the first N episodes (videos next to --out)")

    def __post_init__(self):
        check_split(self)
        check_at_least(self, image_size=16, record=0)
        if self.instance is not None and self.partnet_dir is None:
            try:
                int(self.instance)
            except ValueError:
                raise ConfigError("instance", self.instance, "must be an integer for procedural objects") from None


def render_panel(obs: dict, info: dict):
    """A matplotlib figure with the five views and the episode's key values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    depth = obs["depth"].astype(np.float32)
    valid = depth > 0
    dshow = np.zeros_like(depth)
    if valid.any():
        lo, hi = depth[valid].min(), depth[valid].max()
        dshow[valid] = 1.0 - (depth[valid] - lo) / max(hi - lo, 1e-6) * 0.8
    views = [("RGB", obs["rgb"], None), ("depth (near = bright)", dshow, "gray"),
             ("object mask", obs["object_mask"], "gray"), ("target part mask", obs["target_mask"], "gray"),
             ("normals (camera frame)", (obs["normals"] * 0.5 + 0.5) * valid[..., None], None)]
    fig, axes = plt.subplots(1, len(views), figsize=(3.2 * len(views), 3.7))
    for ax, (title, img, cmap) in zip(axes, views):
        ax.imshow(img, cmap=cmap, vmin=0, vmax=1 if cmap else None)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{info['object_id']}  target={info['target_link']} ({info['joint_type']})  "
                 f"scale={info['scale']:.2f}  seed={info['episode_seed']}\n{obs['prompt']}", fontsize=9)
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    cfg, _ = parse_config(SnapshotConfig, argv, "python -m sim_envs.snapshot", __doc__)
    from infra.files import save_figure

    from .cli import make_env_or_die, resolve_or_die
    from .config import PullEnvConfig

    resolve_or_die(cfg.category)
    options = {}
    if cfg.instance is not None:
        options["instance_id"] = cfg.instance if cfg.partnet_dir else int(cfg.instance)
    env_cfg = PullEnvConfig(task=cfg.category, split=cfg.split, partnet_dir=cfg.partnet_dir,
                            image_size=cfg.image_size)
    env, (obs, info) = make_env_or_die(env_cfg, seed=cfg.seed, options=options)
    save_figure(render_panel(obs, info), cfg.out, dpi=100)
    videos = [film_expert(env, cfg.seed + k, options, cfg.out, k) for k in range(cfg.record)]
    return done(f"wrote {cfg.out}: {info['object_id']} target {info['target_link']} ({info['joint_type']})"
                + "".join(f"\nwrote {v}" for v in videos))


def film_expert(env, seed: int, options: dict, out: str, k: int):
    """Reset to episode `seed`, pull with the privileged expert while filming; writes
    OUT_rollout_K.mp4 (and its annotated PNG) and returns the video's path."""
    from pathlib import Path

    from .recording import filmed_step, save_rollout

    obs, info = env.reset(seed=seed, options=options)
    action = env.unwrapped.privileged().expert_action(np.random.default_rng(seed))
    outcome, frames = filmed_step(env, action)
    return save_rollout(Path(out).with_name(f"{Path(out).stem}_rollout_{k}"), obs, action,
                        {**outcome, "episode": seed}, frames)


if __name__ == "__main__":
    raise SystemExit(main())

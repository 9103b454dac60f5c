"""Render what the agent sees: RGB, depth, object mask, target-part mask and normals side by side.

    python -m sim_envs.snapshot --category drawer --instance 3 --seed 0 --out snapshot.png
"""
from __future__ import annotations

import argparse
import io

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m sim_envs.snapshot", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--category", default="drawer", help="category name or alias (e.g. StorageFurniture, drawer, cabinet_door)")
    p.add_argument("--instance", default=None, help="instance id (procedural: integer; PartNet: folder name); default: sampled from the split")
    p.add_argument("--split", default="train", choices=["train", "test"], help="instance split to sample from")
    p.add_argument("--seed", type=int, default=0, help="episode seed (scale, joint state, target part, camera)")
    p.add_argument("--partnet-dir", default=None, help="PartNet-Mobility directory to load objects from instead of the generators")
    p.add_argument("--image-size", type=int, default=336, help="rendered image side in pixels")
    p.add_argument("--out", default="snapshot.png", help="output PNG path")
    return p.parse_args(argv)


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
    args = parse_args(argv)
    from .cli import atomic_write_bytes, die, make_env_or_die, resolve_or_die
    from .config import PullEnvConfig

    resolve_or_die(args.category)
    options = {}
    if args.instance is not None:
        options["instance_id"] = args.instance if args.partnet_dir else _int_or_die(args.instance, die)
    cfg = PullEnvConfig(task=args.category, split=args.split, partnet_dir=args.partnet_dir,
                        image_size=args.image_size)
    env, (obs, info) = make_env_or_die(cfg, seed=args.seed, options=options)
    fig = render_panel(obs, info)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write_bytes(args.out, buf.getvalue())
    print(f"wrote {args.out}: {info['object_id']} target {info['target_link']} ({info['joint_type']})")
    return 0


def _int_or_die(text, die):
    try:
        return int(text)
    except ValueError:
        die(f"--instance {text!r} must be an integer for procedural objects")


if __name__ == "__main__":
    raise SystemExit(main())

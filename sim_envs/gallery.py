"""Render instances of every category into one labelled PNG grid (a row per category).

    python -m sim_envs.gallery --categories all --instances 3 --out gallery.png
"""
from __future__ import annotations

import argparse
import io


STATES = {  # name -> (p_all_closed, p_joint_closed)
    "closed": (1.0, 1.0),
    "open": (0.0, 0.0),
    "sampled": (None, None),  # the benchmark's initial-state distribution
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m sim_envs.gallery", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--categories", default="all",
                   help="'all', 'all-seen', 'all-unseen' or a comma-separated list of categories/aliases")
    p.add_argument("--instances", type=int, default=3, help="instances per category (columns)")
    p.add_argument("--first", type=int, default=None,
                   help="first instance id (default: the first id of the split)")
    p.add_argument("--split", default="test", choices=["train", "test"], help="instance split")
    p.add_argument("--state", default="open", choices=sorted(STATES),
                   help="joint state: closed, open (every joint uniform in its range) or sampled "
                        "(the benchmark's 80%% all-closed distribution)")
    p.add_argument("--elevation", type=float, default=35.0, help="camera elevation, degrees")
    p.add_argument("--azimuth", type=float, default=205.0,
                   help="camera azimuth, degrees (180 = straight at the front)")
    p.add_argument("--distance", type=float, default=3.2,
                   help="camera distance in object size units (the benchmark samples 4.5-5.5)")
    p.add_argument("--tile", type=int, default=224, help="tile side in pixels")
    p.add_argument("--seed", type=int, default=0, help="episode seed (scale, joint state, target)")
    p.add_argument("--partnet-dir", default=None, help="render PartNet-Mobility objects from this directory instead")
    p.add_argument("--out", default="gallery.png", help="output PNG path")
    return p.parse_args(argv)


def render_tiles(env, tasks, n, first, split, seed):
    """(category, instance, rgb) for n instances of each task, in order."""
    from tqdm import tqdm

    src = env.unwrapped.source
    jobs = []
    for task in tasks:
        pool = [i for i in src.instances(task, split)
                if first is None or not isinstance(i, int) or i >= first]
        jobs += [(task, i) for i in pool[:n]]
    tiles = []
    for task, inst in tqdm(jobs, desc="rendering", unit="object"):
        obs, info = env.reset(seed=seed, options={"task": task.name, "instance_id": inst, "split": split})
        tiles.append((task.category, inst, obs["rgb"]))
    return tiles


def grid_figure(tiles, columns):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = -(-len(tiles) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.1 * columns, 2.25 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (cat, inst, rgb) in zip(axes.ravel(), tiles):
        ax.imshow(rgb)
        ax.set_title(f"{cat} #{inst}", fontsize=8)
    fig.tight_layout(pad=0.3)
    return fig


def main(argv=None) -> int:
    args = parse_args(argv)
    from .categories import UNSEEN
    from .cli import atomic_write_bytes, die, make_env_or_die, resolve_many_or_die
    from .config import PullEnvConfig

    if args.distance <= 0:
        die(f"--distance {args.distance}: must be > 0")
    if args.tile < 16:
        die(f"--tile {args.tile}: must be >= 16 pixels")
    tasks = resolve_many_or_die(args.categories, args.instances)
    if args.split == "train":
        tasks = [t for t in tasks if t.category not in UNSEEN]  # unseen categories have no train split
    p_all, p_joint = STATES[args.state]
    overrides = {} if p_all is None else dict(p_all_closed=p_all, p_joint_closed=p_joint)
    cfg = PullEnvConfig(task=tasks[0].name, split=args.split, partnet_dir=args.partnet_dir,
                        image_size=args.tile, elevation_range_deg=(args.elevation, args.elevation),
                        azimuth_range_deg=(args.azimuth, args.azimuth), distance_range=(args.distance, args.distance),
                        min_target_pixels=0, **overrides)
    env = make_env_or_die(cfg)
    try:
        tiles = render_tiles(env, tasks, args.instances, args.first, args.split, args.seed)
    except ValueError as e:
        die(str(e))
    finally:
        env.close()
    if not tiles:
        die(f"no {args.split} instances for {args.categories!r}")
    fig = grid_figure(tiles, args.instances if args.instances > 1 else min(6, len(tiles)))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write_bytes(args.out, buf.getvalue())
    print(f"wrote {args.out}: {len(tiles)} objects")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

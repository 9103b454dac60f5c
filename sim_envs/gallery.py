"""Render instances of every category into one labelled PNG grid (a row per category).

    python -m sim_envs.gallery --categories all --instances 3 --out out/gallery.png
"""
from __future__ import annotations

from dataclasses import dataclass

from infra.cli import check_at_least, check_choice, check_positive, done, option, parse_config

from .cli import categories_option, check_split, partnet_option, split_option

STATES = {  # name -> (p_all_closed, p_joint_closed)
    "closed": (1.0, 1.0),
    "open": (0.0, 0.0),
    "sampled": (None, None),  # the benchmark's initial-state distribution
}


@dataclass
class GalleryConfig:
    categories: str = categories_option()
    instances: int = option(3, "instances per category (columns, >= 1)")
    first: int | None = option(None, "first instance id; None = the first id of the split")
    split: str = split_option("test")
    state: str = option("open", "joint state: closed, open (every joint uniform in its range) or sampled "
                                "(the benchmark's 80%% all-closed distribution)")
    elevation: float = option(35.0, "camera elevation, degrees")
    azimuth: float = option(205.0, "camera azimuth, degrees (180 = straight at the front)")
    distance: float = option(3.2, "camera distance in object size units (> 0; the benchmark samples 4.5-5.5)")
    tile: int = option(224, "tile side in pixels (>= 16)")
    seed: int = option(0, "episode seed (scale, joint state, target)")
    partnet_dir: str | None = partnet_option()
    out: str = option("out/gallery.png", "output PNG path")

    def __post_init__(self):
        check_at_least(self, instances=1, tile=16)
        check_split(self)
        check_choice(self, "state", sorted(STATES))
        check_positive(self, "distance")


def render_tiles(env, tasks, n, first, split, seed):
    """(category, instance, rgb) for n instances of each task, in order."""
    from infra.progress import progress_bar

    src = env.unwrapped.source
    jobs = []
    for task in tasks:
        pool = [i for i in src.instances(task, split)
                if first is None or not isinstance(i, int) or i >= first]
        jobs += [(task, i) for i in pool[:n]]
    tiles = []
    for task, inst in progress_bar(jobs, desc="rendering", unit="object"):
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
    cfg, _ = parse_config(GalleryConfig, argv, "python -m sim_envs.gallery", __doc__)
    from infra.files import save_figure

    from .categories import UNSEEN
    from .cli import die, make_env_or_die, resolve_or_die
    from .config import PullEnvConfig

    tasks = resolve_or_die(cfg.categories, many=True)
    if cfg.split == "train":
        tasks = [t for t in tasks if t.category not in UNSEEN]  # unseen categories have no train split
    if not tasks:
        die(f"--categories {cfg.categories}: no {cfg.split} instances (unseen categories are test only)")
    p_all, p_joint = STATES[cfg.state]
    overrides = {} if p_all is None else dict(p_all_closed=p_all, p_joint_closed=p_joint)
    env_cfg = PullEnvConfig(task=tasks[0].name, split=cfg.split, partnet_dir=cfg.partnet_dir,
                            image_size=cfg.tile, elevation_range_deg=(cfg.elevation, cfg.elevation),
                            azimuth_range_deg=(cfg.azimuth, cfg.azimuth), distance_range=(cfg.distance, cfg.distance),
                            min_target_pixels=0, **overrides)
    env = make_env_or_die(env_cfg)
    try:
        tiles = render_tiles(env, tasks, cfg.instances, cfg.first, cfg.split, cfg.seed)
    except ValueError as e:
        die(str(e))
    finally:
        env.close()
    if not tiles:
        die(f"no {cfg.split} instances for {cfg.categories!r}")
    fig = grid_figure(tiles, cfg.instances if cfg.instances > 1 else min(6, len(tiles)))
    save_figure(fig, cfg.out, dpi=100)
    return done(f"wrote {cfg.out}: {len(tiles)} objects")


if __name__ == "__main__":
    raise SystemExit(main())

"""What is in a collected dataset: per-category counts and sampler rates, and a grid of examples.

    python -m data_collection.stats data/demos
    python -m data_collection.stats data/demos --examples 2 --out grid.png

Prints the table and writes `stats.csv` and `examples.png` into the dataset directory (or where
--csv / --out say). Each example shows the RGB image with the target part outlined, the contact
pixel (dot), the pull direction -up (red arrow) and the gripper's forward axis (yellow).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infra.cli import check_at_least, command_parser, done, option, parse_config

ARROW_M = 0.25  # drawn length of the direction arrows, metres (objects are about 1 m across)


def summary(root):
    """One row per task: demos, failures kept, trials, demo rate of the sampler, env success rate,
    mean |dq|, mean cosine; plus a total row."""
    import pandas as pd

    from .dataset import load_frame, read_manifest

    manifest = read_manifest(root)
    df = load_frame(root, columns=["task", "category", "dq", "cosine", "demo_success", "instance_id"])
    rows = []
    for task, entry in manifest["tasks"].items():
        d = df[df["task"] == task]
        demos = d[d["demo_success"]]
        rows.append({"task": task, "category": d["category"].iloc[0] if len(d) else "",
                     "demos": int(len(demos)), "requested": entry.get("samples_requested"),
                     "failures_kept": int((~d["demo_success"]).sum()), "trials": entry.get("trials"),
                     "demo_rate": entry.get("demo_rate"), "env_success_rate": entry.get("env_success_rate"),
                     "instances": int(demos["instance_id"].nunique()),
                     "mean_abs_dq": float(demos["dq"].abs().mean()) if len(demos) else float("nan"),
                     "mean_cosine": float(demos["cosine"].mean()) if len(demos) else float("nan")})
    table = pd.DataFrame(rows)
    if len(table):
        trials = table["trials"].fillna(0).sum()
        total = {"task": "TOTAL", "category": "", "demos": int(table["demos"].sum()),
                 "requested": int(table["requested"].fillna(0).sum()),
                 "failures_kept": int(table["failures_kept"].sum()), "trials": int(trials),
                 "demo_rate": table["demos"].sum() / trials if trials else float("nan"),
                 "env_success_rate": float(np.nansum(table["env_success_rate"].astype(float) *
                                                     table["trials"]) / trials)
                 if trials else float("nan"),
                 "instances": int(table["instances"].sum()),
                 "mean_abs_dq": float(df.loc[df["demo_success"], "dq"].abs().mean()),
                 "mean_cosine": float(df.loc[df["demo_success"], "cosine"].mean())}
        table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    return table


def project(K: np.ndarray, p_cam: np.ndarray) -> np.ndarray:
    """Image (x = col, y = row) coordinates, in imshow's convention (pixel centres at integers)."""
    from sim_envs.geometry import camera_to_pixel

    return camera_to_pixel(p_cam, K)[::-1] - 0.5


def draw_example(ax, row) -> None:
    """One sample: image, target outline, contact dot, pull (-up) and forward arrows."""
    from .dataset import decode_sample

    s = decode_sample(row)
    ax.imshow(s["rgb"])
    ax.contour(s["target_mask"].astype(float), levels=[0.5], colors=["cyan"], linewidths=0.6)
    K = s["intrinsics"].astype(np.float64)
    p = np.asarray(row["contact_point_cam"], dtype=np.float64)
    r, c = s["pixel"]
    ax.plot([c], [r], "o", ms=4, mfc="red", mec="white", mew=0.8)
    if np.all(np.isfinite(p)) and p[2] > 0:
        x0 = project(K, p)
        for vec, color in ((-s["up"], "red"), (s["forward"], "yellow")):
            x1 = project(K, p + ARROW_M * vec.astype(np.float64))
            ax.annotate("", xy=x1, xytext=x0, arrowprops=dict(arrowstyle="->", color=color, lw=1.4))
    _zoom(ax, s["object_mask"], (c, r))
    flag = "demo" if row["demo_success"] else "fail"
    ax.set_title(f"{row['task']} #{row['instance_id']} {flag}\n"
                 f"dq {row['dq']:+.2f}  cos {row['cosine']:.2f}", fontsize=7)
    ax.set_axis_off()


def _zoom(ax, mask: np.ndarray, point, margin: float = 0.35) -> None:
    """Crop the view to the object (the camera sees it at about a fifth of the image width)."""
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return
    r0, r1 = min(rows.min(), point[1]), max(rows.max(), point[1])
    c0, c1 = min(cols.min(), point[0]), max(cols.max(), point[0])
    half = max(r1 - r0, c1 - c0) * (0.5 + margin) + 4
    rc, cc = (r0 + r1) / 2, (c0 + c1) / 2
    ax.set_xlim(cc - half, cc + half)
    ax.set_ylim(rc + half, rc - half)


def example_grid(root, per_task: int = 2, max_tasks: int | None = None, tile: float = 2.2):
    """A matplotlib figure of the first `per_task` demos of each task (plus a kept failure each,
    if the dataset has failures)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .dataset import load_frame

    df = load_frame(root)
    picks = []
    for task in list(dict.fromkeys(df["task"]))[:max_tasks]:
        d = df[df["task"] == task]
        picks.append(d[d["demo_success"]].head(per_task))
        if (~d["demo_success"]).any():
            picks.append(d[~d["demo_success"]].head(1))
    import pandas as pd

    sel = pd.concat(picks) if picks else df.head(0)
    n = len(sel)
    cols = min(n, 8) or 1
    nrows = max(1, -(-n // cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(tile * cols, tile * nrows + 0.3), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, (_, row) in zip(axes.ravel(), sel.iterrows()):
        draw_example(ax, row)
    fig.tight_layout()
    return fig


@dataclass
class StatsConfig:
    examples: int = option(2, "demos drawn per category (0 = no example grid)")
    out: str | None = option(None, "example grid PNG; None = DIR/examples.png")
    csv: str | None = option(None, "table CSV; None = DIR/stats.csv")

    def __post_init__(self):
        check_at_least(self, examples=0)


def main(argv=None) -> int:
    p = command_parser("python -m data_collection.stats", __doc__)
    p.add_argument("dir", help="a dataset directory written by data_collection.run")
    cfg, args = parse_config(StatsConfig, argv, parser=p)
    from pathlib import Path

    from infra.cli import die
    from infra.files import atomic_write_text, save_figure

    from .dataset import list_shards, read_manifest

    try:
        manifest = read_manifest(args.dir)
    except FileNotFoundError as e:
        die(str(e))
    if not list_shards(args.dir):
        die(f"{args.dir}: the dataset has no shards yet")
    table = summary(args.dir)
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"status: {manifest.get('status')}  seed: {manifest['identity']['seed']}  "
          f"split: {manifest['identity']['split']}")
    csv = Path(cfg.csv or Path(args.dir) / "stats.csv")
    atomic_write_text(csv, table.to_csv(index=False))
    if cfg.examples > 0:
        png = Path(cfg.out or Path(args.dir) / "examples.png")
        save_figure(example_grid(args.dir, per_task=cfg.examples), png, dpi=110)
        return done(f"wrote {csv} and {png}")
    return done(f"wrote {csv}")


if __name__ == "__main__":
    raise SystemExit(main())

"""Write a collected dataset in another format: today LeRobot's (v3.0, read by `LeRobotDataset`).

    python -m data_collection.export --format lerobot data/demos out/demos_lerobot
    python -m data_collection.export --format lerobot data/demos out/demos_lerobot --demos-only

Each trial (row of the dataset) becomes a one-frame episode:
- `observation.image` (H, W, 3) RGB image, `observation.depth` (H, W, 1) float32 metres (0 = background),
  `observation.intrinsics` (9) and `observation.cam2world` (16), row-major, OpenCV camera;
- `action` (8): [row, col, up_x, up_y, up_z, fwd_x, fwd_y, fwd_z], the executed contact pixel and
  gripper axes in the camera frame (docs/protocol.md section 3);
- the prompt as the frame's `task`;
- `success`, `success_manipllm`, `demo_success` (bool), `dq`, `cosine` (float32) and `sample_id`
  (the source row, "<task>/<trial>") as extra fields.
`meta/robomamba_bench.json` maps each episode index to the trial's sample_id and episode_seed and keeps
the source manifest. The export is written to a hidden folder beside OUT and renamed into place when
complete, so OUT is either absent or whole; an existing OUT is refused.

Needs LeRobot (`pip install -e .[lerobot]` then `pip install --no-deps lerobot==0.4.4`: LeRobot pins
an older torch than this project, and its dataset code runs with this one; README, "LeRobot export").
"""
from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.cli import ConfigBase, command_parser, die, option, parse_config

FORMATS = ("lerobot",)
LEROBOT_INSTALL = "pip install -e '.[lerobot]' && pip install --no-deps lerobot==0.4.4"
ACTION_NAMES = ["row", "col", "up_x", "up_y", "up_z", "fwd_x", "fwd_y", "fwd_z"]


@dataclass
class ExportConfig(ConfigBase):
    format: str = option("lerobot", "output format", choices=FORMATS)
    repo_id: str = option(None, "the dataset's repo_id in LeRobot's metadata; None = robomamba-bench/<OUT's name>")
    demos_only: bool = option(False, "export only the trials that passed the demo filter (default: every trial)")
    quiet: bool = option(False, "no progress bar")


def features(height: int, width: int) -> dict:
    """LeRobot feature spec of an exported frame."""
    f32 = lambda shape, names: {"dtype": "float32", "shape": shape, "names": names}  # noqa: E731
    flag = {"dtype": "bool", "shape": (1,), "names": None}
    return {
        "observation.image": {"dtype": "image", "shape": (height, width, 3), "names": ["height", "width", "channels"]},
        "observation.depth": f32((height, width, 1), ["height", "width", "channels"]),
        "observation.intrinsics": f32((9,), None),
        "observation.cam2world": f32((16,), None),
        "action": f32((8,), ACTION_NAMES),
        "success": flag, "success_manipllm": flag, "demo_success": flag,
        "dq": f32((1,), None), "cosine": f32((1,), None),
        "sample_id": {"dtype": "string", "shape": (1,), "names": None},
    }


def frame_of(row) -> dict:
    """The LeRobot frame of one dataset row (data_collection.dataset.SCHEMA)."""
    import numpy as np

    from .dataset import decode_depth, decode_png

    f32 = lambda v: np.asarray(v, dtype=np.float32)  # noqa: E731
    action = np.concatenate([f32(row["contact_pixel"]), f32(row["up_cam"]), f32(row["forward_cam"])])
    return {"observation.image": decode_png(row["rgb_png"]),
            "observation.depth": decode_depth(row["depth_png"], row["depth_scale"]).astype(np.float32)[..., None],
            "observation.intrinsics": f32(row["intrinsics"]), "observation.cam2world": f32(row["cam2world"]),
            "action": action, "success": np.array([bool(row["success"])]),
            "success_manipllm": np.array([bool(row["success_manipllm"])]),
            "demo_success": np.array([bool(row["demo_success"])]), "dq": f32([row["dq"]]),
            "cosine": f32([row["cosine"]]),
            "sample_id": str(row["sample_id"]), "task": str(row["prompt"])}


SCALARS = ("success", "success_manipllm", "demo_success", "dq", "cosine")


def export_lerobot(data: str, out: str, repo_id: str | None = None, demos_only: bool = False,
                   progress: bool = True) -> Path:
    """Write dataset `data` to `out` as a LeRobot dataset (see module doc); returns `out`."""
    import datasets
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from infra.files import atomic_write_text
    from infra.progress import progress_bar

    from .dataset import load_frame, read_manifest

    out = Path(out)
    df = load_frame(data, successes_only=demos_only)
    df = df[df["executed"]]
    if not len(df):
        raise ValueError(f"{data}: no {'demos' if demos_only else 'executed trials'} to export")
    sizes = df[["height", "width"]].drop_duplicates()
    if len(sizes) != 1:
        raise ValueError(f"{data}: images of several sizes ({sizes.values.tolist()}); export one size at a time")
    datasets.disable_progress_bars()  # one bar per episode otherwise; ours counts the trials
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)  # an interrupted export starts afresh
    repo_id = repo_id or f"robomamba-bench/{out.name}"
    ds = LeRobotDataset.create(repo_id=repo_id, fps=1, root=tmp, robot_type="floating_suction_gripper",
                               features=features(int(sizes.height.iloc[0]), int(sizes.width.iloc[0])),
                               use_videos=False)
    episodes = []
    try:
        for _, row in progress_bar(df.iterrows(), total=len(df), desc="exporting", unit="trial", disable=not progress):
            ds.add_frame(frame_of(row))
            for k in SCALARS:  # validated as shape (1,); stored as a scalar per frame, which is what LeRobot's
                ds.episode_buffer[k][-1] = ds.episode_buffer[k][-1].reshape(())  # stats expect (numpy >= 2.4)
            ds.save_episode()
            episodes.append({"episode_index": len(episodes), "sample_id": row["sample_id"],
                             "episode_seed": int(row["episode_seed"]), "category": row["category"]})
        ds.finalize()
        if (tmp / "images").is_dir() and not any((tmp / "images").rglob("*.png")):
            shutil.rmtree(tmp / "images")  # LeRobot's staging folder for the PNGs, now embedded in the Parquet
        atomic_write_text(tmp / "meta" / "robomamba_bench.json", json.dumps(
            {"source": str(Path(data).resolve()), "demos_only": demos_only, "episodes": episodes,
             "action_names": ACTION_NAMES, "manifest": read_manifest(data)}, indent=1, default=str) + "\n")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def main(argv=None) -> int:
    parser = command_parser("python -m data_collection.export", __doc__)
    parser.add_argument("data", help="a collected dataset directory (data_collection.run --out)")
    parser.add_argument("out", help="the new dataset's directory (must not exist)")
    cfg, args = parse_config(ExportConfig, argv, parser=parser)
    from .dataset import read_manifest

    try:
        read_manifest(args.data)
    except FileNotFoundError as e:
        die(f"DIR {args.data}: {e}")
    if Path(args.out).exists():
        die(f"OUT {args.out}: exists; give a new directory (nothing was written)")
    try:
        import lerobot.datasets.lerobot_dataset  # noqa: F401
    except ImportError as e:
        die(f"--format lerobot needs LeRobot ({e}); install it with: {LEROBOT_INSTALL}")
    try:
        out = export_lerobot(args.data, args.out, cfg.repo_id, cfg.demos_only, progress=not cfg.quiet)
    except (ValueError, FileNotFoundError) as e:
        die(f"DIR {args.data}: {e}")
    meta = json.loads((out / "meta" / "info.json").read_text())
    print(f"wrote {meta['total_episodes']} episodes ({meta['total_frames']} frames) to {out} (LeRobot "
          f"{meta['codebase_version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The demo dataset on disk: Parquet shards + manifest.json, and readers (the torch Dataset over it is
data_collection.torch_dataset, kept apart so collection never imports torch).

Layout of a dataset directory::

    manifest.json                      config, versions, seeds, per-task counts (data_collection.collect)
    shards/<task>/block-000000.parquet one shard per block of consecutive trials of one task

Every shard is written to a hidden temp file and renamed into place, so a reader (pyarrow and pandas
skip names that start with '.') never sees a partial file. A shard's Parquet key-value metadata
(`BLOCK_KEY`) says which trials it covers and how many of them passed the demo filter, so an empty
shard still records the trials it ran.

Images are stored as PNG bytes: `rgb_png` (8-bit RGB), `depth_png` (16-bit; metres = value /
`depth_scale`, 0 = background), `object_mask_png` and `target_mask_png` (1-bit), and the joint labels'
`link_map_png` (16-bit link index, sim_envs.joints) beside `joints_json` (every movable joint). Directions are in
the OpenCV camera frame (`*_cam`: x right, y down, z forward) and in the world frame (`*_world`).
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BLOCK_KEY = b"robomamba_bench.block"
SHARDS = "shards"
DEPTH_SCALE = 1000.0  # depth PNG units per metre (1 mm steps up to 65.5 m)

_f3 = pa.list_(pa.float32(), 3)
SCHEMA = pa.schema([
    ("sample_id", pa.string()),  # "<task>/<trial>", unique in a dataset
    ("task", pa.string()),  # what was collected: a category or an alias such as "drawer"
    ("category", pa.string()),
    ("split", pa.string()),
    ("instance_id", pa.string()),
    ("object_id", pa.string()),
    ("object_source", pa.string()),
    ("seed", pa.int64()),  # the collection's master seed
    ("trial", pa.int64()),  # trial index within the task
    ("episode_seed", pa.int64()),  # env.reset(seed=episode_seed, options={task, split}) replays it
    ("target_joint", pa.string()),
    ("target_link", pa.string()),
    ("joint_type", pa.string()),
    ("joint_range", pa.float32()),
    ("scale", pa.float32()),
    ("height", pa.int32()),
    ("width", pa.int32()),
    ("rgb_png", pa.binary()),
    ("depth_png", pa.binary()),
    ("depth_scale", pa.float32()),
    ("object_mask_png", pa.binary()),
    ("target_mask_png", pa.binary()),
    ("intrinsics", pa.list_(pa.float32(), 9)),  # row-major 3x3
    ("cam2world", pa.list_(pa.float32(), 16)),  # row-major 4x4, OpenCV camera -> world
    ("prompt", pa.string()),
    ("contact_pixel", pa.list_(pa.int32(), 2)),  # (row, col)
    ("contact_point_cam", _f3),
    ("contact_point_world", _f3),
    ("up_cam", _f3),
    ("forward_cam", _f3),
    ("up_world", _f3),
    ("forward_world", _f3),
    ("executed", pa.bool_()),  # the pull ran (valid scene, a contact pixel was sampled)
    ("dq", pa.float32()),
    ("cosine", pa.float32()),
    ("contact", pa.bool_()),
    ("attached_link", pa.string()),
    ("failure_reason", pa.string()),
    ("success", pa.bool_()),  # RoboMamba criterion
    ("success_manipllm", pa.bool_()),  # ManipLLM criterion
    ("demo_success", pa.bool_()),  # the data-collection filter (docs/protocol.md section 5)
    ("info_json", pa.string()),  # the environment's whole info dict for this episode
    # joint labels at the observation (sim_envs.joints; privileged, for training only)
    ("link_map_png", pa.binary()),  # 16-bit: 0 = no object link, else 1 + the link's index
    ("joints_json", pa.string()),  # every movable joint: type, dof, link, moves, origin/axis (world), q, limits
])
JOINT_LABEL_COLUMNS = ["link_map_png", "joints_json"]
LABEL_COLUMNS = ["sample_id", "task", "category", "instance_id", "episode_seed", "target_joint",
                 "contact_pixel", "up_cam", "forward_cam", "up_world", "forward_world", "dq", "cosine",
                 "success", "success_manipllm", "demo_success"]


# ---------------------------------------------------------------------------------------- PNG codec
def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8, (H, W) uint16 or (H, W) bool image."""
    from PIL import Image

    a = np.ascontiguousarray(array)
    if a.dtype == np.bool_:
        img = Image.fromarray(a).convert("1")
    elif a.dtype == np.uint16:
        img = Image.fromarray(a) if a.ndim == 2 else None
    elif a.dtype == np.uint8:
        img = Image.fromarray(a)
    else:
        img = None
    if img is None:
        raise TypeError(f"cannot encode {a.dtype} {a.shape} as PNG; use uint8 RGB, uint16 or bool")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """The array encode_png stored: uint8 RGB, uint16 depth or bool mask."""
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    if img.mode == "1":
        return np.array(img, dtype=bool)
    if img.mode.startswith("I"):
        return np.array(img).astype(np.uint16)
    return np.array(img.convert("RGB"), dtype=np.uint8)


def encode_depth(depth_m: np.ndarray) -> bytes:
    return encode_png(np.clip(np.round(depth_m * DEPTH_SCALE), 0, 65535).astype(np.uint16))


def decode_depth(data: bytes, depth_scale: float = DEPTH_SCALE) -> np.ndarray:
    return decode_png(data).astype(np.float32) / np.float32(depth_scale)


# ---------------------------------------------------------------------------------------- shards
def shard_path(root, task: str, block: int) -> Path:
    return Path(root) / SHARDS / task / f"block-{block:06d}.parquet"


def write_shard(path, rows: list[dict], block_meta: dict) -> None:
    """Write rows (dicts with SCHEMA's columns) and the block's metadata atomically."""
    from infra.files import atomic_path

    table = pa.Table.from_pylist(rows, schema=SCHEMA) if rows else SCHEMA.empty_table()
    table = table.replace_schema_metadata({BLOCK_KEY: json.dumps(block_meta).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_block_meta(path) -> dict:
    """The block metadata of one shard (reads the footer only)."""
    meta = pq.read_schema(path).metadata or {}
    if BLOCK_KEY not in meta:
        raise ValueError(f"{path}: not a data_collection shard (no block metadata)")
    return json.loads(meta[BLOCK_KEY])


def list_shards(root, task: str | None = None) -> list[Path]:
    base = Path(root) / SHARDS
    pattern = f"{task}/block-*.parquet" if task else "*/block-*.parquet"
    return sorted(base.glob(pattern))


def remove_stale_temp_files(root) -> int:
    """Delete temp files left by a writer that was killed; returns how many."""
    n = 0
    for p in (Path(root) / SHARDS).glob("*/.block-*"):
        p.unlink(missing_ok=True)
        n += 1
    return n


# ---------------------------------------------------------------------------------------- readers
def read_manifest(root) -> dict:
    path = Path(root) / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{root}: no manifest.json (not a data_collection dataset)")
    return json.loads(path.read_text())


def load_frame(root, columns: list[str] | None = None, successes_only: bool = False):
    """All samples as a pandas DataFrame, in (task order of the manifest, trial) order.

    Plain pandas works too: `pd.read_parquet(root + "/shards")`.
    """
    import pandas as pd

    paths = list_shards(root)
    if not paths:
        raise FileNotFoundError(f"{root}: no shards under {Path(root) / SHARDS}")
    cols = None if columns is None else list(dict.fromkeys([*columns, "task", "trial", "demo_success"]))
    df = pd.concat([pq.read_table(p, columns=cols).to_pandas() for p in paths], ignore_index=True)
    if successes_only:
        df = df[df["demo_success"]]
    try:
        order = list(read_manifest(root).get("tasks", {}))
    except FileNotFoundError:
        order = []
    rank = {t: i for i, t in enumerate(order)}
    df = df.assign(_rank=df["task"].map(lambda t: rank.get(t, len(rank))))
    df = df.sort_values(["_rank", "task", "trial"], kind="stable").drop(columns="_rank")
    df = df.reset_index(drop=True)
    return df if columns is None else df[list(dict.fromkeys(columns))]


def decode_sample(row) -> dict:
    """Arrays of one row (a pandas row or dict): images decoded, labels as numpy arrays."""
    from sim_envs.geometry import gram_schmidt

    up = np.array(row["up_cam"], dtype=np.float32)
    fw = np.array(row["forward_cam"], dtype=np.float32)
    return {
        "rgb": decode_png(row["rgb_png"]),
        "depth": decode_depth(row["depth_png"], row["depth_scale"]),
        "object_mask": decode_png(row["object_mask_png"]),
        "target_mask": decode_png(row["target_mask_png"]),
        "intrinsics": np.array(row["intrinsics"], dtype=np.float32).reshape(3, 3),
        "cam2world": np.array(row["cam2world"], dtype=np.float32).reshape(4, 4),
        "pixel": np.array(row["contact_pixel"], dtype=np.float32),
        "up": up,
        "forward": fw,
        "rotation": gram_schmidt(up, fw).astype(np.float32),
    }


def require_joint_labels(root, columns) -> None:
    """ValueError (one line) when a dataset predates the joint labels (format v1)."""
    missing = [c for c in JOINT_LABEL_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"{root}: no joint labels ({', '.join(missing)}): it was collected before they were "
                         f"recorded (format v1); collect it again with python -m data_collection.run")

"""Collected demos as in-memory training arrays (decoded once; training epochs never touch PNGs).

Shared by the trainers of every learned agent. A fixed fraction of object instances is held out
(by a hash of the instance, so the split does not depend on the dataset's order or size) for the
validation figures the trainers report.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .frames import FRAMES
from .views import View, crop_box, cut, targets

LABELS = ["sample_id", "task", "category", "instance_id", "joint_type", "prompt", "contact_pixel", "up_cam",
          "forward_cam", "up_world", "forward_world", "demo_success", "height", "width"]


@dataclass
class Decoded:
    """Per-sample arrays at the trainer's resolution, plus the label frame (no image bytes)."""
    frame: object  # pandas DataFrame with LABELS
    rgb: np.ndarray  # (N, S, S, 3) uint8, resized to the trainer's image size
    on_part: np.ndarray | None  # (N, grid, grid) bool: target-link mask at a grid's cell centres (given a grid)
    depth: np.ndarray | None  # (N, S, S) float32 metres, with_masks only
    object_mask: np.ndarray | None  # (N, S, S) bool, with_masks only
    target_mask: np.ndarray | None  # (N, S, S) bool, with_masks only
    normals: np.ndarray | None  # (N, S, S, 3) float32 camera-frame normals from depth, with_masks only
    holdout: np.ndarray  # (N,) bool: the sample's instance is held out for validation
    boxes: np.ndarray | None = None  # (N, 4) top, left, height, width: the part of each image the arrays show
    surface: np.ndarray | None = None  # (N, 3, 3) surface frame at each contact pixel (agents.frames)

    def __len__(self) -> int:
        return len(self.frame)


def is_holdout(task: str, instance_id: str, fraction: float) -> bool:
    return (zlib.crc32(f"{task}/{instance_id}".encode()) % 1000) < fraction * 1000


def resize(img: np.ndarray, size: int, nearest: bool = False) -> np.ndarray:
    from PIL import Image

    if img.shape[0] == size and img.shape[1] == size:
        return img
    if img.dtype == np.bool_:
        return np.array(Image.fromarray(img).resize((size, size), Image.NEAREST), dtype=bool)
    if img.dtype == np.float32:
        return np.array(Image.fromarray(img, mode="F").resize((size, size), Image.NEAREST), dtype=np.float32)
    return np.array(Image.fromarray(img).resize((size, size), Image.NEAREST if nearest else Image.BILINEAR))


def centre_crop(img: np.ndarray, fraction: float) -> np.ndarray:
    """The centre crop keeping `fraction` of each side of an (H, W, ...) image; the image itself at 1."""
    if fraction == 1:
        return img
    t, left, h, w = crop_box(img.shape[0], img.shape[1], fraction)
    return img[t: t + h, left: left + w]


def uncrop_pixel(pos, height: int, width: int, fraction: float) -> tuple[int, int]:
    """A position in [0, 1]^2 of the centre crop -> the (row, col) of the full image's pixel holding it."""
    t, left, h, w = crop_box(height, width, fraction)
    return (t + min(h - 1, max(0, int(float(pos[0]) * h))), left + min(w - 1, max(0, int(float(pos[1]) * w))))


def grid_cell_centres(height: int, width: int, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the centre pixels of a grid x grid partition of an image."""
    rows = ((np.arange(grid) + 0.5) * height / grid).astype(int)
    cols = ((np.arange(grid) + 0.5) * width / grid).astype(int)
    return rows, cols


def load(root, image_size: int, successes_only: bool = True, holdout_fraction: float = 0.1,
         with_masks: bool = False, grid: int | None = None, progress: bool = True, crop: float = 1.0,
         view: View | None = None, extra: tuple = (), surface: bool = False) -> Decoded:
    """Decode a collected dataset (data_collection) into arrays at `image_size`; `with_masks` adds
    depth and the object and target masks at that size; `grid` adds the target mask sampled at the
    centres of a grid x grid partition (`on_part`). The arrays show each image's `view` (agents.views;
    default: the centre crop keeping `crop` of each side, the whole image at 1), `on_part` included;
    `boxes` says where each view lies in its image, and the frame's pixels stay in full-image
    coordinates (pixel_targets maps them). `extra`: dataset columns the frame carries beside LABELS.
    `surface` adds each sample's surface frame at its contact pixel, from the full-resolution depth."""
    from data_collection.dataset import decode_depth, decode_png, load_frame
    from infra.progress import progress_bar

    from .frames import surface_basis

    view = view or View("image", crop)
    with_object = with_masks or view.needs_mask
    labels = list(dict.fromkeys(LABELS + list(extra)))
    cols = labels + ["rgb_png", "target_mask_png"] + (["object_mask_png"] if with_object else []) + (
        ["depth_png", "depth_scale", "intrinsics"] if with_masks or surface else [])
    df = load_frame(root, columns=cols, successes_only=successes_only)
    if not len(df):
        raise ValueError(f"{root}: no {'successful ' if successes_only else ''}samples to train on")
    n = len(df)
    rgb = np.empty((n, image_size, image_size, 3), np.uint8)
    on_part = np.empty((n, grid, grid), bool) if grid else None
    depth, obj, tgt = ((np.empty((n, image_size, image_size), t) for t in (np.float32, bool, bool)) if with_masks
                       else (None, None, None))
    normals = np.empty((n, image_size, image_size, 3), np.float32) if with_masks else None
    boxes = np.empty((n, 4), np.int64)
    bases = np.empty((n, 3, 3), np.float64) if surface else None
    for i, row in enumerate(progress_bar(df.itertuples(index=False), total=n, desc="decode", disable=not progress,
                                         leave=False)):
        image = decode_png(row.rgb_png)
        object_mask = decode_png(row.object_mask_png) if with_object else None
        boxes[i] = box = view.box(*image.shape[:2], object_mask)
        rgb[i] = resize(cut(image, box), image_size)
        mask = cut(decode_png(row.target_mask_png), box)
        if grid:
            on_part[i] = mask[np.ix_(*grid_cell_centres(*mask.shape, grid))]
        d = decode_depth(row.depth_png, row.depth_scale) if with_masks or surface else None
        if surface:
            bases[i] = surface_basis(d, np.asarray(row.intrinsics, np.float64).reshape(3, 3), *row.contact_pixel)
        if with_masks:
            n3 = cut(depth_normals(d, np.asarray(row.intrinsics, np.float64).reshape(3, 3)), box)
            depth[i] = resize(cut(d, box), image_size)
            normals[i] = np.stack([resize(np.ascontiguousarray(n3[..., k]), image_size) for k in range(3)], -1)
            obj[i] = resize(cut(object_mask, box), image_size)
            tgt[i] = resize(mask, image_size)
    hold = np.array([is_holdout(t, str(k), holdout_fraction) for t, k in zip(df["task"], df["instance_id"])])
    frame = df[labels].reset_index(drop=True)
    return Decoded(frame, rgb, on_part, depth, obj, tgt, normals, hold, boxes, bases)


def depth_normals(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame normals (H, W, 3) from a depth image, as the environment's `normals` observation
    computes them from its point map."""
    from sim_envs.geometry import normals_from_points, point_map

    return normals_from_points(point_map(depth, K).astype(np.float32), depth > 0)


def dataset_summary(root) -> dict:
    """What a checkpoint records of the dataset it was trained on: master seed and demos per task."""
    from data_collection.dataset import read_manifest

    try:
        m = read_manifest(root)
    except FileNotFoundError:
        return {}
    return {"seed": m.get("identity", {}).get("seed"),
            "tasks": {k: v.get("demos") for k, v in m.get("tasks", {}).items()}}


def pixel_targets(frame, crop: float = 1.0, boxes: np.ndarray | None = None) -> np.ndarray:
    """(N, 2) contact pixel centres normalised to [0, 1]: ((row + 0.5) / H, (col + 0.5) / W), or with
    `crop` < 1 to the centre crop's frame, or to each sample's view `boxes` (Decoded.boxes); outside
    [0, 1] when the contact lies outside the crop."""
    px = np.stack(frame["contact_pixel"].to_numpy()).astype(np.float32)
    hw = frame[["height", "width"]].to_numpy().astype(np.float32)
    if boxes is None and crop == 1:
        return (px + 0.5) / hw
    if boxes is None:
        boxes = np.array([crop_box(int(h), int(w), crop) for h, w in hw])
    return targets(px, boxes)


def rotation_targets(frame, in_frame: str = "camera", surface: np.ndarray | None = None) -> np.ndarray:
    """(N, 3, 3) gripper rotations, columns [forward, up x forward, up], in the camera frame, the world
    frame (`in_frame` 'world': z up, the objects' fronts facing -x) or each sample's surface frame
    (`in_frame` 'surface': Decoded.surface, agents.frames)."""
    from sim_envs.geometry import gram_schmidt

    if in_frame not in FRAMES:
        raise ValueError(f"in_frame={in_frame!r}: allowed: {', '.join(FRAMES)}")
    suffix = "world" if in_frame == "world" else "cam"
    R = np.stack([gram_schmidt(u, f) for u, f in zip(frame[f"up_{suffix}"], frame[f"forward_{suffix}"])])
    if in_frame == "surface":
        if surface is None:
            raise ValueError("rotation targets in the surface frame need the samples' surface frames "
                             "(training_data.load(..., surface=True))")
        R = np.einsum("nji,njk->nik", surface, R)  # S^T R_cam
    return R.astype(np.float32)

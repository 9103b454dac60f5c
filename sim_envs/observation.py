"""What an agent sees: one RGB-D picture of the scene with its masks, intrinsics and pose, and the
prompt (docs/protocol.md section 2).

Rendering reads SAPIEN's `Color` and `PositionSegmentation` pictures of the task camera: the camera-frame
point of every pixel (mm in the GL frame, converted to metres in the OpenCV frame: x right, y down,
z forward), its depth, and the per-pixel entity ids that give the object and target-part masks.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from .geometry import GL_FROM_CV, normals_from_points

TEXT_CHARSET = "".join(chr(c) for c in range(32, 127))


def observation_space(image_size: int) -> gym.spaces.Dict:
    s = image_size

    def img(ch, dt, hi):
        return gym.spaces.Box(0, hi, (s, s, ch) if ch else (s, s), dt)

    return gym.spaces.Dict({
        "rgb": img(3, np.uint8, 255),
        "depth": img(0, np.float32, np.inf),
        "object_mask": img(0, np.bool_, 1),
        "target_mask": img(0, np.bool_, 1),
        "normals": gym.spaces.Box(-1, 1, (s, s, 3), np.float32),
        "intrinsics": gym.spaces.Box(-np.inf, np.inf, (3, 3), np.float32),
        "cam2world": gym.spaces.Box(-np.inf, np.inf, (4, 4), np.float32),
        "category": gym.spaces.Text(64, charset=TEXT_CHARSET),
        "prompt": gym.spaces.Text(256, charset=TEXT_CHARSET),
    })


def render(scene, camera, object_ids, part_ids, category: str, prompt: str) -> tuple[dict, np.ndarray, np.ndarray]:
    """(observation, camera-frame points (H, W, 3), per-pixel render ids (H, W)) of the current scene;
    `object_ids` / `part_ids`: the per-scene ids of the object's and the target part's link entities."""
    scene.update_render()
    camera.take_picture()
    rgba = camera.get_picture("Color")
    pos_seg = camera.get_picture("PositionSegmentation")  # int16: xyz (mm, GL frame), seg id
    rgb = np.ascontiguousarray(rgba[..., :3])
    if rgb.dtype != np.uint8:
        rgb = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    pts = (pos_seg[..., :3].astype(np.float32) / 1000.0) @ GL_FROM_CV.astype(np.float32)
    seg = pos_seg[..., 3].astype(np.int64)
    depth = np.where(pts[..., 2] > 0, pts[..., 2], 0).astype(np.float32)
    object_mask = np.isin(seg, object_ids) & (depth > 0)
    target_mask = np.isin(seg, part_ids) & (depth > 0)
    model = camera.get_model_matrix()  # cam2world, GL axes
    cam2world = model.copy()
    cam2world[:3, :3] = model[:3, :3] @ GL_FROM_CV
    obs = {
        "rgb": rgb,
        "depth": depth,
        "object_mask": object_mask,
        "target_mask": target_mask,
        "normals": normals_from_points(pts, depth > 0),
        "intrinsics": np.asarray(camera.get_intrinsic_matrix(), dtype=np.float32),
        "cam2world": cam2world.astype(np.float32),
        "category": category,
        "prompt": prompt,
    }
    return obs, pts, seg

"""What `reset(seed)` samples (docs/protocol.md section 2), and the record of it (`EpisodeInfo`).

The draws come from one generator per attempt, `default_rng([seed, attempt])`, in a fixed order:
the instance, the scale, the initial joint state, the target joint, the camera. An attempt whose scene
does not settle, or whose target part shows fewer than `min_target_pixels`, is drawn again with the
next attempt number (counted in the info).
"""
from __future__ import annotations

from typing import TypedDict

import numpy as np
import sapien

from .geometry import look_at_cv, quat_wxyz


class EpisodeInfo(TypedDict, total=False):
    """The episode part of the environment's info (and of an evaluation record)."""

    task: str  # the task name given to reset (a category or an alias)
    category: str  # the object's paper category
    joint_type_filter: str | None  # the alias's joint type ('prismatic' for drawer), None: any
    split: str  # instance split: 'train' or 'test'
    object_source: str  # 'procedural' or 'partnet'
    object_id: str  # '<category>/<instance>' (procedural) or the PartNet-Mobility id
    instance_id: int | str
    scale: float
    all_closed: bool  # every joint started at its lower limit
    qpos_init: list[float]  # the sampled joint state
    target_joint: str
    target_link: str
    target_label: str  # the part's semantic label where the source has one
    joint_type: str  # 'prismatic' or 'revolute'
    joint_limits: list[float]
    camera_distance: float  # m
    camera_elevation_deg: float
    camera_azimuth_deg: float
    camera_eye: list[float]  # world position of the camera
    fov_deg: float
    prompt: str
    episode_seed: int
    attempt: int  # the attempt that gave a valid scene
    settle_resamples: int  # attempts dropped because the scene did not come to rest
    visibility_resamples: int  # attempts dropped because the target part showed too few pixels
    target_pixels: int
    object_pixels: int
    qpos_settled: list[float]  # the joint state in the picture (after settling under gravity)


def pick_instance(rng, pool: list, opts: dict, task, split: str):
    """An instance of `pool` (one draw, also when `opts` pins `instance_id`, so later draws stay the same)."""
    instance = pool[int(rng.integers(len(pool)))]
    if "instance_id" in opts:
        instance = opts["instance_id"]
        if instance not in pool:
            shown = ", ".join(map(str, list(pool)[:20])) + (" ..." if len(pool) > 20 else "")
            raise ValueError(f"instance_id {instance!r} is not a {split} instance of {task.name!r} "
                             f"with a {task.joint_type or 'movable'} part; allowed: {shown}")
    return instance


def initial_joint_state(rng, obj, cfg) -> tuple[np.ndarray, bool]:
    """(joint state, all closed?): every joint at its lower limit with p_all_closed, else each joint
    closed with p_joint_closed or uniform in its range."""
    q = obj.qpos()
    all_closed = bool(rng.random() < cfg.p_all_closed)
    for j in obj.joints:
        lo, hi = j.limits
        q[j.dof] = lo if all_closed or rng.random() < cfg.p_joint_closed else rng.uniform(lo, hi)
    return q, all_closed


def pick_target(rng, obj, task, opts: dict):
    """The target joint: uniform among the object's joints of the task's type (`opts` may pin one by name)."""
    candidates = obj.joints_of_type(task.joint_type)
    if not candidates:
        raise ValueError(f"{obj.object_id} has no {task.joint_type or 'movable'} joint with finite limits")
    if "target_joint" in opts:
        chosen = [j for j in candidates if j.name == opts["target_joint"]]
        if not chosen:
            raise ValueError(f"target_joint {opts['target_joint']!r} is not a candidate joint of "
                             f"{obj.object_id}; allowed: {', '.join(j.name for j in candidates)}")
        candidates = chosen
    return candidates[int(rng.integers(len(candidates)))]


def sample_camera(rng, cfg) -> tuple[dict, sapien.Pose]:
    """(camera info, camera pose): distance, elevation and azimuth uniform in their ranges, looking at
    the object's centre (the origin)."""
    dist = float(rng.uniform(*cfg.distance_range))
    elev = float(rng.uniform(*cfg.elevation_range_deg))
    azim = float(rng.uniform(*cfg.azimuth_range_deg))
    e, a = np.deg2rad(elev), np.deg2rad(azim)
    eye = dist * np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
    T = look_at_cv(eye, np.zeros(3))
    R_sapien = np.stack([T[:3, 2], -T[:3, 0], -T[:3, 1]], axis=1)  # forward, left, up
    info = {"camera_distance": dist, "camera_elevation_deg": elev, "camera_azimuth_deg": azim,
            "camera_eye": eye.tolist(), "fov_deg": cfg.fov_deg}
    return info, sapien.Pose(list(eye), list(quat_wxyz(R_sapien)))

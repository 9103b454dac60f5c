"""Data collection (docs/protocol.md): one sampled interaction ("trial") and the filter that makes it a demo.

A trial: reset the environment with the trial's seed (instance, scale, joint state, target part and
camera all follow from it), draw a contact pixel from the affordance map of the target part, set
`up` = minus the true surface normal plus Gaussian noise and `forward` = a random unit vector
orthogonal to `up`, and execute the pull. It is a demo when the target joint moved
(|dq| > keep_dq or |dq| / range > keep_range_fraction) along the pull (cosine > keep_cosine).
"""
from __future__ import annotations

import json
import zlib

import numpy as np

from infra.files import json_default
from sim_envs.geometry import camera_to_world, lift_pixel, orthonormal_forward, random_forward, unit, world_to_camera

from .config import CollectConfig
from .dataset import DEPTH_SCALE, encode_depth, encode_png

ACTION_STREAM = 0x5A3D  # separates the action's random stream from the environment's


def trial_seed(seed: int, task: str, trial: int) -> int:
    """Episode seed of trial `trial` of `task`: the same for every worker count and run order."""
    ss = np.random.SeedSequence([int(seed), zlib.crc32(task.encode()), int(trial)])
    return int(ss.generate_state(1, dtype=np.uint32)[0] >> 1)


def is_demo(info: dict, cfg: CollectConfig) -> bool:
    """The data-collection filter: the pull moved the target part (sim_envs: `pulled`) enough, in
    the pulled direction."""
    if not info.get("pulled", False):
        return False
    adq = abs(float(info["dq"]))
    rng = float(info.get("joint_range") or 0.0)
    moved = adq > cfg.keep_dq or (rng > 0 and adq / rng > cfg.keep_range_fraction)
    return bool(moved and float(info["cosine"]) > cfg.keep_cosine)


DIRECTIONS = ("expert", "hemisphere")


def sample_action(env, episode_seed: int, noise_deg: float, directions: str = "expert") -> np.ndarray:
    """[row, col, up(3), forward(3)] in the camera frame from the privileged view; NaN if the
    target part shows no affordance pixel. `directions` 'expert': up = -true normal + noise (the
    protocol's demos); 'hemisphere' (exploration data): the same pixel, `up` uniform over the
    hemisphere of directions into the surface (up . -normal >= 0), a random roll."""
    rng = np.random.default_rng([episode_seed, ACTION_STREAM])
    view = env.unwrapped.privileged()
    action = view.reference_action(rng, normal_noise_deg=noise_deg)
    if directions == "expert" or not np.all(np.isfinite(action)):
        return action
    inward = unit(action[2:5]) if noise_deg == 0 else -unit(view.true_normals([action[:2].astype(int)])[0])
    if not np.any(inward):
        inward = unit(action[2:5])
    up = unit(rng.normal(size=3))
    if np.dot(up, inward) < 0:
        up = -up
    return np.array([action[0], action[1], *up, *random_forward(rng, up)])


def run_trial(env, cfg: CollectConfig, task: str, trial: int) -> dict:
    """Run one trial; returns the dataset row (SCHEMA's columns). Never raises for a bad episode:
    an exception inside the environment becomes a failed row with the reason. The environment
    builds every episode on a fresh scene (PullEnvConfig.fresh_scene), so the row depends on
    (settings, task, trial) alone."""
    ep_seed = trial_seed(cfg.seed, task, trial)
    options = {"task": task, "split": cfg.split}
    try:
        obs, _ = env.reset(seed=ep_seed, options=options)
        labels = env.unwrapped.joint_labels()  # at the observation, before the pull moves anything
        action = sample_action(env, ep_seed, cfg.normal_noise_deg, cfg.directions)
        _, _, _, _, info = env.step(action)
    except Exception as e:  # a broken episode is a counted failure, never a crash of the collection
        return _exception_row(cfg, task, trial, ep_seed, e)
    return make_row(obs, info, action, cfg, task, trial, ep_seed, labels)


def make_row(obs: dict, info: dict, action: np.ndarray, cfg: CollectConfig, task: str, trial: int,
             ep_seed: int, labels: dict | None = None) -> dict:
    T = np.asarray(obs["cam2world"], dtype=np.float64)
    R = T[:3, :3]
    finite = bool(np.all(np.isfinite(action)))
    if finite:
        pix = [int(round(action[0])), int(round(action[1]))]
        up = unit(action[2:5])
        fw = orthonormal_forward(up, unit(action[5:8]))
    else:
        pix, up, fw = [-1, -1], np.zeros(3), np.zeros(3)
    p_world = np.asarray(info.get("contact_point", [np.nan] * 3), dtype=np.float64)
    if finite and not np.all(np.isfinite(p_world)):  # no contact: lift the pixel with the depth map
        p_world = _lift(obs, pix, T)
    p_cam = world_to_camera(T, p_world)
    h, w = obs["depth"].shape
    return {
        "sample_id": f"{task}/{trial:07d}",
        "task": task,
        "category": info.get("category", ""),
        "split": info.get("split", cfg.split),
        "instance_id": str(info.get("instance_id", "")),
        "object_id": str(info.get("object_id", "")),
        "object_source": str(info.get("object_source", "")),
        "seed": cfg.seed,
        "trial": trial,
        "episode_seed": ep_seed,
        "target_joint": info.get("target_joint", ""),
        "target_link": info.get("target_link", ""),
        "joint_type": info.get("joint_type", ""),
        "joint_range": float(info.get("joint_range", 0.0)),
        "scale": float(info.get("scale", 0.0)),
        "height": int(h),
        "width": int(w),
        "rgb_png": encode_png(obs["rgb"]),
        "depth_png": encode_depth(obs["depth"]),
        "depth_scale": DEPTH_SCALE,
        "object_mask_png": encode_png(obs["object_mask"]),
        "target_mask_png": encode_png(obs["target_mask"]),
        "intrinsics": np.asarray(obs["intrinsics"], dtype=np.float32).ravel().tolist(),
        "cam2world": T.astype(np.float32).ravel().tolist(),
        "prompt": obs["prompt"],
        "contact_pixel": pix,
        "contact_point_cam": p_cam.tolist(),
        "contact_point_world": p_world.tolist(),
        "up_cam": up.tolist(),
        "forward_cam": fw.tolist(),
        "up_world": (R @ up).tolist(),
        "forward_world": (R @ fw).tolist(),
        "executed": bool(finite and info.get("sim_steps", 0) > 0),
        "dq": float(info.get("dq", 0.0)),
        "cosine": float(info.get("cosine", 0.0)),
        "contact": bool(info.get("contact", False)),
        "attached_link": info.get("attached_link", ""),
        "failure_reason": info.get("failure_reason", ""),
        "success": bool(info.get("success", False)),
        "success_manipllm": bool(info.get("success_manipllm", False)),
        "demo_success": is_demo(info, cfg),
        "info_json": json.dumps(info, default=json_default),
        "link_map_png": None if labels is None else encode_png(labels["link_map"]),
        "joints_json": None if labels is None else json.dumps(labels["joints"]),
    }


def _exception_row(cfg, task, trial, ep_seed, e) -> dict:
    """A failed trial whose episode raised: no images, the reason recorded."""
    reason = f"exception: {type(e).__name__}: {e}"
    return {"sample_id": f"{task}/{trial:07d}", "task": task, "seed": cfg.seed, "trial": trial,
            "episode_seed": ep_seed, "failure_reason": reason, "success": False,
            "success_manipllm": False, "demo_success": False, "contact": False, "executed": False,
            "info_json": json.dumps({"failure_reason": reason})}


def _lift(obs, pix, T) -> np.ndarray:
    """World point of pixel `pix` from the depth map (NaN where there is no surface)."""
    r, c = pix
    z = float(obs["depth"][r, c]) if 0 <= r < obs["depth"].shape[0] and 0 <= c < obs["depth"].shape[1] else 0.0
    if z <= 0:
        return np.full(3, np.nan)
    return camera_to_world(T, lift_pixel(r, c, z, np.asarray(obs["intrinsics"], dtype=np.float64)))

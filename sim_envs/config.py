"""Every range of docs/protocol.md sections 1-4 as one dataclass.

Units: metres, degrees for human-facing angles, seconds for durations. A field named `*_range` is a
closed interval sampled uniformly per episode.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

# an action: [row, col, up_x, up_y, up_z, fwd_x, fwd_y, fwd_z], camera frame (docs/protocol.md)
ACTION_DIM = 8


@dataclass
class PullEnvConfig:
    # --- what to load --------------------------------------------------------------------------
    task: str = "drawer"  # category name or alias (sim_envs/categories.json)
    split: str = "train"  # instance split: 'train' or 'test' (unseen categories: 'test' only)
    partnet_dir: Optional[str] = None  # a PartNet-Mobility directory; None = procedural objects
    # --- scene (docs/protocol.md section 2) --------------------------------------------------------
    scale_range: tuple[float, float] = (0.7, 1.2)  # uniform scale of a diagonal-1 object
    joint_damping: float = 10.0  # passive object joints
    joint_friction: float = 0.0
    # Gravity on the object's links. Off by default: with passive, frictionless joints (as PartNet-
    # Mobility URDFs have them) lids, lamp arms and screens would fall to a limit while settling,
    # so the sampled initial state would not be the one shown and pulled.
    object_gravity: bool = False
    p_all_closed: float = 0.8  # probability that every joint starts at its lower limit
    p_joint_closed: float = 0.5  # otherwise, per joint: closed with this probability, else U(range)
    settle_steps: int = 10  # physics steps before the picture
    settle_max_steps: int = 200  # give up (resample the episode) if not at rest by then
    settle_qvel_tol: float = 1e-2  # at rest: every object joint speed below this (m/s or rad/s)
    min_target_pixels: int = 16  # the target part must show at least this many pixels, else resample
    max_resamples: int = 20  # attempts before an episode is marked invalid
    # --- camera (docs/protocol.md section 2) --------------------------------------------------------
    image_size: int = 336  # square RGB-D image, pixels
    fov_deg: float = 35.0  # vertical field of view
    distance_range: tuple[float, float] = (4.5, 5.5)  # x object size unit (diagonal 1 -> metres)
    elevation_range_deg: tuple[float, float] = (30.0, 60.0)
    azimuth_range_deg: tuple[float, float] = (126.0, 234.0)  # world +x = 0; front of objects is -x
    near: float = 0.1
    far: float = 100.0
    ambient_light: tuple[float, float, float] = (0.5, 0.5, 0.5)
    # --- primitive (docs/protocol.md section 3) -----------------------------------------------------
    pre_offset: float = 0.15  # gripper (hand frame origin) placed at p - pre_offset * up
    approach_offset: float = 0.10  # then moved to p - approach_offset * up (fingertips reach p)
    pull_offset: float = 0.50  # then pulled straight back to p - pull_offset * up
    sim_freq: int = 200  # physics steps per second
    approach_time: float = 0.15  # seconds to move from pre to approach pose
    contact_time: float = 0.05  # seconds held at the approach pose before checking contact
    pull_time: float = 0.6  # seconds for the pull
    hold_time: float = 0.1  # seconds held at the end
    gripper_stiffness: float = 2000.0  # PD drive of the floating gripper's root joints
    gripper_damping: float = 200.0
    gripper_force_limit: float = 500.0
    suction_stiffness: float = 2000.0  # linear spring of the suction drive (N/m); no angular term
    suction_damping: float = 50.0
    contact_max_distance: float = 0.01  # a gripper-object contact counts within this separation (m)
    # --- determinism ------------------------------------------------------------------------------
    # every reset builds a fresh scene, so an episode's outcome is a pure function of (seed, options,
    # action): PhysX carries state from one episode to the next in a reused scene (measured: 9 of 30
    # episodes gave another dq after other episodes). False reuses the scene (object swap only).
    fresh_scene: bool = True
    # --- success (docs/protocol.md section 4) ------------------------------------------------------
    success_dq: float = 0.1  # RoboMamba: |dq| > 0.1 (m or rad)
    manipllm_dq: float = 0.03  # ManipLLM: (|dq| > 0.03 or |dq|/range > 0.5) and cosine > 0.3
    manipllm_range_fraction: float = 0.5
    manipllm_cosine: float = 0.3

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field and what it allows."""
        for name in ("scale_range", "distance_range", "elevation_range_deg", "azimuth_range_deg"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(f"{name}={getattr(self, name)!r}: need low <= high")
        if self.scale_range[0] <= 0:
            raise ValueError(f"scale_range={self.scale_range!r}: scales must be > 0")
        for name in ("p_all_closed", "p_joint_closed"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name}={v!r}: must be a probability in [0, 1]")
        if self.image_size < 16:
            raise ValueError(f"image_size={self.image_size!r}: must be >= 16 pixels")
        if not 0 < self.fov_deg < 180:
            raise ValueError(f"fov_deg={self.fov_deg!r}: must be in (0, 180)")
        if self.split not in ("train", "test"):
            raise ValueError(f"split={self.split!r}: allowed: train, test")
        if not self.pre_offset >= self.approach_offset:
            raise ValueError("pre_offset must be >= approach_offset")
        if self.sim_freq <= 0:
            raise ValueError(f"sim_freq={self.sim_freq!r}: must be > 0")

    def replace(self, **changes) -> "PullEnvConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def steps(self, seconds: float) -> int:
        return max(1, int(round(seconds * self.sim_freq)))

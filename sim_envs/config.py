"""Every range of docs/protocol.md sections 1-4 as one dataclass.

Units: metres, degrees for human-facing angles, seconds for durations. A field named `*_range` is a
closed interval sampled uniformly per episode.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# an action: [row, col, up_x, up_y, up_z, fwd_x, fwd_y, fwd_z], camera frame (docs/protocol.md)
ACTION_DIM = 8
# what an agent is given of an observation (the evaluator ships these; a remote policy receives them).
# The env's estimated `normals` are left out: 1.4 MB of float32 at 336 px that no agent uses and any can
# recompute from depth with sim_envs.geometry.normals_from_points.
AGENT_OBS_KEYS = ("rgb", "depth", "object_mask", "target_mask", "intrinsics", "cam2world", "prompt", "category")


@dataclass
class PullEnvConfig:
    # --- what to load --------------------------------------------------------------------------
    task: str = "drawer"  # category name or alias (sim_envs/categories.json)
    split: str = "train"  # instance split: 'train' or 'test' (unseen categories: 'test' only)
    partnet_dir: str | None = None  # a PartNet-Mobility directory; None = procedural objects
    # PartNet-Mobility collision geometry: 'hull' (one convex hull per mesh file, SAPIEN's default),
    # 'coacd' (each file's convex decomposition, cached on disk) or 'pieces' (a hull per part of a file);
    # docs/protocol.md section 4 says why 'hull' is the default
    partnet_collision: str = "hull"
    # --- scene (docs/protocol.md section 2) --------------------------------------------------------
    scale_range: tuple[float, float] = (0.7, 1.2)  # uniform scale of a diagonal-1 object
    joint_damping: float = 10.0  # passive object joints (reference: 10)
    # Coulomb friction of the passive joints: 0.05 holds a part where it settled against gravity (a tilted
    # screen, a raised lid) the way real hinges do, and a pull overcomes it (docs/protocol.md section 3)
    joint_friction: float = 0.05
    # Gravity on the object's links (reference: on). Parts settle under it before the picture, so a
    # lid or lamp arm that cannot hold its sampled angle is shown, and pulled, where it came to rest.
    object_gravity: bool = True
    # static and dynamic friction of every collision shape, object and gripper (reference: 4); None =
    # the legacy materials (procedural objects 1, gripper 0.3: ManiSkill's default)
    friction: float | None = 4.0
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
    sim_freq: int = 200  # physics steps per second (reference: 500; docs/protocol.md section 3)
    approach_time: float = 0.15  # seconds to move from pre to approach pose
    contact_time: float = 0.05  # seconds held at the approach pose before checking contact
    pull_time: float = 0.6  # seconds for the pull
    hold_time: float = 0.1  # longest hold at the end; ends early once the target joint is at rest
    hold_until_rest: bool = True  # end the hold when the target joint speed is below settle_qvel_tol
    gripper_stiffness: float = 2000.0  # PD drive of the floating gripper's root joints
    gripper_damping: float = 200.0
    gripper_force_limit: float = 500.0
    # suction: a linear spring between the hand and the touched point (no angular term)
    suction_stiffness: float = 45000.0  # N/m (reference: 45000)
    suction_damping: float = 50.0
    contact_max_distance: float = 0.01  # a gripper-object contact counts within this separation (m)
    # --- determinism ------------------------------------------------------------------------------
    # every reset builds a fresh scene, so an episode's outcome is a pure function of (seed, options,
    # action): PhysX carries state from one episode to the next in a reused scene (measured: 9 of 30
    # episodes gave another dq after other episodes). False reuses the scene (object swap only).
    fresh_scene: bool = True
    # --- only a pull opens a part (docs/protocol.md section 4) --------------------------------------
    # the gripper at its pre-pose must not overlap the object (else `approach_collision`, nothing moves)
    check_approach: bool = True
    # target motion before the suction attaches (the approach pushed or flung it) above this (m or
    # rad), or success through a link outside the target's subtree, is `unpulled_motion`: no success
    unpulled_dq: float = 0.05
    count_unpulled: bool = False  # True: such episodes count as successes (the behaviour before)
    motion_noise_dq: float = 0.01  # |dq| at or below this is no motion (failure reasons)
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
        if self.partnet_collision not in ("coacd", "hull", "pieces"):
            raise ValueError(f"partnet_collision={self.partnet_collision!r}: allowed: coacd, hull, pieces")
        if self.split not in ("train", "test"):
            raise ValueError(f"split={self.split!r}: allowed: train, test")
        if not self.pre_offset >= self.approach_offset:
            raise ValueError("pre_offset must be >= approach_offset")
        if self.sim_freq <= 0:
            raise ValueError(f"sim_freq={self.sim_freq!r}: must be > 0")

    def replace(self, **changes) -> PullEnvConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def steps(self, seconds: float) -> int:
        return max(1, int(round(seconds * self.sim_freq)))


# Named physics settings (docs/protocol.md section 3): 'default' is PullEnvConfig as it stands;
# 'legacy' is the physics before the reference values were adopted (kept to reproduce older runs);
# 'reference' is the reference code's schedule (ManipLLM's: 500 Hz, 2000-step moves of 4 s each)
PHYSICS_PRESETS: dict[str, dict] = {
    "default": {},
    "legacy": dict(object_gravity=False, friction=None, joint_friction=0.0, suction_stiffness=2000.0,
                   check_approach=False, count_unpulled=True, hold_until_rest=False),
    "reference": dict(sim_freq=500, approach_time=4.0, contact_time=0.2, pull_time=4.0, hold_time=1.0,
                      hold_until_rest=False),
}


def env_overrides(physics: str = "default", overrides=()) -> dict:
    """PullEnvConfig field values of the preset `physics` with `overrides` ('FIELD=VALUE' strings)
    on top; ValueError names a bad preset, field or value and the allowed ones."""
    if physics not in PHYSICS_PRESETS:
        raise ValueError(f"physics={physics!r}: allowed: {', '.join(PHYSICS_PRESETS)}")
    out = dict(PHYSICS_PRESETS[physics])
    fields = {f.name: f for f in dataclasses.fields(PullEnvConfig)}
    for item in overrides:
        name, sep, text = str(item).partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in fields or name in ("task", "split", "partnet_dir", "image_size"):
            allowed = ", ".join(n for n in fields if n not in ("task", "split", "partnet_dir", "image_size"))
            raise ValueError(f"{item!r} is not FIELD=VALUE with FIELD one of: {allowed}")
        default = fields[name].default
        try:
            if text.strip().lower() in ("none", "null") and (default is None or name == "friction"):
                value = None
            elif isinstance(default, bool):
                if text.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError("not a boolean")
                value = text.strip().lower() in ("true", "1", "yes")
            elif isinstance(default, tuple):
                value = tuple(type(default[0])(v) for v in text.split(","))
            elif default is None:
                value = text
            else:
                value = type(default)(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a valid {type(default).__name__} for {name}") from None
        out[name] = value
    PullEnvConfig(**out)  # ValueError on an out-of-range value
    return out

"""The one-shot pull task (docs/protocol.md sections 1-4) as a ManiSkill3 environment.

Conventions
- World: z up; the object (fixed base) sits at the origin with its front facing -x.
- Camera frame: OpenCV (x right, y down, z forward). Pixels are (row, col).
- Action: 8 numbers [row, col, up_x, up_y, up_z, fwd_x, fwd_y, fwd_z] in the camera frame, or a
  dict {"pixel": (row, col), "up": (3,), "forward": (3,)}. `up` is the gripper's approach axis
  (from the gripper into the surface), `forward` its x axis.
- One step runs the whole primitive and ends the episode. The returned observation is the one the
  action was chosen from (nothing is rendered after the pull).
"""
from __future__ import annotations

from functools import cached_property

from . import vulkan

vulkan.configure()

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import sapien  # noqa: E402
from mani_skill.envs.sapien_env import BaseEnv  # noqa: E402
from mani_skill.sensors.camera import CameraConfig  # noqa: E402
from mani_skill.utils.registration import register_env  # noqa: E402
from mani_skill.utils.structs.types import DefaultMaterialsConfig, SimConfig  # noqa: E402

from .categories import UnknownCategoryError, prompt_for, resolve  # noqa: E402
from .config import ACTION_DIM, PullEnvConfig  # noqa: E402
from .geometry import (GL_FROM_CV, camera_to_world, euler_xyz, gram_schmidt, look_at_cv,  # noqa: E402
                       normals_from_points, quat_wxyz)
from .sources import make_source  # noqa: E402

GRIPPER_PARK = np.array([0.0, 0.0, 15.0])  # hand position between episodes: far out of view
TEXT_CHARSET = "".join(chr(c) for c in range(32, 127))
GC_EVERY = 50  # scene rebuilds between two forced full garbage collections (see PullArticulatedEnv._clear)


class _NoForcedCollection:
    """Stands in for the `gc` module inside ManiSkill's BaseEnv._clear: its collect() does nothing."""

    @staticmethod
    def collect(*args, **kwargs) -> int:
        return 0


def success_flags(dq: float, joint_range: float, cosine: float, cfg: PullEnvConfig) -> dict:
    """Both published criteria from a joint change |dq|, the joint's range and the direction cosine."""
    adq = abs(float(dq))
    frac = adq / joint_range if joint_range > 0 else 0.0
    return {
        "success": bool(adq > cfg.success_dq),
        "success_manipllm": bool((adq > cfg.manipllm_dq or frac > cfg.manipllm_range_fraction)
                                 and cosine > cfg.manipllm_cosine),
    }


APPROACH_OVERLAP_TOLERANCE = 1e-3  # m of penetration at the pre-pose that counts as overlap
ALIGNED = 0.3  # |alignment| at or above this: the pull drives the joint (failure reasons)


def joint_alignment(joint_type: str, axis_point, axis_dir, point, pull_dir) -> float:
    """Cosine between the pull direction and the direction in which `point` moves when the joint
    opens (q increases): 1 = the pull drives the joint open, 0 = across its motion, -1 = closing."""
    axis_dir = np.asarray(axis_dir, dtype=np.float64)
    if joint_type == "prismatic":
        v = axis_dir
    else:
        v = np.cross(axis_dir, np.asarray(point, dtype=np.float64) - np.asarray(axis_point, dtype=np.float64))
    n = np.linalg.norm(v) * np.linalg.norm(pull_dir)
    return float(np.dot(v, pull_dir) / n) if n > 1e-9 else 0.0


def at_limit(q: float, limits, alignment: float, fraction: float = 0.02) -> bool:
    """The joint sits within `fraction` of its range of the limit the pull pushes it towards."""
    lo, hi = limits
    margin = fraction * (hi - lo)
    return bool(q >= hi - margin) if alignment >= 0 else bool(q <= lo + margin)


def failure_reasons(ok: dict, raw: dict, cfg: PullEnvConfig, *, contact: bool, on_target: bool,
                    pulled: bool, attached: str, dq: float, dq_pre: float, cosine: float,
                    alignment: float, at_limit: bool, joint_range: float) -> dict:
    """Why an executed episode failed, under each criterion ("" where it succeeded): the first of
    no_contact, unpulled_motion, touched_other_link, blocked, no_motion, small_motion, wrong_direction
    that applies (docs/protocol.md section 4)."""
    adq = abs(dq)
    if not contact:
        common = f"no_contact: the gripper touched nothing{f' (yet |dq| = {adq:.3f})' if adq > cfg.motion_noise_dq else ''}"
    elif not on_target:
        common = f"touched_other_link: the suction held {attached}"
    else:
        common = ""
    if not pulled and (raw["success"] or raw["success_manipllm"]):  # moved, but not by the pull
        how = ("without suction contact" if not contact else f"while the suction held {attached}" if not on_target
               else f"by the approach (|dq| = {abs(dq_pre):.3f} before the pull)")
        common = f"unpulled_motion: the target moved {how}"
    if common:
        return {"failure_reason": "" if ok["success"] else common,
                "failure_reason_manipllm": "" if ok["success_manipllm"] else common}
    if adq <= cfg.motion_noise_dq:
        if abs(alignment) < ALIGNED:  # checked first: the sign of a small alignment means nothing
            why = f"no_motion: the pull runs across the part's motion (alignment {alignment:.2f})"
        elif at_limit:
            why = "blocked: the target is at the joint limit the pull pushes it towards"
        else:
            why = f"blocked: the part did not follow a pull along its motion (alignment {alignment:.2f})"
    elif at_limit:
        why = f"blocked: the part reached its joint limit after |dq| = {adq:.3f}"
    else:
        why = f"small_motion: |dq| = {adq:.3f} <= {cfg.success_dq}"
    frac = adq / joint_range if joint_range > 0 else 0.0
    moved_m = adq > cfg.manipllm_dq or frac > cfg.manipllm_range_fraction  # ManipLLM's magnitude test
    if moved_m and cosine <= cfg.manipllm_cosine:
        why_m = f"wrong_direction: cosine {cosine:.2f} <= {cfg.manipllm_cosine}"
    else:
        why_m = why
    return {"failure_reason": "" if ok["success"] else why,
            "failure_reason_manipllm": "" if ok["success_manipllm"] else why_m}


class ActionError(ValueError):
    pass


def parse_action(action) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(row, col, up, forward) from a flat 8-vector or a dict; ActionError says what is wrong."""
    try:
        if isinstance(action, dict):
            pix = np.asarray(action["pixel"], dtype=np.float64).reshape(-1)
            up = np.asarray(action["up"], dtype=np.float64).reshape(-1)
            fw = np.asarray(action["forward"], dtype=np.float64).reshape(-1)
            if pix.size != 2 or up.size != 3 or fw.size != 3:
                raise ActionError(f"dict action needs pixel(2), up(3), forward(3); got sizes "
                                  f"{pix.size}, {up.size}, {fw.size}")
        else:
            if hasattr(action, "detach"):  # torch tensor
                action = action.detach().cpu().numpy()
            a = np.asarray(action, dtype=np.float64).reshape(-1)
            if a.size != ACTION_DIM:
                raise ActionError(f"expected {ACTION_DIM} numbers [row, col, up(3), forward(3)], got {a.size}")
            pix, up, fw = a[:2], a[2:5], a[5:8]
    except ActionError:
        raise
    except Exception as e:  # wrong types, missing keys, ragged lists
        raise ActionError(f"malformed action ({type(e).__name__}: {e})") from None
    if not (np.all(np.isfinite(pix)) and np.all(np.isfinite(up)) and np.all(np.isfinite(fw))):
        raise ActionError("action contains NaN or inf")
    return float(pix[0]), float(pix[1]), up, fw


@register_env("PullArticulated-v1", max_episode_steps=1)
class PullArticulatedEnv(BaseEnv):
    """One-shot pull of a movable part of an articulated object with a suction gripper.

    **Task:** from one RGB-D image and a prompt, choose a contact pixel and gripper orientation. The
    floating Panda gripper is placed at p - 0.15 up, moves to p - 0.10 up, a suction drive attaches
    it to the link it touches, and it pulls straight back to p - 0.50 up.

    **Randomisations** (all ranges in `PullEnvConfig`, every sampled value in `info`): object
    instance and scale, initial joint state, target part, camera distance/elevation/azimuth.

    **Success:** `success` = |dq| > 0.1 of the target joint (m or rad, RoboMamba);
    `success_manipllm` = (|dq| > 0.03 or |dq|/range > 0.5) and cosine(pull direction, displacement
    of the touched point) > 0.3 (ManipLLM). Both only count when the pull caused the motion: the
    gripper reached its pre-pose without overlapping the object, the suction held the target part,
    and the approach did not move it (`unpulled_motion` otherwise). Every failure carries a
    `failure_reason` (and `failure_reason_manipllm`); a malformed action, a pixel off the object or
    a broken episode is a failure, never an exception.
    """

    SUPPORTED_ROBOTS = ["floating_panda_gripper"]
    SUPPORTED_OBS_MODES = ("none",)
    SUPPORTED_REWARD_MODES = ("sparse", "none")

    def __init__(self, *args, config: PullEnvConfig | None = None, **kwargs):
        cfg = config or PullEnvConfig()
        cfg.validate()
        self.cfg = cfg
        self.task = resolve(cfg.task)  # UnknownCategoryError lists the allowed names
        self.source = make_source(cfg.partnet_dir, cfg.partnet_collision)
        if not self.source.instances(self.task, cfg.split):
            raise UnknownCategoryError(
                f"no {cfg.split} instances of {self.task.name!r} in the {self.source.name} source")
        self._object = None
        self._obs = None
        self._info: dict = {}
        self._stepped = False
        self._initialising = True
        kwargs.setdefault("render_backend", vulkan.render_backend())
        super().__init__(*args, robot_uids="floating_panda_gripper", obs_mode="none",
                         reward_mode="sparse", sim_backend="physx_cpu", num_envs=1, **kwargs)
        self._initialising = False
        self.single_action_space = gym.spaces.Box(-np.inf, np.inf, (ACTION_DIM,), np.float32)
        self.action_space = self.single_action_space

    # ------------------------------------------------------------------ ManiSkill hooks
    @property
    def _default_sim_config(self):
        f = self.cfg.friction  # the gripper's material; objects get theirs when loaded
        materials = DefaultMaterialsConfig() if f is None else DefaultMaterialsConfig(f, f, 0.0)
        return SimConfig(sim_freq=self.cfg.sim_freq, control_freq=self.cfg.sim_freq,
                         default_materials_config=materials)

    @property
    def _default_sensor_configs(self):
        c = self.cfg
        return [CameraConfig("camera", sapien.Pose(), c.image_size, c.image_size,
                             np.deg2rad(c.fov_deg), c.near, c.far, shader_pack="minimal")]

    def _load_agent(self, options: dict):
        super()._load_agent(options, sapien.Pose())

    def _load_scene(self, options: dict):
        self._object = None  # the scene was rebuilt; objects are swapped in per episode

    def _load_lighting(self, options: dict):
        self.scene.set_ambient_light(list(self.cfg.ambient_light))
        self.scene.add_directional_light([1, 0.5, -1], [1.0, 1.0, 1.0])
        self.scene.add_point_light([-3, 2, 3], [2.0, 2.0, 2.0])
        self.scene.add_point_light([-3, -2, 3], [2.0, 2.0, 2.0])

    def _after_reconfigure(self, options):
        self._sscene = self.scene.sub_scenes[0]
        self._camera = self._sensors["camera"].camera._render_cameras[0]
        self._gripper = self.agent.robot._objs[0]
        self._hand = next(l for l in self._gripper.get_links() if l.name.endswith("panda_hand"))
        self._gripper_links = {l for l in self._gripper.get_links()}
        for link in self._gripper.get_links():
            link.disable_gravity = True
        c = self.cfg
        self._gripper_joints = self._gripper.get_active_joints()
        for j in self._gripper_joints:
            j.set_friction(0.0)
            j.set_drive_properties(c.gripper_stiffness, c.gripper_damping, c.gripper_force_limit)

    @cached_property
    def single_observation_space(self):
        s = self.cfg.image_size
        img = lambda ch, dt, hi: gym.spaces.Box(0, hi, (s, s, ch) if ch else (s, s), dt)  # noqa: E731
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

    @cached_property
    def observation_space(self):
        return self.single_observation_space

    @property
    def articulated_object(self):
        """The object of the current episode (sim_envs.articulated.ArticulatedObject)."""
        return self._object

    @property
    def sim_scene(self):
        """The SAPIEN scene the episodes run in (ManiSkill's `scene.sub_scenes[0]`)."""
        return self._sscene

    @property
    def points_cam(self) -> np.ndarray:
        """(H, W, 3) surface points of the current observation, camera frame (privileged)."""
        return self._points_cam

    def get_obs(self, info=None, unflattened=False):
        if self._initialising:  # ManiSkill's constructor tensorises the first observation
            return {k: v for k, v in self._obs.items() if isinstance(v, np.ndarray)}
        return self._obs

    def get_info(self):
        return dict(self._info)

    def evaluate(self):
        return {}

    # ------------------------------------------------------------------ episodes
    def reset(self, seed=None, options=None):
        """Sample an episode. `seed` fixes everything sampled; `options` may pin `task`,
        `instance_id`, `target_joint` (name) or `split` for paired evaluation."""
        if isinstance(seed, (list, tuple, np.ndarray)):  # ManiSkill passes one seed per sub-env
            seed = seed[0]
        if seed is None:  # continue the sequence of the last seeded episode
            last = self._info.get("episode_seed")
            seed = int(np.random.default_rng(None if last is None else last + 1).integers(2**31))
        self._reset_options = dict(options or {})
        self._stepped = False
        reconfigure = bool(self._reset_options.pop("reconfigure", False)) or self.cfg.fresh_scene
        return super().reset(seed=int(seed), options={"reconfigure": reconfigure})

    def _clear(self):
        """ManiSkill's, without its forced full garbage collection on every scene rebuild (175 of the
        250 ms a rebuild took on a 2-core CPU; the rest is 35 ms); one runs every GC_EVERY rebuilds,
        and Python's own collector in between (memory measured flat: bench/swap_memory.py)."""
        import mani_skill.envs.sapien_env as sapien_env

        self._rebuilds = getattr(self, "_rebuilds", 0) + 1
        if self._rebuilds % GC_EVERY == 0:
            return super()._clear()
        forced, sapien_env.gc = sapien_env.gc, _NoForcedCollection
        try:
            super()._clear()
        finally:
            sapien_env.gc = forced

    def _initialize_episode(self, env_idx, options):
        seed = int(self._episode_seed[0])
        opts = self._reset_options if not self._initialising else {}
        task = resolve(opts["task"]) if "task" in opts else self.task
        split = opts.get("split", self.cfg.split)
        resamples = {"settle": 0, "visibility": 0}
        for attempt in range(self.cfg.max_resamples):
            rng = np.random.default_rng([seed, attempt])
            ep = self._sample_and_build(rng, task, split, opts)
            if not self._settle():
                resamples["settle"] += 1
                continue
            obs = self._render(ep)
            if int(obs["target_mask"].sum()) < self.cfg.min_target_pixels:
                resamples["visibility"] += 1
                continue
            break
        else:  # counted, not hidden: the episode exists and its step is a recorded failure
            obs = self._render(ep)
            ep["failure_reason"] = "scene_invalid: no settled scene with a visible target part"
        ep.update(episode_seed=seed, attempt=attempt, settle_resamples=resamples["settle"],
                  visibility_resamples=resamples["visibility"],
                  target_pixels=int(obs["target_mask"].sum()),
                  object_pixels=int(obs["object_mask"].sum()),
                  qpos_settled=self._object.qpos().tolist())
        self._info = ep
        self._obs = obs

    def _sample_and_build(self, rng, task, split, opts) -> dict:
        c = self.cfg
        pool = self.source.instances(task, split)
        if not pool:
            raise UnknownCategoryError(f"no {split} instances of {task.name!r} in the {self.source.name} source")
        instance = pool[int(rng.integers(len(pool)))]
        if "instance_id" in opts:
            instance = opts["instance_id"]
            if instance not in pool:
                shown = ", ".join(map(str, list(pool)[:20])) + (" ..." if len(pool) > 20 else "")
                raise ValueError(f"instance_id {instance!r} is not a {split} instance of {task.name!r} "
                                 f"with a {task.joint_type or 'movable'} part; allowed: {shown}")
        scale = float(rng.uniform(*c.scale_range))
        if self._object is not None:
            self._object.remove(self._sscene)
            self._object = None
        self._object = self.source.load(self._sscene, task.category, instance, scale,
                                        c.joint_damping, c.joint_friction,
                                        1.0 if c.friction is None else c.friction)
        obj = self._object
        for link in obj.links:
            link.disable_gravity = not c.object_gravity
        # initial joint state: all closed, or per joint closed / uniform in range
        q = obj.qpos()
        all_closed = bool(rng.random() < c.p_all_closed)
        for j in obj.joints:
            lo, hi = j.limits
            q[j.dof] = lo if all_closed or rng.random() < c.p_joint_closed else rng.uniform(lo, hi)
        obj.set_qpos(q)
        candidates = obj.joints_of_type(task.joint_type)
        if not candidates:
            raise ValueError(f"{obj.object_id} has no {task.joint_type or 'movable'} joint with finite limits")
        if "target_joint" in opts:
            chosen = [j for j in candidates if j.name == opts["target_joint"]]
            if not chosen:
                raise ValueError(f"target_joint {opts['target_joint']!r} is not a candidate joint of "
                                 f"{obj.object_id}; allowed: {', '.join(j.name for j in candidates)}")
            candidates = chosen
        target = candidates[int(rng.integers(len(candidates)))]
        self._target = target
        self._target_links = obj.subtree(target.link)  # the target part: what its mask shows, what may be held
        # camera
        dist = float(rng.uniform(*c.distance_range))
        elev = float(rng.uniform(*c.elevation_range_deg))
        azim = float(rng.uniform(*c.azimuth_range_deg))
        e, a = np.deg2rad(elev), np.deg2rad(azim)
        eye = dist * np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
        T = look_at_cv(eye, np.zeros(3))
        R_sapien = np.stack([T[:3, 2], -T[:3, 0], -T[:3, 1]], axis=1)  # forward, left, up
        self._camera.set_local_pose(sapien.Pose(list(eye), list(quat_wxyz(R_sapien))))
        self._park_gripper()
        return {
            "task": task.name, "category": obj.category, "joint_type_filter": task.joint_type,
            "split": split, "object_source": obj.source, "object_id": obj.object_id,
            "instance_id": instance if isinstance(instance, str) else int(instance),
            "scale": scale, "all_closed": all_closed, "qpos_init": q.tolist(),
            "target_joint": target.name, "target_link": target.link.name,
            "target_label": obj.label(target.link),
            "joint_type": target.type, "joint_limits": list(target.limits),
            "camera_distance": dist, "camera_elevation_deg": elev, "camera_azimuth_deg": azim,
            "camera_eye": eye.tolist(), "fov_deg": c.fov_deg, "failure_reason": "",
            "prompt": prompt_for(obj.category),
        }

    def _settle(self) -> bool:
        c = self.cfg
        art = self._object.articulation
        for i in range(c.settle_max_steps):
            self._sscene.step()
            if i + 1 >= c.settle_steps:
                qv = np.asarray(art.get_qvel())
                if not np.all(np.isfinite(qv)):
                    return False
                if np.all(np.abs(qv) < c.settle_qvel_tol):
                    return True
        return False

    def _render(self, ep: dict) -> dict:
        self._sscene.update_render()
        cam = self._camera
        cam.take_picture()
        rgba = cam.get_picture("Color")
        pos_seg = cam.get_picture("PositionSegmentation")  # int16: xyz (mm, GL frame), seg id
        rgb = np.ascontiguousarray(rgba[..., :3])
        if rgb.dtype != np.uint8:
            rgb = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
        pts = (pos_seg[..., :3].astype(np.float32) / 1000.0) @ GL_FROM_CV.astype(np.float32)
        seg = pos_seg[..., 3].astype(np.int64)
        depth = np.where(pts[..., 2] > 0, pts[..., 2], 0).astype(np.float32)
        ids = self._object.link_seg_ids()
        object_mask = np.isin(seg, ids) & (depth > 0)
        part_ids = [l.entity.per_scene_id for l in self._target_links]
        target_mask = np.isin(seg, part_ids) & (depth > 0)
        model = cam.get_model_matrix()  # cam2world, GL axes
        cam2world = model.copy()
        cam2world[:3, :3] = model[:3, :3] @ GL_FROM_CV
        self._points_cam = pts
        return {
            "rgb": rgb,
            "depth": depth,
            "object_mask": object_mask,
            "target_mask": target_mask,
            "normals": normals_from_points(pts, depth > 0),
            "intrinsics": np.asarray(cam.get_intrinsic_matrix(), dtype=np.float32),
            "cam2world": cam2world.astype(np.float32),
            "category": ep["category"],
            "prompt": ep["prompt"],
        }

    # ------------------------------------------------------------------ the primitive
    def step(self, action):
        if self._stepped:
            raise RuntimeError("the episode has ended (one action per episode): call reset()")
        self._stepped = True
        result = self._execute(action)
        info = {**self._info, **result}
        self._info = info
        return self._obs, float(info["success"]), True, False, info

    def _fail(self, reason: str, action_record=None) -> dict:
        out = {"failure_reason": reason, "failure_reason_manipllm": reason, "contact": False,
               "attached_link": "", "pulled": False, "unpulled_motion": False, "dq": 0.0, "dq_pre": 0.0,
               "cosine": 0.0, "joint_range": self._target.range, "sim_steps": 0,
               "success": False, "success_manipllm": False,
               "success_unfiltered": False, "success_manipllm_unfiltered": False}
        if action_record is not None:
            out["action"] = action_record
        return out

    def _execute(self, action) -> dict:
        c = self.cfg
        if self._info.get("failure_reason"):
            return self._fail(self._info["failure_reason"])
        try:
            row, col, up_c, fw_c = parse_action(action)
            R_grip_c = gram_schmidt(up_c, fw_c)
        except (ActionError, ValueError) as e:
            return self._fail(f"invalid_action: {e}")
        record = [row, col, *map(float, up_c), *map(float, fw_c)]
        r, cc = int(round(row)), int(round(col))
        size = c.image_size
        if not (0 <= r < size and 0 <= cc < size):
            return self._fail(f"pixel_outside_image: ({row:.1f}, {col:.1f}) not in [0, {size})", record)
        if not self._obs["object_mask"][r, cc]:
            return self._fail(f"pixel_off_object: ({r}, {cc})", record)
        T = self._obs["cam2world"].astype(np.float64)
        p = camera_to_world(T, self._points_cam[r, cc])
        R_hand = T[:3, :3] @ R_grip_c
        up = R_hand[:, 2]
        euler = euler_xyz(R_hand)
        obj, target = self._object, self._target
        q0 = obj.qpos()
        self._steps = 0

        def hand_q(pos):
            return np.concatenate([pos, euler, np.zeros(len(self._gripper_joints) - 6)])

        pre, approach, pull = p - c.pre_offset * up, p - c.approach_offset * up, p - c.pull_offset * up
        self._gripper.set_qpos(hand_q(pre).astype(np.float32))
        self._gripper.set_qvel(np.zeros(self._gripper.dof, dtype=np.float32))
        drive, touched, overlap, stretch = None, None, None, 0.0
        q_attach = q0
        try:
            self._frame("approach")
            if c.check_approach:  # one step at the pre-pose: any overlap shows as a penetrating contact
                self._drive(hand_q, pre, pre, 1, "approach")
                overlap = self._overlapping_link()
            if overlap is None:
                self._drive(hand_q, pre, approach, c.steps(c.approach_time), "approach")
                self._drive(hand_q, approach, approach, c.steps(c.contact_time), "attach")
                q_attach = obj.qpos()
                touched, attach = self._touched_link(p)
            if touched is not None:
                axis_point, axis_dir = target.axis_world()
                drive = self._attach(touched, attach)
                self._drive(hand_q, approach, pull, c.steps(c.pull_time), "pull")
                self._drive(hand_q, pull, pull, c.steps(c.hold_time), "hold", until_rest=c.hold_until_rest)
                stretch = self._suction_stretch(touched)
            q1 = obj.qpos()
            finite = np.all(np.isfinite(q1)) and np.all(np.isfinite(self._gripper.get_qpos()))
            if touched is not None and finite:
                moved = touched.entity_pose.to_transformation_matrix() @ np.append(self._attach_local, 1)
                disp = moved[:3] - attach
            self._frame("end")
        finally:
            if drive is not None:
                drive.entity.remove_component(drive)  # the drive lives on the link's entity
            self._park_gripper()
        steps = self._steps
        if not finite:
            return {**self._fail("physics_nan: the simulation state became NaN", record), "sim_steps": steps}
        if overlap is not None:
            return {**self._fail(f"approach_collision: the gripper at its pre-pose overlaps {overlap.name}",
                                 record), "sim_steps": steps, "qpos_final": q1.tolist()}
        dq = float(q1[target.dof] - q0[target.dof])
        dq_pre = float(q_attach[target.dof] - q0[target.dof])
        cosine, alignment = 0.0, 0.0
        if touched is not None:
            if np.linalg.norm(disp) > 1e-6:
                cosine = float(np.dot(disp, -up) / np.linalg.norm(disp))
            alignment = joint_alignment(target.type, axis_point, axis_dir, attach, -up)
        on_target = touched is not None and touched in self._target_links
        # the pull caused the motion: the suction held the target (or a part of it), and the approach
        # did not already move it more than unpulled_dq, unless the pull alone moved it past success_dq
        pulled = on_target and (abs(dq_pre) <= c.unpulled_dq or abs(dq - dq_pre) > c.success_dq)
        raw = success_flags(dq, target.range, cosine, c)
        ok = raw if (pulled or c.count_unpulled) else {"success": False, "success_manipllm": False}
        reasons = failure_reasons(
            ok, raw, c, contact=touched is not None, on_target=on_target, pulled=pulled,
            attached=touched.name if touched is not None else "", dq=dq, dq_pre=dq_pre, cosine=cosine,
            alignment=alignment, at_limit=at_limit(q1[target.dof], target.limits, alignment),
            joint_range=target.range)
        out = {**reasons, "action": record, "contact": touched is not None,
               "attached_link": touched.name if touched is not None else "", "pulled": bool(pulled),
               "unpulled_motion": bool((raw["success"] or raw["success_manipllm"]) and not pulled),
               "contact_point": p.tolist(),
               "pull_direction": (-up).tolist(), "dq": dq, "dq_pre": dq_pre, "cosine": cosine,
               "alignment": alignment, "suction_stretch": stretch, "joint_range": target.range,
               "qpos_final": q1.tolist(), "sim_steps": steps,
               "success_unfiltered": raw["success"], "success_manipllm_unfiltered": raw["success_manipllm"]}
        out.update(ok)
        return out

    def _drive(self, hand_q, start, end, n: int, phase: str = "", until_rest: bool = False) -> None:
        """Move the hand's drive target from `start` to `end` over `n` physics steps (`until_rest`:
        stop early once the target joint is at rest)."""
        tol = self.cfg.settle_qvel_tol
        for i in range(n):
            tgt = hand_q(start + (end - start) * (i + 1) / n)
            for j, v in zip(self._gripper_joints, tgt):
                j.set_drive_target(float(v))
            self._sscene.step()
            self._steps += 1
            if self._frame_every and self._steps % self._frame_every == 0:
                self._frame(phase)
            if until_rest and i >= 1:
                qv = np.asarray(self._object.articulation.get_qvel())
                if np.all(np.isfinite(qv)) and abs(qv[self._target.dof]) < tol:
                    break

    # ------------------------------------------------------------------ rollout frames (--record)
    _frame_every = 0
    _frames: list = []

    def record_frames(self, every: int) -> None:
        """Render a frame every `every` physics steps of the next step() (0 = off); read them from
        `frames` afterwards as (phase, RGB uint8 array) pairs."""
        self._frame_every = int(every)
        self._frames = []

    @property
    def frames(self) -> list:
        return list(self._frames)

    def _frame(self, phase: str) -> None:
        if not self._frame_every:
            return
        self._sscene.update_render()
        self._camera.take_picture()
        rgb = np.asarray(self._camera.get_picture("Color"))[..., :3]
        if rgb.dtype != np.uint8:
            rgb = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
        self._frames.append((phase, np.ascontiguousarray(rgb)))

    def _overlapping_link(self):
        """The object link the gripper penetrates deepest (after one step at its pre-pose; ties by name,
        so the reason names the same link whatever order PhysX lists its contacts in), or None."""
        obj_links = set(self._object.links)
        found = []
        for contact in self._sscene.physx_system.get_contacts():
            b0, b1 = contact.bodies
            link = b1 if b0 in self._gripper_links else b0 if b1 in self._gripper_links else None
            if link is None or link not in obj_links:
                continue
            depth = min((pt.separation for pt in contact.points), default=0.0)
            if depth < -APPROACH_OVERLAP_TOLERANCE:
                found.append((round(depth, 6), link.name, link))
        return min(found, key=lambda f: f[:2])[2] if found else None

    def _suction_stretch(self, link) -> float:
        """Distance (m) between the suction's two anchors: how far the touched point lags the hand."""
        hand = self._hand.entity_pose * self._attach_in_hand
        held = link.entity_pose.to_transformation_matrix() @ np.append(self._attach_local, 1)
        return float(np.linalg.norm(np.asarray(hand.p) - held[:3]))

    def _touched_link(self, p):
        """The object link the gripper touches nearest to the intended point p, and that contact
        point (the fingertips reach p; the hand may also brush a neighbouring part)."""
        obj_links = set(self._object.links)
        best, best_d, best_pt = None, np.inf, None
        for contact in self._sscene.physx_system.get_contacts():
            b0, b1 = contact.bodies
            if b0 in self._gripper_links and b1 in obj_links:
                link = b1
            elif b1 in self._gripper_links and b0 in obj_links:
                link = b0
            else:
                continue
            for pt in contact.points:
                if pt.separation >= self.cfg.contact_max_distance:
                    continue
                d = float(np.linalg.norm(np.asarray(pt.position) - p))
                if d < best_d:
                    best, best_d, best_pt = link, d, np.asarray(pt.position, dtype=np.float64)
        return best, best_pt

    def _attach(self, link, point):
        """Suction: a linear spring between the hand and `point` on `link` (free to rotate)."""
        c = self.cfg
        hand_pose, link_pose = self._hand.entity_pose, link.entity_pose
        world = sapien.Pose(list(point))
        self._attach_local = (link_pose.inv() * world).p
        self._attach_in_hand = hand_pose.inv() * world
        drive = self._sscene.create_drive(self._hand, hand_pose.inv() * world, link, link_pose.inv() * world)
        for axis in (drive.set_drive_property_x, drive.set_drive_property_y, drive.set_drive_property_z):
            axis(c.suction_stiffness, c.suction_damping)
        return drive

    def _park_gripper(self):
        q = np.zeros(self._gripper.dof, dtype=np.float32)
        q[:3] = GRIPPER_PARK
        self._gripper.set_qpos(q)
        self._gripper.set_qvel(np.zeros_like(q))
        for j, v in zip(self._gripper_joints, q):
            j.set_drive_target(float(v))

    # ------------------------------------------------------------------ privileged access
    def privileged(self):
        """Ground truth for data collection and the oracle (never for learned agents)."""
        from .privileged import PrivilegedView

        return PrivilegedView.from_env(self)

"""The one-shot pull task (docs/protocol.md sections 1-4) as a ManiSkill3 environment.

Conventions
- World: z up; the object (fixed base) sits at the origin with its front facing -x.
- Camera frame: OpenCV (x right, y down, z forward). Pixels are (row, col).
- Action: 8 numbers [row, col, up_x, up_y, up_z, fwd_x, fwd_y, fwd_z] in the camera frame, or a
  dict {"pixel": (row, col), "up": (3,), "forward": (3,)} (sim_envs.actions). `up` is the gripper's
  approach axis (from the gripper into the surface), `forward` its x axis.
- One step runs the whole primitive and ends the episode. The returned observation is the one the
  action was chosen from (nothing is rendered after the pull).

The task class holds ManiSkill's hooks and the episode's life; the parts live beside it: what reset
samples (sim_envs.episode), what the agent sees (sim_envs.observation), the action (sim_envs.actions),
the suction primitive (sim_envs.suction), the success and failure rules (sim_envs.outcome) and rollout
filming (sim_envs.recording).
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

from .actions import ActionError, parse_action  # noqa: E402
from .categories import UnknownCategoryError, prompt_for, resolve  # noqa: E402
from .config import ACTION_DIM, PullEnvConfig  # noqa: E402
from .episode import initial_joint_state, pick_instance, pick_target, sample_camera  # noqa: E402
from .geometry import camera_to_world, gram_schmidt  # noqa: E402
from .observation import observation_space, render  # noqa: E402
from .outcome import judge, not_executed  # noqa: E402
from .recording import FrameRecorder  # noqa: E402
from .sources import make_source  # noqa: E402
from .suction import SuctionGripper  # noqa: E402

GC_EVERY = 50  # scene rebuilds between two forced full garbage collections (see PullArticulatedEnv._clear)


class _NoForcedCollection:
    """Stands in for the `gc` module inside ManiSkill's BaseEnv._clear: its collect() does nothing."""

    @staticmethod
    def collect(*args, **kwargs) -> int:
        return 0


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

    **ManiSkill's mechanisms.** The scene is ManiSkill's: `_load_agent`, `_load_scene`, `_load_lighting`
    and the camera come from its hooks, and with `fresh_scene` (the default) every reset reconfigures
    (rebuilds the scene), so an episode depends on its seed alone. The episode is sampled in
    `_initialize_episode`. `step()` is this class's own, not BaseEnv's: BaseEnv.step sends the action
    to a controller for one control step and returns batched torch tensors, while one step here is
    a whole scripted primitive (hundreds of physics steps of the gripper's drives and a suction
    joint) with a numpy observation and a plain-dict info. The outcome it measures is also what
    `evaluate()` returns afterwards, ManiSkill's place for success.
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
        self._outcome: dict = {}
        self.recorder = FrameRecorder()
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
        self.gripper = SuctionGripper(self._sscene, self.agent.robot._objs[0], self.cfg)
        self.recorder.attach(self._sscene, self._camera)  # filming settings outlive the scene

    @cached_property
    def single_observation_space(self):
        return observation_space(self.cfg.image_size)

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
        """The episode's outcome (sim_envs.outcome.Outcome) once its one step ran, {} before: ManiSkill's
        hook for success, here filled by step(), which runs the whole primitive itself (see the class doc)."""
        return dict(self._outcome)

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
        self._outcome = {}
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
        instance = pick_instance(rng, pool, opts, task, split)
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
        q, all_closed = initial_joint_state(rng, obj, c)
        obj.set_qpos(q)
        target = pick_target(rng, obj, task, opts)
        self._target = target
        self._target_links = obj.subtree(target.link)  # the target part: what its mask shows, what may be held
        camera, pose = sample_camera(rng, c)
        self._camera.set_local_pose(pose)
        self.gripper.park()
        return {
            "task": task.name, "category": obj.category, "joint_type_filter": task.joint_type,
            "split": split, "object_source": obj.source, "object_id": obj.object_id,
            "instance_id": instance if isinstance(instance, str) else int(instance),
            "scale": scale, "all_closed": all_closed, "qpos_init": q.tolist(),
            "target_joint": target.name, "target_link": target.link.name,
            "target_label": obj.label(target.link),
            "joint_type": target.type, "joint_limits": list(target.limits),
            **camera, "failure_reason": "", "prompt": prompt_for(obj.category),
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
        obs, self._points_cam, self._seg = render(self._sscene, self._camera, self._object.link_seg_ids(),
                                       [link.entity.per_scene_id for link in self._target_links],
                                       ep["category"], ep["prompt"])
        return obs

    # ------------------------------------------------------------------ the primitive
    def step(self, action):
        if self._stepped:
            raise RuntimeError("the episode has ended (one action per episode): call reset()")
        self._stepped = True
        self._outcome = self._execute(action)
        info = {**self._info, **self._outcome}
        self._info = info
        return self._obs, float(info["success"]), True, False, info

    def abandon(self, reason: str) -> dict:
        """End the episode without executing anything (its agent failed to act): its info, with the
        outcome of a pull that never ran for `reason`."""
        self._stepped = True
        self._outcome = self._fail(reason)
        self._info = {**self._info, **self._outcome}
        return dict(self._info)

    def _fail(self, reason: str, action_record=None) -> dict:
        target = getattr(self, "_target", None)
        return not_executed(reason, None if target is None else target.range, action_record)

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
        target = self._target
        measured = self.gripper.pull(self._object, target, self._target_links, p, R_hand, self.recorder)
        return {**judge(measured, c, action=record, contact_point=p, up=R_hand[:, 2], joint_type=target.type,
                        dof=target.dof, limits=target.limits, joint_range=target.range),
                "pixel_on_target": bool(self._obs["target_mask"][r, cc])}

    # ------------------------------------------------------------------ rollout frames (--record)
    def record_frames(self, every: int) -> None:
        """Render a frame every `every` physics steps of the next step() (0 = off); read them from
        `frames` afterwards as (phase, RGB uint8 array) pairs."""
        self.recorder.start(every)

    @property
    def frames(self) -> list:
        return list(self.recorder.frames)

    # ------------------------------------------------------------------ privileged access
    def privileged(self):
        """Ground truth for data collection and the oracle (never for learned agents)."""
        from .privileged import PrivilegedView

        return PrivilegedView.from_env(self)

    def joint_labels(self) -> dict:
        """The current observation's joint labels (sim_envs.joints): {"link_map": (H, W) uint16,
        "joints": every movable joint's record}. Privileged: collection stores them as training labels."""
        from .joints import joint_records, link_map

        return {"link_map": link_map(self._seg, self._object.link_seg_ids(), self._obs["depth"] > 0),
                "joints": joint_records(self._object)}

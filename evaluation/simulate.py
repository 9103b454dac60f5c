"""Simulation side of the evaluator: environment slots and the worker handler that drives them.

An episode is two half-steps with the agent in between: `start` (reset -> observation, sent to the
parent) and `finish` (the parent's action -> step -> info, sent back). A process holds
`envs_per_worker` environments ("slots"), each with at most one episode between the two, so while
the parent's agent thinks about one slot's observation the process can reset another.

`EpisodeWorker` is the handler that infra.workers runs in each simulation process (or, with
--workers 0, in the evaluator's own process); `make_pool` builds either.

The oracle (`needs_privileged`) gets a `DetachedPrivilegedView`: the worker computes, right after
the reset, the true surface normal at every pixel the expert may sample (the affordance map's
support) and the expert's shortlist (`PrivilegedView.pull_plan`, ray-checked) in its own scene, and
ships those with the point map and masks. The view's `expert_action(rng, noise)` and
`reference_action(rng, noise)` are then the environment's own, evaluated in the parent with the
agent's random stream; they return the same numbers as the live view would.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from sim_envs.config import AGENT_OBS_KEYS as OBS_KEYS  # what an agent gets of an observation
from sim_envs.outcome import not_executed
from sim_envs.privileged import PrivilegedView


# ---------------------------------------------------------------------------------------- privileged
@dataclass
class DetachedPrivilegedView(PrivilegedView):
    """A PrivilegedView that needs no simulator: true normals precomputed on the affordance pixels."""

    normals_cam: np.ndarray = field(default=None, repr=False)  # (H, W, 3), zero off the affordance support

    @classmethod
    def detach(cls, view: PrivilegedView) -> DetachedPrivilegedView:
        support = np.argwhere(view.affordance_map() > 0)
        normals = np.zeros(view.points_cam.shape, dtype=np.float64)
        if len(support):
            normals[support[:, 0], support[:, 1]] = view.true_normals(support)
        return cls(np.asarray(view.points_cam), view.target_mask, view.object_mask, view.cam2world,
                   view.intrinsics, view.joint_type, view.axis_point_cam, view.axis_dir_cam,
                   None, None, joint_q=view.joint_q, joint_limits=view.joint_limits,
                   min_travel=view.min_travel, _plan=view.pull_plan(), normals_cam=normals)

    def true_normals(self, pixels) -> np.ndarray:
        px = np.atleast_2d(np.asarray(pixels, dtype=np.int64))
        return self.normals_cam[px[:, 0], px[:, 1]].copy()


# ---------------------------------------------------------------------------------------- slots
def failure_info(reason: str, base: dict | None = None) -> dict:
    """The info of an episode that never ran (its reset raised, or its worker died): the environment's
    outcome schema for `reason` (sim_envs.outcome.not_executed), on top of `base`."""
    return {**(base or {}), **not_executed(reason)}


def _error(prefix: str, e: BaseException) -> str:
    return f"{prefix}: {type(e).__name__}: {e}"


class Slots:
    """`n` environments of one process, each holding at most one started, unfinished episode."""

    def __init__(self, env_config, n: int, privileged: str | None):
        from sim_envs import make_env

        self.envs = [make_env(env_config) for _ in range(n)]
        self.privileged = privileged  # None, 'live' (same process) or 'detached' (for another process)
        self.busy: dict[int, str] = {}  # slot -> key

    def free(self) -> list[int]:
        return [i for i in range(len(self.envs)) if i not in self.busy]

    def start(self, slot: int, item, frame_every: int = 0) -> tuple:
        """Reset slot `slot` for `item`: ('obs', key, payload), or ('done', key, payload) if the
        reset raised (a recorded failure). `frame_every` > 0 renders the rollout's frames (--record)."""
        env = self.envs[slot]
        t0 = time.perf_counter()
        try:
            obs, info = env.reset(seed=item.episode_seed, options=item.reset_options())
            env.unwrapped.record_frames(frame_every)
            obs = {k: obs[k] for k in OBS_KEYS}
            view = None
            if self.privileged and not info.get("failure_reason"):
                view = env.unwrapped.privileged()
                if self.privileged == "detached":
                    view = DetachedPrivilegedView.detach(view)
        except Exception as e:  # a broken episode is a counted failure, never a crash
            return "done", item.key, {"info": failure_info(_error("episode_error", e)),
                                      "reset_seconds": time.perf_counter() - t0, "step_seconds": 0.0}
        self.busy[slot] = item.key
        return "obs", item.key, {"slot": slot, "obs": obs, "privileged": view,
                                 "reset_seconds": time.perf_counter() - t0}

    def finish(self, slot: int, action) -> tuple:
        """Step slot `slot` with `action` (an 8-vector), or record `action` as the failure reason
        when it is a string (the agent failed): ('done', key, payload)."""
        key = self.busy.pop(slot)
        env = self.envs[slot]
        t0 = time.perf_counter()
        if isinstance(action, str):
            info = env.unwrapped.abandon(action)
        else:
            try:
                info = env.step(np.asarray(action, dtype=np.float64))[4]
            except Exception as e:
                info = env.unwrapped.abandon(_error("episode_error", e))
        payload = {"info": dict(info), "step_seconds": time.perf_counter() - t0}
        if env.unwrapped.frames:
            payload["frames"] = env.unwrapped.frames
            env.unwrapped.record_frames(0)
        return "done", key, payload

    def close(self) -> None:
        for env in self.envs:
            try:
                env.close()
            except Exception:
                pass


# ---------------------------------------------------------------------------------------- the worker
class EpisodeWorker:
    """A simulation worker's handler (infra.workers): `Slots` plus a backlog of items. Messages:
    ("item", item, frame_every) queues an episode (frame_every > 0: record its rollout), ("act", slot,
    action) finishes one; replies are
    ("obs", key, payload) and ("done", key, payload). A free slot starts the next queued item at
    once, so while the parent's agent thinks about one slot's observation another slot resets."""

    def __init__(self, env_config, n: int, privileged: str | None):
        self.slots = Slots(env_config, n, privileged)
        self.backlog: deque = deque()

    def handle(self, message, emit) -> None:
        if message[0] == "item":
            self.backlog.append(message[1:])
        else:  # ("act", slot, action)
            emit(self.slots.finish(message[1], message[2]))
        while self.backlog and self.slots.free():
            emit(self.slots.start(self.slots.free()[0], *self.backlog.popleft()))

    def close(self) -> None:
        self.slots.close()


def make_pool(env_config, workers: int, envs_per_worker: int, privileged: bool, executor: str = "local",
              address: str | None = None):
    """(pool, items each worker may hold): `workers` processes (0 = this process) or Ray actors of
    `envs_per_worker` environments; a process or actor also holds one item queued ahead."""
    from infra.executors import make_workers

    if workers == 0 and executor == "local":
        return make_workers(None, (), 0, inline=EpisodeWorker(env_config, envs_per_worker,
                                                              "live" if privileged else None)), envs_per_worker
    args = (env_config, envs_per_worker, "detached" if privileged else None)
    return make_workers(EpisodeWorker, args, workers, executor, address), envs_per_worker + 1

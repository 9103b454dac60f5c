"""Simulation side of the evaluator: environment slots, worker processes, and the in-process pool.

An episode is two half-steps with the agent in between: `start` (reset -> observation, sent to the
parent) and `finish` (the parent's action -> step -> info, sent back). A process holds
`envs_per_worker` environments ("slots"), each with at most one episode between the two, so while
the parent's agent thinks about one slot's observation the process can reset another.

Pools (`ProcessPool`, `InlinePool`) share one interface used by evaluation.runner:
`submit(worker, item)`, `act(worker, key, action_or_error)`, `poll(timeout) -> [message]`, with
messages ("obs", worker, key, payload) and ("done", worker, key, payload).

The oracle (`needs_privileged`) gets a `DetachedPrivilegedView`: the worker computes, right after
the reset, the true surface normal at every pixel the expert may sample (the affordance map's
support) by ray casting in its own scene, and ships those with the point map and masks. The view's
`expert_action(rng, noise)` is then the environment's own `PrivilegedView.expert_action`, evaluated in
the parent with the agent's random stream; it returns the same numbers as the live view would.
"""
from __future__ import annotations

import os
import queue
import signal
import time
import traceback
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from sim_envs.privileged import PrivilegedView

# what an agent gets (the env's estimated `normals` are left out: 1.4 MB of float32 at 336 px that no
# agent uses and any can recompute from depth with sim_envs.geometry.normals_from_points)
OBS_KEYS = ("rgb", "depth", "object_mask", "target_mask", "intrinsics", "cam2world", "prompt", "category")
DRAIN_WAIT = 0.003  # seconds: a large message may still be on its way through the pipe


class WorkerDied(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------- privileged
@dataclass
class DetachedPrivilegedView(PrivilegedView):
    """A PrivilegedView that needs no simulator: true normals precomputed on the affordance pixels."""

    normals_cam: np.ndarray = field(default=None, repr=False)  # (H, W, 3), zero off the affordance support

    @classmethod
    def detach(cls, view: PrivilegedView) -> "DetachedPrivilegedView":
        support = np.argwhere(view.affordance_map() > 0)
        normals = np.zeros(view.points_cam.shape, dtype=np.float64)
        if len(support):
            normals[support[:, 0], support[:, 1]] = view.true_normals(support)
        return cls(np.asarray(view.points_cam), view.target_mask, view.object_mask, view.cam2world,
                   view.intrinsics, view.joint_type, view.axis_point_cam, view.axis_dir_cam,
                   None, None, normals)

    def true_normals(self, pixels) -> np.ndarray:
        px = np.atleast_2d(np.asarray(pixels, dtype=np.int64))
        return self.normals_cam[px[:, 0], px[:, 1]].copy()


# ---------------------------------------------------------------------------------------- slots
def failure_info(reason: str, base: dict | None = None) -> dict:
    """An outcome for an episode that was not executed (agent error, broken episode, dead worker)."""
    return {**(base or {}), "failure_reason": reason, "contact": False, "touched_link": "", "dq": 0.0,
            "cosine": 0.0, "sim_steps": 0, "success": False, "success_manipllm": False}


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

    def start(self, slot: int, item) -> tuple:
        """Reset slot `slot` for `item`: ('obs', key, payload), or ('done', key, payload) if the
        reset raised (a recorded failure)."""
        env = self.envs[slot]
        t0 = time.perf_counter()
        try:
            obs, info = env.reset(seed=item.episode_seed, options=item.reset_options())
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
            info = failure_info(action, env.unwrapped.get_info())
        else:
            try:
                info = env.step(np.asarray(action, dtype=np.float64))[4]
            except Exception as e:
                info = failure_info(_error("episode_error", e), env.unwrapped.get_info())
        return "done", key, {"info": dict(info), "step_seconds": time.perf_counter() - t0}

    def close(self) -> None:
        for env in self.envs:
            try:
                env.close()
            except Exception:
                pass


# ---------------------------------------------------------------------------------------- pools
class InlinePool:
    """Everything in this process (--workers 0): one 'worker' of `n` slots, deterministic order."""

    def __init__(self, env_config, n: int, privileged: bool):
        self.slots = Slots(env_config, n, "live" if privileged else None)
        self.workers = [0]
        self.backlog: deque = deque()
        self.out: deque = deque()
        self.capacity = n

    def submit(self, worker: int, item) -> None:
        self.backlog.append(item)

    def act(self, worker: int, slot: int, action) -> None:
        self.out.append(("done", 0) + self.slots.finish(slot, action)[1:])

    def poll(self, timeout: float = 0.0) -> list:
        while self.backlog and self.slots.free():
            kind, key, payload = self.slots.start(self.slots.free()[0], self.backlog.popleft())
            self.out.append((kind, 0, key, payload))
        msgs = list(self.out)
        self.out.clear()
        return msgs

    def dead(self) -> list:
        return []

    def close(self) -> None:
        self.slots.close()


def _worker_main(rank: int, env_config, n: int, privileged: bool, inbox, outbox, parent_pid: int):
    """A simulation process: items and actions from `inbox`, observations and outcomes to `outbox`.
    Exits on None, or as soon as its parent is gone (a killed evaluator leaves no orphans)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us

    def orphaned() -> bool:
        if os.getppid() == parent_pid:
            return False
        outbox.cancel_join_thread()  # nobody will read what is still buffered: do not wait at exit
        return True

    try:
        slots = Slots(env_config, n, "detached" if privileged else None)
        backlog: deque = deque()
        while True:
            try:
                msg = inbox.get(timeout=1.0)
            except queue.Empty:
                if orphaned():
                    return
                continue
            if msg is None or orphaned():
                return
            if msg[0] == "item":
                backlog.append(msg[1])
            else:  # ("act", slot, action)
                kind, key, payload = slots.finish(msg[1], msg[2])
                outbox.put((kind, rank, key, payload))
            while backlog and slots.free():
                kind, key, payload = slots.start(slots.free()[0], backlog.popleft())
                outbox.put((kind, rank, key, payload))
    except BaseException:
        outbox.put(("error", rank, None, traceback.format_exc()))
        orphaned()


class ProcessPool:
    """`workers` spawned simulation processes of `n` slots each, one inbox per process and a shared
    outbox. Workers that die are reported by `dead()`; `restart(worker)` replaces one."""

    def __init__(self, env_config, workers: int, n: int, privileged: bool):
        import multiprocessing as mp

        from sim_envs.provenance import single_threaded_children

        self.ctx = mp.get_context("spawn")
        self.args = (env_config, n, privileged)
        self.outbox = self.ctx.Queue()
        self.procs, self.inboxes = {}, {}
        self.workers = list(range(workers))
        self.capacity = n + 1  # items handed to a process: its slots plus one queued ahead
        self._env_threads = single_threaded_children
        for w in self.workers:
            self._spawn(w)

    def _spawn(self, w: int) -> None:
        self.inboxes[w] = self.ctx.Queue()
        with self._env_threads():
            p = self.ctx.Process(target=_worker_main, daemon=True,
                                 args=(w, *self.args, self.inboxes[w], self.outbox, os.getpid()))
            p.start()
        self.procs[w] = p

    def submit(self, worker: int, item) -> None:
        self.inboxes[worker].put(("item", item))

    def act(self, worker: int, slot: int, action) -> None:
        self.inboxes[worker].put(("act", slot, action))

    def poll(self, timeout: float = 0.0) -> list:
        msgs = []
        try:
            msgs.append(self.outbox.get(timeout=max(timeout, DRAIN_WAIT)))
            while True:  # get_nowait would miss a message whose sender is between two pipe writes
                msgs.append(self.outbox.get(timeout=DRAIN_WAIT))
        except queue.Empty:
            pass
        for m in msgs:
            if m[0] == "error":
                raise WorkerDied(f"simulation worker {m[1]} failed:\n{m[3]}")
        return msgs

    def dead(self) -> list[tuple[int, int]]:
        """(worker, exit code) of processes that exited."""
        return [(w, p.exitcode) for w, p in self.procs.items() if not p.is_alive()]

    def restart(self, worker: int) -> None:
        self.inboxes[worker].cancel_join_thread()
        self._spawn(worker)

    def close(self) -> None:
        for q in self.inboxes.values():
            q.put(None)
        deadline = time.time() + 5
        for p in self.procs.values():
            p.join(timeout=max(0.1, deadline - time.time()))
            if p.is_alive():
                p.terminate()
                p.join(timeout=2)
        for q in (*self.inboxes.values(), self.outbox):
            q.cancel_join_thread()

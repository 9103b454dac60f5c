"""An agent in a Ray actor (evaluation.run --executor ray --ray-agent actor|auto): the model lives on
the node Ray places the actor on (with `num_gpus=1`, a GPU node), and the evaluator's driver, which
batches the observations of every simulation actor, calls it once per batch. One policy serves many
simulators; the driver keeps the work list and the records.

The checkpoint path must exist on the actor's node (a shared file system, or the same path everywhere).
"""
from __future__ import annotations

import numpy as np

from infra.workers import WorkerDied

from .base import Agent


class _AgentActor:
    def __init__(self, name: str, checkpoint, device: str):
        from .factory import build

        self.agent, _ = build(name, checkpoint, device)

    def info(self) -> dict:
        import os
        import socket

        a = self.agent
        return {"name": a.name, "needs_privileged": bool(a.needs_privileged),
                "observation_keys": list(a.observation_keys),
                "parameter_counts": a.parameter_counts(), "class": f"{type(a).__module__}.{type(a).__name__}",
                "host": socket.gethostname(), "pid": os.getpid()}

    def act(self, observations, seeds, privileged):
        return np.asarray(self.agent.act(observations, seeds=seeds, privileged=privileged), dtype=np.float64)


class RayAgent(Agent):
    """Proxy of an agent built in a Ray actor (`build(name, checkpoint, device)` there). An error of the
    agent reaches the evaluator as the agent's own exception; a dead actor stops the run (WorkerDied:
    rerun to resume)."""

    def __init__(self, name: str, checkpoint=None, device: str = "cpu", num_gpus: float = 0, address=None):
        from infra.executors import connect

        self.ray = connect(address)
        # num_cpus=0: the actor sits beside the simulation actors (it waits for batches most of the time)
        actor = self.ray.remote(num_cpus=0, num_gpus=num_gpus, max_restarts=0)(_AgentActor)
        self.actor = actor.remote(name, checkpoint, device)
        try:
            info = self.ray.get(self.actor.info.remote())
        except Exception as e:  # the constructor's error (bad checkpoint, no such device)
            raise RuntimeError(f"the agent's Ray actor could not build it: {_cause(e)}") from None
        self.name, self.needs_privileged = info["name"], info["needs_privileged"]
        self.observation_keys = tuple(info["observation_keys"])
        self._counts = info["parameter_counts"]
        self.served = {"ray_actor": True, "num_gpus": num_gpus, "device": device, **info}

    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        from ray.exceptions import RayActorError, RayTaskError

        try:
            return self.ray.get(self.actor.act.remote(list(observations), None if seeds is None else list(seeds),
                                                      privileged))
        except RayTaskError as e:
            raise e.as_instanceof_cause() from None  # the agent's own exception type and message
        except RayActorError as e:
            raise WorkerDied(f"the agent's Ray actor died ({e}); finished episodes are kept: rerun the same "
                             f"command to resume") from None

    def parameter_counts(self) -> dict:
        return dict(self._counts)


def _cause(e: BaseException) -> str:
    cause = getattr(e, "cause", None)
    return f"{type(cause).__name__}: {cause}" if cause is not None else f"{type(e).__name__}: {e}"

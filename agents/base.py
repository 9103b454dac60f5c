"""The agent interface shared by learned models, baselines and the evaluator."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np

ACTION_DIM = 8  # [row, col, up_x, up_y, up_z, fwd_x, fwd_y, fwd_z], camera frame (see sim_envs.pull_env)


class Agent(ABC):
    """Maps a batch of observations to a batch of actions.

    `observations` are the environment's observation dicts (`rgb`, `depth`, masks, `intrinsics`,
    `cam2world`, `prompt`, ...). `seeds` gives each item its own random stream, so an agent's action
    for an episode does not depend on how episodes were batched. Agents that declare
    `needs_privileged = True` (only the oracle) also receive the environment's privileged views.
    """

    name: str = "agent"
    needs_privileged: bool = False

    @abstractmethod
    def act(self, observations: Sequence[dict], seeds: Sequence[int] | None = None,
            privileged: Sequence | None = None) -> np.ndarray:
        """(B, 8) float array; a row of NaN means "no action" (a recorded failure)."""

    def reset(self) -> None:  # episodes are one step; stateful agents may override
        pass

    def parameter_counts(self) -> dict:
        """{'total': N, 'trainable': M} for models; zeros for baselines without parameters."""
        return {"total": 0, "trainable": 0}


def item_seeds(seeds: Sequence[int] | None, n: int) -> list[int]:
    if seeds is None:
        return list(range(n))
    seeds = list(seeds)
    if len(seeds) != n:
        raise ValueError(f"got {len(seeds)} seeds for {n} observations")
    return [int(s) for s in seeds]


def random_forward(rng: np.random.Generator, up: np.ndarray) -> np.ndarray:
    """A uniformly random unit vector orthogonal to `up` (the gripper's roll)."""
    fw = rng.normal(size=3)
    fw -= up * np.dot(fw, up)
    return fw / np.linalg.norm(fw)

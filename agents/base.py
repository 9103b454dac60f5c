"""The agent interface shared by learned models, baselines and the evaluator."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from sim_envs.config import ACTION_DIM, AGENT_OBS_KEYS  # noqa: F401  (ACTION_DIM: the agents' output width)


class Agent(ABC):
    """Maps a batch of observations to a batch of actions.

    `observations` are the environment's observation dicts (`rgb`, `depth`, masks, `intrinsics`,
    `cam2world`, `prompt`, ...). `seeds` gives each item its own random stream, so an agent's action
    for an episode does not depend on how episodes were batched. Agents that declare
    `needs_privileged = True` (only the oracle) also receive the environment's privileged views.
    """

    name: str = "agent"
    needs_privileged: bool = False
    # the observation entries act() reads: a served agent (agents.serve) is sent only these
    observation_keys: tuple = AGENT_OBS_KEYS

    @abstractmethod
    def act(self, observations: Sequence[dict], seeds: Sequence[int] | None = None,
            privileged: Sequence | None = None) -> np.ndarray:
        """(B, 8) float array; a row of NaN means "no action" (a recorded failure)."""

    def parameter_counts(self) -> dict:
        """{'total': N, 'trainable': M} for models; zeros for baselines without parameters."""
        return {"total": 0, "trainable": 0}

    def runtime(self) -> dict:
        """How this agent computes in this process, where that can move its numbers' last digits (for
        example which CPU scan a Mamba model runs); recorded beside the package versions in checkpoints and
        run.json. Empty for most agents."""
        return {}

    # the Hugging Face Hub mixin convention, on local directories only (nothing is downloaded)
    @classmethod
    def from_pretrained(cls, directory, device: str = "cpu") -> Agent:
        """The agent saved in `directory` (agents.checkpoint); CheckpointError if it holds another agent."""
        from .checkpoint import CheckpointError
        from .factory import load

        agent = load(directory, device=device)
        if not isinstance(agent, cls):
            raise CheckpointError(f"checkpoint {directory} holds a {type(agent).__name__}, not a {cls.__name__}")
        return agent

    def save_pretrained(self, directory, training: dict | None = None):
        """Save a learned agent to `directory` (agents.checkpoint.save); returns the path."""
        from .checkpoint import save

        return save(self, directory, training)


def item_seeds(seeds: Sequence[int] | None, n: int) -> list[int]:
    if seeds is None:
        return list(range(n))
    seeds = list(seeds)
    if len(seeds) != n:
        raise ValueError(f"got {len(seeds)} seeds for {n} observations")
    return [int(s) for s in seeds]


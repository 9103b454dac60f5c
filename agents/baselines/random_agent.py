"""Random baseline: a uniform pixel of the object silhouette (it reads the object mask, which is
privileged) and a uniform approach direction on the hemisphere facing the camera (up has a positive
component along the viewing axis), random roll."""
from __future__ import annotations

import numpy as np

from sim_envs.geometry import random_approach

from ..base import ACTION_DIM, Agent, item_seeds


class RandomAgent(Agent):
    name = "random"
    stream = 0xA11  # separates the agent's random stream from the episode's

    def pixel(self, obs: dict, rng: np.random.Generator) -> tuple[int, int] | None:
        """A uniform pixel of the object's mask (None if the object is not in view)."""
        rows, cols = np.nonzero(obs["object_mask"])
        if not len(rows):
            return None
        k = int(rng.integers(len(rows)))
        return rows[k], cols[k]

    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        out = np.full((len(observations), ACTION_DIM), np.nan)
        for i, (obs, seed) in enumerate(zip(observations, item_seeds(seeds, len(observations)))):
            rng = np.random.default_rng([seed, self.stream])
            pix = self.pixel(obs, rng)
            if pix is not None:
                up, forward = random_approach(rng)
                out[i] = [*pix, *up, *forward]
        return out

"""Random baseline: a uniform pixel of the object silhouette and a uniform approach direction on the
hemisphere facing the camera (up has a positive component along the viewing axis), random roll."""
from __future__ import annotations

import numpy as np

from sim_envs.geometry import random_forward

from ..base import ACTION_DIM, Agent, item_seeds


class RandomAgent(Agent):
    name = "random"

    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        out = np.full((len(observations), ACTION_DIM), np.nan)
        for i, (obs, seed) in enumerate(zip(observations, item_seeds(seeds, len(observations)))):
            rng = np.random.default_rng([seed, 0xA11])
            rows, cols = np.nonzero(obs["object_mask"])
            if not len(rows):
                continue
            k = int(rng.integers(len(rows)))
            up = rng.normal(size=3)
            up /= np.linalg.norm(up)
            if up[2] < 0:  # camera frame z points away from the camera: approach from its side
                up = -up
            out[i] = [rows[k], cols[k], *up, *random_forward(rng, up)]
        return out

"""Chance baseline, the benchmark's floor: a uniform pixel of the whole image and a uniform approach
direction on the hemisphere pointing away from the camera (into the scene), random roll. It reads
the image size and nothing else: no mask, no depth (unlike `random`, which picks a pixel on the
object's mask)."""
from __future__ import annotations

import numpy as np

from sim_envs.geometry import random_forward

from ..base import ACTION_DIM, Agent, item_seeds


class ChanceAgent(Agent):
    name = "chance"

    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        out = np.full((len(observations), ACTION_DIM), np.nan)
        for i, (obs, seed) in enumerate(zip(observations, item_seeds(seeds, len(observations)))):
            rng = np.random.default_rng([seed, 0xC4A])
            h, w = np.shape(obs["rgb"])[:2]
            up = rng.normal(size=3)
            up /= np.linalg.norm(up)
            if up[2] < 0:  # camera frame z points into the scene
                up = -up
            out[i] = [rng.integers(h), rng.integers(w), *up, *random_forward(rng, up)]
        return out

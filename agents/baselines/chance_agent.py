"""Chance baseline, the benchmark's floor: a uniform pixel of the whole image and a uniform approach
direction on the hemisphere pointing away from the camera (into the scene), random roll. It reads
the image size and nothing else: no mask, no depth (unlike `random`, which picks a pixel on the
object's mask)."""
from __future__ import annotations

import numpy as np

from .random_agent import RandomAgent


class ChanceAgent(RandomAgent):
    name = "chance"
    stream = 0xC4A

    def pixel(self, obs: dict, rng: np.random.Generator) -> tuple[int, int]:
        h, w = np.shape(obs["rgb"])[:2]
        return int(rng.integers(h)), int(rng.integers(w))

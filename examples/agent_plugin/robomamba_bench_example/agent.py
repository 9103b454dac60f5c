"""A deterministic agent living outside the benchmark's repository: the object-mask pixel nearest to
the mask's centroid, approached along the viewing ray, with a fixed roll.

Registered through the entry point group `robomamba_bench.agents` in ../pyproject.toml, so after
`pip install examples/agent_plugin` it runs as `python -m evaluation.run --agent centre`.
"""
from __future__ import annotations

import numpy as np

from agents.base import Agent


class CentreAgent(Agent):
    name = "centre"

    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        out = np.full((len(observations), 8), np.nan)
        for i, obs in enumerate(observations):
            mask = np.asarray(obs["object_mask"])
            pix = np.argwhere(mask)
            if not len(pix):
                continue  # a row of NaN: no action (a recorded failure)
            r, c = pix[np.argmin(((pix - pix.mean(0)) ** 2).sum(1))]
            K = np.asarray(obs["intrinsics"], dtype=np.float64)
            ray = np.array([(c + 0.5 - K[0, 2]) / K[0, 0], (r + 0.5 - K[1, 2]) / K[1, 1], 1.0])
            up = ray / np.linalg.norm(ray)  # into the scene, along the line of sight
            fw = np.cross(up, [0.0, 1.0, 0.0])
            fw /= np.linalg.norm(fw)
            out[i] = [r, c, *up, *fw]
        return out

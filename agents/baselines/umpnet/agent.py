"""The UMPNet baseline as an Agent: the best-scored object pixel, then, of directions sampled uniformly on
the hemisphere pulling away from the surface there, the one most likely to open the part.

The paper infers the direction in a closed loop, goal-conditioned (each step classifies candidate
directions and keeps moving along one that opens). A one-shot pull has one step: its direction is the
best "opens" score among the candidates, and the pull runs along it (`up` = minus that direction);
the roll (`forward`) is random about `up`, as the protocol's demos draw it.
"""
from __future__ import annotations

import numpy as np
import torch

from ...base import ACTION_DIM, item_seeds
from ..learned import LearnedBaseline
from ..rgbd import batch_features, object_cells
from .model import OPENS, UMPNetConfig, UMPNetNet


def hemisphere(rng: np.random.Generator, normal: np.ndarray, k: int) -> np.ndarray:
    """(k, 3) unit vectors uniform on the hemisphere around the unit `normal`."""
    d = rng.normal(size=(k, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return np.where((d @ normal)[:, None] < 0, -d, d)


def outward_normal(obs: dict, row: int, col: int) -> np.ndarray:
    """The camera-facing unit surface normal at a pixel, from depth (minus the viewing ray where depth
    gives none)."""
    from sim_envs.geometry import lift_pixel, unit

    from ...training_data import depth_normals

    K = np.asarray(obs["intrinsics"], np.float64)
    n = np.asarray(depth_normals(obs["depth"], K)[row, col], np.float64)
    ray = unit(lift_pixel(row, col, 1.0, K))
    if not np.linalg.norm(n) > 0.5:
        return -ray
    n = unit(n)
    return -n if np.dot(n, ray) > 0 else n


class UMPNetAgent(LearnedBaseline):
    name = "umpnet"
    network = UMPNetNet
    config_class = UMPNetConfig

    @torch.no_grad()
    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        from sim_envs.geometry import random_forward

        out = np.full((len(observations), ACTION_DIM), np.nan)
        feats, G = batch_features(self.model, observations, self.device)
        pos = self.model.position_logits(feats)
        for i, (obs, seed) in enumerate(zip(observations, item_seeds(seeds, len(observations)))):
            rows, cols, r_s, c_s = object_cells(obs, G)
            if not len(rows):
                continue
            k = int(torch.argmax(pos[i, torch.from_numpy(r_s), torch.from_numpy(c_s)]))
            rng = np.random.default_rng([int(seed) & 0x7FFFFFFF, 0x0B9E])
            d = hemisphere(rng, outward_normal(obs, int(rows[k]), int(cols[k])), self.model.cfg.directions)
            f = feats[i, :, r_s[k], c_s[k]][None].expand(len(d), -1)
            logits = self.model.direction_logits(f, torch.from_numpy(d).float().to(self.device))
            best = int(torch.argmax(torch.log_softmax(logits, -1)[:, OPENS]))
            up = -d[best]
            out[i] = [rows[k], cols[k], *up, *random_forward(rng, up)]
        return out

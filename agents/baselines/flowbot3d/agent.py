"""The FlowBot3D baseline as an Agent: predict the articulation flow of the object's points, take the point
of largest predicted flow and pull along its flow (`up` = minus the flow's direction).

The paper grasps that point with suction and then re-estimates the flow after every small step, following
the part as it turns (closed loop). The one-shot pull cannot: it pulls once, straight, along the flow
predicted at the start. The roll (`forward`) is random about `up`, as the protocol's demos draw it.
"""
from __future__ import annotations

import numpy as np
import torch

from ...base import ACTION_DIM, item_seeds
from ..learned import LearnedBaseline
from .cloud import object_cloud, sample_indices
from .model import FlowBot3DConfig, FlowBot3DNet, point_features


class FlowBot3DAgent(LearnedBaseline):
    name = "flowbot3d"
    network = FlowBot3DNet
    config_class = FlowBot3DConfig

    @torch.no_grad()
    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        from sim_envs.geometry import random_forward, unit

        out = np.full((len(observations), ACTION_DIM), np.nan)
        n = self.model.cfg.points
        for i, (obs, seed) in enumerate(zip(observations, item_seeds(seeds, len(observations)))):
            rows, cols, pts, normals = object_cloud(obs["depth"], obs["intrinsics"], obs["object_mask"])
            if not len(rows):
                continue
            rng = np.random.default_rng([int(seed) & 0x7FFFFFFF, 0xF10B])
            idx = sample_indices(rng, len(rows), n)
            x = torch.from_numpy(point_features(pts[idx], normals[idx]))[None].to(self.device)
            flow = self.model(x)[0].double().cpu().numpy()
            k = int(np.argmax(np.linalg.norm(flow, axis=1)))
            up = -unit(flow[k])
            if not np.linalg.norm(up) > 0:
                continue
            out[i] = [rows[idx[k]], cols[idx[k]], *up, *random_forward(rng, up)]
        return out

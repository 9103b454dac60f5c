"""The FlowBot3D network: a small point network in plain torch (CPU-sized).

Not PointNet++ (the paper's backbone): a PointNet with one k-nearest-neighbour edge layer
(DGCNN-style), simpler and enough to learn the flow (the training record compares its held-out flow
with the best constant prediction). Per point it reads (x, y, z) relative to the cloud's centroid and
the camera-frame normal from depth, all in the camera frame, and:
  local   per-point MLP, then the max over its k nearest neighbours of MLP([f_i, f_j - f_i]);
  global  max-pool over the cloud;
  head    MLP on [point, local, global] -> the 3D flow (camera frame).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ...layers import mlp

POINT_FEATURES = 6  # centred xyz, normal


@dataclass
class FlowBot3DConfig:
    points: int = 1024  # points sampled from the object's pixels
    neighbours: int = 8
    width: int = 48

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def point_features(points_cam: np.ndarray, normals_cam: np.ndarray) -> np.ndarray:
    """(N, 6) float32 network input of one cloud."""
    centred = points_cam - points_cam.mean(0, keepdims=True)
    return np.concatenate([centred, normals_cam], 1).astype(np.float32)


class FlowBot3DNet(nn.Module):
    def __init__(self, cfg: FlowBot3DConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.point = mlp([POINT_FEATURES, w, w])
        self.edge = mlp([2 * w, 2 * w, 2 * w])
        self.glob = mlp([3 * w, 4 * w])
        self.head = mlp([w + 2 * w + 4 * w, 4 * w, 2 * w, 3])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, 6) -> (B, N, 3) flow."""
        f = self.point(x)
        k = min(self.cfg.neighbours, x.shape[1])
        idx = torch.cdist(x[..., :3], x[..., :3]).topk(k, largest=False).indices  # (B, N, k)
        nb = torch.gather(f.unsqueeze(1).expand(-1, f.shape[1], -1, -1), 2,
                          idx.unsqueeze(-1).expand(-1, -1, -1, f.shape[-1]))
        local = self.edge(torch.cat([f.unsqueeze(2).expand_as(nb), nb - f.unsqueeze(2)], -1)).max(2).values
        g = self.glob(torch.cat([f, local], -1)).max(1, keepdim=True).values.expand(-1, f.shape[1], -1)
        return self.head(torch.cat([f, local, g], -1))

"""The UMPNet networks, small enough for a CPU.

The shared RGB-D backbone (agents.baselines.rgbd) gives a feature per cell; two heads read it:

- position(f)     -> logit that an interaction at this pixel moves the target part;
- direction(f, d) -> logits over DIRECTION_CLASSES for pulling along the camera-frame unit vector d
                     there (the paper's Arrow-of-Time classes: what the pull does to the joint).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ...layers import mlp
from ..rgbd import RGBDBackbone

DIRECTION_CLASSES = ("no_motion", "opens", "closes")
OPENS = DIRECTION_CLASSES.index("opens")


@dataclass
class UMPNetConfig:
    image_size: int = 112
    width: int = 32
    directions: int = 64  # candidate directions scored at the chosen pixel

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class UMPNetNet(RGBDBackbone):
    def __init__(self, cfg: UMPNetConfig):
        super().__init__(cfg.width)
        self.cfg = cfg
        w = cfg.width
        self.position = mlp([w, 128, 1])
        self.direction = mlp([w + 3, 128, 128, len(DIRECTION_CLASSES)])

    def position_logits(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, C, G, G) -> (B, G, G)."""
        return self.position(feats.permute(0, 2, 3, 1)).squeeze(-1)

    def direction_logits(self, f: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        """Features (N, C) and unit pull directions (N, 3) -> (N, 3) class logits."""
        return self.direction(torch.cat([f, d], -1))

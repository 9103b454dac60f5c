"""The Where2Act networks, small enough for a CPU.

A fully convolutional encoder-decoder turns the RGB-D observation (RGB, camera-frame normals from
depth, depth relative to the object's median) into a feature per pixel. Three heads read it:

- critic(f, up, forward)  -> logit that pulling there with that gripper pose succeeds;
- proposal(f, z)          -> a gripper rotation (6D -> Gram-Schmidt) for noise z; trained best-of-K
                             on successes (a simple stand-in for the paper's cVAE: diverse proposals);
- actionability(f)        -> logit of "some proposal succeeds here", trained towards the critic's
                             mean score of the proposals (the paper's recipe).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ...layers import mlp
from ...rotation import gram_schmidt_6d, rotation_to_6d
from ..rgbd import RGBDBackbone


@dataclass
class Where2ActConfig:
    image_size: int = 112
    width: int = 32
    noise_dim: int = 8
    proposals: int = 32

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class Where2ActNet(RGBDBackbone):
    def __init__(self, cfg: Where2ActConfig):
        super().__init__(cfg.width)
        self.cfg = cfg
        w = cfg.width
        self.critic = mlp([w + 6, 128, 128, 1])
        self.proposal = mlp([w + cfg.noise_dim, 128, 128, 6])
        self.actionability = mlp([w, 128, 1])

    def score(self, f: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
        """Critic logits for features (N, C) and rotations (N, 3, 3)."""
        return self.critic(torch.cat([f, rotation_to_6d(R)], -1)).squeeze(-1)

    def propose(self, f: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(N, C) -> (N, k, 3, 3) proposed rotations."""
        z = torch.randn((f.shape[0], k, self.cfg.noise_dim), generator=generator, device=f.device)
        return gram_schmidt_6d(self.proposal(torch.cat([f.unsqueeze(1).expand(-1, k, -1), z], -1)))

    def action_logits(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) -> (B, S, S) actionability logits."""
        return self.actionability(feats.permute(0, 2, 3, 1)).squeeze(-1)

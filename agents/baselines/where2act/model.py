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

import numpy as np
import torch
from torch import nn

from ...layers import mlp
from ...rotation import gram_schmidt_6d, rotation_to_6d

IN_CHANNELS = 7
FEATURE_STRIDE = 2  # input pixels per feature cell


@dataclass
class Where2ActConfig:
    image_size: int = 112
    width: int = 32
    noise_dim: int = 8
    proposals: int = 32

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def observation_tensor(rgb: np.ndarray, depth: np.ndarray, normals: np.ndarray, object_mask: np.ndarray) -> np.ndarray:
    """(7, S, S) float32 network input from arrays at the network's size."""
    d = depth.astype(np.float32)
    ref = np.median(d[object_mask]) if object_mask.any() else 1.0
    rel = np.where(d > 0, d - ref, 0.0)
    return np.concatenate([rgb.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1, normals.transpose(2, 0, 1),
                           rel[None] * 4], 0).astype(np.float32)


def block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GELU(), nn.Conv2d(cout, cout, 3, 1, 1), nn.GELU())


class Where2ActNet(nn.Module):
    def __init__(self, cfg: Where2ActConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        # features on a grid of half the input's side (FEATURE_STRIDE)
        self.e1, self.e2, self.e3 = block(IN_CHANNELS, w, 2), block(w, 2 * w, 2), block(2 * w, 4 * w, 2)
        self.d2 = block(4 * w + 2 * w, 2 * w)
        self.d1 = block(2 * w + w, w)
        self.critic = mlp([w + 6, 128, 128, 1])
        self.proposal = mlp([w + cfg.noise_dim, 128, 128, 6])
        self.actionability = mlp([w, 128, 1])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 7, S, S) -> (B, width, S / 2, S / 2)."""
        up = lambda t, ref: nn.functional.interpolate(t, size=ref.shape[-2:], mode="nearest")  # noqa: E731
        f1 = self.e1(x)
        f2 = self.e2(f1)
        f3 = self.e3(f2)
        g2 = self.d2(torch.cat([up(f3, f2), f2], 1))
        return self.d1(torch.cat([up(g2, f1), f1], 1))

    @staticmethod
    def at(feats: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        return feats[batch, :, rows, cols]

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

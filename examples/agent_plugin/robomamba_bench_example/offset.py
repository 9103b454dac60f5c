"""A trainable agent living outside the benchmark's repository: it learns, from the successful demos,
where on the object to pull and from which direction, as two averages.

- the contact pixel: the object-mask pixel nearest to (mask centroid + the demos' mean offset from
  their mask's centroid, in units of the mask's extent);
- the approach axis `up` and the gripper's `forward`: the demos' mean directions (camera frame),
  orthonormalised.

It needs no torch training loop; its model is a torch module only because that is what a benchmark
checkpoint stores (agents.checkpoint: safetensors + config.json). Registered through the entry points
`robomamba_bench.agents` (this class) and `robomamba_bench.trainers` (robomamba_bench_example.train) in
../pyproject.toml, it trains with `python -m agents.train --agent centre_offset` and takes part in the
main job with `python -m evaluation.pipeline --agents centre_offset,...`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from agents.base import Agent


@dataclass
class OffsetConfig:
    minimum_extent: float = 1.0  # pixels: the smallest mask extent an offset is scaled by

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class OffsetModel(nn.Module):
    """The learned numbers, as buffers: the pixel offset (rows, cols, in mask extents), `up`, and `fwd`
    (the gripper's forward)."""

    def __init__(self, cfg: OffsetConfig | None = None):
        super().__init__()
        self.cfg = cfg or OffsetConfig()
        self.register_buffer("offset", torch.zeros(2, dtype=torch.float64))
        self.register_buffer("up", torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
        self.register_buffer("fwd", torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))


def mask_frame(mask: np.ndarray, minimum: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(object pixels (N, 2), centroid (2,), extent (2,)) of a boolean mask."""
    pix = np.argwhere(mask)
    centre = pix.mean(0)
    extent = np.maximum(pix.max(0) - pix.min(0) + 1, minimum).astype(np.float64)
    return pix, centre, extent


class OffsetAgent(Agent):
    name = "centre_offset"

    def __init__(self, model: OffsetModel | None = None, device: str = "cpu"):
        self.model = (model or OffsetModel()).to(device)

    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        out = np.full((len(observations), 8), np.nan)
        offset = self.model.offset.cpu().numpy()
        up = self.model.up.cpu().numpy()
        up = up / np.linalg.norm(up)
        fw = self.model.fwd.cpu().numpy()
        fw = fw - up * np.dot(fw, up)
        fw = fw / np.linalg.norm(fw) if np.linalg.norm(fw) > 1e-9 else np.cross(up, [0.0, 1.0, 0.0])
        for i, obs in enumerate(observations):
            mask = np.asarray(obs["object_mask"])
            if not mask.any():
                continue  # a row of NaN: no action (a recorded failure)
            pix, centre, extent = mask_frame(mask, self.model.cfg.minimum_extent)
            aim = centre + offset * extent
            r, c = pix[np.argmin(((pix - aim) ** 2).sum(1))]
            out[i] = [r, c, *up, *fw]
        return out

    def parameter_counts(self) -> dict:
        return {"total": 8, "trainable": 8}

    @classmethod
    def from_checkpoint(cls, directory, meta: dict, device: str = "cpu"):
        from agents.checkpoint import load_weights

        model = OffsetModel(OffsetConfig(**meta["model_config"]))
        load_weights(model, directory)
        return cls(model, device=device)

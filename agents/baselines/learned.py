"""What the trained baselines share as agents: one torch network built from its config dataclass,
saved and loaded through agents.checkpoint."""
from __future__ import annotations

import torch

from ..base import Agent


class LearnedBaseline(Agent):
    """Subclasses name their network class (`network`, built from a `config`) and write act()."""

    network: type = None
    config_class: type = None

    def __init__(self, net=None, config=None, seed: int = 0, device: str = "cpu"):
        if net is None:  # untrained (tests, or the start of training)
            torch.manual_seed(seed)
            net = self.network(config or self.config_class())
        self.model = net.to(device).eval()
        self.device = device

    def parameter_counts(self) -> dict:
        n = sum(p.numel() for p in self.model.parameters())
        return {"total": n, "trainable": n}

    @classmethod
    def from_checkpoint(cls, directory, meta: dict, device: str = "cpu"):
        from ..checkpoint import load_weights

        net = cls.network(cls.config_class(**meta["model_config"]))
        load_weights(net, directory)
        return cls(net=net, device=device)

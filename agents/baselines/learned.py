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


def model_view(observation: dict, cfg) -> tuple[tuple, object]:
    """(the view's box, its pixels at the encoder's size (S, S, 3) uint8) of one observation, as the demos were
    decoded for training (agents.training_data.load): what the vision-language baselines built on the
    Transformer twin see (`cfg`: the twin's RoboMambaConfig)."""
    import numpy as np

    from ..training_data import resize
    from ..views import cut

    box = cfg.view_spec().box_of(observation)
    return box, resize(cut(np.asarray(observation["rgb"]), box), cfg.image_size)

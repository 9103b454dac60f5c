"""RoboFlamingo as an Agent: the view and prompt in, the policy head's contact point and rotation out."""
from __future__ import annotations

import numpy as np
import torch

from ...base import ACTION_DIM, Agent
from ...frames import directions_to_camera, frame_keys
from ...robomamba.text import encode_batch
from ..learned import model_view
from .config import RoboFlamingoConfig
from .model import RoboFlamingoModel


class RoboFlamingoAgent(Agent):
    """`roboflamingo`. Built from a trained Transformer twin by its trainer (agents.baselines.roboflamingo.train),
    or from its checkpoint. Each observation goes through the model alone (a batch of one)."""

    name = "roboflamingo"

    def __init__(self, model: RoboFlamingoModel, tokenizer, device: str = "cpu"):
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device

    @property
    def fcfg(self) -> RoboFlamingoConfig:
        return self.model.fcfg

    def model_config(self) -> dict:
        """What agents.checkpoint saves as the model's configuration."""
        return self.fcfg.to_dict()

    @property
    def observation_keys(self) -> tuple:
        keys = ("rgb", "prompt") + (("object_mask",) if self.model.cfg.view_spec().needs_mask else ())
        return keys + frame_keys(self.fcfg.rotation_frame)

    @torch.no_grad()
    def _predict(self, observation: dict):
        box, rgb = model_view(observation, self.model.cfg)
        images = self.model.preprocess(torch.from_numpy(rgb[None]).permute(0, 3, 1, 2).to(self.device))
        ids, mask = encode_batch(self.tokenizer, [observation["prompt"]], self.model.cfg.max_text_tokens)
        pos, R = self.model(images, ids.to(self.device), mask.to(self.device))
        return box, pos[0].double().cpu().numpy(), R[0].double().cpu().numpy()

    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        out = np.empty((len(observations), ACTION_DIM))
        view = self.model.cfg.view_spec()
        for i, o in enumerate(observations):
            box, pos, R = self._predict(o)
            row, col = view.pixel(pos, box, *np.asarray(o["rgb"]).shape[:2], o.get("object_mask"))
            # up = third column, forward = first (as robomamba's head)
            up, fw = directions_to_camera(self.fcfg.rotation_frame, o, (row, col), R[:, 2], R[:, 0])
            out[i] = [row, col, *up, *fw]
        return out

    def parameter_counts(self) -> dict:
        return self.model.parameter_counts()

    @classmethod
    def from_checkpoint(cls, directory, meta: dict, device: str = "cpu"):
        from ...checkpoint import load_weights
        from ...robomamba.text import tokenizer_from_json

        model = RoboFlamingoModel(RoboFlamingoConfig(**meta["model_config"]), pretrained=False)
        load_weights(model, directory)
        model.lm.tie_weights()
        tokenizer = tokenizer_from_json((directory / "tokenizer.json").read_text())
        return cls(model, tokenizer, device=device)

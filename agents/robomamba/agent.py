"""RoboMamba as an Agent: RGB + prompt in, contact pixel + gripper orientation out."""
from __future__ import annotations

import numpy as np
import torch

from ..base import ACTION_DIM, Agent
from ..training_data import centre_crop, resize, uncrop_pixel
from .config import RoboMambaConfig, preset
from .model import RoboMambaModel
from .text import build_tokenizer, encode_batch


class RoboMambaAgent(Agent):
    """`robomamba` (Mamba LM) or, with lm_type='llama', the `transformer` twin. Built untrained from
    a preset, or from a model and tokenizer (checkpoints: agents.checkpoint)."""

    name = "robomamba"
    lm_type = "mamba"
    observation_keys = ("rgb", "prompt")

    def __init__(self, config: RoboMambaConfig | None = None, model: RoboMambaModel | None = None,
                 tokenizer=None, device: str = "cpu", seed: int = 0):
        if model is None:
            torch.manual_seed(seed)
            model = RoboMambaModel(config or preset("tiny", lm_type=self.lm_type))
        self.model = model.to(device).eval()
        # what manipulation fine-tuning trains (paper stage 2): the head; the trainer sets its own per stage
        self.model.requires_grad_(False)
        self.model.head.requires_grad_(True)
        self.cfg = self.model.cfg
        self.tokenizer = tokenizer or build_tokenizer()
        self.device = device

    @torch.no_grad()
    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        crop = self.cfg.crop
        rgb = torch.from_numpy(np.stack([centre_crop(o["rgb"], crop) for o in observations])).permute(0, 3, 1, 2)
        ids, mask = encode_batch(self.tokenizer, [o["prompt"] for o in observations], self.cfg.max_text_tokens)
        images = self.model.preprocess(rgb.to(self.device))
        pos, R = self.model(images, ids.to(self.device), mask.to(self.device))
        pos, R = pos.double().cpu().numpy(), R.double().cpu().numpy()
        out = np.empty((len(observations), ACTION_DIM))
        for i, o in enumerate(observations):
            # [0, 1] of the crop -> the pixel of the full image that contains it
            row, col = uncrop_pixel(pos[i], *o["rgb"].shape[:2], crop)
            out[i] = [row, col, *R[i, :, 2], *R[i, :, 0]]  # up = third column, forward = first
        return out

    def parameter_counts(self) -> dict:
        return self.model.parameter_counts()

    def answer(self, observations, questions: list[str]) -> list[str]:
        """Text answers (greedy) to one question per observation: the sim-QA reasoning output."""
        from .train import answer

        rgb = np.stack([centre_crop(o["rgb"], self.cfg.crop) for o in observations])
        size = self.cfg.image_size
        if rgb.shape[1:3] != (size, size):
            rgb = np.stack([resize(im, size) for im in rgb])
        return answer(self.model, self.tokenizer, rgb, list(questions))

    @classmethod
    def from_checkpoint(cls, directory, meta: dict, device: str = "cpu"):
        from ..checkpoint import load_weights
        from .text import tokenizer_from_json

        cfg = RoboMambaConfig(**meta["model_config"])
        # the architecture alone (real-weight paths were resolved into the config when it was saved)
        model = RoboMambaModel(cfg.replace(clip_checkpoint=None, lm_checkpoint=None), pretrained=False)
        load_weights(model, directory)
        model.lm.tie_weights()
        tokenizer = tokenizer_from_json((directory / "tokenizer.json").read_text())
        return cls(model=model, tokenizer=tokenizer, device=device)


class TransformerTwinAgent(RoboMambaAgent):
    name = "transformer"
    lm_type = "llama"

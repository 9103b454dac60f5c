"""RoboMamba as an Agent: RGB + prompt in, contact pixel + gripper orientation out."""
from __future__ import annotations

import numpy as np
import torch

from ..base import ACTION_DIM, Agent
from ..frames import frame_keys, to_camera
from ..training_data import resize
from ..views import cut
from .config import RoboMambaConfig, preset
from .model import RoboMambaModel
from .text import build_tokenizer, encode_batch


class RoboMambaAgent(Agent):
    """`robomamba` (Mamba LM) or, with lm_type='llama', the `transformer` twin. Built untrained from
    a preset, or from a model and tokenizer (checkpoints: agents.checkpoint)."""

    name = "robomamba"
    lm_type = "mamba"

    def __init__(self, config: RoboMambaConfig | None = None, model: RoboMambaModel | None = None,
                 tokenizer=None, device: str = "cpu", seed: int = 0):
        if model is None:
            torch.manual_seed(seed)
            model = RoboMambaModel(config or preset("tiny", lm_type=self.lm_type))
        self.model = model.to(device).eval()
        # what manipulation fine-tuning trains (paper stage 2): the head; the trainer sets its own per stage
        self.model.requires_grad_(False)
        self.model.head.requires_grad_(True)
        self.tokenizer = tokenizer or build_tokenizer()
        self.device = device

    @property
    def cfg(self) -> RoboMambaConfig:
        """The model's configuration (training may give the model a fresh head of another kind or frame)."""
        return self.model.cfg

    @property
    def observation_keys(self) -> tuple:
        """What act() reads of an observation: the image and prompt, the object mask for the object view, and
        what the head's rotation frame needs to be turned into the camera's (agents.frames.frame_keys)."""
        keys = ("rgb", "prompt") + (("object_mask",) if self.cfg.view_spec().needs_mask else ())
        return keys + frame_keys(self.cfg.rotation_frame)

    def _views(self, observations) -> tuple[list, np.ndarray]:
        """(each observation's view box, the views' pixels at the encoder's size (N, S, S, 3) uint8)."""
        view, size = self.cfg.view_spec(), self.cfg.image_size
        boxes = [view.box_of(o) for o in observations]
        rgb = [cut(np.asarray(o["rgb"]), b) for o, b in zip(observations, boxes)]
        if view.kind == "object":  # squares of any size: one size for the batch (what training saw)
            rgb = [resize(im, size) for im in rgb]
        return boxes, np.stack(rgb)

    @torch.no_grad()
    def _predict(self, observation: dict) -> tuple[list, np.ndarray, np.ndarray]:
        """(view box, position in the view (2,), rotation (3, 3)) of one observation, run alone."""
        boxes, rgb = self._views([observation])
        ids, mask = encode_batch(self.tokenizer, [observation["prompt"]], self.cfg.max_text_tokens)
        images = self.model.preprocess(torch.from_numpy(rgb).permute(0, 3, 1, 2).to(self.device))
        pos, R = self.model(images, ids.to(self.device), mask.to(self.device))
        return boxes[0], pos[0].double().cpu().numpy(), R[0].double().cpu().numpy()

    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        """Each observation goes through the model alone, a batch of one: its action then never depends on
        which observations share the call (a batched forward rounds otherwise: other matmul shapes, the
        prompts padded to the longest; up to 1e-6 apart), so evaluation records repeat bit for bit however
        the evaluator's dynamic batching grouped the episodes (bench/README.md: what it costs)."""
        view = self.cfg.view_spec()
        boxes, pos, R = zip(*(self._predict(o) for o in observations)) if observations else ((), (), ())
        pos, R = np.asarray(pos).reshape(-1, 2), np.asarray(R).reshape(-1, 3, 3)
        out = np.empty((len(observations), ACTION_DIM))
        for i, o in enumerate(observations):
            # [0, 1] of the view -> the pixel of the full image that contains it
            row, col = view.pixel(pos[i], boxes[i], *np.asarray(o["rgb"]).shape[:2], o.get("object_mask"))
            r = to_camera(self.cfg.rotation_frame, R[i], o, (row, col))
            out[i] = [row, col, *r[:, 2], *r[:, 0]]  # up = third column, forward = first
        return out

    def parameter_counts(self) -> dict:
        return self.model.parameter_counts()

    def runtime(self) -> dict:
        """Which selective scan the Mamba LM runs on the CPU: the fused kernel or the PyTorch fallback
        (agents/robomamba/scan_kernel.py); equal up to float32 rounding."""
        if self.model.cfg.lm_type != "mamba" or torch.device(self.device).type != "cpu":
            return {}
        from .scan_kernel import backend

        return {"mamba_cpu_scan": backend()}

    def answer(self, observations, questions: list[str]) -> list[str]:
        """Text answers (greedy) to one question per observation: the sim-QA reasoning output."""
        from .train import answer

        _, rgb = self._views(observations)
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

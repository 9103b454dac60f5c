"""ManipLLM as an Agent: the view and prompt in, a greedy text answer out, parsed into the action."""
from __future__ import annotations

import numpy as np
import torch

from ...base import ACTION_DIM, Agent
from ...frames import directions_to_camera, frame_keys
from ...robomamba.text import EOS, PAD, SEP, encode_batch
from ..learned import model_view
from .answer import parse_answer
from .config import ManipLLMConfig
from .model import ManipLLMModel


def prompt_ids(tokenizer, prompt: str, max_len: int) -> torch.Tensor:
    """`[BOS] prompt [SEP]` (1, T): the prefix the answer continues (as in sim-QA)."""
    ids, mask = encode_batch(tokenizer, [prompt], max_len)
    return torch.cat([ids[:, : int(mask.sum())], torch.tensor([[SEP]])], 1)


class ManipLLMAgent(Agent):
    """`manipllm`. Built from a trained Transformer twin by its trainer (agents.baselines.manipllm.train), or
    from its checkpoint. Every observation is answered alone (a batch of one), so its action never depends on
    the batch it arrived in. An answer that does not parse raises UnparsableAnswer: the evaluator records the
    episode as failed with `unparsable_answer` and the text, and goes on."""

    name = "manipllm"

    def __init__(self, model: ManipLLMModel, tokenizer, device: str = "cpu"):
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device
        self._vocab = {i: w for w, i in tokenizer.get_vocab().items()}

    @property
    def mcfg(self) -> ManipLLMConfig:
        return self.model.mcfg

    def model_config(self) -> dict:
        """What agents.checkpoint saves as the model's configuration."""
        return self.mcfg.to_dict()

    @property
    def observation_keys(self) -> tuple:
        keys = ("rgb", "prompt") + (("object_mask",) if self.model.cfg.view_spec().needs_mask else ())
        return keys + frame_keys(self.mcfg.frame)

    def view(self, observation: dict):
        """(the view's box, its pixels at the encoder's size (S, S, 3) uint8)."""
        return model_view(observation, self.model.cfg)

    def words(self, ids: list[int]) -> str:
        return " ".join(self._vocab.get(t, "[UNK]") for t in ids)

    @torch.no_grad()
    def answer(self, observation: dict, prompt: str | None = None, view=None) -> str:
        """The model's greedy answer to the observation's prompt (or `prompt`); `view`: self.view's result."""
        _, rgb = view or self.view(observation)
        images = self.model.preprocess(torch.from_numpy(rgb[None]).permute(0, 3, 1, 2).to(self.device))
        ids = prompt_ids(self.tokenizer, prompt or observation["prompt"], self.model.cfg.max_text_tokens)
        return self.words(self.model.generate_answer(images, ids.to(self.device), eos=EOS, pad=PAD))

    def action(self, observation: dict, text: str, view=None) -> np.ndarray:
        """The 8-number action an answer means for this observation; UnparsableAnswer if it has no meaning."""
        a = parse_answer(text, self.mcfg.answer_format)
        box, _ = view or self.view(observation)
        h, w = np.asarray(observation["rgb"]).shape[:2]
        row, col = self.model.cfg.view_spec().pixel(a["pos"], box, h, w, observation.get("object_mask"))
        up, fw = directions_to_camera(self.mcfg.frame, observation, (row, col), a["up"], a["forward"])
        return np.array([row, col, *up, *fw], np.float64)

    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        out = np.empty((len(observations), ACTION_DIM))
        for i, o in enumerate(observations):
            view = self.view(o)  # cut and resized once, for the answer and for the pixel
            out[i] = self.action(o, self.answer(o, view=view), view)
        return out

    def parameter_counts(self) -> dict:
        return self.model.parameter_counts()

    @classmethod
    def from_checkpoint(cls, directory, meta: dict, device: str = "cpu"):
        from ...checkpoint import load_weights
        from ...robomamba.text import tokenizer_from_json

        model = ManipLLMModel(ManipLLMConfig(**meta["model_config"]), pretrained=False)
        load_weights(model, directory)
        model.lm.tie_weights()
        model.set_trainable()
        tokenizer = tokenizer_from_json((directory / "tokenizer.json").read_text())
        return cls(model, tokenizer, device=device)

"""ManipLLM's settings: the adapters it adds to the frozen language model, and how long it may answer."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ...frames import FRAMES
from .answer import check_format


@dataclass
class ManipLLMConfig:
    # the frozen base: the sim-QA co-trained Transformer twin's RoboMambaConfig (agents.robomamba.config), as a dict
    base: dict = field(default_factory=dict)
    # LLaMA-Adapter (peft's AdaptionPrompt): `adapter_len` learnable prompt vectors in each of the top
    # `adapter_layers` attention layers, read through a zero-initialised gate
    adapter_len: int = 10
    adapter_layers: int = 4
    # LLaMA-Adapter V2's bias tuning (ManipLLM's code base): a learnable bias and scale on every linear layer of the
    # LM's blocks, their norms unfrozen. False in checkpoints written before it existed
    bias_tuning: bool = False
    # the frame the answer's directions are in: 'world' (z up; the agent turns them into the camera frame with
    # the observation's cam2world, as robomamba's default head does), 'camera' (ManipLLM's) or 'surface' (the
    # surface at the contact pixel as the observed depth shows it: agents.frames)
    frame: str = "world"
    # the answer's form (answer.FORMATS): 'words' in checkpoints written before the others existed
    answer_format: str = "words"
    max_answer_tokens: int = 64  # greedy decoding stops here (an answer is about 50 tokens)
    preset: str = "tiny"

    def __post_init__(self):
        if self.frame not in FRAMES:
            raise ValueError(f"frame={self.frame!r}: allowed: {', '.join(FRAMES)}")
        check_format(self.answer_format)
        if self.adapter_len < 1 or self.adapter_layers < 1 or self.max_answer_tokens < 1:
            raise ValueError("adapter_len, adapter_layers and max_answer_tokens must be >= 1")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **kw) -> ManipLLMConfig:
        return dataclasses.replace(self, **kw)


def paper_preset() -> ManipLLMConfig:
    """The published sizes, for counting parameters (and a GPU): CLIP ViT-L/14 at 224 and LLaMA-7B (32 layers,
    width 4096, MLP 11008, vocabulary 32000), LLaMA-Adapter's 10 prompt vectors in the top 30 layers."""
    from agents.robomamba.config import preset

    base = preset("paper", lm_type="llama", vision="vit", d_model=4096, lm_layers=32, llama_heads=32,
                  llama_intermediate=11008, vocab_size=32000)
    return ManipLLMConfig(base=base.to_dict(), adapter_len=10, adapter_layers=30, bias_tuning=True,
                           frame="camera", preset="paper")

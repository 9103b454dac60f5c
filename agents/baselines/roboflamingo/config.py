"""RoboFlamingo's settings: the perceiver resampler, the gated cross-attention layers and the policy head."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ...frames import FRAMES


@dataclass
class RoboFlamingoConfig:
    # the frozen base: the sim-QA co-trained Transformer twin's RoboMambaConfig (agents.robomamba.config), as a dict
    base: dict = field(default_factory=dict)
    # perceiver resampler (Flamingo): `latents` learned queries, `resampler_layers` layers of attention to [vision
    # tokens; latents] and a feed-forward, at width `resampler_width` (the vision tokens are projected to it)
    latents: int = 16
    resampler_layers: int = 2
    resampler_width: int = 256
    heads: int = 4
    ff_mult: int = 2
    # a gated cross-attention block (tanh gates at 0: the LM starts unchanged) before every `xattn_every`-th layer
    xattn_every: int = 1
    head_hidden: int = 256
    # the frame of the head's rotation: 'world' (as robomamba's default head), 'camera' or 'surface' (agents.frames)
    rotation_frame: str = "world"
    preset: str = "tiny"

    def __post_init__(self):
        if self.rotation_frame not in FRAMES:
            raise ValueError(f"rotation_frame={self.rotation_frame!r}: allowed: {', '.join(FRAMES)}")
        for name in ("latents", "resampler_layers", "resampler_width", "heads", "ff_mult", "xattn_every",
                     "head_hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r}: must be >= 1")
        if self.resampler_width % self.heads:
            raise ValueError(f"resampler_width={self.resampler_width} is not a multiple of heads={self.heads}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **kw) -> RoboFlamingoConfig:
        return dataclasses.replace(self, **kw)


def paper_preset() -> RoboFlamingoConfig:
    """The published sizes, for counting parameters (and a GPU): OpenFlamingo-3B's CLIP ViT-L/14 and MPT-1B
    (24 layers, width 2048, vocabulary 50432; its two-matrix MLP of width 8192 as a three-matrix Llama MLP of
    the same size, 5464), a resampler of 64 latents and 6 layers at the vision width 1024, and a cross-attention
    block before every layer."""
    from agents.robomamba.config import preset

    base = preset("paper", lm_type="llama", vision="vit", d_model=2048, lm_layers=24, llama_heads=16,
                  llama_intermediate=5464, vocab_size=50432)
    return RoboFlamingoConfig(base=base.to_dict(), latents=64, resampler_layers=6, resampler_width=1024, heads=16,
                              ff_mult=4, xattn_every=1, head_hidden=1024, rotation_frame="camera", preset="paper")

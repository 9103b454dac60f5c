"""The RoboFlamingo network: the Transformer twin's frozen vision encoder and frozen language model, a
perceiver resampler over the vision tokens, gated cross-attention blocks (Flamingo's, tanh gates at 0)
before the language model's decoder layers, and a policy head (robomamba's two MLPs) on the last prompt
token's hidden state. The text sequence holds the prompt only: the image reaches the language model
through the cross-attention alone."""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from agents.robomamba.heads import MLP2Head
from agents.robomamba.model import RoboMambaModel

from ..vlm_training import TwinParts
from .config import RoboFlamingoConfig


def feed_forward(width: int, mult: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width * mult), nn.GELU(), nn.Linear(width * mult, width))


class ResamplerLayer(nn.Module):
    """The latents attend to [media; latents], then a feed-forward; both residual."""

    def __init__(self, width: int, heads: int, ff_mult: int):
        super().__init__()
        self.norm_media, self.norm_latents = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ff = feed_forward(width, ff_mult)

    def forward(self, media: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        q = self.norm_latents(latents)
        kv = torch.cat([self.norm_media(media), q], 1)
        latents = latents + self.attn(q, kv, kv, need_weights=False)[0]
        return latents + self.ff(latents)


class PerceiverResampler(nn.Module):
    """Vision tokens (B, N, in_dim) -> `latents` tokens (B, latents, width). The tokens get a learned embedding of
    their grid cell first: a ViT's features carry their position, the packaged MobileNetV2's do not, and the
    attention that follows ignores order."""

    def __init__(self, in_dim: int, tokens: int, cfg: RoboFlamingoConfig):
        super().__init__()
        w = cfg.resampler_width
        self.proj = nn.Linear(in_dim, w)
        self.position = nn.Parameter(torch.zeros(tokens, w))
        self.latents = nn.Parameter(torch.randn(cfg.latents, w) * 0.02)
        self.layers = nn.ModuleList(ResamplerLayer(w, cfg.heads, cfg.ff_mult) for _ in range(cfg.resampler_layers))
        self.norm = nn.LayerNorm(w)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        media = self.proj(tokens) + self.position
        latents = self.latents.expand(len(tokens), -1, -1)
        for layer in self.layers:
            latents = layer(media, latents)
        return self.norm(latents)


class GatedCrossAttention(nn.Module):
    """Flamingo's GATED XATTN-DENSE: x + tanh(a) * attn(x, media), then x + tanh(b) * ff(x); a = b = 0 at first."""

    def __init__(self, d_model: int, media_width: int, heads: int, ff_mult: int):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, heads, kdim=media_width, vdim=media_width, batch_first=True)
        self.attn_gate = nn.Parameter(torch.zeros(1))
        self.ff = feed_forward(d_model, ff_mult)
        self.ff_gate = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, media: torch.Tensor) -> torch.Tensor:
        x = x + torch.tanh(self.attn_gate) * self.attn(self.norm(x), media, media, need_weights=False)[0]
        return x + torch.tanh(self.ff_gate) * self.ff(x)


class RoboFlamingoModel(TwinParts):
    """A RoboMambaModel without the projector's image tokens: the LM reads the image through cross-attention."""

    def __init__(self, cfg: RoboFlamingoConfig, pretrained: bool = False, base: RoboMambaModel | None = None):
        """`base`: a trained twin whose vision encoder and LM are taken (training); else the architecture alone."""
        base = self.adopt(cfg.base, pretrained, base)
        if base.lm.config.model_type != "llama":
            raise ValueError(f"RoboFlamingo builds on the Transformer twin (a Llama LM), not "
                             f"{base.lm.config.model_type!r}")
        self.fcfg = cfg.replace(base=base.cfg.to_dict())
        vision_width = self.vision.width if base.cfg.vision != "vit" else self.vision.transformer.width
        d_model = self.lm.config.hidden_size
        self.resampler = PerceiverResampler(vision_width, base.cfg.image_tokens, cfg)
        layers = self.lm.model.layers
        self.xattn_layers = [i for i in range(len(layers)) if i % cfg.xattn_every == 0]
        self.xattn = nn.ModuleList(GatedCrossAttention(d_model, cfg.resampler_width, cfg.heads, cfg.ff_mult)
                                   for _ in self.xattn_layers)
        self.head = MLP2Head(d_model, cfg.head_hidden)
        self._media: torch.Tensor | None = None
        for block, i in zip(self.xattn, self.xattn_layers):
            layers[i].register_forward_pre_hook(self._before_layer(block), with_kwargs=True)
        self.set_trainable("policy")

    def _before_layer(self, block: GatedCrossAttention):
        def hook(module, args, kwargs):
            if self._media is None:
                raise RuntimeError("RoboFlamingo's language model runs only inside RoboFlamingoModel.media()")
            if args:
                return (block(args[0], self._media), *args[1:]), kwargs
            kwargs["hidden_states"] = block(kwargs["hidden_states"], self._media)
            return args, kwargs
        return hook

    @contextmanager
    def media(self, image_feats: torch.Tensor):
        """The language model reads these images (their encoder tokens, resampled) inside the block."""
        self._media = self.resampler(image_feats)
        try:
            yield
        finally:
            self._media = None

    def set_trainable(self, stage: str) -> None:
        """'qa' (OpenFlamingo's stage): the resampler and cross-attention; 'policy': those and the head. The vision
        encoder and the language model stay frozen."""
        self.requires_grad_(False)
        self.resampler.requires_grad_(True)
        self.xattn.requires_grad_(True)
        if stage == "policy":
            self.head.requires_grad_(True)

    def lm_logits(self, images, input_ids, text_mask, image_feats=None) -> torch.Tensor:
        """Next-token logits (B, T, vocab), [:, t] predicting input_ids[:, t] (zeros for the first token, [BOS]):
        the interface of RoboMambaModel.lm_logits, so sim-QA training and greedy answers work unchanged."""
        feats = self.image_features(images) if image_feats is None else image_feats
        with self.media(feats):
            logits = self.lm(input_ids=input_ids, attention_mask=text_mask, use_cache=False).logits
        return torch.cat([torch.zeros_like(logits[:, :1]), logits[:, :-1]], 1)

    def last_hidden(self, image_feats: torch.Tensor, input_ids: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """The last prompt token's hidden state (B, d_model): what the policy head reads."""
        with self.media(image_feats):
            out = self.lm.base_model(input_ids=input_ids, attention_mask=text_mask, use_cache=False)
        hidden = out.last_hidden_state
        return hidden[torch.arange(len(hidden)), text_mask.sum(1) - 1]

    def forward(self, images: torch.Tensor, input_ids: torch.Tensor, text_mask: torch.Tensor):
        """(position (B, 2) in [0, 1] of the view, rotation (B, 3, 3))."""
        return self.head(self.last_hidden(self.image_features(images), input_ids, text_mask))

    def parameter_counts(self) -> dict:
        parts = {"vision": self.vision, "lm": self.lm, "resampler": self.resampler, "xattn": self.xattn,
                 "head": self.head}
        out = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items()}
        out["total"] = sum(out.values())
        out["trainable"] = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return out

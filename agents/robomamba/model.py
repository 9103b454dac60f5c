"""The RoboMamba network: vision encoder -> projector -> language model -> policy head.

Token order is [image tokens, text tokens] (paper). The policy head reads one pooled token (the
mean of the language model's last hidden states over the sequence) and predicts the contact pixel
(normalised to [0, 1], L1 loss) and a 6D rotation (Gram-Schmidt, geodesic loss).
"""
from __future__ import annotations

import torch
from open_clip.constants import OPENAI_DATASET_MEAN as CLIP_MEAN  # CLIP's input normalisation
from open_clip.constants import OPENAI_DATASET_STD as CLIP_STD
from torch import nn

from ..layers import mlp
from .config import RoboMambaConfig
from .heads import build_head, pool
from .packaged_vision import IMAGENET_MEAN, IMAGENET_STD, MobileNetV2Tokens


def build_vision(cfg: RoboMambaConfig, pretrained: bool = True) -> nn.Module:
    """open_clip's VisionTransformer, random-initialised, or a local CLIP checkpoint's visual tower; or
    (cfg.vision 'mobilenet_v2') MobileNetV2 with ImageNet weights from an installed package
    (packaged_vision.py; `pretrained=False` builds the architecture alone, for loading a checkpoint)."""
    if cfg.vision == "mobilenet_v2":
        return MobileNetV2Tokens(pretrained=pretrained)
    if cfg.clip_checkpoint and not cfg.clip_model:
        raise ValueError("clip_checkpoint needs clip_model (the open_clip model name, e.g. 'ViT-L-14')")
    if cfg.clip_model:  # an open_clip architecture; weights only from a local file, never downloaded
        import open_clip

        model = open_clip.create_model(cfg.clip_model, pretrained=cfg.clip_checkpoint or None)
        return model.visual
    from open_clip.transformer import VisionTransformer

    return VisionTransformer(image_size=cfg.image_size, patch_size=cfg.patch_size, width=cfg.vision_width,
                             layers=cfg.vision_layers, heads=cfg.vision_heads, mlp_ratio=4.0,
                             output_dim=cfg.vision_output_dim or cfg.vision_width)


def describe_loaded(cfg: RoboMambaConfig, vision: nn.Module, lm: nn.Module) -> RoboMambaConfig:
    """The config with the dimensions of what was actually loaded (real checkpoints bring their own),
    so a saved model can be rebuilt without the original checkpoint files."""
    if cfg.vision == "mobilenet_v2":
        changes = dict(patch_size=vision.stride, vision_width=vision.width, vision_layers=len(vision.features),
                       vision_heads=0, vision_output_dim=None)
    else:
        t = vision.transformer
        changes = dict(image_size=vision.image_size[0], patch_size=vision.patch_size[0], vision_width=t.width,
                       vision_layers=len(t.resblocks), vision_heads=t.resblocks[0].attn.num_heads,
                       vision_output_dim=vision.output_dim)
    lc = lm.config
    changes.update(d_model=lc.hidden_size, lm_layers=lc.num_hidden_layers, vocab_size=lc.vocab_size)
    if lc.model_type == "mamba":
        changes.update(lm_type="mamba", state_size=lc.state_size, expand=lc.expand)
    elif lc.model_type == "llama":
        changes.update(lm_type="llama", llama_heads=lc.num_attention_heads, llama_intermediate=lc.intermediate_size)
    if cfg.lm_checkpoint:
        changes["lm_config"] = lc.to_dict()
    pretrained = bool(cfg.clip_checkpoint) or cfg.vision != "vit"
    changes["freeze_vision"] = pretrained if cfg.freeze_vision is None else cfg.freeze_vision
    return cfg.replace(**changes)


def mamba_config(cfg: RoboMambaConfig):
    from transformers import MambaConfig

    return MambaConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.d_model, num_hidden_layers=cfg.lm_layers,
                       state_size=cfg.state_size, expand=cfg.expand, tie_word_embeddings=True)


def llama_config(cfg: RoboMambaConfig, intermediate: int):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.d_model, num_hidden_layers=cfg.lm_layers,
                       num_attention_heads=cfg.llama_heads, num_key_value_heads=cfg.llama_heads,
                       intermediate_size=intermediate, max_position_embeddings=4096, tie_word_embeddings=True)


def _count(module_factory) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in module_factory().parameters())


def matched_llama_intermediate(cfg: RoboMambaConfig) -> int:
    """The Llama MLP width whose decoder has (closest to) the Mamba decoder's parameter count."""
    from transformers import LlamaModel, MambaModel

    target = _count(lambda: MambaModel(mamba_config(cfg)))
    # parameters grow linearly in the MLP width: solve from two points, round to a multiple of 8
    p0, p1 = (_count(lambda i=i: LlamaModel(llama_config(cfg, i))) for i in (8, 16))
    width = 8 + (target - p0) * 8 / (p1 - p0)
    return max(8, int(round(width / 8)) * 8)


def build_lm(cfg: RoboMambaConfig) -> nn.Module:
    """A causal LM (with its tied output head, used by co-training and answer()). Mamba LMs get the
    fast CPU selective scan (fast_mamba.py; CUDA kernels untouched)."""
    from .fast_mamba import enable_fast_cpu_scan

    if cfg.lm_checkpoint:
        from transformers import AutoModelForCausalLM

        return enable_fast_cpu_scan(AutoModelForCausalLM.from_pretrained(cfg.lm_checkpoint, local_files_only=True))
    if cfg.lm_config:  # the architecture of a previously loaded LM, without its weights
        from transformers import AutoConfig, AutoModelForCausalLM

        conf = dict(cfg.lm_config)
        lm = AutoModelForCausalLM.from_config(AutoConfig.for_model(conf.pop("model_type"), **conf))
        return enable_fast_cpu_scan(lm)
    if cfg.lm_type == "mamba":
        from transformers import MambaForCausalLM

        return enable_fast_cpu_scan(MambaForCausalLM(mamba_config(cfg)))
    from transformers import LlamaForCausalLM

    width = cfg.llama_intermediate or matched_llama_intermediate(cfg)
    return LlamaForCausalLM(llama_config(cfg, width))


class RoboMambaModel(nn.Module):
    # the head's input standardisation came after the first checkpoints; without it they load as the identity
    optional_state_keys = ("input_norm.shift", "input_norm.scale")

    def __init__(self, cfg: RoboMambaConfig, pretrained: bool = True):
        """`pretrained=False`: packaged vision weights are not read (a checkpoint's weights follow)."""
        super().__init__()
        self.vision = build_vision(cfg, pretrained=pretrained)
        vision_width = self.vision.width if cfg.vision != "vit" else self.vision.transformer.width
        self.lm = build_lm(cfg)
        d_model = self.lm.config.hidden_size
        self.cfg = describe_loaded(cfg, self.vision, self.lm)
        if self.cfg.freeze_vision:  # pretrained vision stays frozen (paper)
            self.vision.requires_grad_(False)
        self.projector = mlp([vision_width, cfg.projector_hidden, cfg.projector_hidden, d_model])
        self.head = build_head(cfg.head, d_model, cfg.head_hidden, cfg.state_size, self.cfg.image_tokens)
        mean, std = (CLIP_MEAN, CLIP_STD) if cfg.vision == "vit" else (IMAGENET_MEAN, IMAGENET_STD)
        self.register_buffer("pixel_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    # ---------------------------------------------------------------------------- pieces
    def preprocess(self, rgb_uint8: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) uint8 -> normalised float at the encoder's resolution."""
        x = rgb_uint8.float() / 255.0
        size = self.cfg.image_size
        if x.shape[-2:] != (size, size):
            x = nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                                          align_corners=False)
        return (x - self.pixel_mean) / self.pixel_std

    def image_features(self, images: torch.Tensor) -> torch.Tensor:
        """Patch tokens of the second-to-last vision block: (B, N_patches, vision_width); for a
        convolutional encoder, the cells of its last feature map."""
        if self.cfg.vision != "vit":
            return self.vision(images)
        n = len(self.vision.transformer.resblocks)
        out = self.vision.forward_intermediates(images, indices=[n - 2], stop_early=True, intermediates_only=True,
                                                output_fmt="NLC")
        return out["image_intermediates"][0]

    def embed(self, image_feats: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """[projected image tokens, text token embeddings]: (B, N_img + T, d_model)."""
        text = self.lm.get_input_embeddings()(input_ids)
        return torch.cat([self.projector(image_feats), text], dim=1)

    def hidden_states(self, embeds: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        out = self.lm.base_model(inputs_embeds=embeds, attention_mask=attention_mask, use_cache=False)
        return out.last_hidden_state

    @staticmethod
    def pool(hidden: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return pool(hidden, mask)

    # ---------------------------------------------------------------------------- policy
    def sequence(self, images: torch.Tensor, input_ids: torch.Tensor, text_mask: torch.Tensor | None = None):
        """(the language model's last hidden states (B, N_img + T, d_model), their mask or None)."""
        feats = self.image_features(images)
        embeds = self.embed(feats, input_ids)
        mask = None
        if text_mask is not None:
            mask = torch.cat([torch.ones(feats.shape[:2], dtype=text_mask.dtype, device=text_mask.device),
                              text_mask], dim=1)
        return self.hidden_states(embeds, mask), mask

    def pooled(self, images: torch.Tensor, input_ids: torch.Tensor, text_mask: torch.Tensor | None = None):
        """The pooled token the MLP heads read (what head-only fine-tuning caches)."""
        return pool(*self.sequence(images, input_ids, text_mask))

    def head_input(self, images: torch.Tensor, input_ids: torch.Tensor, text_mask: torch.Tensor | None = None):
        """What the policy head reads: the pooled token, or (hidden sequence, mask) for a sequence head."""
        if self.head.reads_sequence:
            return self.sequence(images, input_ids, text_mask)
        return self.pooled(images, input_ids, text_mask)

    def replace_head(self, kind: str) -> None:
        """A fresh policy head of another kind (heads.py), trainable; the rest of the model unchanged."""
        self.cfg = self.cfg.replace(head=kind)
        device = next(self.head.parameters()).device
        self.head = build_head(kind, self.lm.config.hidden_size, self.cfg.head_hidden, self.cfg.state_size,
                               self.cfg.image_tokens).to(device)

    # ---------------------------------------------------------------------------- language
    def lm_logits(self, images: torch.Tensor | None, input_ids: torch.Tensor, text_mask: torch.Tensor,
                  image_feats: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits at the text positions: (B, T, vocab), where [:, t] predicts input_ids[:, t]
        (position t - 1 of the text, or the last image token for t = 0). `image_feats` (image_features'
        output, e.g. cached for a frozen encoder) replaces `images`."""
        feats = self.image_features(images) if image_feats is None else image_feats
        embeds = self.embed(feats, input_ids)
        mask = torch.cat([torch.ones(feats.shape[:2], dtype=text_mask.dtype, device=text_mask.device),
                          text_mask], dim=1)
        logits = self.lm(inputs_embeds=embeds, attention_mask=mask, use_cache=False).logits
        n = feats.shape[1]
        return logits[:, n - 1: n - 1 + input_ids.shape[1]]

    @torch.no_grad()
    def generate(self, images: torch.Tensor, input_ids: torch.Tensor, text_mask: torch.Tensor, eos: int,
                 max_new_tokens: int = 8) -> list[list[int]]:
        """Greedy continuation of each (right-padded) text after its last real token, up to `eos`."""
        ids, mask = input_ids.clone(), text_mask.clone()
        lengths = mask.sum(1)
        out: list[list[int]] = [[] for _ in range(len(ids))]
        done = torch.zeros(len(ids), dtype=torch.bool)
        for _ in range(max_new_tokens):
            pad = torch.zeros((len(ids), 1), dtype=ids.dtype, device=ids.device)
            ids, mask = torch.cat([ids, pad], 1), torch.cat([mask, pad.to(mask.dtype)], 1)
            logits = self.lm_logits(images, ids, mask)  # position L predicts the token after the L real ones
            nxt = logits[torch.arange(len(ids)), lengths].argmax(-1)
            for i, t in enumerate(nxt.tolist()):
                if not done[i]:
                    if t == eos:
                        done[i] = True
                    else:
                        out[i].append(t)
            ids[torch.arange(len(ids)), lengths] = nxt
            mask[torch.arange(len(ids)), lengths] = 1
            lengths = lengths + 1
            if done.all():
                break
        return out

    # ---------------------------------------------------------------------------- policy (head)
    def forward(self, images: torch.Tensor, input_ids: torch.Tensor, text_mask: torch.Tensor | None = None):
        """(position (B, 2) in [0, 1] as (row, col) / size, rotation (B, 3, 3))."""
        return self.head(self.head_input(images, input_ids, text_mask))

    def parameter_counts(self) -> dict:
        parts = {"vision": self.vision, "projector": self.projector, "lm": self.lm, "head": self.head}
        out = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items()}
        out["total"] = sum(out.values())
        out["trainable"] = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return out

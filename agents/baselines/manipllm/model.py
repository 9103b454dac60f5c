"""The ManipLLM network: the Transformer twin's vision encoder, projector and language model, with
LLaMA-Adapter prompts (peft's AdaptionPrompt: learnable prompt vectors that every token of the top layers
attends to through a zero-initialised gate) injected into the frozen language model, and (ManipLLM's code base,
LLaMA-Adapter V2) a learnable bias and scale on every linear layer of the language model's blocks with their
norms unfrozen. No policy head: the action is the answer's text (answer.py)."""
from __future__ import annotations

import torch
from torch import nn

from agents.robomamba.model import RoboMambaModel

from ..vlm_training import TwinParts
from .config import ManipLLMConfig


def inject_adapters(lm, adapter_len: int, adapter_layers: int) -> None:
    """LLaMA-Adapter prompts in the top `adapter_layers` attention layers of a Llama LM, in place; at
    initialisation (gates at 0) the LM computes exactly what it did."""
    from peft import AdaptionPromptConfig, get_peft_model

    if lm.config.model_type != "llama":
        raise ValueError(f"ManipLLM's adapters need a Llama language model (the Transformer twin), not "
                         f"{lm.config.model_type!r}")
    layers = lm.config.num_hidden_layers
    if adapter_layers > layers:
        raise ValueError(f"adapter_layers={adapter_layers}: the language model has {layers} layers")
    # peft replaces the attention modules of `lm` itself; the wrapper it returns is not needed
    get_peft_model(lm, AdaptionPromptConfig(adapter_len=adapter_len, adapter_layers=adapter_layers,
                                            task_type="CAUSAL_LM"))


def _bias_scale(module: nn.Linear, inputs, out: torch.Tensor) -> torch.Tensor:
    return (out + module.adaption_bias) * module.adaption_scale


def add_bias_scale(lm) -> None:
    """LLaMA-Adapter V2's bias tuning, in place: each linear layer of the LM's blocks computes s * (W x + b) with a
    learnable per-channel bias b (zeros) and scale s (ones), so at initialisation the LM computes exactly what it
    did. The parameters are named `adaption_*`, as the prompt adapters' are (what set_trainable trains)."""
    for mod in list(lm.model.layers.modules()):
        if isinstance(mod, nn.Linear):
            w = mod.weight
            mod.adaption_bias = nn.Parameter(torch.zeros(mod.out_features, dtype=w.dtype, device=w.device))
            mod.adaption_scale = nn.Parameter(torch.ones(mod.out_features, dtype=w.dtype, device=w.device))
            mod.register_forward_hook(_bias_scale)


class ManipLLMModel(TwinParts):
    """A RoboMambaModel without a policy head, its LM carrying adapters."""

    def __init__(self, cfg: ManipLLMConfig, pretrained: bool = False, base: RoboMambaModel | None = None):
        """`base`: a trained twin whose weights are taken (training); else the architecture alone (`pretrained`
        False: a checkpoint's weights follow)."""
        base = self.adopt(cfg.base, pretrained, base)
        self.projector = base.projector
        inject_adapters(self.lm, cfg.adapter_len, cfg.adapter_layers)
        if cfg.bias_tuning:
            add_bias_scale(self.lm)
        self.mcfg = cfg.replace(base=base.cfg.to_dict())
        self.set_trainable()

    def set_trainable(self) -> None:
        """ManipLLM's fine-tuning: the adapters and the projector (with bias tuning, also the biases, scales and
        norms of the LM's blocks); the vision encoder and the LM's weight matrices and embeddings stay frozen."""
        self.requires_grad_(False)
        self.projector.requires_grad_(True)
        for name, p in self.lm.named_parameters():
            if "adaption_" in name or (self.mcfg.bias_tuning and "norm" in name):
                p.requires_grad_(True)

    def forward(self, *args, **kwargs):
        raise TypeError("ManipLLM has no policy head: its action is a generated answer (ManipLLMAgent.act)")

    def prefix_embeds(self, images: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """[image tokens, prompt tokens] of one unpadded prompt, what decoding continues."""
        return self.embed(self.image_features(images), input_ids)

    @torch.no_grad()
    def generate_answer(self, images: torch.Tensor, input_ids: torch.Tensor, eos: int, pad: int) -> list[int]:
        """Unconstrained greedy decoding (transformers' generate, with its key-value cache) of one example:
        the answer's token ids, without the end token."""
        embeds = self.prefix_embeds(images, input_ids)
        out = self.lm.generate(inputs_embeds=embeds, attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long,
                                                                                device=embeds.device),
                               max_new_tokens=self.mcfg.max_answer_tokens, do_sample=False, num_beams=1,
                               eos_token_id=eos, pad_token_id=pad)
        ids = out[0].tolist()
        return ids[: ids.index(eos)] if eos in ids else ids

    def parameter_counts(self) -> dict:
        parts = {"vision": self.vision, "projector": self.projector, "lm": self.lm}
        out = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items()}
        out["adapters"] = sum(p.numel() for n, p in self.lm.named_parameters() if "adaption_" in n)  # bias tuning too
        out["total"] = sum(out[k] for k in parts)
        out["trainable"] = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return out

"""What the vision-language baselines built on the co-trained Transformer twin (ManipLLM, RoboFlamingo) share in
training: the twin they start from, and next-token training of their added parameters with the language
model frozen."""
from __future__ import annotations

import numpy as np
import torch

from infra.cli import ConfigError


def load_base(path: str):
    """The trained Transformer twin at `path` (agents.train --agent transformer); ConfigError naming --base."""
    from ..checkpoint import CheckpointError
    from ..factory import load

    try:
        return load(path, agent="transformer")
    except (CheckpointError, OSError) as e:
        raise ConfigError("base", path, f"not a trained transformer checkpoint ({e})") from None


def base_seed(path: str):
    """The training seed of the twin at `path`, from its checkpoint's record."""
    from ..checkpoint import read_config

    return read_config(path).get("training", {}).get("config", {}).get("seed")


def next_token_steps(model, tokenizer, questions, image_feats: torch.Tensor | None, rgb: np.ndarray | None,
                     steps: int, lr: float, warmup: int, max_len: int, desc: str, progress: bool) -> list[float]:
    """`steps` AdamW steps (warm-up then cosine) of the next-token loss on the answers of `questions()`, a
    callable giving one batch: (rows, [(kind, question, answer)]), rows indexing `image_feats` (the frozen
    encoder's tokens, cached) or else `rgb`. Trains whatever of `model` requires grad; returns the losses."""
    from infra.progress import progress_bar

    from ..robomamba.train import images_tensor, qa_tensors, warmup_cosine

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, steps, warmup))
    model.train()
    losses: list[float] = []
    bar = progress_bar(range(steps), desc=desc, disable=not progress)
    for _ in bar:
        rows, items = questions()
        ids, mask, labels = qa_tensors(tokenizer, items, max_len)
        if image_feats is not None:
            logits = model.lm_logits(None, ids, mask, image_feats=image_feats[torch.from_numpy(rows)])
        else:  # no cache (too large): the frozen encoder runs every step
            logits = model.lm_logits(images_tensor(model, rgb[rows]), ids, mask)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    model.eval()
    return losses

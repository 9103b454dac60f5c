"""Training RoboFlamingo on the sim-QA co-trained Transformer twin (--base; the main job passes the same training
seed's `transformer`), in two stages; the vision encoder and the language model stay frozen throughout:

- `qa` (OpenFlamingo's stage): the perceiver resampler and the gated cross-attention blocks learn to bring the
  image into the language model, with the next-token loss on sim-QA (agents.robomamba.qa: category, joint
  type, is-this-cell-on-the-part, where to grasp), as the twin was co-trained;
- `policy` (RoboFlamingo's fine-tuning): the same blocks and a fresh policy head (robomamba's two MLPs on the
  last prompt token's hidden state; the paper's LSTM over time reduces to it on one-step episodes) on the
  demos, with robomamba's default loss (L1 on the contact point in the view, geodesic on the rotation in the
  world frame) and category dropout.

Each finished stage saves the checkpoint; rerunning the command continues with the stage it was in.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from infra.cli import ConfigBase, ConfigError, check_at_least, check_choice, check_positive, check_subset, option

from ...frames import FRAMES
from ...rotation import ROTATION_LOSSES

STAGES = ("qa", "policy")
# the main job's settings this trainer takes (evaluation.pipeline setting: flag); agents.registry
PIPELINE_FLAGS = {"qa_steps": "--qa-steps", "head_epochs": "--epochs"}
# the trained agent this trainer builds on, and its flag: the main job passes the same training seed's checkpoint
PIPELINE_BASE = ("transformer", "--base")


@dataclass
class TrainConfig(ConfigBase):
    data: str = option("data/demos", "dataset directory written by data_collection.run")
    out: str = option("checkpoints/roboflamingo", "checkpoint directory (written atomically after every stage)")
    agent: str = option("roboflamingo", "which agent to train")
    base: str = option("checkpoints/transformer", "the trained Transformer twin to build on (agents.train --agent "
                                                  "transformer): its vision encoder and language model (frozen) "
                                                  "and tokenizer")
    stages: tuple = option(STAGES, "comma-separated stages: qa (resampler and cross-attention on sim-QA), policy "
                                   "(those and the policy head on the demos)")
    seed: int = option(0, "seed of initialisation, sampling and shuffling")
    holdout: float = option(0.1, "fraction of object instances held out for the validation figures")
    latents: int = option(16, "perceiver resampler latents (paper: 64)")
    resampler_layers: int = option(2, "perceiver resampler layers (paper: 6)")
    xattn_every: int = option(1, "a gated cross-attention block before every n-th language-model layer (paper: 1)")
    qa_steps: int = option(800, "sim-QA steps of the qa stage")
    qa_batch: int = option(16, "sim-QA batch size")
    qa_lr: float = option(5e-4, "sim-QA peak learning rate (warm-up then cosine decay)")
    qa_warmup: int = option(50, "sim-QA warm-up steps")
    qa_eval: int = option(400, "held-out sim-QA questions scored after the qa stage (exact match)")
    epochs: int = option(8, "policy-stage epochs over the demos")
    batch_size: int = option(16, "policy-stage batch size")
    lr: float = option(1e-4, "policy-stage learning rate (RoboFlamingo's)")
    weight_decay: float = option(0.01, "policy-stage AdamW weight decay")
    rotation_loss: str = option("geodesic", "rotation loss of the head: geodesic or up", choices=ROTATION_LOSSES)
    rotation_frame: str = option("surface", "the frame of the head's rotation: surface (the surface at the contact "
                                            "pixel as the observed depth shows it, as robomamba's default head: "
                                            "agents.frames), world or camera", choices=FRAMES)
    category_dropout: float = option(0.5, "policy stage: the chance that a demo's prompt names no category (its "
                                          "words replaced by [UNK]): robomamba's default recipe")
    progress: bool = option(True, "progress bars")

    def __post_init__(self):
        check_subset(self, "stages", STAGES)
        check_choice(self, "agent", ("roboflamingo",))
        check_at_least(self, latents=1, resampler_layers=1, xattn_every=1, qa_steps=1, qa_batch=1, qa_warmup=0,
                       epochs=1, batch_size=1)
        check_positive(self, "qa_lr", "lr")
        if not 0 <= self.holdout < 1:
            raise ConfigError("holdout", self.holdout, "must be in [0, 1)")
        if not 0 <= self.category_dropout < 1:
            raise ConfigError("category_dropout", self.category_dropout, "must be in [0, 1)")


def build_agent(cfg: TrainConfig):
    from ..vlm_training import load_base
    from .agent import RoboFlamingoAgent
    from .config import RoboFlamingoConfig
    from .model import RoboFlamingoModel

    twin = load_base(cfg.base)
    torch.manual_seed(cfg.seed)
    fcfg = RoboFlamingoConfig(latents=cfg.latents, resampler_layers=cfg.resampler_layers, xattn_every=cfg.xattn_every,
                              rotation_frame=cfg.rotation_frame)
    return RoboFlamingoAgent(RoboFlamingoModel(fcfg, base=twin.model), twin.tokenizer)


def last_hidden(model, tokenizer, feats: torch.Tensor, prompts: list[str], grad: bool = False) -> torch.Tensor:
    """The last prompt token's hidden states (N, d) of images `feats` (encoder tokens) with `prompts`."""
    from ...robomamba.text import encode_batch

    out = []
    with torch.set_grad_enabled(grad):
        for s in range(0, len(prompts), 64):
            ids, mask = encode_batch(tokenizer, prompts[s: s + 64], model.cfg.max_text_tokens)
            out.append(model.last_hidden(feats[s: s + 64], ids, mask))
    return torch.cat(out)


def train_policy(model, tokenizer, data, feats, train_idx, val_idx, cfg: TrainConfig) -> dict:
    from infra.progress import progress_bar

    from ...robomamba.text import blind_category
    from ...robomamba.train import head_metrics
    from ...training_data import pixel_targets, rotation_targets

    model.set_trainable("policy")
    t0 = time.perf_counter()
    pos = torch.from_numpy(pixel_targets(data.frame, 1.0, data.boxes))
    rot = torch.from_numpy(rotation_targets(data.frame, model.fcfg.rotation_frame, data.surface))
    prompts = [str(p) for p in data.frame["prompt"]]
    blind = [blind_category(p, c, per_word=True) for p, c in zip(prompts, data.frame["category"])]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    g = torch.Generator().manual_seed(cfg.seed)
    g_drop = torch.Generator().manual_seed(cfg.seed + 0xD0)
    tr = torch.from_numpy(train_idx)
    steps, losses = 0, []
    bar = progress_bar(range(cfg.epochs), desc="policy", disable=not cfg.progress)
    for _ in bar:
        order = tr[torch.randperm(len(tr), generator=g)]
        model.train()
        for s in range(0, len(order), cfg.batch_size):
            j = order[s: s + cfg.batch_size]
            drop = (torch.rand(len(j), generator=g_drop) < cfg.category_dropout).tolist()
            ps = [blind[i] if d else prompts[i] for i, d in zip(j.tolist(), drop)]
            loss = model.head.train_loss(last_hidden(model, tokenizer, feats[j], ps, grad=True), pos[j], rot[j],
                                         cfg.rotation_loss)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            steps += 1
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
    model.eval()
    counts = model.parameter_counts()
    rec = {"epochs": cfg.epochs, "lr": cfg.lr, "batch_size": cfg.batch_size, "steps": steps,
           "rotation_loss": cfg.rotation_loss, "category_dropout": cfg.category_dropout,
           "final_loss": round(float(np.mean(losses[-20:])), 4), "wall_s": round(time.perf_counter() - t0, 2),
           "trainable_params": counts["trainable"], "total_params": counts["total"],
           "trainable_fraction": counts["trainable"] / counts["total"]}
    rec["train"] = head_metrics(model, last_hidden(model, tokenizer, feats[tr], [prompts[i] for i in train_idx]),
                                pos[tr], rot[tr])
    if len(val_idx):
        v = torch.from_numpy(val_idx)
        rec["val"] = head_metrics(model, last_hidden(model, tokenizer, feats[v], [prompts[i] for i in val_idx]),
                                  pos[v], rot[v])
        rec["val_constant"] = {"pixel_l1": round(float((pos[tr].mean(0) - pos[v]).abs().mean()), 4)}
        rec["val_blind"] = head_metrics(model, last_hidden(model, tokenizer, feats[v], [blind[i] for i in val_idx]),
                                        pos[v], rot[v])
    return rec


def train_qa(model, tokenizer, data, fcts, feats, train_idx, val_idx, cfg: TrainConfig) -> dict:
    """OpenFlamingo's stage: the resampler and the cross-attention on sim-QA, the language model frozen."""
    from ...robomamba import qa
    from ...robomamba.train import next_token_steps, qa_accuracy

    t0 = time.perf_counter()
    model.set_trainable("qa")
    rng = np.random.default_rng([cfg.seed, 0x5A])

    def batch():
        rows = train_idx[rng.integers(len(train_idx), size=cfg.qa_batch)]
        return rows, [qa.questions(fcts[i], rng) for i in rows]

    losses = next_token_steps(model, tokenizer, batch, feats, None, cfg.qa_steps, cfg.qa_lr, cfg.qa_warmup,
                              model.cfg.max_text_tokens, "qa", cfg.progress)
    rec = {"steps": cfg.qa_steps, "batch": cfg.qa_batch, "lr": cfg.qa_lr,
           "final_loss": round(float(np.mean(losses[-20:])), 4), "wall_s": round(time.perf_counter() - t0, 1)}
    rec["qa_accuracy_val"] = qa_accuracy(model, tokenizer, data, fcts, val_idx if len(val_idx) else train_idx,
                                         cfg.qa_eval, cfg.seed)
    return rec


def train(cfg: TrainConfig, log=print) -> dict:
    from ... import checkpoint
    from ...factory import load as load_agent
    from ...robomamba import qa
    from ...robomamba.train import facts, frozen_image_features
    from ...training_data import dataset_summary, load
    from ..vlm_training import base_seed

    prev = checkpoint.previous_training(cfg.out, cfg.to_dict())
    done = {k: v for k, v in (prev or {}).get("stages", {}).items() if k in cfg.stages}
    todo = [s for s in cfg.stages if s not in done]
    if not todo:
        log(f"{cfg.out}: stages {', '.join(cfg.stages)} already done; nothing to do")
        return prev
    agent = load_agent(cfg.out, agent="roboflamingo") if done else build_agent(cfg)
    model, tok = agent.model, agent.tokenizer
    data = load(cfg.data, model.cfg.image_size, successes_only=True, holdout_fraction=cfg.holdout, grid=qa.GRID,
                progress=cfg.progress, view=model.cfg.view_spec(), surface=cfg.rotation_frame == "surface")
    train_idx, val_idx = np.flatnonzero(~data.holdout), np.flatnonzero(data.holdout)
    if not len(train_idx):
        raise ValueError(f"{cfg.data}: every instance is held out (holdout={cfg.holdout}); lower --holdout")
    log(f"data: {len(data)} demos from {cfg.data} ({len(val_idx)} on held-out instances)")
    fcts = facts(data, model.cfg.crop)
    feats = frozen_image_features(model, data, np.arange(len(data)))  # the encoder is frozen: its tokens once
    if feats is None:
        raise ValueError(f"{cfg.data}: the frozen encoder's tokens of every demo do not fit in memory")
    record = {"config": cfg.to_dict(), "stages": dict(done), "data_manifest": dataset_summary(cfg.data),
              "base": str(cfg.base), "base_training_seed": base_seed(cfg.base)}
    for stage in todo:
        if stage == "qa":
            rec = train_qa(model, tok, data, fcts, feats, train_idx, val_idx, cfg)
            log(f"qa: {cfg.qa_steps} steps in {rec['wall_s']} s; held-out sim-QA accuracy {rec['qa_accuracy_val']}")
        else:
            rec = train_policy(model, tok, data, feats, train_idx, val_idx, cfg)
            log(f"policy: {rec['steps']} steps in {rec['wall_s']} s; val {rec.get('val')}, "
                f"category blinded {rec.get('val_blind')}")
        record["stages"][stage] = rec
        checkpoint.save(agent, cfg.out, training=record)
    return record

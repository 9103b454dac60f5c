"""Training ManipLLM: LLaMA-Adapter fine-tuning of the sim-QA co-trained Transformer twin on the demos.

The twin's checkpoint (--base; the main job passes the same training seed's `transformer`) gives the
vision encoder, the projector, the language model and the tokenizer. The vision encoder and the language
model stay frozen; the adapters (peft's AdaptionPrompt) and the projector train, with the next-token loss
on the answer tokens only, over a mixture of ManipLLM's tasks, each about one successful demo:

    task        question                                    answer
    pose        the manipulation prompt                     the chain of thought (answer.py): category ;
                                                            joint type ; row d d col d d ; up ... ; front ...
    masked      the prompt : the answer with one step's     the masked digits (ManipLLM's mask language
                digits replaced by '?'                      modelling of coordinates)
    category    "what is the category of this object ?"     its words (ManipLLM's object category task)
    affordance  "is the point at row r col c on the part    yes / no (our stand-in for ManipLLM's affordance
                to pull ?"                                  prior: which points the movable part covers)

The default mixture leaves the masked task out (--tasks pose,masked,category,affordance puts it back): on the
validation work list (docs/training.md, bench/validation.py), with it 0.575 of the greedy answers on trained
categories parsed (most of the others dropped a digit of a number or the contact point), without it 0.965,
and success rose from 0.38 to 0.61 there (paired, p < 1e-6); the training steps are 7% shorter too.

The answer names the category by its one-word name (`storagefurniture`; --answer-format token), not its words
(`storage furniture`; --answer-format words, the first default), so that every answer's later steps start at the
same place. On the same validation list, with the words 0.965 of the answers on trained categories parsed: after
a two-word name the contact point's digits came out shifted by one place (`row 6 col 4 7 0`), after a one-word
name `front` often gained a component. With the one-word name 0.99 parsed (0.97 against 0.91 on the pseudo-unseen
categories), success level (-0.01 [-0.07, +0.05]). Components named `one`, `two`, `three` (--answer-format
labelled) parsed less (0.855: components of `front` gained a second point).

The record holds, on the held-out instances, greedy answers to the manipulation prompt: the fraction
that parses, the category and joint accuracies, the contact point's L1 error in the view beside the best
constant point's, and the up axis's angular error.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from infra.cli import ConfigBase, ConfigError, check_at_least, check_choice, check_positive, check_subset, option

from ...frames import FRAMES
from .answer import FORMATS

# the main job's settings this trainer takes (evaluation.pipeline setting: flag); agents.registry
PIPELINE_FLAGS = {"manipllm_steps": "--steps"}
# the trained agent this trainer builds on, and its flag: the main job passes the same training seed's checkpoint
PIPELINE_BASE = ("transformer", "--base")
TASKS = ("pose", "masked", "category", "affordance")
DEFAULT_TASKS = ("pose", "category", "affordance")  # the masked task off: see the docstring
MASKED_STEPS = (2, 3, 4)  # answer steps whose numbers the masked task hides: the point, up, front
QUESTION_TOKENS = 128  # a masked question holds a whole answer
# settings added after checkpoints were written, with the value that reproduces those (checkpoint.previous_training)
ADDED_SETTINGS = {"answer_format": "words"}


@dataclass
class TrainConfig(ConfigBase):
    data: str = option("data/demos", "dataset directory written by data_collection.run")
    out: str = option("checkpoints/manipllm", "checkpoint directory (written atomically)")
    agent: str = option("manipllm", "which agent to train")
    base: str = option("checkpoints/transformer", "the trained Transformer twin to build on (agents.train --agent "
                                                  "transformer): its vision encoder, projector, language model "
                                                  "(frozen) and tokenizer")
    seed: int = option(0, "seed of the adapters' initialisation, the task sampling and the batches")
    holdout: float = option(0.1, "fraction of object instances held out for the validation figures")
    adapter_len: int = option(10, "LLaMA-Adapter prompt vectors per adapted layer (paper: 10)")
    adapter_layers: int = option(0, "adapted layers, counted from the top (0: every layer of the language model)")
    bias_tuning: bool = option(True, "LLaMA-Adapter V2's bias tuning (ManipLLM's code base): a learnable bias and "
                                     "scale on every linear layer of the language model's blocks, norms unfrozen")
    frame: str = option("surface", "the frame the answer's directions are written in: surface (the surface at the "
                                   "contact pixel as the observed depth shows it, as robomamba's default head: "
                                   "agents.frames), world (z up) or camera (ManipLLM's)", choices=FRAMES)
    answer_format: str = option("token", "the answer's form (agents/baselines/manipllm/answer.py): words (the "
                                         "category by its words, components separated by ','), token (the category "
                                         "by its one-word name) or labelled (token, and each component named one, "
                                         "two, three)", choices=FORMATS)
    tasks: tuple = option(DEFAULT_TASKS, "comma-separated training tasks: pose (always), masked (ManipLLM's masked "
                                         "coordinates; off by default: it breaks the answers' number format), "
                                         "category, affordance")
    steps: int = option(1600, "optimisation steps")
    batch: int = option(16, "questions per step")
    lr: float = option(1e-2, "peak learning rate (warm-up then cosine decay; LLaMA-Adapter's: 9e-3)")
    warmup: int = option(50, "warm-up steps")
    category_dropout: float = option(0.5, "the chance that a pose or masked question's prompt names no category (its "
                                          "words replaced by [UNK], as an unseen category's name reads): robomamba's "
                                          "default recipe")
    eval_samples: int = option(200, "held-out demos answered greedily for the validation figures (0: none)")
    progress: bool = option(True, "progress bars")

    def __post_init__(self):
        check_subset(self, "tasks", TASKS, required=("pose",))
        check_choice(self, "agent", ("manipllm",))
        check_choice(self, "answer_format", FORMATS)
        check_at_least(self, adapter_len=1, adapter_layers=0, steps=1, batch=1, warmup=0, eval_samples=0)
        check_positive(self, "lr")
        if not 0 <= self.category_dropout < 1:
            raise ConfigError("category_dropout", self.category_dropout, "must be in [0, 1)")
        if not 0 <= self.holdout < 1:
            raise ConfigError("holdout", self.holdout, "must be in [0, 1)")


def answers(data, frame: str, fmt: str = "words") -> tuple[list[str], np.ndarray, np.ndarray]:
    """(each demo's chain-of-thought answer in the form `fmt`, its contact point in [0, 1] of the view (N, 2), its
    up axis (N, 3))."""
    from ...training_data import pixel_targets, rotation_targets
    from .answer import category_text, format_answer

    pos = pixel_targets(data.frame, 1.0, data.boxes)
    rot = rotation_targets(data.frame, frame, data.surface)
    f = data.frame
    text = [format_answer(category_text(str(f["category"][i]), fmt), str(f["joint_type"][i]), pos[i],
                          rot[i, :, 2], rot[i, :, 0], fmt) for i in range(len(f))]
    return text, pos, rot[:, :, 2]


def question(kind: str, i: int, data, text: list[str], fcts, rng: np.random.Generator,
             category_dropout: float = 0.0) -> tuple[str, str, str]:
    """(kind, question, answer) of task `kind` about demo `i`; the pose and masked questions' prompt names no
    category with probability `category_dropout`."""
    from ...robomamba import qa
    from ...robomamba.text import blind_category
    from .answer import mask_step

    prompt = str(data.frame["prompt"][i])
    if kind in ("pose", "masked") and rng.random() < category_dropout:
        prompt = blind_category(prompt, str(data.frame["category"][i]), per_word=True)
    if kind == "pose":
        return kind, prompt, text[i]
    if kind == "masked":
        masked, target = mask_step(text[i], MASKED_STEPS[int(rng.integers(len(MASKED_STEPS)))])
        return kind, f"{prompt} : {masked}", target
    return qa.questions(fcts[i], rng, {"category": "category", "affordance": "on_part"}[kind])


def build_model(cfg: TrainConfig):
    """(ManipLLMModel around the --base twin, the twin's tokenizer)."""
    from ..vlm_training import load_base
    from .config import ManipLLMConfig
    from .model import ManipLLMModel

    twin = load_base(cfg.base)
    layers = twin.model.lm.config.num_hidden_layers
    if cfg.adapter_layers > layers:
        raise ConfigError("adapter_layers", cfg.adapter_layers, f"the base's language model has {layers} layers")
    torch.manual_seed(cfg.seed)
    mcfg = ManipLLMConfig(adapter_len=cfg.adapter_len, adapter_layers=cfg.adapter_layers or layers,
                           bias_tuning=cfg.bias_tuning, frame=cfg.frame, answer_format=cfg.answer_format)
    return ManipLLMModel(mcfg, base=twin.model), twin.tokenizer


def validation(agent, data, text: list[str], pos: np.ndarray, up: np.ndarray, idx: np.ndarray,
               train_idx: np.ndarray, prompts: list[str]) -> dict:
    """Greedy answers to `prompts` (the manipulation prompts of demos `idx`, or them blinded): the fraction that
    parses, the category and joint accuracies (unparsed answers count as wrong), and on the parsed answers the
    contact point's L1 error in the view beside the best constant point's, and the up axis's angle."""
    from ...robomamba.text import EOS, PAD
    from .agent import prompt_ids
    from .answer import UnparsableAnswer, parse_answer, steps

    cat_ok, joint_ok, ok, l1, ang, examples = 0, 0, [], [], [], []
    images = agent.model.preprocess(torch.from_numpy(data.rgb[idx]).permute(0, 3, 1, 2))
    constant = pos[train_idx].mean(0)
    for j, (i, prompt) in enumerate(zip(idx, prompts)):
        ids = prompt_ids(agent.tokenizer, prompt, agent.model.cfg.max_text_tokens)
        said = agent.words(agent.model.generate_answer(images[j: j + 1], ids, eos=EOS, pad=PAD))
        truth = steps(text[i])
        if len(examples) < 3:
            examples.append({"answer": said, "truth": text[i]})
        try:
            a = parse_answer(said, agent.mcfg.answer_format)
        except UnparsableAnswer:
            continue
        ok.append(i)
        cat_ok += a["category"].split() == truth[0]
        joint_ok += [a["joint"]] == truth[1]
        l1.append(float(np.abs(np.asarray(a["pos"]) - pos[i]).mean()))
        u = a["up"] / np.linalg.norm(a["up"])
        ang.append(math.degrees(math.acos(float(np.clip(u @ up[i], -1, 1)))))
    n = len(idx)
    return {"answers": n, "parse_rate": round(len(ok) / n, 4), "category_accuracy": round(cat_ok / n, 4),
            "joint_accuracy": round(joint_ok / n, 4),
            "pixel_l1": round(float(np.mean(l1)), 4) if l1 else None,
            "pixel_l1_constant": round(float(np.abs(constant - pos[ok]).mean()), 4) if ok else None,
            "up_angle_deg": round(float(np.mean(ang)), 2) if ang else None, "examples": examples}


def train(cfg: TrainConfig, log=print) -> dict:

    from ... import checkpoint
    from ...robomamba import qa
    from ...robomamba.text import blind_category
    from ...robomamba.train import facts, frozen_image_features, next_token_steps
    from ...training_data import dataset_summary, load
    from ..vlm_training import base_seed
    from .agent import ManipLLMAgent

    done = checkpoint.finished_training(cfg, log, added=ADDED_SETTINGS)
    if done is not None:
        return done
    t0 = time.perf_counter()
    model, tokenizer = build_model(cfg)
    data = load(cfg.data, model.cfg.image_size, successes_only=True, holdout_fraction=cfg.holdout, grid=qa.GRID,
                progress=cfg.progress, view=model.cfg.view_spec(), surface=cfg.frame == "surface")
    train_idx, val_idx = np.flatnonzero(~data.holdout), np.flatnonzero(data.holdout)
    if not len(train_idx):
        raise ValueError(f"{cfg.data}: every instance is held out (holdout={cfg.holdout}); lower --holdout")
    log(f"data: {len(data)} demos from {cfg.data} ({len(val_idx)} on held-out instances)")
    text, pos, up = answers(data, cfg.frame, cfg.answer_format)
    fcts = facts(data, model.cfg.crop)
    rng = np.random.default_rng([cfg.seed, 0x3A1])
    vision = frozen_image_features(model, data, train_idx)  # the encoder is frozen: its tokens once
    counts = dict.fromkeys(cfg.tasks, 0)

    def batch():
        rows = rng.integers(len(train_idx), size=cfg.batch)
        kinds = [cfg.tasks[int(k)] for k in rng.integers(len(cfg.tasks), size=cfg.batch)]
        for k in kinds:
            counts[k] += 1
        return rows, [question(k, int(train_idx[r]), data, text, fcts, rng, cfg.category_dropout)
                      for k, r in zip(kinds, rows)]

    losses = next_token_steps(model, tokenizer, batch, vision, data.rgb[train_idx], cfg.steps, cfg.lr, cfg.warmup,
                              QUESTION_TOKENS, "manipllm", cfg.progress)
    agent = ManipLLMAgent(model, tokenizer)
    counts_p = model.parameter_counts()
    record = {"config": cfg.to_dict(), "data_manifest": dataset_summary(cfg.data), "demos": len(data),
              "base": str(cfg.base),
              "base_training_seed": base_seed(cfg.base),
              "questions_per_task": counts, "final_loss": round(float(np.mean(losses[-20:])), 4),
              "train_s": round(time.perf_counter() - t0, 1), "trainable_params": counts_p["trainable"],
              "total_params": counts_p["total"], "trainable_fraction": counts_p["trainable"] / counts_p["total"]}
    if cfg.eval_samples and len(val_idx):
        pick = val_idx[np.sort(np.random.default_rng([cfg.seed, 0xE7]).permutation(len(val_idx))[:cfg.eval_samples])]
        prompts = [str(data.frame["prompt"][i]) for i in pick]
        record["val"] = validation(agent, data, text, pos, up, pick, train_idx, prompts)
        blind = [blind_category(p, str(data.frame["category"][i]), per_word=True) for p, i in zip(prompts, pick)]
        record["val_blind"] = validation(agent, data, text, pos, up, pick, train_idx, blind)
        log(f"held-out answers: {record['val']}; category blinded: {record['val_blind']}")
    record["wall_s"] = round(time.perf_counter() - t0, 1)
    checkpoint.save(agent, cfg.out, training=record)
    return {"stages": {"train": record}}

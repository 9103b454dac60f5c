"""Train a learned agent on a collected dataset (data_collection) and save its checkpoint.

    python -m agents.train --agent robomamba --data data/demos --out checkpoints/robomamba
    python -m agents.train --agent transformer --data data/demos --out checkpoints/transformer
    python -m agents.train --agent where2act --data data/mixed --out checkpoints/where2act
    python -m agents.train --agent robomamba --help      # that agent's flags and defaults

robomamba / transformer train in the paper's stages (sim-QA co-training, then the policy head alone
on cached backbone features); where2act trains its actionability, proposal and critic networks on
successes and failures (collect with --keep-failures). Rerunning a finished or interrupted command
continues from the last finished stage. Bad input exits 2 with a one-line message.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing

# agent -> (config class, train function, {field: help}); imported lazily
TRAINERS = {
    "robomamba": "agents.robomamba.train",
    "transformer": "agents.robomamba.train",
    "where2act": "agents.baselines.where2act.train",
}

HELP = {
    "data": "dataset directory written by data_collection.run",
    "out": "checkpoint directory (written atomically after every stage)",
    "agent": "which agent to train",
    "preset": "model size preset: tiny (CPU) or paper",
    "stages": "comma-separated stages: align (projector on sim-QA), cotrain (backbone on sim-QA), head "
              "(policy head only, paper stage 2)",
    "seed": "seed of initialisation, sampling and shuffling",
    "holdout": "fraction of object instances held out for the validation figures",
    "init": "start from this checkpoint instead of a fresh model",
    "clip_model": "open_clip model name of --clip-checkpoint (e.g. ViT-L-14)",
    "clip_checkpoint": "local CLIP weights file (the vision tower is then frozen)",
    "lm_checkpoint": "local Hugging Face Mamba / Llama directory",
    "qa_steps": "sim-QA optimisation steps (align / cotrain)",
    "qa_batch": "sim-QA batch size",
    "qa_lr": "sim-QA peak learning rate (warm-up then cosine decay)",
    "qa_eval": "held-out sim-QA questions scored after co-training",
    "epochs": "epochs of the stage (head: paper 8)",
    "lr": "learning rate (head: paper 1e-5)",
    "weight_decay": "AdamW weight decay (head: paper 0.1)",
    "batch_size": "batch size",
    "feature_cache": "compute the frozen backbone's features once (--no-feature-cache recomputes them every step)",
    "image_size": "network input side, pixels (images are resized)",
    "width": "feature channels of the network",
    "proposals": "directions proposed per pixel at inference / for actionability targets",
    "pixels_per_image": "pixels per image used for the off-part negatives and actionability targets",
    "progress": "progress bars",
}


def trainer(agent: str):
    import importlib

    from .registry import UnknownAgentError, resolve

    key = resolve(agent)
    if key not in TRAINERS:
        raise UnknownAgentError(f"agent {agent!r} has no training; trainable: {', '.join(TRAINERS)}")
    return importlib.import_module(TRAINERS[key])


def config_parser(config_cls, agent: str) -> argparse.ArgumentParser:
    """Flags from the config dataclass: --field-name, with type, default and help."""
    p = argparse.ArgumentParser(prog="python -m agents.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if f.name == "agent":
            default = agent
        text = f"{HELP.get(f.name, f.name)} (default: {','.join(default) if isinstance(default, tuple) else default})"
        if hints[f.name] is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=text)
            continue
        kind = {int: int, float: float}.get(hints[f.name], str)
        p.add_argument(flag, type=kind, default=default, help=text)
    return p


def main(argv=None) -> int:
    from sim_envs.cli import die

    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--agent", default="robomamba")
    known, _ = pre.parse_known_args(argv)
    try:
        mod = trainer(known.agent)
    except ValueError as e:
        die(str(e))
    args = config_parser(mod.TrainConfig, known.agent).parse_args(argv)
    try:
        cfg = mod.TrainConfig(**vars(args))
    except ValueError as e:
        die(str(e))
    from pathlib import Path

    if not (Path(cfg.data) / "manifest.json").exists():
        die(f"--data {cfg.data}: not a collected dataset (no manifest.json); make one with "
            f"python -m data_collection.run")
    from .checkpoint import CheckpointError

    try:
        record = mod.train(cfg)
    except (ValueError, FileNotFoundError, CheckpointError) as e:
        die(str(e))
    print(json.dumps({"out": cfg.out, "stages": list(record.get("stages", {}))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

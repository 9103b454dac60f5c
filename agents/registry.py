"""Agent names -> implementation and trainer, imported only when an agent is built or trained.

Besides the built-in agents below, any installed package can add agents through the Python entry
point group `robomamba_bench.agents` (name = "module:Class", the class an `agents.base.Agent`), and
make one trainable through the group `robomamba_bench.trainers` (the same name = "module", a trainer
module, see below), e.g. in its pyproject.toml:

    [project.entry-points."robomamba_bench.agents"]
    my_agent = "my_package.agent:MyAgent"
    [project.entry-points."robomamba_bench.trainers"]
    my_agent = "my_package.train"

`python -m agents` lists every agent with where it comes from; `evaluation.run --agent my_agent` runs
it like a built-in, `agents.train --agent my_agent` trains it and the main job (`evaluation.pipeline
--agents ...,my_agent`) trains and evaluates it with the others (examples/agent_plugin is a complete
example). A plugin cannot shadow a built-in, nor give a built-in another trainer.

A trainer module holds `TrainConfig`, a dataclass of `infra.cli.option` fields that has at least
`agent`, `data`, `out` and `seed`, and `train(cfg) -> dict` (the training record), which saves the
checkpoint in `cfg.out` and resumes when rerun. It may name `PIPELINE_FLAGS`: {main-job setting: its own
flag}, the main job's budget settings it takes (e.g. {"qa_steps": "--qa-steps", "head_epochs": "--epochs"}),
`PIPELINE_DATA`: {dataset: its flag}, the extra datasets it takes (UMPNet's exploration collection), and
`PIPELINE_BASE`: (agent, its flag), the trained agent it builds on (ManipLLM on the Transformer twin): the main
job trains that agent first and hands over its checkpoint of the same training seed.
"""
from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

ENTRY_POINT_GROUP = "robomamba_bench.agents"
TRAINER_GROUP = "robomamba_bench.trainers"

# name: (module:class, one-line description, trainer module or None). Keep imports out of this file.
AGENTS: dict[str, tuple[str, str, str | None]] = {
    "robomamba": ("agents.robomamba.agent:RoboMambaAgent",
                  "CLIP ViT encoder -> MLP projector -> Mamba LM -> policy head (RoboMamba)",
                  "agents.robomamba.train"),
    "transformer": ("agents.robomamba.agent:TransformerTwinAgent",
                    "RoboMamba with a Llama-style decoder of matched size in place of Mamba",
                    "agents.robomamba.train"),
    "random": ("agents.baselines.random_agent:RandomAgent",
               "uniform pixel on the object silhouette (reads the object mask), random approach direction", None),
    "chance": ("agents.baselines.chance_agent:ChanceAgent",
               "uniform pixel of the whole image, random approach direction into the scene: the floor", None),
    "where2act": ("agents.baselines.where2act.agent:Where2ActAgent",
                  "Where2Act: per-pixel actionability, direction proposals and a critic on RGB-D",
                  "agents.baselines.where2act.train"),
    "umpnet": ("agents.baselines.umpnet.agent:UMPNetAgent",
               "UMPNet: per-pixel position score, then hemisphere directions ranked by an opens/closes/none "
               "classifier on RGB-D", "agents.baselines.umpnet.train"),
    "flowbot3d": ("agents.baselines.flowbot3d.agent:FlowBot3DAgent",
                  "FlowBot3D: per-point articulation flow from the object point cloud; pull the point of largest "
                  "flow along it", "agents.baselines.flowbot3d.train"),
    "manipllm": ("agents.baselines.manipllm.agent:ManipLLMAgent",
                 "ManipLLM: LLaMA-Adapter prompts in the frozen co-trained Transformer twin; the action is its "
                 "greedy chain-of-thought answer, parsed", "agents.baselines.manipllm.train"),
    "roboflamingo": ("agents.baselines.roboflamingo.agent:RoboFlamingoAgent",
                     "RoboFlamingo: gated cross-attention to perceiver-resampled vision tokens in the frozen co-trained"
                     " Transformer twin; a policy head on its last hidden state",
                     "agents.baselines.roboflamingo.train"),
    "oracle": ("agents.baselines.oracle:OracleAgent",
               "privileged motion-aware expert: a true-part pixel whose pull moves the part, where the gripper "
               "fits: the upper bound", None),
    "reference_expert": ("agents.baselines.oracle:ReferenceExpertAgent",
                         "privileged reference-protocol action (affordance pixel, minus the true normal), "
                         "what data collection samples", None),
    "remote": ("agents.remote.agent:RemoteAgent",
               "a policy served over the network (python -m agents.serve); needs --policy-url ws://HOST:PORT", None),
}


@dataclass(frozen=True)
class Entry:
    target: str  # module:Class
    description: str
    origin: str  # 'built-in' or 'plugin <distribution> <version>'
    trainer: str | None = None  # trainer module, None: not trainable


class UnknownAgentError(ValueError):
    pass


def _key(name: str) -> str:
    return str(name).strip().lower().replace("-", "_")


def registry() -> dict[str, Entry]:
    """name -> Entry: the built-ins, then the plugins' entry points, read from the installed packages'
    metadata without importing them."""
    from importlib.metadata import entry_points

    out = {k: Entry(target, text, "built-in", trainer) for k, (target, text, trainer) in AGENTS.items()}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        key = _key(ep.name)
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "unknown distribution"
        if key in out:
            print(f"agents: ignoring the plugin agent {ep.name!r} of {dist}: the name is taken "
                  f"({out[key].origin})", file=sys.stderr)
            continue
        summary = ep.dist.metadata.get("Summary") if ep.dist is not None else None
        out[key] = Entry(ep.value, summary or ep.value, f"plugin {dist}")
    for ep in entry_points(group=TRAINER_GROUP):
        key = _key(ep.name)
        entry = out.get(key)
        if entry is None or entry.origin == "built-in":
            why = "no such agent" if entry is None else "a built-in agent keeps its own trainer"
            print(f"agents: ignoring the plugin trainer {ep.name!r} ({ep.value}): {why}", file=sys.stderr)
            continue
        out[key] = Entry(entry.target, entry.description, entry.origin, ep.value)
    return out


def available() -> list[str]:
    return list(registry())


def describe() -> dict[str, str]:
    return {k: v.description for k, v in registry().items()}


def resolve(name: str) -> str:
    key, known = _key(name), registry()
    if key not in known:
        raise UnknownAgentError(f"unknown agent {name!r}; allowed: {', '.join(known)}")
    return key


def agent_class(name: str):
    module, cls = registry()[resolve(name)].target.split(":")
    return getattr(importlib.import_module(module), cls)


def trainable() -> dict[str, str]:
    """{agent name: trainer module} of every trainable agent, built-ins first."""
    return {k: v.trainer for k, v in registry().items() if v.trainer}


def trainer(name: str):
    """(registry name, trainer module) of `name`; UnknownAgentError for an unknown agent or one without
    training."""
    key = resolve(name)
    modules = trainable()
    if key not in modules:
        raise UnknownAgentError(f"agent {name!r} has no training; trainable: {', '.join(modules)}")
    return key, importlib.import_module(modules[key])

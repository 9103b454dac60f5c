"""Agent names -> implementation, imported only when an agent is built."""
from __future__ import annotations

import importlib

# name: (module:class, one-line description). Keep imports out of this file.
AGENTS: dict[str, tuple[str, str]] = {
    "robomamba": ("agents.robomamba.agent:RoboMambaAgent",
                  "CLIP ViT encoder -> MLP projector -> Mamba LM -> policy head (RoboMamba)"),
    "transformer": ("agents.robomamba.agent:TransformerTwinAgent",
                    "RoboMamba with a Llama-style decoder of matched size in place of Mamba"),
    "random": ("agents.baselines.random_agent:RandomAgent",
               "uniform pixel on the object silhouette (reads the object mask), random approach direction"),
    "chance": ("agents.baselines.chance_agent:ChanceAgent",
               "uniform pixel of the whole image, random approach direction into the scene: the floor"),
    "where2act": ("agents.baselines.where2act.agent:Where2ActAgent",
                  "Where2Act: per-pixel actionability, direction proposals and a critic on RGB-D"),
    "oracle": ("agents.baselines.oracle:OracleAgent",
               "privileged affordance pixel and true surface normal: the upper bound"),
}


class UnknownAgentError(ValueError):
    pass


def available() -> list[str]:
    return list(AGENTS)


def describe() -> dict[str, str]:
    return {k: v[1] for k, v in AGENTS.items()}


def resolve(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_")
    if key not in AGENTS:
        raise UnknownAgentError(f"unknown agent {name!r}; allowed: {', '.join(AGENTS)}")
    return key


def agent_class(name: str):
    module, cls = AGENTS[resolve(name)][0].split(":")
    return getattr(importlib.import_module(module), cls)


def make_agent(name: str, **kwargs):
    """Build an agent by name; UnknownAgentError lists the allowed names."""
    return agent_class(name)(**kwargs)

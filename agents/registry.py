"""Agent names -> implementation, imported only when an agent is built.

Besides the built-in agents below, any installed package can add agents through the Python entry
point group `robomamba_bench.agents` (name = "module:Class", the class an `agents.base.Agent`), e.g. in
its pyproject.toml:

    [project.entry-points."robomamba_bench.agents"]
    my_agent = "my_package.agent:MyAgent"

`python -m agents` lists every agent with where it comes from; `evaluation.run --agent my_agent` runs
it like a built-in (examples/agent_plugin is a complete example). A plugin cannot shadow a built-in.
"""
from __future__ import annotations

import importlib
import sys

ENTRY_POINT_GROUP = "robomamba_bench.agents"

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
    "remote": ("agents.remote.agent:RemoteAgent",
               "a policy served over the network (python -m agents.serve); needs --policy-url ws://HOST:PORT"),
}


class UnknownAgentError(ValueError):
    pass


def _key(name: str) -> str:
    return str(name).strip().lower().replace("-", "_")


def registry() -> dict[str, tuple[str, str, str]]:
    """name -> (module:class, description, origin): the built-ins ("built-in"), then the plugins'
    entry points ("plugin <distribution> <version>"), read from the installed packages' metadata
    without importing them."""
    from importlib.metadata import entry_points

    out = {k: (target, text, "built-in") for k, (target, text) in AGENTS.items()}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        key = _key(ep.name)
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "unknown distribution"
        if key in out:
            print(f"agents: ignoring the plugin agent {ep.name!r} of {dist}: the name is taken "
                  f"({out[key][2]})", file=sys.stderr)
            continue
        summary = ep.dist.metadata.get("Summary") if ep.dist is not None else None
        out[key] = (ep.value, summary or ep.value, f"plugin {dist}")
    return out


def available() -> list[str]:
    return list(registry())


def describe() -> dict[str, str]:
    return {k: v[1] for k, v in registry().items()}


def resolve(name: str) -> str:
    key, known = _key(name), registry()
    if key not in known:
        raise UnknownAgentError(f"unknown agent {name!r}; allowed: {', '.join(known)}")
    return key


def agent_class(name: str):
    module, cls = registry()[resolve(name)][0].split(":")
    return getattr(importlib.import_module(module), cls)


def make_agent(name: str, **kwargs):
    """Build an agent by name; UnknownAgentError lists the allowed names."""
    return agent_class(name)(**kwargs)


def build(name: str, checkpoint=None, device: str = "cpu", **options):
    """(agent, checkpoint record or None): the agent `name` loaded from `checkpoint`, or built fresh with
    those of `device` and `options` its constructor takes. Raises UnknownAgentError, CheckpointError
    (agents.checkpoint), OSError, or the constructor's ValueError / RuntimeError."""
    import inspect

    key = resolve(name)
    if checkpoint is not None:
        from .checkpoint import load, record

        meta = record(checkpoint)
        return load(checkpoint, agent=key, device=device), meta
    cls = agent_class(key)
    params = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in {"device": device, **options}.items() if k in params}
    return cls(**kwargs), None

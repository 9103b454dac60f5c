"""The one place that builds an agent: from its registry name (fresh), or from a checkpoint directory.

    from agents.factory import build, load, make_agent
    agent = make_agent("random")                              # fresh, constructor arguments as given
    agent, record = build("robomamba", "checkpoints/robomamba")  # loaded, with the checkpoint's record
    agent = load("checkpoints/robomamba")                     # loaded; the directory says which agent

Every command that takes `--agent NAME [--checkpoint DIR]` (evaluation.run, agents.serve, the Ray
agent actor) goes through `build`; training (`--init`, resume) and `Agent.from_pretrained` through
`load`.
"""
from __future__ import annotations

import inspect
from pathlib import Path

from .checkpoint import CheckpointError, read_config, record
from .registry import agent_class, resolve


def make_agent(name: str, **kwargs):
    """A fresh agent by name; UnknownAgentError lists the allowed names."""
    return agent_class(name)(**kwargs)


def load(directory, agent: str | None = None, device: str = "cpu"):
    """The agent stored in `directory`. With `agent`, the checkpoint must have been made for it."""
    meta = read_config(directory)
    if agent is not None and resolve(agent) != meta["agent"]:
        raise CheckpointError(f"checkpoint {directory} was made for agent {meta['agent']!r}, not {agent!r}")
    return agent_class(meta["agent"]).from_checkpoint(Path(directory), meta, device)


def build(name: str, checkpoint=None, device: str = "cpu", **options):
    """(agent, checkpoint record or None): the agent `name` loaded from `checkpoint`, or built fresh with
    those of `device` and `options` its constructor takes. Raises UnknownAgentError, CheckpointError,
    OSError, or the constructor's ValueError / RuntimeError."""
    key = resolve(name)
    if checkpoint is not None:
        return load(checkpoint, agent=key, device=device), record(checkpoint)
    cls = agent_class(key)
    params = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in {"device": device, **options}.items() if k in params}
    return cls(**kwargs), None

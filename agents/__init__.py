"""Agents: one interface (a batch of observations in, a batch of 8-number actions out) and a lazy
registry, so `--agent NAME` works everywhere and listing agents imports no model code.

    from agents import make_agent, available, load
    agent = make_agent("random")
    actions = agent.act(observations, seeds=[0, 1])      # (B, 8): row, col, up(3), forward(3)
    agent = load("checkpoints/robomamba")                # a trained agent from its checkpoint
"""
from .factory import build, load, make_agent
from .registry import UnknownAgentError, available, describe

__all__ = ["UnknownAgentError", "available", "build", "describe", "load", "make_agent"]

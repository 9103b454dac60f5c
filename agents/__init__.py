"""Agents: one interface (a batch of observations in, a batch of 8-number actions out) and a lazy
registry, so `--agent NAME` works everywhere and listing agents imports no model code.

    from agents import make_agent, available
    agent = make_agent("random")
    actions = agent.act(observations, seeds=[0, 1])      # (B, 8): row, col, up(3), forward(3)
"""
from .registry import UnknownAgentError, available, describe, make_agent

__all__ = ["UnknownAgentError", "available", "describe", "make_agent"]

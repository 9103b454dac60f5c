"""Baseline agents: random (lower bound), oracle (privileged upper bound)."""

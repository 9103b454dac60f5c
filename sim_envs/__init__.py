"""SAPIEN / ManiSkill3 environments of articulated objects for the one-shot pull benchmark.

Importing this package is cheap (no SAPIEN); `make_env` imports the simulator.
"""
from . import vulkan as _vulkan

_vulkan.configure()

ENV_ID = "PullArticulated-v1"


def make_env(config=None, **overrides):
    """The registered pull environment (PROTOCOL sections 1-2) for a `PullEnvConfig`."""
    import gymnasium as gym

    from . import pull_env  # noqa: F401  (registers ENV_ID)
    from .config import PullEnvConfig

    cfg = (config or PullEnvConfig()).replace(**overrides)
    return gym.make(ENV_ID, config=cfg)

"""SAPIEN / ManiSkill3 environments of articulated objects for the one-shot pull benchmark.

Importing this package is cheap (no SAPIEN); `make_env` imports the simulator.
"""
from . import vulkan as _vulkan

_vulkan.configure()

ENV_ID = "PullArticulated-v1"


def make_env(config=None, **overrides):
    """The registered pull environment (docs/protocol.md sections 1-4) for a `PullEnvConfig`."""
    import gymnasium as gym

    from . import pull_env  # noqa: F401  (registers ENV_ID)
    from .config import PullEnvConfig

    _quiet_known_warnings()

    cfg = (config or PullEnvConfig()).replace(**overrides)
    return gym.make(ENV_ID, config=cfg)


def _quiet_known_warnings() -> None:
    """ManiSkill warns on every env that the floating gripper's controller has no mimic map (its
    guess is right for this gripper); drop that one message so progress bars stay readable."""
    import logging

    from mani_skill.utils.logging_utils import logger

    if not any(getattr(f, "_robomamba", False) for f in logger.filters):
        class _DropMimic(logging.Filter):
            _robomamba = True

            def filter(self, record):
                return "Mimic targets dictionary is missing for controller config" not in record.getMessage()

        logger.addFilter(_DropMimic())

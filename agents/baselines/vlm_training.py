"""What the vision-language baselines built on the co-trained Transformer twin (ManipLLM, RoboFlamingo) share in
training: the twin they start from (their next-token training is agents.robomamba.train.next_token_steps)."""
from __future__ import annotations

from infra.cli import ConfigError


def load_base(path: str):
    """The trained Transformer twin at `path` (agents.train --agent transformer); ConfigError naming --base."""
    from ..checkpoint import CheckpointError
    from ..factory import load

    try:
        return load(path, agent="transformer")
    except (CheckpointError, OSError) as e:
        raise ConfigError("base", path, f"not a trained transformer checkpoint ({e})") from None


def base_seed(path: str):
    """The training seed of the twin at `path`, from its checkpoint's record."""
    from ..checkpoint import read_config

    return read_config(path).get("training", {}).get("config", {}).get("seed")

"""What the vision-language baselines built on the co-trained Transformer twin (ManipLLM, RoboFlamingo) share in
training: the twin they start from, and the model class made of its parts (their next-token training is
agents.robomamba.train.next_token_steps)."""
from __future__ import annotations

from torch import nn

from infra.cli import ConfigError

from ..robomamba.config import RoboMambaConfig
from ..robomamba.model import RoboMambaModel


class TwinParts(RoboMambaModel):
    """A model built from a trained twin's parts: its vision encoder, language model and pixel statistics, with the
    twin's configuration as `cfg` (what preprocess(), image_features() and lm_logits() read). Subclasses add their
    own modules after `adopt`."""

    def adopt(self, base_config: dict, pretrained: bool, base: RoboMambaModel | None) -> RoboMambaModel:
        """Take `base`'s parts (or, without one, those of a twin built from `base_config`: a checkpoint's weights
        follow); returns the twin, whose other parts (projector, head) the subclass may take too."""
        nn.Module.__init__(self)
        if base is None:
            base = RoboMambaModel(RoboMambaConfig(**base_config), pretrained=pretrained)
        self.vision, self.lm = base.vision, base.lm
        self.register_buffer("pixel_mean", base.pixel_mean, persistent=False)
        self.register_buffer("pixel_std", base.pixel_std, persistent=False)
        self.base_cfg = base.cfg
        return base

    @property
    def cfg(self) -> RoboMambaConfig:
        return self.base_cfg


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

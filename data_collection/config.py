"""Collection settings as one dataclass (the CLI's flags map onto it one to one)."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Optional


@dataclass
class CollectConfig:
    categories: str = "drawer"  # a name or alias, a comma-separated list, 'all-seen', 'all-unseen', 'all'
    samples: int = 500  # successful demos per task (paper: ~10K over the 20 seen categories)
    split: str = "train"  # object instances to sample: 'train' or 'test'
    seed: int = 0  # master seed: trial k of task t has a seed derived from (seed, t, k)
    workers: int = min(2, os.cpu_count() or 1)  # simulation processes; 0 = in this process
    out: str = "data/demos"
    image_size: int = 336  # rendered square image side (PROTOCOL section 1)
    normal_noise_deg: float = 10.0  # std of the noise added to each component of up = -normal (deg)
    keep_failures: bool = False  # also store failed trials, flagged demo_success=False
    block_size: int = 32  # trials per shard; the unit of work and of resumption
    max_trials: Optional[int] = None  # give up on a task after this many trials (None: 20 x samples + 200)
    partnet_dir: Optional[str] = None  # PartNet-Mobility directory instead of procedural objects
    # the demo filter (PROTOCOL section 3: released data-collection code)
    keep_dq: float = 0.1  # |dq| above this (m or rad) ...
    keep_range_fraction: float = 0.5  # ... or above this fraction of the joint range ...
    keep_cosine: float = 0.5  # ... and the touched point moved along the pull (cosine above this)

    # settings that change what a trial produces: a dataset directory holds one combination
    IDENTITY = ("seed", "split", "image_size", "normal_noise_deg", "keep_failures", "block_size",
                "partnet_dir", "keep_dq", "keep_range_fraction", "keep_cosine")

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the bad field, its value and what is allowed."""
        for name, lo in (("samples", 1), ("block_size", 1), ("workers", 0), ("image_size", 16)):
            v = getattr(self, name)
            if not isinstance(v, int) or v < lo:
                raise ValueError(f"{name}={v!r}: must be an integer >= {lo}")
        if self.max_trials is not None and self.max_trials < 1:
            raise ValueError(f"max_trials={self.max_trials!r}: must be >= 1 (or unset)")
        if self.split not in ("train", "test"):
            raise ValueError(f"split={self.split!r}: allowed: train, test")
        if not 0 <= self.normal_noise_deg <= 90:
            raise ValueError(f"normal_noise_deg={self.normal_noise_deg!r}: must be in [0, 90]")
        if not -1 <= self.keep_cosine <= 1:
            raise ValueError(f"keep_cosine={self.keep_cosine!r}: must be in [-1, 1]")

    @property
    def trial_limit(self) -> int:
        return self.max_trials if self.max_trials is not None else 20 * self.samples + 200

    def identity(self) -> dict:
        return {k: getattr(self, k) for k in self.IDENTITY}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

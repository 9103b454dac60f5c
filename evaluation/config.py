"""Evaluation settings as one dataclass (the flags of `python -m evaluation.run` map onto it)."""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Optional


@dataclass
class EvalConfig:
    agent: str = "robomamba"  # a name of agents.registry (`python -m agents` lists them)
    checkpoint: Optional[str] = None  # checkpoint directory (agents.checkpoint); None = built untrained
    categories: str = "all"  # 'all', 'seen', 'unseen' or a comma-separated list of names / aliases
    episodes: int = 50  # episodes per category (paper: ~1.1K test episodes over 30 categories)
    seed: int = 0  # master seed of the work list; the same for every agent (paired comparison)
    shard: str = "0/1"  # 'i/n': run only the items whose position in the list is i modulo n
    workers: int = min(2, os.cpu_count() or 1)  # simulation processes; 0 = inline, in this process
    envs_per_worker: int = 1  # environments per simulation process (episodes in flight per process)
    batch_size: int = 16  # most observations the agent gets in one act() call
    image_size: int = 336  # rendered square image side (PROTOCOL section 1)
    partnet_dir: Optional[str] = None  # a PartNet-Mobility directory instead of procedural objects
    out: Optional[str] = None  # output directory; None = results/eval/<label>
    label: Optional[str] = None  # method name in the tables; None = the agent name
    record: int = 0  # annotated stills (2-frame GIF) of the first N episodes of the list
    device: str = "cpu"  # torch device for learned agents
    split: str = "test"  # object instances (unseen categories have test instances only)

    # settings that change what an episode produces: an output directory holds one combination
    IDENTITY = ("agent", "checkpoint", "categories", "episodes", "seed", "shard", "image_size",
                "partnet_dir", "split")

    def __post_init__(self):
        if self.label is None:
            self.label = self.agent
        if self.out is None:
            self.out = os.path.join("results", "eval", self.label)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError 'field=value: reason' for the first bad field."""
        for name, lo in (("episodes", 1), ("workers", 0), ("envs_per_worker", 1), ("batch_size", 1),
                         ("image_size", 16), ("record", 0)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError(f"{name}={v!r}: must be an integer >= {lo}")
        if self.split not in ("train", "test"):
            raise ValueError(f"split={self.split!r}: allowed: train, test")
        self.shard_index()

    def shard_index(self) -> tuple[int, int]:
        """(i, n) of `shard`; ValueError unless 0 <= i < n."""
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(self.shard))
        if not m or not int(m[1]) < int(m[2]):
            raise ValueError(f"shard={self.shard!r}: must be 'i/n' with 0 <= i < n, e.g. 0/4")
        return int(m[1]), int(m[2])

    def identity(self) -> dict:
        return {k: getattr(self, k) for k in self.IDENTITY}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

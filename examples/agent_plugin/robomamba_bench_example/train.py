"""The trainer of the `centre_offset` agent (robomamba_bench_example.offset), found by the benchmark
through the entry point group `robomamba_bench.trainers`.

    python -m agents.train --agent centre_offset --data DATA_DIR --out CHECKPOINT_DIR

A trainer module gives the benchmark a `TrainConfig` (a dataclass of `infra.cli.option` fields, with
at least agent, data, out and seed: `agents.train --help` lists them) and `train(cfg)`, which writes the
checkpoint to `cfg.out` and returns the training record; rerun with the same settings it does nothing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from infra.cli import ConfigBase, check_choice, option

# the main job's settings this trainer takes (evaluation.pipeline setting: its flag): none
PIPELINE_FLAGS: dict = {}


@dataclass
class TrainConfig(ConfigBase):
    data: str = option("data/demos", "dataset directory written by data_collection.run")
    out: str = option("checkpoints/centre_offset", "checkpoint directory")
    agent: str = option("centre_offset", "which agent to train")
    seed: int = option(0, "seed (the averages do not depend on it; recorded for the main job's training seeds)")
    max_demos: int = option(0, "use at most this many demos per task (0: all)")

    def __post_init__(self):
        check_choice(self, "agent", ("centre_offset",))


def train(cfg: TrainConfig, log=print) -> dict:
    from agents import checkpoint
    from data_collection.dataset import decode_png, load_frame

    from .offset import OffsetAgent, OffsetModel, mask_frame

    prev = checkpoint.previous_training(cfg.out, cfg.to_dict())
    if prev is not None:
        log(f"{cfg.out}: already trained with these settings; nothing to do")
        return prev
    t0 = time.perf_counter()
    df = load_frame(cfg.data, columns=["task", "contact_pixel", "up_cam", "forward_cam", "object_mask_png"],
                    successes_only=True)
    if cfg.max_demos:
        df = df.groupby("task", sort=False).head(cfg.max_demos)
    if not len(df):
        raise ValueError(f"{cfg.data}: no successful demos to learn from")
    model = OffsetModel()
    offsets = []
    for row in df.itertuples(index=False):
        _, centre, extent = mask_frame(decode_png(row.object_mask_png).astype(bool), model.cfg.minimum_extent)
        offsets.append((np.asarray(row.contact_pixel, dtype=np.float64) - centre) / extent)
    with torch.no_grad():
        model.offset.copy_(torch.from_numpy(np.mean(offsets, 0)))
        model.up.copy_(torch.from_numpy(np.mean(np.stack(df.up_cam.to_numpy()), 0).astype(np.float64)))
        model.fwd.copy_(torch.from_numpy(np.mean(np.stack(df.forward_cam.to_numpy()), 0).astype(np.float64)))
    record = {"config": cfg.to_dict(), "demos": len(df), "wall_s": round(time.perf_counter() - t0, 2),
              "offset": model.offset.tolist()}
    checkpoint.save(OffsetAgent(model), cfg.out, training=record)
    log(f"centre_offset: {len(df)} demos, offset {np.round(model.offset.numpy(), 3).tolist()}; saved {cfg.out}")
    return record

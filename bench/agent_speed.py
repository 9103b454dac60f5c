"""Agent benchmarks (issue 5): control frequency of robomamba vs the transformer twin, and the policy
head's fine-tuning time with and without the feature cache. Run by hand:

    .venv/bin/python bench/agent_speed.py --data data/drawer --batches 1 16 --reps 5

Control frequency = actions per second of `agent.act` on 336x336 observations (preprocessing, vision
encoder, projector, language model and head; what the evaluator calls). Fine-tuning: the `head`
stage alone (paper stage 2: 8 epochs, lr 1e-5, batch 1) on the demos of --data, from the same
untrained backbone, with the cache (backbone once) and without it (backbone at every step).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import check_at_least, done, option, parse_config  # noqa: E402


def control_frequency(name: str, batch: int, reps: int) -> float:
    from agents import make_agent

    agent = make_agent(name, seed=0)
    rng = np.random.default_rng(0)
    obs = [{"rgb": rng.integers(0, 256, (336, 336, 3), dtype=np.uint8),
            "prompt": "Predict the contact point and orientation for pulling the drawer."} for _ in range(batch)]
    agent.act(obs)  # warm-up
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        agent.act(obs)
        best = min(best, time.perf_counter() - t)
    return batch / best


def head_time(data: str, cache: bool, epochs: int) -> dict:
    from agents import make_agent
    from agents.robomamba.train import TrainConfig, train_head
    from agents.training_data import load

    agent = make_agent("robomamba", seed=0)
    d = load(data, agent.cfg.image_size, progress=False)
    tr, va = np.flatnonzero(~d.holdout), np.flatnonzero(d.holdout)
    cfg = TrainConfig(data=data, epochs=epochs, feature_cache=cache, progress=False)
    return train_head(agent.model, agent.tokenizer, d, tr, va, cfg)


@dataclass
class AgentSpeedConfig:
    data: str = option("data/drawer", "collected dataset for the fine-tuning timing (empty: skip that timing)")
    reps: int = option(5, "timed repetitions, best kept (>= 1)")
    epochs: int = option(8, "head epochs (the paper's: 8)")
    no_cache_epochs: int = option(1, "epochs timed without the cache (scaled to --epochs in the table)")
    threads: int = option(2, "torch threads")
    batches: tuple[int, ...] = option((1, 16), "act() batch sizes")

    def __post_init__(self):
        check_at_least(self, reps=1, epochs=1, no_cache_epochs=1, threads=1, batches=1)


def main(argv=None) -> int:
    cfg, _ = parse_config(AgentSpeedConfig, argv, "python bench/agent_speed.py", __doc__)
    torch.set_num_threads(cfg.threads)
    print("| agent | batch | actions/s |\n|---|---|---|")
    for name in ("robomamba", "transformer"):
        for b in cfg.batches:
            print(f"| {name} | {b} | {control_frequency(name, b, cfg.reps):.1f} |", flush=True)
    if cfg.data:
        with_cache = head_time(cfg.data, True, cfg.epochs)
        without = head_time(cfg.data, False, cfg.no_cache_epochs)
        scale = cfg.epochs / cfg.no_cache_epochs
        print(f"\nhead fine-tuning, {with_cache['samples']} demos, {cfg.epochs} epochs, batch 1 "
              f"({with_cache['steps']} steps), trainable {with_cache['trainable_params']:,} of "
              f"{with_cache['total_params']:,} ({100 * with_cache['trainable_fraction']:.2f}%):")
        print(f"  with the feature cache:    {with_cache['wall_s']:.1f} s "
              f"(cache {with_cache['feature_cache_s']:.1f} s)")
        return done(f"  without (backbone per step): {without['wall_s'] * scale:.1f} s "
                    f"({without['wall_s']:.1f} s measured for {cfg.no_cache_epochs} epoch(s), x{scale:.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

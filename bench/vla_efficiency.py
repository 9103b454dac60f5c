"""The paper's efficiency table, measured (issue 27): for each vision-language method, how many parameters it has,
what fraction of them it fine-tunes, how long its training took (its checkpoint's record) and its control rate.
Run by hand, on a quiet machine, with trained checkpoints (the main job's, or agents.train's):

    .venv/bin/python bench/vla_efficiency.py --checkpoints robomamba=DIR transformer=DIR manipllm=DIR \\
        roboflamingo=DIR --observations 30 --reps 3 --threads 1 2 --out results/bench/vla_efficiency.csv

Control rate: `agent.act` at batch 1 (what the evaluator calls: view, preprocessing, vision, language model, head
or greedy answer and its parsing) on real observations, the first episode of each of the first --observations
categories of the main job's work list (seed 0, test split), every agent on the same observation in turn, then
the next observation (interleaved, so drift of the machine falls on every agent alike), --reps times, with the
given torch thread counts; the median latency and 1 / median as Hz. ManipLLM's latency depends on the length of
its answer, so the median is over its real answers. Training: the checkpoint's recorded wall time of its own
stages, and for a method built on another trained model (ManipLLM and RoboFlamingo on the twin), that base's too.
Writes --out (CSV, atomic) and prints a Markdown table beside the paper's rows.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import ConfigBase, ConfigError, check_at_least, option, parse_config  # noqa: E402
from infra.files import atomic_write_text  # noqa: E402


@dataclass
class EfficiencyConfig(ConfigBase):
    checkpoints: tuple[str, ...] = option((), "NAME=DIR pairs: each method's trained checkpoint (agents.train)")
    observations: int = option(30, "observations: the first episode of each of the first N categories (1-30)")
    reps: int = option(3, "passes over the observations")
    threads: tuple[int, ...] = option((1,), "torch thread counts")
    out: str = option("results/bench/vla_efficiency.csv", "CSV written (atomic)")

    def __post_init__(self):
        check_at_least(self, observations=1, reps=1)
        if not self.checkpoints:
            raise ConfigError("checkpoints", "", "give at least one NAME=DIR")
        for c in self.checkpoints:
            if "=" not in c or not c.split("=", 1)[1]:
                raise ConfigError("checkpoints", c, "each must be NAME=DIR")
        if self.observations > 30:
            raise ConfigError("observations", self.observations, "the work list has 30 categories")
        if any(t < 1 for t in self.threads):
            raise ConfigError("threads", self.threads, "each must be >= 1")


def observations(n: int) -> list[dict]:
    """The first episode of each of the first n categories of the main job's work list, as the agent sees it."""
    from evaluation.episodes import work_items
    from sim_envs import make_env
    from sim_envs.config import PullEnvConfig

    items = work_items(seed=0, categories="all", episodes=1)[:n]
    env = make_env(PullEnvConfig(split="test"))
    out = []
    for it in items:
        obs, _ = env.reset(seed=it.episode_seed, options=it.reset_options())
        out.append(obs)
    env.close()
    return out


def act_seconds(agent, observation: dict) -> float:
    """One act() at batch 1; an answer that does not parse was still said and counts (the evaluator records it)."""
    from agents.baselines.manipllm.answer import UnparsableAnswer

    t = time.perf_counter()
    try:
        agent.act([observation])
    except UnparsableAnswer:
        pass
    return time.perf_counter() - t


def training_row(directory: str) -> dict:
    from agents.checkpoint import read_config
    from evaluation.tables import training_seconds

    meta = read_config(directory)
    own = training_seconds(meta)
    base = (meta.get("training") or {}).get("base")
    base_s = training_seconds(read_config(base)) if base and Path(base).exists() else np.nan
    return {"train_s": round(own, 1), "base_train_s": round(base_s, 1) if base else np.nan}


def main(argv=None) -> int:
    cfg, _ = parse_config(EfficiencyConfig, argv, "python bench/vla_efficiency.py", __doc__)
    from agents.factory import load
    from agents.robomamba import scan_kernel  # noqa: F401  (its CPU kernel, where it builds)
    from evaluation.tables import SPEED, _count

    named = dict(c.split("=", 1) for c in cfg.checkpoints)
    agents = {name: load(d) for name, d in named.items()}
    obs = observations(cfg.observations)
    rows = []
    for threads in cfg.threads:
        torch.set_num_threads(threads)
        for agent in agents.values():
            act_seconds(agent, obs[0])  # warm-up
        times = {name: [] for name in agents}
        for _ in range(cfg.reps):
            for o in obs:
                for name, agent in agents.items():
                    times[name].append(act_seconds(agent, o))
        for name, agent in agents.items():
            counts = agent.parameter_counts()
            med = float(np.median(times[name]))
            rows.append({"method": name, "threads": threads, "act_ms_median": round(1000 * med, 2),
                         "act_ms_p90": round(1000 * float(np.percentile(times[name], 90)), 2),
                         "control_hz": round(1 / med, 2), "calls": len(times[name]),
                         "total_params": counts["total"], "trainable_params": counts["trainable"],
                         "trainable_fraction": round(counts["trainable"] / counts["total"], 4),
                         **training_row(named[name]), "checkpoint": named[name]})
    df = pd.DataFrame(rows)
    atomic_write_text(cfg.out, df.to_csv(index=False))
    print(df.drop(columns="checkpoint").to_markdown(index=False))
    ref = pd.read_csv(SPEED)
    ref["trainable_params"] = ref["finetuned_params"].map(_count)
    print("\npaper (A100):")
    print(ref[["method", "control_hz", "gpu", "trainable_params", "finetuned_fraction"]].to_markdown(index=False))
    print(f"\nwritten: {cfg.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

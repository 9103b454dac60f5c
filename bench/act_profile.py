"""Where robomamba's act() time goes (issue 29), beside its Transformer twin. Run by hand:

    .venv/bin/python bench/act_profile.py --threads 1 2 --reps 15

For each agent (untrained tiny weights: the same compute as trained ones) and torch thread count, one
real observation (a Door episode) at batch 1, each stage of act() timed alone, medians of --reps:
view (crop and resize), tokenise, preprocess (to float, resize to the encoder's input, normalise),
vision encoder, projector and embedding, language model, policy head, and the whole act(). Then the
language model's operators (torch.profiler, one thread), and what moving an observation from a
simulation worker to the agent costs (pickle out and in, the pipe's payload). Last, from a committed
run's records (--records), the act() latency the evaluator measured with its simulation workers busy on
the same cores. Writes --out (CSV, atomic) and prints Markdown tables.
"""
from __future__ import annotations

import gzip
import json
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import ConfigBase, check_at_least, option, parse_config  # noqa: E402
from infra.files import atomic_write_text  # noqa: E402


@dataclass
class ActProfileConfig(ConfigBase):
    agents: str = option("robomamba,transformer", "comma-separated agents of the RoboMambaAgent family")
    threads: tuple[int, ...] = option((1, 2), "torch thread counts")
    reps: int = option(15, "timed repetitions (median kept)")
    ops: int = option(12, "language-model operators listed (torch.profiler, one thread)")
    records: str = option("results/default/runs", "runs whose records give the evaluator's act() latency ('' = skip)")
    out: str = option("results/bench/act_profile.csv", "CSV of the stage timings")

    def __post_init__(self):
        check_at_least(self, reps=1, threads=1, ops=1)


def stages(agent, obs: dict) -> dict:
    """Seconds of each stage of agent.act([obs]) (RoboMambaAgent._predict, then act()'s post-processing)."""
    from agents.robomamba.text import encode_batch

    m, t, t0 = agent.model, {}, time.perf_counter()

    def lap(name):
        nonlocal t0
        t[name] = time.perf_counter() - t0
        t0 = time.perf_counter()

    with torch.no_grad():
        boxes, rgb = agent._views([obs])
        lap("view")
        ids, mask = encode_batch(agent.tokenizer, [obs["prompt"]], agent.cfg.max_text_tokens)
        lap("tokenise")
        images = m.preprocess(torch.from_numpy(rgb).permute(0, 3, 1, 2))
        lap("preprocess")
        feats = m.image_features(images)
        lap("vision")
        embeds = m.embed(feats, ids)
        full = torch.cat([torch.ones(feats.shape[:2], dtype=mask.dtype), mask], 1)
        lap("projector + embed")
        hidden = m.hidden_states(embeds, full)
        lap("language model")
        m.head(m.pool(hidden, full))
        lap("head")
    t["tokens"] = embeds.shape[1]
    return t


def act_seconds(agent, obs: dict) -> float:
    t0 = time.perf_counter()
    agent.act([obs])
    return time.perf_counter() - t0


def lm_operators(agent, obs: dict, top: int) -> pd.DataFrame:
    from agents.robomamba.text import encode_batch

    m = agent.model
    ids, mask = encode_batch(agent.tokenizer, [obs["prompt"]], agent.cfg.max_text_tokens)
    with torch.no_grad():
        images = m.preprocess(torch.from_numpy(agent._views([obs])[1]).permute(0, 3, 1, 2))
        feats = m.image_features(images)
        embeds = m.embed(feats, ids)
        full = torch.cat([torch.ones(feats.shape[:2], dtype=mask.dtype), mask], 1)
        for _ in range(3):
            m.hidden_states(embeds, full)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(10):
                m.hidden_states(embeds, full)
    rows = [{"operator": e.key, "calls_per_forward": e.count / 10, "ms_per_forward": e.self_cpu_time_total / 1e4}
            for e in prof.key_averages()]
    df = pd.DataFrame(rows).sort_values("ms_per_forward", ascending=False)
    df["share"] = df.ms_per_forward / df.ms_per_forward.sum()
    return df.head(top)


def evaluator_latency(runs: Path) -> pd.DataFrame:
    rows = []
    for d in sorted(p for p in runs.iterdir() if (p / "episodes.jsonl.gz").exists()):
        with gzip.open(d / "episodes.jsonl.gz", "rt") as f:
            recs = [json.loads(line) for line in f if line.strip()]
        calls = {r.get("batch"): r.get("act_seconds") for r in recs if r.get("act_seconds") is not None}
        if calls:
            v = np.array(list(calls.values()), dtype=float)
            rows.append({"run": d.name, "act_calls": len(v), "median_ms": 1e3 * np.median(v),
                         "mean_ms": 1e3 * v.mean()})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    cfg, _ = parse_config(ActProfileConfig, argv, "python bench/act_profile.py", __doc__)
    from agents import make_agent
    from sim_envs import make_env
    from sim_envs.config import PullEnvConfig

    env = make_env(PullEnvConfig(task="door", split="test"))
    obs, _ = env.reset(seed=0, options={"task": "door"})
    env.close()
    names = [n.strip() for n in cfg.agents.split(",") if n.strip()]
    agents = {n: make_agent(n, seed=0) for n in names}
    rows = []
    for threads in cfg.threads:
        torch.set_num_threads(threads)
        for name, agent in agents.items():
            for _ in range(3):  # warm-up
                stages(agent, obs), act_seconds(agent, obs)
            laps = [stages(agent, obs) for _ in range(cfg.reps)]
            acts = [act_seconds(agent, obs) for _ in range(cfg.reps)]
            row = {"agent": name, "threads": threads, "tokens": laps[0]["tokens"]}
            row.update({f"{k}_ms": round(1e3 * float(np.median([lp[k] for lp in laps])), 2)
                        for k in laps[0] if k != "tokens"})
            row["act_ms"] = round(1e3 * float(np.median(acts)), 2)
            rows.append(row)
    df = pd.DataFrame(rows)
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cfg.out, df.to_csv(index=False))
    print(f"torch {torch.__version__}, batch 1, {len(obs['prompt'])}-character prompt, median of {cfg.reps}\n")
    print(df.to_markdown(index=False))
    torch.set_num_threads(1)
    for name in names:
        print(f"\n{name}: language-model operators, one thread, one forward of {rows[0]['tokens']} tokens\n")
        print(lm_operators(agents[name], obs, cfg.ops).to_markdown(index=False, floatfmt=".3f"))
    payload = pickle.dumps(obs, protocol=pickle.HIGHEST_PROTOCOL)
    t0 = time.perf_counter()
    for _ in range(cfg.reps):
        pickle.loads(pickle.dumps(obs, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"\nobservation transfer: {len(payload) / 1e6:.2f} MB pickled, "
          f"{1e3 * (time.perf_counter() - t0) / cfg.reps:.2f} ms to pickle and unpickle")
    if cfg.records:
        print("\nact() latency inside the evaluator (2 simulation workers on the same cores), per call:\n")
        print(evaluator_latency(Path(cfg.records)).to_markdown(index=False, floatfmt=".1f"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

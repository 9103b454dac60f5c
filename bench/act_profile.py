"""Where robomamba's act() time goes (issue 29), beside its Transformer twin. Run by hand:

    .venv/bin/python bench/act_profile.py --threads 1 2 --reps 15

For each agent (untrained tiny weights: the same compute as trained ones) and torch thread count, one real
observation (a Door episode) at batch 1, each stage of act() timed alone, medians of --reps: view (crop and
resize), tokenise, preprocess (to float, resize to the encoder's input, normalise), vision encoder,
projector and embedding, language model, policy head, and the whole act(); and, interleaved, the language
model as act() ran it before issue 29 (transformers' cache, and transformers' Mamba mixer around the fast
scan). Then the language model's operators (torch.profiler, one thread), the bare LMs' forward + backward at the
co-training stage's shape (batch 16 x 70 tokens) and at 1 x 300 (one thread), and what moving an observation from
a simulation worker to the agent costs (pickle out and in, the pipe's payload). Last, from a committed run's
records (--records), the act() latency the evaluator measured with its simulation workers busy on the same
cores. Writes --out (CSV, atomic) and prints Markdown tables.
"""
from __future__ import annotations

import contextlib
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
    train_reps: int = option(5, "forward + backward repetitions of the training shapes, one thread (0 = skip)")
    records: str = option("results/default/runs", "runs whose records give the evaluator's act() latency ('' = skip)")
    out: str = option("results/bench/act_profile.csv", "CSV of the stage timings")

    def __post_init__(self):
        check_at_least(self, reps=1, threads=1, ops=1, train_reps=0)


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


@contextlib.contextmanager
def issue7_mixer():
    """Mamba mixers as before issue 29: transformers' forward around the fast scan (fast_mamba's dispatchers)."""
    from transformers.models.mamba.modeling_mamba import MambaMixer

    from agents.robomamba import fast_mamba

    def forward(self, hidden_states, cache_params=None, attention_mask=None, **kwargs):
        fast_mamba._install()
        token = fast_mamba._ACTIVE.set(True)
        try:
            return MambaMixer.forward(self, hidden_states, cache_params=cache_params, attention_mask=attention_mask,
                                      **kwargs)
        finally:
            fast_mamba._ACTIVE.reset(token)

    now = fast_mamba.FastCPUMambaMixer.forward
    fast_mamba.FastCPUMambaMixer.forward = forward
    try:
        with fast_mamba.pytorch_scan():  # the issue-7 scan, not the kernel
            yield
    finally:
        fast_mamba.FastCPUMambaMixer.forward = now


def lm_inputs(agent, obs: dict):
    """The language model's input embeddings and attention mask for one observation, as act() builds them."""
    from agents.robomamba.text import encode_batch

    m = agent.model
    ids, mask = encode_batch(agent.tokenizer, [obs["prompt"]], agent.cfg.max_text_tokens)
    with torch.no_grad():
        feats = m.image_features(m.preprocess(torch.from_numpy(agent._views([obs])[1]).permute(0, 3, 1, 2)))
        return m.embed(feats, ids), torch.cat([torch.ones(feats.shape[:2], dtype=mask.dtype), mask], 1)


def lm_before_seconds(agent, obs: dict) -> float:
    """The language model's forward as act() ran it before issue 29: with transformers' cache (the
    default in eval mode) and, for Mamba, transformers' mixer around the issue-7 PyTorch scan."""
    embeds, full = lm_inputs(agent, obs)
    with torch.no_grad(), issue7_mixer():
        t0 = time.perf_counter()
        agent.model.lm.base_model(inputs_embeds=embeds, attention_mask=full)
        return time.perf_counter() - t0


def lm_pytorch_scan_seconds(agent, obs: dict) -> float:
    """The language model's forward as act() runs it now, but with the PyTorch scan instead of the fused
    kernel (the state of issue 29 before the kernel)."""
    from agents.robomamba import fast_mamba

    embeds, full = lm_inputs(agent, obs)
    with torch.no_grad(), fast_mamba.pytorch_scan():
        t0 = time.perf_counter()
        agent.model.hidden_states(embeds, full)
        return time.perf_counter() - t0


def training_steps(shapes, reps: int) -> pd.DataFrame:
    """Forward + backward of the bare LMs (untrained tiny; embeddings in, a squared-logit loss) at each
    (batch, tokens) of `shapes`: Mamba now (the fused scan kernel where it is loaded), Mamba with the PyTorch
    scan, Mamba with the mixer of before issue 29, the twin; interleaved."""
    from agents.robomamba import fast_mamba
    from agents.robomamba.config import RoboMambaConfig
    from agents.robomamba.model import build_lm

    torch.manual_seed(0)
    lms = {"robomamba": build_lm(RoboMambaConfig()).train(), "transformer": build_lm(RoboMambaConfig(
        lm_type="llama")).train()}

    def step(lm, batch, tokens):
        e = torch.randn(batch, tokens, lm.config.hidden_size, requires_grad=True)
        t0 = time.perf_counter()
        lm(inputs_embeds=e, attention_mask=torch.ones(batch, tokens, dtype=torch.long), use_cache=False
           ).logits.square().mean().backward()
        return time.perf_counter() - t0

    rows = []
    for batch, tokens in shapes:
        times = {"robomamba": [], "robomamba, PyTorch scan": [], "robomamba before issue 29": [], "transformer": []}
        contexts = {"robomamba, PyTorch scan": fast_mamba.pytorch_scan, "robomamba before issue 29": issue7_mixer}
        for k in range(reps + 1):  # the first round warms up
            for name in times:
                with contexts.get(name, contextlib.nullcontext)():
                    sec = step(lms[name.split()[0].rstrip(",")], batch, tokens)
                if k:
                    times[name].append(sec)
        rows += [{"lm": name, "batch": batch, "tokens": tokens, "fwd_bwd_ms": round(1e3 * float(np.median(v)), 1)}
                 for name, v in times.items()]
    return pd.DataFrame(rows)


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
    from agents.robomamba import scan_kernel
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
                stages(agent, obs), act_seconds(agent, obs), lm_before_seconds(agent, obs)
                lm_pytorch_scan_seconds(agent, obs)
            laps, acts, before, pyscan = [], [], [], []
            for _ in range(cfg.reps):  # interleaved
                laps.append(stages(agent, obs))
                acts.append(act_seconds(agent, obs))
                before.append(lm_before_seconds(agent, obs))
                pyscan.append(lm_pytorch_scan_seconds(agent, obs))
            row = {"agent": name, "threads": threads, "tokens": laps[0]["tokens"]}
            row.update({f"{k}_ms": round(1e3 * float(np.median([lp[k] for lp in laps])), 2)
                        for k in laps[0] if k != "tokens"})
            row["act_ms"] = round(1e3 * float(np.median(acts)), 2)
            row["language model before issue 29_ms"] = round(1e3 * float(np.median(before)), 2)
            row["language model, PyTorch scan_ms"] = round(1e3 * float(np.median(pyscan)), 2)
            rows.append(row)
    df = pd.DataFrame(rows)
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cfg.out, df.to_csv(index=False))
    print(f"torch {torch.__version__}, Mamba CPU scan: {scan_kernel.backend()}, batch 1, "
          f"{len(obs['prompt'])}-character prompt, median of {cfg.reps}\n")
    print(df.to_markdown(index=False))
    torch.set_num_threads(1)
    for name in names:
        print(f"\n{name}: language-model operators, one thread, one forward of {rows[0]['tokens']} tokens\n")
        print(lm_operators(agents[name], obs, cfg.ops).to_markdown(index=False, floatfmt=".3f"))
    if cfg.train_reps:
        print("\nforward + backward (training), one thread, median of", cfg.train_reps, "\n")
        print(training_steps([(16, 70), (1, 300)], cfg.train_reps).to_markdown(index=False))
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

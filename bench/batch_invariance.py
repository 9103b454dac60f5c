"""What batch-invariant actions cost (issue 29): robomamba and its twin run each observation through the
model alone (RoboMambaAgent.act), so an episode's action does not depend on the episodes that share its
act() call. Run by hand:

    .venv/bin/python bench/batch_invariance.py --batches 1 2 4 16 --reps 7 --threads 1

For each agent (untrained tiny weights: the same compute as trained ones) and batch size, on real
observations of the environment (one per category, cycled): the act() latency per observation of
  per item  the agent's act() (a forward of one observation at a time);
  batched   one forward of the whole batch (the act() before issue 29, rebuilt here);
medians of --reps, the two interleaved, and the largest difference between their actions. The
evaluation cost follows from how often the evaluator's dynamic batching forms batches of more than one:
--records reads that from a committed run's records (results/default: mean batch about 1.02).
"""
from __future__ import annotations

import gzip
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import ConfigBase, check_at_least, option, parse_config  # noqa: E402


@dataclass
class BatchInvarianceConfig(ConfigBase):
    agents: str = option("robomamba,transformer", "comma-separated agents of the RoboMambaAgent family")
    batches: tuple[int, ...] = option((1, 2, 4, 16), "act() batch sizes")
    reps: int = option(7, "timed repetitions of each (median kept)")
    threads: int = option(1, "torch threads (the evaluator's agent process uses torch's default)")
    records: str = option("results/default/runs", "runs whose records give the batch sizes the evaluator formed "
                                                  "('' = skip)")

    def __post_init__(self):
        check_at_least(self, reps=1, threads=1, batches=1)


def observations(n: int) -> list[dict]:
    from sim_envs import make_env
    from sim_envs.categories import ALL
    from sim_envs.config import PullEnvConfig

    env = make_env(PullEnvConfig(task="drawer", split="test"))
    tasks = list(ALL)
    out = [env.reset(seed=k, options={"task": tasks[k % len(tasks)]})[0] for k in range(n)]
    env.close()
    return out


@torch.no_grad()
def batched_act(agent, obs: list[dict]) -> np.ndarray:
    """The whole batch in one forward (RoboMambaAgent.act before issue 29)."""
    from agents.frames import to_camera
    from agents.robomamba.text import encode_batch

    view = agent.cfg.view_spec()
    boxes, rgb = agent._views(obs)
    ids, mask = encode_batch(agent.tokenizer, [o["prompt"] for o in obs], agent.cfg.max_text_tokens)
    pos, R = agent.model(agent.model.preprocess(torch.from_numpy(rgb).permute(0, 3, 1, 2)), ids, mask)
    pos, R = pos.double().numpy(), R.double().numpy()
    out = np.empty((len(obs), 8))
    for i, o in enumerate(obs):
        row, col = view.pixel(pos[i], boxes[i], *np.asarray(o["rgb"]).shape[:2], o.get("object_mask"))
        r = to_camera(agent.cfg.rotation_frame, R[i], o, (row, col))
        out[i] = [row, col, *r[:, 2], *r[:, 0]]
    return out


def batch_sizes(runs: Path) -> dict:
    """{run: (episodes, share of episodes acted on in a batch of more than one, mean batch)}."""
    out = {}
    for d in sorted(p for p in runs.iterdir() if (p / "episodes.jsonl.gz").exists()):
        with gzip.open(d / "episodes.jsonl.gz", "rt") as f:
            sizes = np.array([json.loads(line).get("batch_size") or 1 for line in f if line.strip()])
        if len(sizes):
            out[d.name] = (len(sizes), float((sizes > 1).mean()), float(sizes.mean()))
    return out


def main(argv=None) -> int:
    cfg, _ = parse_config(BatchInvarianceConfig, argv, "python bench/batch_invariance.py", __doc__)
    from agents import make_agent

    torch.set_num_threads(cfg.threads)
    obs = observations(max(cfg.batches))
    print(f"torch {torch.__version__}, {cfg.threads} thread(s), median of {cfg.reps}")
    print("| agent | batch | per item ms/obs | batched ms/obs | per item / batched | max |action diff| |")
    print("|---|---|---|---|---|---|")
    for name in cfg.agents.split(","):
        agent = make_agent(name.strip(), seed=0)
        for b in cfg.batches:
            batch = obs[:b]
            agent.act(batch), batched_act(agent, batch)  # warm-up
            times = {"item": [], "batched": []}
            for _ in range(cfg.reps):
                for kind, fn in (("item", agent.act), ("batched", lambda o, a=agent: batched_act(a, o))):
                    t = time.perf_counter()
                    fn(batch)
                    times[kind].append(time.perf_counter() - t)
            item, batched = (1e3 * np.median(times[k]) / b for k in ("item", "batched"))
            diff = float(np.max(np.abs(agent.act(batch) - batched_act(agent, batch))))
            print(f"| {name} | {b} | {item:.1f} | {batched:.1f} | {item / batched:.2f} | {diff:.1e} |")
    if cfg.records:
        print("\n| run | episodes | acted on in a batch > 1 | mean batch |\n|---|---|---|---|")
        for run, (n, share, mean) in batch_sizes(Path(cfg.records)).items():
            print(f"| {run} | {n} | {share:.1%} | {mean:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

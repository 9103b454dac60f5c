"""Remote-policy overhead (issues 17 and 30): control frequency of an agent called in this process vs the
same agent served by `python -m agents.serve --protocol P` and called through the `remote` agent
(WebSocket + msgpack on localhost), for each protocol P: this project's own (a batch per request),
openpi's and vla-eval's (one observation per request, so a batch of B is B round trips). Run by hand:

    .venv/bin/python bench/remote_policy.py --agent robomamba --batches 1 4 16 --reps 5

Observations are real: the first episodes of the evaluation work list (drawer, 336 px). For each batch
size: the best of --reps act() calls locally and remotely, taken in turn so that both meet the same
load of this shared machine (after one warm-up each); the overhead per batch is the difference, i.e.
encoding, the copies through the socket, decoding and the server's bookkeeping. openpi and vla-eval
send one observation per request: the batch is spread over --connections connections, and
agents.serve answers the requests that wait together in one act() call (with --connections 1 a
batch of B is B calls in a row). Only the entries the agent reads travel (robomamba: rgb and prompt). The learned agents
use the main job's checkpoint when there is one (else untrained weights: the same cost). Writes
results/bench/remote_policy.csv (atomic) and prints a Markdown table.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.cli import check_at_least, done, option, parse_config  # noqa: E402


@dataclass
class Config:
    agent: str = option("robomamba", "agent to serve and call")
    batches: tuple[int, ...] = option((1, 4, 16), "batch sizes")
    reps: int = option(5, "timed act() calls per batch size and side, local and remote in turn (the best counts)")
    image_size: int = option(336, "observation side, pixels")
    protocols: tuple[str, ...] = option(("robomamba", "openpi", "vla-eval"), "protocols to measure")
    connections: int = option(16, "openpi/vla-eval: connections a batch is spread over (evaluation.run's "
                                  "--policy-connections; 1 = one observation after another)")
    out: str = option("results/bench/remote_policy.csv", "CSV of the measurements")

    def __post_init__(self):
        check_at_least(self, reps=1, image_size=16, batches=1, connections=1)
        from agents.remote.keymap import PROTOCOLS
        from infra.cli import ConfigError

        for p in self.protocols:
            if p not in PROTOCOLS:
                raise ConfigError("protocols", p, f"allowed: {', '.join(PROTOCOLS)}")


def request_bytes(remote, obs) -> int:
    """Bytes the remote agent sends for the batch `obs` (its protocol's frames)."""
    from agents.remote import keymap, openpi, protocol, vlaeval

    c = remote.client
    if remote.protocol == "robomamba":
        return len(protocol.encode(protocol.act_request(0, obs, range(len(obs)), c.keys)))
    enc = openpi.encode if remote.protocol == "openpi" else (lambda m: vlaeval.encode("observation", m, 0))
    return sum(len(enc(keymap.to_wire(o, c.sent))) for o in obs)


def observations(n: int, image_size: int) -> list[dict]:
    from evaluation.episodes import work_items
    from sim_envs import make_env
    from sim_envs.config import AGENT_OBS_KEYS, PullEnvConfig

    env = make_env(PullEnvConfig(task="drawer", split="test", image_size=image_size))
    out = []
    for it in work_items(0, "drawer", n):
        obs, _ = env.reset(seed=it.episode_seed, options=it.reset_options())
        out.append({k: obs[k] for k in AGENT_OBS_KEYS})
    env.close()
    return out


def best_times(local, remote, obs, reps: int) -> tuple[float, float]:
    """(local, remote) best of `reps` act() calls each, interleaved so both meet the same machine load
    (after one warm-up each)."""
    seeds = list(range(len(obs)))
    best = [float("inf"), float("inf")]
    for agent in (local, remote):
        agent.act(obs, seeds=seeds)
    for _ in range(reps):
        for i, agent in enumerate((local, remote)):
            t = time.perf_counter()
            agent.act(obs, seeds=seeds)
            best[i] = min(best[i], time.perf_counter() - t)
    return best[0], best[1]


def main(argv=None) -> int:
    import pandas as pd

    from agents.factory import build
    from agents.registry import trainable
    from agents.remote.agent import RemoteAgent
    from infra.files import atomic_write_text

    cfg, _ = parse_config(Config, argv, "bench/remote_policy.py", __doc__)
    ckpt = ROOT / "out" / "pipeline" / "checkpoints" / cfg.agent
    ckpt = str(ckpt) if cfg.agent in trainable() and ckpt.is_dir() else None
    obs = observations(max(cfg.batches), cfg.image_size)
    local, _ = build(cfg.agent, ckpt)
    flags = ["--checkpoint", ckpt] if ckpt else (["--untrained"] if cfg.agent in trainable() else [])
    rows = []
    for proto in cfg.protocols:
        server = subprocess.Popen([sys.executable, "-m", "agents.serve", "--agent", cfg.agent, *flags, "--port", "0",
                                   "--protocol", proto, "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            url = server.stdout.readline().split()[-1]
            remote = RemoteAgent(url, timeout=600, policy_protocol=proto, policy_connections=cfg.connections)
            for b in cfg.batches:
                t_local, t_remote = best_times(local, remote, obs[:b], cfg.reps)
                mb = request_bytes(remote, obs[:b]) / 1e6
                rows.append({"agent": cfg.agent, "checkpoint": ckpt or "untrained", "protocol": proto,
                             "connections": len(remote.lines), "batch": b,
                             "request_mb": round(mb, 2), "local_s": round(t_local, 4),
                             "remote_s": round(t_remote, 4),
                             "overhead_ms_per_batch": round(1000 * (t_remote - t_local), 1),
                             "local_hz": round(b / t_local, 2), "remote_hz": round(b / t_remote, 2),
                             "remote_vs_local": round(t_local / t_remote, 3)})
                print(rows[-1], flush=True)
            remote.close()
        finally:
            server.kill()
            server.wait()
    df = pd.DataFrame(rows)
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cfg.out, df.to_csv(index=False))
    print(df.to_string(index=False))
    return done(f"wrote {cfg.out}")


if __name__ == "__main__":
    raise SystemExit(main())

"""Episodes per minute of `python -m evaluation.run` on this machine.

    python bench/evaluation_speed.py --agent random --workers 1 2
    python bench/evaluation_speed.py --agent robomamba --workers 0 1 2 --categories Safe,Faucet --episodes 20
    python bench/evaluation_speed.py --agent robomamba --workers 2 --agent-threads 2 0 --categories all \
        --episodes 4 --reps 3

For each worker count and agent thread setting (interleaved, --reps times), runs a real evaluation (a
fresh process, into a temporary directory deleted afterwards) and reports, from its run.json: wall time,
start-up (process start to the first observation: imports, SAPIEN shader compilation, model
construction), episodes per minute overall and after start-up (steady state), mean agent batch size and
the agent's control frequency.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.cli import check_at_least, option, parse_config  # noqa: E402


@dataclass
class EvaluationSpeedConfig:
    agent: str = option("random", "as evaluation.run --agent")
    categories: str = option("Safe,Faucet", "as evaluation.run --categories")
    episodes: int = option(20, "episodes per category (>= 1)")
    image_size: int = option(336, "rendered image side (>= 16)")
    batch_size: int = option(16, "as evaluation.run --batch-size (>= 1)")
    envs_per_worker: int = option(1, "as evaluation.run --envs-per-worker (>= 1)")
    workers: tuple[int, ...] = option((1, 2), "worker counts to compare (0 = simulate in the evaluating process)")
    agent_threads: tuple[int, ...] = option((0,), "as evaluation.run --agent-threads (0 = the cores the workers "
                                                  "leave free); several are compared")
    reps: int = option(1, "runs of each setting, interleaved")

    def __post_init__(self):
        check_at_least(self, episodes=1, image_size=16, batch_size=1, envs_per_worker=1, workers=0, agent_threads=0,
                       reps=1)


def main(argv=None) -> int:
    cfg, _ = parse_config(EvaluationSpeedConfig, argv, "python bench/evaluation_speed.py", __doc__)

    print(f"# {cfg.agent}, {cfg.categories} x {cfg.episodes} episodes, image {cfg.image_size}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print("workers | agent threads | wall s | start-up s | episodes/min | steady episodes/min | mean batch | "
          "control Hz")
    for w, threads in [(w, t) for _ in range(cfg.reps) for w in cfg.workers for t in cfg.agent_threads]:
        out = tempfile.mkdtemp(prefix="bench-eval-")
        cmd = [sys.executable, "-m", "evaluation.run", "--agent", cfg.agent, "--categories", cfg.categories,
               "--episodes", str(cfg.episodes), "--image-size", str(cfg.image_size), "--workers", str(w),
               "--batch-size", str(cfg.batch_size), "--envs-per-worker", str(cfg.envs_per_worker), "--quiet",
               "--agent-threads", str(threads), "--untrained", "--out", out]  # untrained weights: the same speed
        t0 = time.perf_counter()
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
        run = json.loads((Path(out) / "run.json").read_text())["runs"][-1]
        shutil.rmtree(out, ignore_errors=True)
        n, secs, start = run["episodes"], run["seconds"], run["startup_seconds"] or 0.0
        print(f"{w} | {run['agent_threads']} | {wall:.1f} | {start:.1f} | {60 * n / wall:.0f} | "
              f"{60 * n / max(secs - start, 1e-9):.0f} | "
              f"{run['mean_batch_size']} | {run['control_hz']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

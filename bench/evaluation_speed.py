"""Episodes per minute of `python -m evaluation.run` on this machine.

    python bench/evaluation_speed.py --agent random --workers 1 2
    python bench/evaluation_speed.py --agent robomamba --workers 0 1 2 --categories Safe,Faucet --episodes 20

For each worker count, runs a real evaluation (a fresh process, into a temporary directory deleted
afterwards) and reports, from its run.json: wall time, start-up (process start to the first
observation: imports, SAPIEN shader compilation, model construction), episodes per minute overall
and after start-up (steady state), mean agent batch size and the agent's control frequency.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--agent", default="random", help="as evaluation.run --agent")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to compare")
    p.add_argument("--categories", default="Safe,Faucet", help="as evaluation.run --categories")
    p.add_argument("--episodes", type=int, default=20, help="episodes per category")
    p.add_argument("--image-size", type=int, default=336, help="rendered image side")
    p.add_argument("--batch-size", type=int, default=16, help="as evaluation.run --batch-size")
    p.add_argument("--envs-per-worker", type=int, default=1, help="as evaluation.run --envs-per-worker")
    a = p.parse_args()

    print(f"# {a.agent}, {a.categories} x {a.episodes} episodes, image {a.image_size}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print("workers | wall s | start-up s | episodes/min | steady episodes/min | mean batch | control Hz")
    for w in a.workers:
        out = tempfile.mkdtemp(prefix="bench-eval-")
        cmd = [sys.executable, "-m", "evaluation.run", "--agent", a.agent, "--categories", a.categories,
               "--episodes", str(a.episodes), "--image-size", str(a.image_size), "--workers", str(w),
               "--batch-size", str(a.batch_size), "--envs-per-worker", str(a.envs_per_worker), "--quiet",
               "--out", out]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
        run = json.loads((Path(out) / "run.json").read_text())["runs"][-1]
        shutil.rmtree(out, ignore_errors=True)
        n, secs, start = run["episodes"], run["seconds"], run["startup_seconds"] or 0.0
        print(f"{w} | {wall:.1f} | {start:.1f} | {60 * n / wall:.0f} | {60 * n / max(secs - start, 1e-9):.0f} | "
              f"{run['mean_batch_size']} | {run['control_hz']}")


if __name__ == "__main__":
    main()

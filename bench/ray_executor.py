"""Ray executor vs local processes (issue 16): the wall time of the same commands with --executor local
and --executor ray (a local Ray instance the command starts itself, or --ray-address). Run by hand:

    .venv/bin/python bench/ray_executor.py                       # 30 x 20 evaluation + 20-category collection
    .venv/bin/python bench/ray_executor.py --episodes 5 --samples 2   # a quick look

Each command runs in a fresh process, into a fresh directory, and its wall time includes everything
(for Ray: starting the instance and the actors). The evaluation is robomamba with the main job's
checkpoint (untrained weights if there is none), 2 workers; the collection the 20 seen categories.
Also compares the records of the two executors: the collection's must be identical; the evaluation's
outcomes and actions are counted (a learned agent's float32 actions depend in the last bits on how the
dynamic batches were composed, which timing decides). Writes results/bench/ray_executor.csv.
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

from infra.cli import check_at_least, done, option, parse_config  # noqa: E402


@dataclass
class Config:
    episodes: int = option(20, "evaluation episodes per category (30 categories)")
    samples: int = option(5, "collection: demos per seen category (20 categories)")
    workers: int = option(2, "simulation workers / actors")
    ray_address: str | None = option(None, "Ray cluster to use (None: each command starts a local instance)")
    out: str = option("results/bench/ray_executor.csv", "CSV of the measurements")

    def __post_init__(self):
        check_at_least(self, episodes=1, samples=1, workers=1)


def timed(cmd: list[str], cwd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - t


def main(argv=None) -> int:
    import pandas as pd

    from data_collection.dataset import load_frame
    from infra.files import atomic_write_text

    cfg, _ = parse_config(Config, argv, "bench/ray_executor.py", __doc__)
    ckpt = ROOT / "out" / "pipeline" / "checkpoints" / "robomamba"
    agent = ["--agent", "robomamba", *(["--checkpoint", str(ckpt)] if ckpt.is_dir() else ["--untrained"])]
    tmp = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    rows = []
    try:
        for executor in ("local", "ray"):
            ex = ["--executor", executor, "--workers", str(cfg.workers)]
            if executor == "ray" and cfg.ray_address:
                ex += ["--ray-address", cfg.ray_address]
            jobs = {"evaluation": [sys.executable, "-m", "evaluation.run", *agent, "--categories", "all", "--episodes",
                                   str(cfg.episodes), "--quiet", *ex, "--out", str(tmp / f"eval-{executor}")],
                    "collection": [sys.executable, "-m", "data_collection.run", "--category", "all-seen", "--samples",
                                   str(cfg.samples), "--quiet", *ex, "--out", str(tmp / f"data-{executor}")]}
            for job, cmd in jobs.items():
                secs = timed(cmd, ROOT)
                rows.append({"job": job, "executor": executor, "wall_s": round(secs, 1), "workers": cfg.workers,
                             "size": f"30 x {cfg.episodes} episodes" if job == "evaluation"
                             else f"20 x {cfg.samples} demos"})
                print(rows[-1], flush=True)
        recs = {e: {r["key"]: r for r in map(json.loads,
                                             (tmp / f"eval-{e}" / "episodes.jsonl").read_text().splitlines())}
                for e in ("local", "ray")}
        keys = sorted(recs["local"])
        same_outcome = sum(recs["local"][k]["success"] == recs["ray"][k]["success"] and
                           recs["local"][k]["failure_reason"].split(":")[0] ==
                           recs["ray"][k]["failure_reason"].split(":")[0]
                           for k in keys)
        same_action = sum(recs["local"][k]["agent_action"] == recs["ray"][k]["agent_action"] for k in keys)
        eval_note = f"{same_outcome}/{len(keys)} same outcome, {same_action}/{len(keys)} bit-identical actions"
        cols = ["sample_id", "dq", "success", "rgb_png"]
        same_data = load_frame(tmp / "data-local", cols).equals(load_frame(tmp / "data-ray", cols))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    df = pd.DataFrame(rows)
    local = df[df.executor == "local"].set_index("job").wall_s
    df["ray_over_local"] = [round(r.wall_s / local[r.job], 3) for r in df.itertuples()]
    df["records"] = [eval_note if j == "evaluation" else ("identical" if same_data else "differ") for j in df.job]
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cfg.out, df.to_csv(index=False))
    print(df.to_string(index=False))
    return done(f"wrote {cfg.out}")


if __name__ == "__main__":
    raise SystemExit(main())

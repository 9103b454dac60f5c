"""Successful demos per minute of `python -m data_collection.run` on this machine.

    python bench/collection.py --category drawer --samples 200 --workers 2
    python bench/collection.py --category all-seen --samples 500 --workers 2

Runs a real collection into a temporary directory (deleted afterwards unless --keep) and reports
wall time from start to the finished manifest (worker start-up and shader compilation included),
demos and trials per minute, and the projected time for the paper's 10K-demo training set.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import check_at_least, option, parse_config  # noqa: E402


@dataclass
class CollectionBenchConfig:
    category: str = option("drawer", "as data_collection.run --category")
    samples: int = option(200, "demos per category (>= 1)")
    workers: int = option(2, "worker processes (0 = collect in this process)")
    image_size: int = option(336, "rendered image side (>= 16)")
    seed: int = option(0, "master seed")
    keep: Optional[str] = option(None, "keep the dataset in this directory; None = a temporary one, deleted")

    def __post_init__(self):
        check_at_least(self, samples=1, workers=0, image_size=16)


def main(argv=None) -> int:
    a, _ = parse_config(CollectionBenchConfig, argv, "python bench/collection.py", __doc__)

    from data_collection.collect import collect
    from data_collection.config import CollectConfig
    from data_collection.run import check_tasks

    out = a.keep or tempfile.mkdtemp(prefix="bench-collection-")
    cfg = CollectConfig(categories=a.category, samples=a.samples, workers=a.workers, image_size=a.image_size,
                        seed=a.seed, out=out)
    tasks = check_tasks(cfg)
    t0 = time.perf_counter()
    manifest = collect(cfg, tasks, progress=False)
    wall = time.perf_counter() - t0
    entries = [manifest["tasks"][t] for t in tasks]
    demos, trials = sum(e["demos"] for e in entries), sum(e["trials"] for e in entries)
    run = manifest["runs"][-1]
    size = sum(f.stat().st_size for f in Path(out).rglob("*.parquet"))
    result = {
        "machine": platform.platform(), "cpus": os.cpu_count(), "category": a.category, "tasks": len(tasks),
        "samples_per_task": a.samples, "workers": a.workers, "image_size": a.image_size,
        "wall_s": round(wall, 1), "demos": demos, "trials_kept_range": trials, "trials_run": run["trials"],
        "demos_per_min": round(demos / wall * 60, 1), "trials_per_min": round(run["trials"] / wall * 60, 1),
        "demo_rate": round(demos / trials, 3), "dataset_mb": round(size / 2**20, 1),
        "projected_10k_demos_min": round(10000 / (demos / wall * 60), 1),
        "per_task_demo_rate": {t: manifest["tasks"][t]["demo_rate"] for t in tasks},
    }
    print(json.dumps(result, indent=2))
    if not a.keep:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Successful demos per minute of `python -m data_collection.run` on this machine.

    python bench/collection.py --category drawer --samples 200 --workers 2
    python bench/collection.py --category all-seen --samples 500 --workers 2

Runs a real collection into a temporary directory (deleted afterwards unless --keep) and reports
wall time from start to the finished manifest (worker start-up and shader compilation included),
demos and trials per minute, and the projected time for the paper's 10K-demo training set.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import command_parser, parse_config  # noqa: E402


def main(argv=None) -> int:
    """The flags are data_collection.run's (another default: --samples 200), plus --keep."""
    from data_collection.collect import collect
    from data_collection.config import CollectConfig
    from data_collection.run import check_tasks

    p = command_parser("python bench/collection.py", __doc__)
    p.add_argument("--keep", default=None, help="keep the dataset in this directory (default: a temporary one, "
                                                "deleted; --out is ignored)")
    cfg, a = parse_config(CollectConfig, argv, parser=p, defaults={"samples": 200, "quiet": True})
    out = a.keep or tempfile.mkdtemp(prefix="bench-collection-")
    cfg = dataclasses.replace(cfg, out=out)
    tasks = check_tasks(cfg)
    t0 = time.perf_counter()
    manifest = collect(cfg, tasks, progress=not cfg.quiet)
    wall = time.perf_counter() - t0
    entries = [manifest["tasks"][t] for t in tasks]
    demos, trials = sum(e["demos"] for e in entries), sum(e["trials"] for e in entries)
    run = manifest["runs"][-1]
    size = sum(f.stat().st_size for f in Path(out).rglob("*.parquet"))
    result = {
        "machine": platform.platform(), "cpus": os.cpu_count(), "category": cfg.categories, "tasks": len(tasks),
        "samples_per_task": cfg.samples, "workers": cfg.workers, "image_size": cfg.image_size,
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

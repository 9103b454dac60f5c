"""Does the short physics schedule give the reference schedule's outcomes? The privileged expert
(`oracle`) on the same paired work list (every category) under the reference code's schedule
(`--physics reference`: 500 Hz, 4 s approach, 4 s pull, ~10,000 steps per trial) and under shorter
ones; per schedule: success, physics steps and seconds per trial, agreement with the reference
episode by episode, and the paired test (evaluation.compare: bootstrap interval, exact McNemar p).

    python bench/schedule.py --episodes 5

Writes results/physics/schedule.csv (and copies each run's records under results/physics/runs/).
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.pipeline import copy_records  # noqa: E402
from infra.cli import check_at_least, done, option, parse_config  # noqa: E402
from infra.files import atomic_write_text  # noqa: E402

# name, --physics, --env
SCHEDULES = (
    ("reference (500 Hz, 4 s moves)", "reference", ()),
    ("default (200 Hz, 0.15 s approach, 0.6 s pull, hold until rest)", "default", ()),
    ("100 Hz, default times", "default", ("sim_freq=100",)),
)


@dataclass
class ScheduleBenchConfig:
    episodes: int = option(5, "episodes per category (30 categories)")
    workers: int = option(2, "simulation workers")
    out: str = option("out/bench/schedule", "run directories")
    table: str = option("results/physics", "where schedule.csv and the records go")

    def __post_init__(self):
        check_at_least(self, episodes=1, workers=0)


def main(argv=None) -> int:
    cfg, _ = parse_config(ScheduleBenchConfig, argv, "python bench/schedule.py", __doc__)
    import pandas as pd

    from evaluation.compare import compare
    from evaluation.tables import load_runs

    runs, rows, table = [], [], Path(cfg.table)
    for k, (name, physics, env) in enumerate(SCHEDULES):
        out = Path(cfg.out) / f"schedule_{k}"
        cmd = [sys.executable, "-m", "evaluation.run", "--agent", "oracle", "--categories", "all", "--episodes",
               str(cfg.episodes), "--workers", str(cfg.workers), "--physics", physics, "--out", str(out),
               "--quiet"] + (["--env", *env] if env else [])
        print(f"[{name}] {' '.join(cmd[1:])}", flush=True)
        subprocess.run(cmd, check=True)
        run = next(iter(load_runs([out]).values()))
        runs.append(run)
        recs = run["records"]
        seconds = sum(r.get("step_seconds") or 0.0 for r in recs) + sum(r.get("reset_seconds") or 0.0 for r in recs)
        row = {"schedule": name, "physics": physics, "env": " ".join(env), "episodes": len(recs),
               "success": round(sum(r["success"] for r in recs) / len(recs), 4),
               "success_manipllm": round(sum(r["success_manipllm"] for r in recs) / len(recs), 4),
               "sim_steps_per_trial": round(sum(r.get("sim_steps", 0) for r in recs) / len(recs), 1),
               "seconds_per_trial": round(seconds / len(recs), 4)}
        if k:
            ref = {r["key"]: r for r in runs[0]["records"]}
            row["agree_with_reference"] = round(sum(r["success"] == ref[r["key"]]["success"]
                                                    for r in recs) / len(recs), 4)
            cmp = compare(runs[0], run, per_category=False, settings=("split", "image_size", "partnet_dir"))
            allrow = cmp[cmp.split == "all"].iloc[0]
            row.update(diff_reference_minus_this=round(allrow["diff"], 4), ci_low=round(allrow["ci_low"], 4),
                       ci_high=round(allrow["ci_high"], 4), only_reference=int(allrow["only_a"]),
                       only_this=int(allrow["only_b"]), mcnemar_p=float(f"{allrow['mcnemar_p']:.3g}"))
        rows.append(row)
        copy_records([str(out)], str(table / "runs"))
    df = pd.DataFrame(rows)
    atomic_write_text(table / "schedule.csv", df.to_csv(index=False))
    print(df.to_string(index=False))
    return done(f"wrote {table / 'schedule.csv'}")


if __name__ == "__main__":
    raise SystemExit(main())

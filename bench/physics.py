"""The effect of each physics change (legacy -> default, one at a time, cumulative) on the privileged
expert (`oracle`), `random` and a trained agent, over all 30 categories, on one paired work list.

    python bench/physics.py --episodes 10 --checkpoint out/pipeline/checkpoints/robomamba

Each (variant, agent) is one `python -m evaluation.run` (resumable, in out/bench/physics/K_AGENT);
the table (results/physics/physics_changes.csv, one row per variant and agent: success under both
criteria, the successes the unpulled-motion filter removes, the failure reasons) is rebuilt from the
runs' records, which are copied next to it.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.pipeline import copy_records  # noqa: E402
from infra.cli import check_at_least, done, option, parse_config  # noqa: E402
from infra.files import atomic_write_text  # noqa: E402

# cumulative steps from the legacy physics to the default: (name, --physics, --env settings)
VARIANTS = (
    ("legacy", "legacy", ()),
    ("+gravity,joint_friction", "legacy", ("object_gravity=true", "joint_friction=0.05")),
    ("+friction_4", "legacy", ("object_gravity=true", "joint_friction=0.05", "friction=4")),
    ("+suction_45000", "legacy", ("object_gravity=true", "joint_friction=0.05", "friction=4",
                                  "suction_stiffness=45000")),
    ("+approach_check", "legacy", ("object_gravity=true", "joint_friction=0.05", "friction=4",
                                   "suction_stiffness=45000", "check_approach=true")),
    ("default", "default", ()),  # + unpulled motion not counted, hold ends at rest
)


@dataclass
class PhysicsBenchConfig:
    episodes: int = option(10, "episodes per category (30 categories)")
    agents: str = option("oracle,random,robomamba", "comma-separated agents")
    checkpoint: str | None = option("out/pipeline/checkpoints/robomamba", "checkpoint of the learned agent")
    workers: int = option(2, "simulation workers")
    out: str = option("out/bench/physics", "run directories")
    table: str = option("results/physics", "where the table and the records go")

    def __post_init__(self):
        check_at_least(self, episodes=1, workers=0)


def reason(rec: dict) -> str:
    return (rec.get("failure_reason") or "").split(":")[0] or "success"


def row(variant: str, agent: str, recs: list[dict]) -> dict:
    n = len(recs)
    count = Counter(reason(r) for r in recs)
    return {"variant": variant, "agent": agent, "episodes": n,
            "success": round(sum(r["success"] for r in recs) / n, 4),
            "success_manipllm": round(sum(r["success_manipllm"] for r in recs) / n, 4),
            "success_unfiltered": round(sum(r.get("success_unfiltered", r["success"]) for r in recs) / n, 4),
            "unpulled_removed": sum(bool(r.get("unpulled_motion")) and not r["success"] for r in recs),
            "unpulled_motion": sum(bool(r.get("unpulled_motion")) for r in recs),
            "empty_reason_failures": sum((not r["success"]) and not r.get("failure_reason") for r in recs),
            "mean_sim_steps": round(sum(r.get("sim_steps", 0) for r in recs) / n, 1),
            **{f"reason_{k}": v for k, v in sorted(count.items())}}


def main(argv=None) -> int:
    cfg, _ = parse_config(PhysicsBenchConfig, argv, "python bench/physics.py", __doc__)
    import pandas as pd

    rows, table = [], Path(cfg.table)
    for k, (name, physics, env) in enumerate(VARIANTS):
        for agent in cfg.agents.split(","):
            out = Path(cfg.out) / f"{k}_{agent}"
            cmd = [sys.executable, "-m", "evaluation.run", "--agent", agent, "--categories", "all",
                   "--episodes", str(cfg.episodes), "--workers", str(cfg.workers), "--physics", physics,
                   "--out", str(out), "--quiet"] + (["--env", *env] if env else [])
            if agent not in ("oracle", "random", "chance") and cfg.checkpoint:
                cmd += ["--checkpoint", cfg.checkpoint]
            print(f"[{name}] {agent}: {' '.join(cmd[1:])}", flush=True)
            subprocess.run(cmd, check=True)
            lines = (out / "episodes.jsonl").read_text().splitlines()
            recs = [json.loads(line) for line in lines if line.strip()]
            rows.append(row(name, agent, recs))
            copy_records([str(out)], str(table / "runs"))
    df = pd.DataFrame(rows).fillna(0)
    for c in df.columns:
        if c.startswith("reason_"):
            df[c] = df[c].astype(int)
    atomic_write_text(table / "physics_changes.csv", df.to_csv(index=False))
    print(df.to_string(index=False))
    return done(f"wrote {table / 'physics_changes.csv'}")


if __name__ == "__main__":
    raise SystemExit(main())

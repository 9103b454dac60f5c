"""Table 2's geometric baselines, UMPNet and FlowBot3D, trained and measured beside the committed main job.

    python bench/table2.py --out out/table2 --tables results/table2

1. the main job's steps for umpnet, flowbot3d and random only (`evaluation.pipeline --agents
   umpnet,flowbot3d,random --film 0 --no-report`): its collection (the same dataset, seed 0), the
   exploration collection, 3 training seeds of each, and the evaluation on the main job's work list;
2. a check that the work list and physics are the committed main job's: `random` must end every episode
   exactly as results/default's `random` run did (exit 2 otherwise: compare nothing across versions);
3. `evaluation.tables` over the committed main job's runs (read from BASE/runs) and the new runs, with its
   ceiling and the published rows, into TABLES, with the new runs' records under TABLES/runs and
   TABLES/table2.json naming every run read (and where from), the commands and the machine.

The committed main job is not retrained: its methods' rows are its records. Every step resumes.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import ConfigBase, die, option, parse_config  # noqa: E402
from infra.files import atomic_write_text  # noqa: E402

AGENTS = ("umpnet", "flowbot3d")
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Table2Config(ConfigBase):
    out: str = option("out/table2", "working directory of the pipeline steps")
    tables: str = option("results/table2", "where the tables and the new runs' records go")
    base: str = option("results/default", "the committed main job whose runs, ceiling and work list are reused")
    train_seeds: int = option(3, "training seeds of each baseline (the main job's)")


def outcomes(run) -> dict:
    from evaluation.results.records import load_run

    return {r["key"]: (r["success"], r["failure_reason"], r.get("dq")) for r in load_run(run)["records"]}


def main(argv=None) -> int:
    cfg, _ = parse_config(Table2Config, argv, "python bench/table2.py", __doc__)
    from evaluation.pipeline import copy_records
    from evaluation.pipeline import main as pipeline_main
    from evaluation.tables import main as tables_main

    t0 = time.perf_counter()
    base = Path(cfg.base)
    job = json.loads((base / "pipeline.json").read_text())
    steps = ["--agents", ",".join([*AGENTS, "random"]), "--out", cfg.out, "--tables", f"{cfg.out}/tables",
             "--film", "0", "--no-report", "--train-seeds", str(cfg.train_seeds)]
    if pipeline_main(steps) != 0:
        return 1
    if outcomes(f"{cfg.out}/eval/random") != outcomes(base / "runs" / "random"):
        die(f"{cfg.out}/eval/random ends episodes otherwise than {base}/runs/random: another work list or physics; "
            f"rerun the main job before comparing")
    new = [f"{cfg.out}/eval/{a}@s{k}" for a in AGENTS for k in range(cfg.train_seeds)]
    committed = [str(base / "runs" / r) for r in job["runs"]]
    if tables_main(["--runs", *committed, *new, "--ceiling", str(base / "runs" / job["ceiling"]), "--out", cfg.tables,
                    "--reference"]) != 0:
        return 1
    copy_records(new, f"{cfg.tables}/runs")
    rel = lambda p: str(Path(p).resolve().relative_to(ROOT)) if Path(p).resolve().is_relative_to(ROOT) else p  # noqa: E731
    atomic_write_text(f"{cfg.tables}/table2.json", json.dumps({
        "command": "python bench/table2.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "pipeline": "python -m evaluation.pipeline " + " ".join(steps),
        "runs_from_base": [rel(r) for r in committed], "ceiling": rel(base / "runs" / job["ceiling"]),
        "runs": [Path(r).name for r in new], "base_commit": job.get("git_commit"),
        "pipeline_record": json.loads(Path(f"{cfg.out}/tables/pipeline.json").read_text()),
        "wall_s": round(time.perf_counter() - t0, 1)}, indent=2) + "\n")
    print(f"table2: tables in {cfg.tables}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

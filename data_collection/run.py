"""Collect successful pull demos (docs/protocol.md section 5) into a Parquet dataset.

    python -m data_collection.run --category drawer
    python -m data_collection.run --category all-seen --samples 500 --out data/demos
    python -m data_collection.run --category list

Each trial samples a contact pixel from the affordance map of the target part, approaches along
minus the true surface normal (plus noise) with a random gripper roll, and pulls; trials whose part
moved (|dq| > 0.1 or more than half its range) in the pulled direction (cosine > 0.5) are kept.
Rerunning the same command after an interruption (Ctrl-C, kill -9) resumes where it stopped.
"""
from __future__ import annotations

import sys

from infra.cli import die, parse_config, run_job

from .config import CollectConfig


def check_tasks(cfg: CollectConfig) -> list[str]:
    """Task names to collect, after checking each has instances in the split; exits 2 otherwise."""
    from sim_envs.cli import resolve_or_die
    from sim_envs.sources import make_source

    tasks = resolve_or_die(cfg.categories, many=True)
    try:
        source = make_source(cfg.partnet_dir)
        for t in tasks:
            if not source.instances(t, cfg.split):
                die(f"--category {t.name}: no {cfg.split} instances in the {source.name} source")
    except (ValueError, FileNotFoundError) as e:
        die(f"--category {cfg.categories} --split {cfg.split}: {e}")
    return [t.name for t in tasks]


def main(argv=None) -> int:
    cfg, _ = parse_config(CollectConfig, argv, "python -m data_collection.run", __doc__)
    if cfg.categories.strip().lower() == "list":
        from sim_envs.cli import print_categories

        print_categories()
        return 0
    tasks = check_tasks(cfg)
    from infra.executors import join_or_die

    join_or_die(cfg)
    from .collect import CollectError, collect

    command = ["python", "-m", "data_collection.run", *(sys.argv[1:] if argv is None else argv)]
    manifest = run_job(lambda: collect(cfg, tasks, progress=not cfg.quiet, command=command), cfg.out,
                       "blocks", CollectError)
    print(summary_line(manifest, tasks))
    if manifest["status"] != "complete":
        short = [f"{t} {manifest['tasks'][t]['demos']}/{cfg.samples}" for t in tasks
                 if not manifest["tasks"][t]["complete"]]
        print(f"warning: gave up after --max-trials {cfg.trial_limit} on: {', '.join(short)}", file=sys.stderr)
        return 0 if cfg.allow_short else 1
    return 0


def summary_line(manifest: dict, tasks: list[str]) -> str:
    entries = [manifest["tasks"][t] for t in tasks]
    demos, trials = sum(e["demos"] for e in entries), sum(e["trials"] for e in entries)
    run = manifest["runs"][-1]
    return (f"{demos} demos from {trials} trials ({demos / max(trials, 1):.0%}) over {len(tasks)} "
            f"categor{'y' if len(tasks) == 1 else 'ies'} in {manifest['collect_config']['out']} "
            f"(this run: {run['trials']} trials in {run['seconds']:.0f} s)")


if __name__ == "__main__":
    raise SystemExit(main())

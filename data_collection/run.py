"""Collect successful pull demos (PROTOCOL section 3) into a Parquet dataset.

    python -m data_collection.run --category drawer
    python -m data_collection.run --category all-seen --samples 500 --out data/demos
    python -m data_collection.run --category list

Each trial samples a contact pixel from the affordance map of the target part, approaches along
minus the true surface normal (plus noise) with a random gripper roll, and pulls; trials whose part
moved (|dq| > 0.1 or more than half its range) in the pulled direction (cosine > 0.5) are kept.
Rerunning the same command after an interruption (Ctrl-C, kill -9) resumes where it stopped.
"""
from __future__ import annotations

import argparse
import re
import sys

from .config import CollectConfig


def parse_args(argv=None) -> argparse.Namespace:
    d = CollectConfig.__dataclass_fields__
    default = lambda name: d[name].default  # noqa: E731
    p = argparse.ArgumentParser(prog="python -m data_collection.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)

    def add(*flags, help, **kw):
        p.add_argument(*flags, help=f"{help} (default: {kw.get('default')})", **kw)

    add("--category", default=default("categories"),
        help="a category or alias, a comma-separated list, 'all-seen' (the 20 training categories), "
             "'all-unseen', 'all', or 'list' to print the names and exit")
    add("--samples", type=int, default=default("samples"), help="successful demos to collect per category")
    add("--split", default=default("split"), help="object instances: 'train' or 'test' (unseen categories: test only)")
    add("--workers", type=int, default=default("workers"),
        help="simulation worker processes (0 = run in this process)")
    add("--seed", type=int, default=default("seed"),
        help="master seed; the same seed gives the same dataset whatever the worker count")
    add("--out", default=default("out"), help="dataset directory (created; rerun to resume)")
    add("--image-size", type=int, default=default("image_size"), help="rendered image side, pixels")
    add("--normal-noise-deg", type=float, default=default("normal_noise_deg"),
        help="std of the Gaussian noise on each component of up = -normal, degrees")
    p.add_argument("--keep-failures", action="store_true",
                   help="also store failed trials, flagged demo_success=False (for Where2Act-style "
                        "training) (default: off)")
    add("--block-size", type=int, default=default("block_size"), help="trials per shard (the unit of resumption)")
    add("--max-trials", type=int, default=default("max_trials"),
        help="give up on a category after this many trials; None = 20 x samples + 200")
    add("--partnet-dir", default=default("partnet_dir"),
        help="a PartNet-Mobility directory to use instead of the procedural objects")
    p.add_argument("--quiet", action="store_true", help="no progress bars (default: off)")
    return p.parse_args(argv)


def print_categories() -> None:
    from sim_envs.categories import ALIASES, SEEN, UNSEEN

    print("seen (train and test instances):", ", ".join(SEEN))
    print("unseen (test instances only):  ", ", ".join(UNSEEN))
    print("aliases:", ", ".join(f"{a} = {v['category']}" + (f" ({v['joint_type']})" if v.get("joint_type") else "")
                                for a, v in sorted(ALIASES.items())))
    print("selections: all-seen, all-unseen, all, or a comma-separated list")


def build_config(args) -> CollectConfig:
    """The CollectConfig of parsed flags; exits 2 with one line on a bad value."""
    from sim_envs.cli import die

    try:
        return CollectConfig(categories=args.category, samples=args.samples, split=args.split,
                             seed=args.seed, workers=args.workers, out=args.out, image_size=args.image_size,
                             normal_noise_deg=args.normal_noise_deg, keep_failures=args.keep_failures,
                             block_size=args.block_size, max_trials=args.max_trials,
                             partnet_dir=args.partnet_dir)
    except ValueError as e:  # "field=value: reason" -> "--field value: reason"
        m = re.match(r"(\w+)=(.*?): (.*)", str(e))
        die(f"--{m[1].replace('_', '-')} {m[2]}: {m[3]}" if m else str(e))


def check_tasks(cfg: CollectConfig) -> list[str]:
    """Task names to collect, after checking each has instances in the split; exits 2 otherwise."""
    from sim_envs.cli import die, resolve_many_or_die
    from sim_envs.sources import make_source

    tasks = resolve_many_or_die(cfg.categories)
    try:
        source = make_source(cfg.partnet_dir)
        for t in tasks:
            if not source.instances(t, cfg.split):
                die(f"--category {t.name}: no {cfg.split} instances in the {source.name} source")
    except (ValueError, FileNotFoundError) as e:
        die(f"--category {cfg.categories} --split {cfg.split}: {e}")
    return [t.name for t in tasks]


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.category.strip().lower() == "list":
        print_categories()
        return 0
    from sim_envs.cli import die

    cfg = build_config(args)
    tasks = check_tasks(cfg)
    from .collect import CollectError, WorkerDied, check_directory, collect

    try:
        check_directory(cfg)  # before anything is written
        command = ["python", "-m", "data_collection.run", *(sys.argv[1:] if argv is None else argv)]
        manifest = collect(cfg, tasks, progress=not args.quiet, command=command)
    except CollectError as e:
        die(str(e))
    except WorkerDied as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished blocks are kept in {cfg.out}; rerun the same command to resume",
              file=sys.stderr)
        return 130
    print(summary_line(manifest, tasks))
    if manifest["status"] != "complete":
        short = [f"{t} {manifest['tasks'][t]['demos']}/{cfg.samples}" for t in tasks
                 if not manifest["tasks"][t]["complete"]]
        print(f"warning: gave up after --max-trials {cfg.trial_limit} on: {', '.join(short)}", file=sys.stderr)
        return 1
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

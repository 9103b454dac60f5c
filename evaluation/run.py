"""Evaluate an agent on the one-shot pull benchmark: seen and unseen categories, paired episodes.

    python -m evaluation.run --agent random
    python -m evaluation.run --agent robomamba --checkpoint runs/robomamba/final --workers 2
    python -m evaluation.run --agent oracle --categories seen --episodes 20 --record 10
    python -m evaluation.run --agent random --shard 0/4 --out results/eval/random-0   # machine 1 of 4

The work list (categories x episodes, each with its object instance and episode seed) is a pure
function of --seed, so every agent sees the same episodes. Simulation worker processes reset and
step the environments; the agent runs in this process on batches of their observations. One JSON
line per finished episode goes to OUT/episodes.jsonl and the settings, versions and timings to
OUT/run.json; rerunning the same command after an interruption (Ctrl-C, kill -9) resumes. Tables:
python -m evaluation.tables --runs OUT [OUT ...] --out TABLES --reference
"""
from __future__ import annotations

import argparse
import inspect
import os
import re
import sys

from .config import EvalConfig


def parse_args(argv=None) -> argparse.Namespace:
    d = EvalConfig.__dataclass_fields__
    default = lambda name: d[name].default  # noqa: E731
    p = argparse.ArgumentParser(prog="python -m evaluation.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)

    def add(*flags, help, **kw):
        p.add_argument(*flags, help=f"{help} (default: {kw.get('default')})", **kw)

    add("--agent", default=default("agent"), help="agent name; 'list' prints the available agents and exits")
    add("--checkpoint", default=None,
        help="checkpoint directory (model.safetensors, config.json, tokenizer.json) of a learned agent; "
             "without it a learned agent runs untrained")
    add("--categories", default=default("categories"),
        help="'all' (20 seen + 10 unseen), 'seen', 'unseen', a comma-separated list of categories or "
             "aliases, or 'list' to print the names and exit")
    add("--episodes", type=int, default=default("episodes"), help="episodes per category")
    add("--seed", type=int, default=default("seed"),
        help="master seed of the work list (the same episodes for every agent)")
    add("--shard", default=default("shard"),
        help="'i/n': run only every n-th item of the list starting at i (split a run over n machines; "
             "give each its own --out and merge them with evaluation.tables)")
    add("--workers", type=int, default=default("workers"),
        help="simulation worker processes (0 = simulate in this process)")
    add("--envs-per-worker", type=int, default=default("envs_per_worker"),
        help="environments per worker process: episodes each process keeps in flight")
    add("--batch-size", type=int, default=default("batch_size"),
        help="most observations per agent act() call (batches are whatever is waiting, up to this)")
    add("--image-size", type=int, default=default("image_size"), help="rendered square image side, pixels")
    add("--partnet-dir", default=None,
        help="a PartNet-Mobility directory to use instead of the procedural objects")
    add("--out", default=None, help="output directory, None = results/eval/LABEL; rerun the same command "
                                    "to resume")
    add("--label", default=None, help="method name in the tables, None = the agent name")
    add("--record", type=int, default=default("record"),
        help="save annotated stills (2-frame GIF + PNG) of the first N episodes of the list in OUT/record")
    add("--device", default=default("device"), help="torch device of a learned agent (cpu, cuda, cuda:1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar (default: off)")
    return p.parse_args(argv)


def build_config(args) -> EvalConfig:
    """EvalConfig of parsed flags; exits 2 with one line naming the bad value otherwise."""
    from sim_envs.cli import die

    try:
        return EvalConfig(agent=args.agent, checkpoint=os.path.abspath(args.checkpoint) if args.checkpoint else None,
                          categories=args.categories, episodes=args.episodes, seed=args.seed, shard=args.shard,
                          workers=args.workers, envs_per_worker=args.envs_per_worker, batch_size=args.batch_size,
                          image_size=args.image_size, partnet_dir=args.partnet_dir, out=args.out,
                          label=args.label, record=args.record, device=args.device)
    except ValueError as e:  # "field=value: reason" -> "--field value: reason"
        m = re.match(r"(\w+)=(.*?): (.*)", str(e))
        die(f"--{m[1].replace('_', '-')} {m[2]}: {m[3]}" if m else str(e))


def build_agent(cfg: EvalConfig):
    """(agent, checkpoint metadata or None); exits 2 on an unknown agent or a bad checkpoint."""
    from agents.checkpoint import CheckpointError, load, read_config
    from agents.registry import UnknownAgentError, agent_class, resolve
    from sim_envs.cli import die

    try:
        name = resolve(cfg.agent)
    except UnknownAgentError as e:
        die(f"--agent {cfg.agent}: {e}")
    if cfg.checkpoint is not None:
        if not os.path.isdir(cfg.checkpoint):
            die(f"--checkpoint {cfg.checkpoint}: no such directory")
        try:
            meta = read_config(cfg.checkpoint)
            agent = load(cfg.checkpoint, agent=name, device=cfg.device)
        except (CheckpointError, OSError, ValueError, KeyError, TypeError) as e:
            msg = str(e)  # CheckpointError messages start with "checkpoint DIR: ..."
            die(f"--{msg}" if msg.startswith(f"checkpoint {cfg.checkpoint}") else f"--checkpoint {cfg.checkpoint}: {msg}")
        return agent, {k: meta.get(k) for k in ("agent", "model_config", "versions", "training")}
    cls = agent_class(name)
    kwargs = {"device": cfg.device} if "device" in inspect.signature(cls.__init__).parameters else {}
    try:
        return cls(**kwargs), None
    except (ValueError, RuntimeError) as e:
        die(f"--agent {cfg.agent}: cannot build it ({e})")


def print_categories() -> None:
    from data_collection.run import print_categories as show

    show()


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.agent.strip().lower() == "list":
        from agents.registry import describe

        for k, v in describe().items():
            print(f"{k:12s} {v}")
        return 0
    if args.categories.strip().lower() == "list":
        print_categories()
        return 0
    from sim_envs.cli import die

    from .episodes import WorkListError, resolve_tasks, task_name, work_items
    from .runner import EvalError, check_directory, evaluate, identity

    cfg = build_config(args)
    try:
        from agents.registry import UnknownAgentError, resolve

        resolve(cfg.agent)
    except UnknownAgentError as e:
        die(f"--agent {cfg.agent}: {e}")
    try:
        tasks = [task_name(t) for t in resolve_tasks(cfg.categories)]
        full = work_items(cfg.seed, cfg.categories, cfg.episodes, cfg.split, cfg.partnet_dir)
    except WorkListError as e:
        die(f"--categories {cfg.categories}: {e}")
    i, n = cfg.shard_index()
    items = [it for it in full if it.index % n == i]
    try:  # refuse another evaluation's directory before loading anything
        check_directory(cfg, identity(cfg, len(full), tasks))
    except EvalError as e:
        die(str(e))
    agent, ckpt = build_agent(cfg)
    command = ["python", "-m", "evaluation.run", *(sys.argv[1:] if argv is None else argv)]
    from .simulate import WorkerDied

    try:
        run = evaluate(cfg, agent, items, len(full), tasks, progress=not args.quiet, command=command,
                       checkpoint_meta=ckpt)
    except EvalError as e:
        die(str(e))
    except WorkerDied as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished episodes are kept in {cfg.out}; rerun the same command to resume",
              file=sys.stderr)
        return 130
    print(summary_line(cfg))
    return 0 if run["status"] == "complete" else 1


def summary_line(cfg: EvalConfig) -> str:
    """Success rates of the directory, seen / unseen / all, mean over categories (paper style)."""
    from .runner import EPISODES, read_episodes
    from .tables import category_rates

    recs = read_episodes(os.path.join(cfg.out, EPISODES))
    rates = category_rates(recs)
    parts = []
    for group in ("seen", "unseen"):
        vals = [r for (g, _), r in rates.items() if g == group]
        if vals:
            parts.append(f"{group} {sum(vals) / len(vals):.2f} ({len(vals)} categories)")
    return (f"{cfg.label}: {len(recs)} episodes, success (mean over categories): " + ", ".join(parts)
            + f"; {cfg.out}/episodes.jsonl")


if __name__ == "__main__":
    raise SystemExit(main())

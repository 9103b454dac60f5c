"""Evaluate an agent on the one-shot pull benchmark: seen and unseen categories, paired episodes.

    python -m evaluation.run --agent random
    python -m evaluation.run --agent robomamba --checkpoint runs/robomamba/final --workers 2
    python -m evaluation.run --agent oracle --categories seen --episodes 20 --record 10
    python -m evaluation.run --agent random --shard 0/4 --out out/eval/random-0   # machine 1 of 4

The work list (categories x episodes, each with its object instance and episode seed) is a pure
function of --seed, so every agent sees the same episodes. Simulation worker processes reset and
step the environments; the agent runs in this process on batches of their observations. One JSON
line per finished episode goes to OUT/episodes.jsonl and the settings, versions and timings to
OUT/run.json; rerunning the same command after an interruption (Ctrl-C, kill -9) resumes. Tables:
python -m evaluation.tables --runs OUT [OUT ...] --out TABLES --reference
"""
from __future__ import annotations

import os
import sys

from infra.cli import die, parse_config, run_job

from .config import EvalConfig

MAIN_JOB_CHECKPOINTS = os.path.join("out", "pipeline", "checkpoints")  # where evaluation.pipeline trains them


def choose_checkpoint(cfg: EvalConfig) -> None:
    """A learned agent given no --checkpoint takes the main job's checkpoint (said on stderr); if there
    is none, exit 2 with the command that trains one, unless --untrained asks for untrained weights."""
    from agents.registry import resolve, trainable

    name = resolve(cfg.agent)
    if cfg.checkpoint is not None or name not in trainable() or cfg.untrained:
        return
    path = os.path.join(MAIN_JOB_CHECKPOINTS, name)
    if not os.path.isdir(path):
        die(f"--agent {cfg.agent}: no --checkpoint given and no trained one in {path}; train one with "
            f"`python -m evaluation.pipeline` (the main job) or `python -m agents.train --agent {name} --data DIR "
            f"--out DIR`, or pass --untrained to evaluate untrained weights")
    cfg.checkpoint = os.path.abspath(path)
    print(f"using the main job's checkpoint {cfg.checkpoint}", file=sys.stderr)


def build_agent(cfg: EvalConfig):
    """(agent, checkpoint metadata or None); exits 2 on an unknown agent, a bad checkpoint or an agent
    that cannot be built (for `remote`: a policy server that cannot be reached)."""
    from agents.checkpoint import CheckpointError
    from agents.factory import build
    from agents.registry import UnknownAgentError

    if cfg.checkpoint is not None and not os.path.isdir(cfg.checkpoint):
        die(f"--checkpoint {cfg.checkpoint}: no such directory")
    placement, gpus = agent_placement(cfg)
    try:
        if placement == "actor":
            from agents.checkpoint import record
            from agents.ray_agent import RayAgent

            device = "cuda" if gpus and cfg.device == "cpu" else cfg.device
            meta = None if cfg.checkpoint is None else record(cfg.checkpoint)
            print(f"the agent runs in a Ray actor ({gpus} GPU, device {device})", file=sys.stderr)
            return RayAgent(cfg.agent, cfg.checkpoint, device, num_gpus=gpus, address=cfg.ray_address), meta
        return build(cfg.agent, cfg.checkpoint, cfg.device, policy_url=cfg.policy_url, timeout=cfg.policy_timeout,
                     policy_protocol=cfg.policy_protocol, policy_keys=cfg.policy_keymap() or None,
                     policy_connections=cfg.policy_connections)
    except UnknownAgentError as e:
        die(f"--agent {cfg.agent}: {e}")
    except (CheckpointError, OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        if cfg.checkpoint is None:
            die(f"--agent {cfg.agent}: cannot build it ({e})")
        msg = str(e)  # CheckpointError messages start with "checkpoint DIR: ..."
        die(f"--{msg}" if msg.startswith(f"checkpoint {cfg.checkpoint}") else f"--checkpoint {cfg.checkpoint}: {msg}")


def agent_placement(cfg: EvalConfig) -> tuple[str, int]:
    """('driver' or 'actor', GPUs for the actor): --ray-agent, with 'auto' = an actor on a GPU when the
    Ray cluster has one, else the driver. The remote agent always stays in the driver."""
    if cfg.executor != "ray" or cfg.ray_agent == "driver" or cfg.agent.strip().lower() == "remote":
        return "driver", 0
    from infra.executors import connect

    has_gpu = connect(cfg.ray_address).cluster_resources().get("GPU", 0) >= 1
    if cfg.ray_agent == "auto" and not has_gpu:
        return "driver", 0
    return "actor", 1 if has_gpu else 0


def main(argv=None) -> int:
    cfg, _ = parse_config(EvalConfig, argv, "python -m evaluation.run", __doc__)
    if cfg.agent.strip().lower() == "list":
        from agents.registry import describe

        for k, v in describe().items():
            print(f"{k:12s} {v}")
        return 0
    if cfg.categories.strip().lower() == "list":
        from sim_envs.cli import print_categories

        print_categories()
        return 0
    from .episodes import work_list_or_die
    from .runner import EvalError, evaluate, identity, run_dir

    try:
        from agents.registry import UnknownAgentError, resolve

        resolve(cfg.agent)
    except UnknownAgentError as e:
        die(f"--agent {cfg.agent}: {e}")
    choose_checkpoint(cfg)
    tasks, full = work_list_or_die(cfg)
    from infra.executors import join_or_die

    join_or_die(cfg)
    i, n = cfg.shard_index()
    items = [it for it in full if it.index % n == i]
    try:  # refuse another evaluation's directory before loading anything
        run_dir(cfg, identity(cfg, len(full), tasks)).existing()
    except EvalError as e:
        die(str(e))
    agent, ckpt = build_agent(cfg)
    command = ["python", "-m", "evaluation.run", *(sys.argv[1:] if argv is None else argv)]
    run = run_job(lambda: evaluate(cfg, agent, items, len(full), tasks, progress=not cfg.quiet, command=command,
                                   checkpoint_meta=ckpt), cfg.out, "episodes", EvalError)
    from .results.records import EPISODES, read_episodes

    recs = read_episodes(os.path.join(cfg.out, EPISODES))
    print(summary_line(cfg, recs))
    if cfg.checkpoint is not None and run["status"] == "complete":
        add_to_model_card(cfg, agent, recs)
    return 0 if run["status"] == "complete" else 1


def add_to_model_card(cfg: EvalConfig, agent, recs: list[dict]) -> None:
    """List this complete run in the checkpoint's evaluations.json and model card (a checkpoint that
    cannot be written to, e.g. read-only, is only warned about)."""
    import datetime

    from agents.checkpoint import record_evaluation

    from .results.criteria import criteria
    from .results.stats import SPLITS, split_means

    means = {}
    for crit in criteria():
        split = split_means(recs, crit)
        means[crit.name] = {g: round(split[g], 4) for g in SPLITS if g in split}
    entry = {"run": os.path.abspath(cfg.out), "label": cfg.label, "categories": cfg.categories,
             "episodes": cfg.episodes, "episodes_recorded": len(recs), "seed": cfg.seed, "physics": cfg.physics,
             "env": list(cfg.env), "partnet_dir": cfg.partnet_dir, "shard": cfg.shard, "criteria": list(means),
             **means, "date": datetime.date.today().isoformat()}
    try:
        record_evaluation(cfg.checkpoint, entry, agent.parameter_counts())
    except OSError as e:
        print(f"warning: could not add this run to {cfg.checkpoint}/README.md ({e})", file=sys.stderr)


def summary_line(cfg: EvalConfig, recs: list[dict]) -> str:
    """Success rates of the records `recs` of the directory, seen / unseen, mean over categories (paper style)."""
    from .results.stats import SPLITS, category_counts

    counts = category_counts(recs)
    parts = []
    for group in SPLITS:
        part = counts[counts.split == group]
        if len(part):
            parts.append(f"{group} {part.rate.mean():.2f} ({len(part)} categories)")
    return (f"{cfg.label}: {len(recs)} episodes, success (mean over categories): " + ", ".join(parts)
            + f"; {cfg.out}/episodes.jsonl")


if __name__ == "__main__":
    raise SystemExit(main())

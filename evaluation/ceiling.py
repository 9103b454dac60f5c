"""The benchmark's ceiling, found by search: is each episode of a work list solvable by the pull
primitive at all, and with which action?

    python -m evaluation.ceiling --categories all --episodes 50 --out out/ceiling
    python -m evaluation.tables --runs out/eval/robomamba out/eval/random --ceiling out/ceiling ...

For every work item (the same list an evaluation with these --seed, --categories and --episodes
runs) the episode is replayed with candidate actions until one succeeds or --budget actions were
tried: first the oracle's own action (so the ceiling is at least the expert on every episode), then
`PrivilegedView.candidate_actions`: distinct affordance pixels of the target part approached along
minus the true normal, then the same pixels approached 25 degrees off it in four directions. Every
reset builds a fresh scene, so each replay is exactly the evaluated episode. The search goes on
until both criteria (success, success_manipllm) have a solving action or the budget is spent.

It depends on the work list alone: compute it once per list and give it to evaluation.tables, which
then reports per category the solvable fraction and each agent's success on solvable episodes.
One JSON line per item (`ceiling.jsonl`) and `run.json`, resumable like an evaluation.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from infra.cli import check_at_least, done, option, parse_config, run_job
from infra.rundir import RunDir

from .config import WorkListConfig
from .results.criteria import criteria
from .results.records import CEILING_RECORDS as RECORDS
from .results.records import EpisodeLog, load_ceiling, read_episodes

FORMAT = "robomamba-bench/ceiling/v1"
SEARCH_STREAM = 0x5EA  # the candidates' random stream, apart from the oracle's
MAX_RESTARTS = 3


class CeilingError(ValueError):
    """Bad settings or a directory that holds another search (CLI: exit 2)."""


@dataclass
class CeilingConfig(WorkListConfig):
    """The work list's flags are evaluation.run's: the same flags search the same episodes."""

    budget: int = option(12, "most actions tried per episode (the first is the oracle's)")
    tilt_deg: float = option(25.0, "tilt of the off-normal candidates, degrees")
    out: str = option("out/ceiling", "output directory; rerun the same command to resume")

    IDENTITY = ("categories", "episodes", "seed", "budget", "tilt_deg", "image_size", "partnet_dir", "split",
                "physics", "env")

    def __post_init__(self):
        self.validate()
        check_at_least(self, budget=1)


def search(env, item, budget: int, tilt_deg: float = 25.0) -> dict:
    """The search record of one work item (see module doc)."""
    from agents.baselines.oracle import OracleAgent

    options = item.reset_options()
    obs, info = env.reset(seed=item.episode_seed, options=options)
    rec = {**item.to_dict(), "tries": 0, "expert_success": False, "failure_reason": info.get("failure_reason", "")}
    crits = criteria()
    for c in crits:
        rec.update({f"solvable_{c.name}": False, f"tries_{c.name}": None, f"action_{c.name}": None})
    if rec["failure_reason"]:  # a broken episode: no action can solve it
        return rec
    view = env.unwrapped.privileged()
    expert = OracleAgent().act([obs], seeds=[item.episode_seed], privileged=[view])[0]
    rng = np.random.default_rng([item.episode_seed, SEARCH_STREAM])
    for t, action in enumerate([expert, *view.candidate_actions(rng, budget - 1, tilt_deg)]):
        if t:
            env.reset(seed=item.episode_seed, options=options)  # the same episode, on a fresh scene
        out = env.step(action)[4]
        rec["tries"] = t + 1
        rec["expert_success"] = rec["expert_success"] or (t == 0 and bool(out["success"]))
        for c in crits:
            if c.passed(out) and not rec[f"solvable_{c.name}"]:
                rec.update({f"solvable_{c.name}": True, f"tries_{c.name}": t + 1, f"action_{c.name}": action.tolist()})
        if all(rec[f"solvable_{c.name}"] for c in crits):
            break
    return rec


class SearchWorker:
    """A worker's handler (infra.workers): one environment; a work item in, its search record out."""

    def __init__(self, env_config, budget: int, tilt_deg: float):
        from sim_envs import make_env

        self.env, self.budget, self.tilt_deg = make_env(env_config), budget, tilt_deg

    def handle(self, item, emit) -> None:
        emit(search(self.env, item, self.budget, self.tilt_deg))

    def close(self) -> None:
        self.env.close()


def run_search(cfg: CeilingConfig, items: list, tasks: list[str], progress: bool = True,
               command: list[str] | None = None) -> dict:
    """Search the items not yet in `cfg.out`; returns run.json's content. Resumable."""
    from infra.executors import make_workers
    from infra.progress import progress_bar
    from infra.provenance import versions
    from infra.workers import dispatch

    rundir = RunDir(cfg.out, "run.json", FORMAT, {**cfg.identity(), "categories": tasks, "items": len(items)},
                    "a ceiling search", CeilingError)
    rundir.existing()
    log_path = rundir.path / RECORDS
    done_keys = {r["key"] for r in read_episodes(log_path, repair=True, error=CeilingError)}
    todo = [it for it in items if it.key not in done_keys]
    record = rundir.start(command, items=len(todo))
    record.update(config=cfg.to_dict(), versions=versions(), seeds={"master": cfg.seed, "search_stream": SEARCH_STREAM})
    rundir.save()
    log = EpisodeLog(log_path)
    bar = progress_bar(total=len(items), initial=len(items) - len(todo), unit="ep", desc="ceiling",
                       disable=not progress)
    args = (cfg.env_config(tasks[0]), cfg.budget, cfg.tilt_deg)
    pool = None

    def closing(status: str):
        if pool is not None:
            pool.close()
        bar.close()
        log.close()
        n = len(read_episodes(log_path))
        return status, status if status != "complete" or n >= len(items) else "incomplete", {"items_done": n}

    with rundir.running(closing):
        if todo:
            pool = make_workers(SearchWorker, args, cfg.workers, cfg.executor, cfg.ray_address)
            queue = list(reversed(todo))

            def on_reply(worker, item, rec) -> bool:
                log.write(rec)
                bar.update(1)
                return True

            dispatch(pool, lambda: queue.pop() if queue else None, on_reply, on_lost=queue.append,
                     max_restarts=MAX_RESTARTS)
    return record


def main(argv=None) -> int:
    cfg, _ = parse_config(CeilingConfig, argv, "python -m evaluation.ceiling", __doc__)
    from .episodes import work_list_or_die

    tasks, items = work_list_or_die(cfg)
    from infra.executors import join_or_die

    join_or_die(cfg)
    command = ["python", "-m", "evaluation.ceiling", *(sys.argv[1:] if argv is None else argv)]
    t0 = time.perf_counter()
    run_job(lambda: run_search(cfg, items, tasks, progress=not cfg.quiet, command=command), cfg.out, "episodes",
            CeilingError)
    recs = list(load_ceiling(cfg.out).values())
    solvable = np.mean([r["solvable_success"] for r in recs])
    tries = np.mean([r["tries"] for r in recs])
    return done(f"ceiling: {len(recs)} episodes, solvable {solvable:.3f} (success), mean tries {tries:.2f}, "
                f"{time.perf_counter() - t0:.0f} s; {cfg.out}/{RECORDS}")


if __name__ == "__main__":
    raise SystemExit(main())

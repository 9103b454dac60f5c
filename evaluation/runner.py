"""The evaluation loop: one agent in this process, acting on batches fed by simulation workers.

Flow of an episode (see evaluation.simulate): the work item goes to a worker, which resets an
environment and sends back the observation; the parent collects observations from all workers and,
whenever it is free, calls `agent.act` on up to `batch_size` of those waiting (dynamic batching:
no waiting for a full batch, so simulation and inference overlap and batches grow by themselves
when the agent is the bottleneck); each action goes back to its worker, which steps and sends the
outcome; the parent appends it to `episodes.jsonl` at once.

Output directory:
- `episodes.jsonl`: one line per finished episode (work item, the env's whole info, the agent's raw
  action, timings), appended and flushed as it finishes; the record of truth;
- `run.json`: settings, versions, seeds, agent, parameter counts, and one entry per run (timings),
  written atomically at the start and at the end of each run;
- `record/`: rollout videos and annotated stills of the first `record` episodes (sim_envs.recording).

Resume: on start the lines already in `episodes.jsonl` are read (a partial last line, left by a
kill -9, is cut off) and their items skipped, so rerunning the same command after an interruption
finishes the list and never counts an episode twice. A directory made with other settings
(EvalConfig.IDENTITY) is refused before anything is written.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from infra.rundir import RunDir
from infra.workers import WorkerDied
from sim_envs.config import ACTION_DIM
from sim_envs.recording import RECORD_EVERY

from .config import EvalConfig
from .episodes import WorkItem
from .results.criteria import criteria
from .results.records import EPISODES, RUN, EpisodeLog, read_episodes

FORMAT = "robomamba-bench/eval/v1"
MAX_RESTARTS = 3  # replacements of dead workers before the run gives up (rerun to resume)


class EvalError(ValueError):
    """Bad settings or an output directory that holds another evaluation (CLI: exit 2)."""


# ---------------------------------------------------------------------------------------- run.json
def identity(cfg: EvalConfig, items_total: int, tasks: list[str]) -> dict:
    """What must match for two runs to share a directory: the settings that change episodes or
    actions, with the category selection resolved (so 'all' and the explicit list agree)."""
    ident = cfg.identity()
    ident["categories"] = tasks
    ident["items"] = items_total
    if cfg.partnet_dir:  # the objects a PartNet directory's broken folders removed from the work list
        from sim_envs.partnet import skipped

        ident["partnet_skipped"] = sorted(skipped(cfg.partnet_dir))
    if cfg.agent.strip().lower() == "remote":  # the protocol and its key map decide what the server is sent
        from agents.remote.keymap import text

        ident["policy_protocol"] = cfg.policy_protocol
        ident["policy_keys"] = text(cfg.policy_keymap())
    return ident


def run_dir(cfg: EvalConfig, ident: dict) -> RunDir:
    """The output directory and its run.json; `.existing()` raises EvalError for a directory that
    holds another evaluation."""
    return RunDir(cfg.out, RUN, FORMAT, ident, "an evaluation", EvalError, ignore=("record",))


# ---------------------------------------------------------------------------------------- the loop
def _act(agent, batch: list[dict]) -> tuple[list, float]:
    """(one action (ACTION_DIM,) or failure reason per episode of `batch`, seconds). An agent error
    never crashes the run: the batch's items are retried one by one, and only an item that fails
    alone is recorded (`agent_error: ...`; its episode fails, the others go on). An error that names
    its own `failure_reason` and says `whole_batch` (a remote policy's timeout or dropped connection)
    is recorded for the whole batch at once; a WorkerDied (a policy server that cannot be reached)
    stops the run."""
    t0 = time.perf_counter()
    try:
        actions = _act_once(agent, batch)
        return list(actions), time.perf_counter() - t0
    except WorkerDied:
        raise
    except Exception as e:
        if len(batch) == 1 or getattr(e, "whole_batch", False):
            return [_reason(e)] * len(batch), time.perf_counter() - t0
    out = []
    for p in batch:
        try:
            out.append(_act_once(agent, [p])[0])
        except WorkerDied:
            raise
        except Exception as e:
            out.append(_reason(e))
    return out, time.perf_counter() - t0


def _reason(e: BaseException) -> str:
    return getattr(e, "failure_reason", None) or f"agent_error: {type(e).__name__}: {e}"


def _act_once(agent, batch: list[dict]) -> np.ndarray:
    obs = [p["obs"] for p in batch]
    seeds = [p["item"].episode_seed for p in batch]
    priv = [p["privileged"] for p in batch] if agent.needs_privileged else None
    actions = np.asarray(agent.act(obs, seeds=seeds, privileged=priv), dtype=np.float64)
    if actions.shape != (len(batch), ACTION_DIM):
        raise ValueError(f"act() returned shape {actions.shape}, expected ({len(batch)}, {ACTION_DIM})")
    return actions


class _Progress:
    """tqdm bar: episodes done (resumed ones included) and the success rate so far."""

    def __init__(self, total: int, done: list[dict], enabled: bool):
        from infra.progress import progress_bar

        self.n, self.ok = len(done), sum(bool(r.get("success")) for r in done)
        self.bar = progress_bar(total=total, initial=self.n, unit="ep", desc="evaluating", disable=not enabled,
                        dynamic_ncols=True)
        self._postfix()

    def _postfix(self):
        rate = self.ok / self.n if self.n else 0.0
        self.bar.set_postfix_str(f"success {rate:.0%} ({self.ok}/{self.n})", refresh=False)

    def add(self, success: bool) -> None:
        self.n += 1
        self.ok += bool(success)
        self._postfix()
        self.bar.update(1)

    def close(self):
        self.bar.close()


def evaluate(cfg: EvalConfig, agent, items: list[WorkItem], items_total: int, tasks: list[str],
             progress: bool = True, command: list[str] | None = None, checkpoint_meta: dict | None = None) -> dict:
    """Run the items of `items` not yet in `cfg.out` with `agent`; returns run.json's content.

    `items_total` and `tasks` describe the whole list (for the directory identity). Safe to rerun
    after any interruption. Workers=0 runs the simulation in this process.
    """
    from infra.provenance import versions

    rundir = run_dir(cfg, identity(cfg, items_total, tasks))
    rundir.existing()  # refuse another evaluation before touching anything
    log_path = rundir.path / EPISODES
    by_key = {it.key: it for it in items}
    done = [r for r in read_episodes(log_path, repair=True, error=EvalError) if r.get("key") in by_key]
    done_keys = {r["key"] for r in done}
    todo = [it for it in items if it.key not in done_keys]
    record_keys = {it.key for it in items[: cfg.record]} - done_keys

    run = rundir.start(command, workers=cfg.workers, envs_per_worker=cfg.envs_per_worker,
                       batch_size=cfg.batch_size, device=cfg.device, agent_threads=cfg.torch_threads(),
                       episodes=0, episodes_per_minute=None, act_calls=0, act_seconds=0.0, mean_batch_size=None,
                       control_hz=None, startup_seconds=None)
    run.update(label=cfg.label, agent=cfg.agent, checkpoint=cfg.checkpoint, checkpoint_meta=checkpoint_meta,
               config=cfg.to_dict(), env_config=cfg.env_config(tasks[0]).to_dict(), versions=versions(),
               runtime=agent.runtime() if hasattr(agent, "runtime") else {},  # duck-typed agents may lack it
               seeds={"master": cfg.seed, "episode_seed": "SeedSequence([seed, crc32('evaluation'), "
                      "crc32(task), episode]) (evaluation.episodes)", "agent_seed": "the episode seed"},
               agent_class=f"{type(agent).__module__}.{type(agent).__name__}",
               needs_privileged=bool(agent.needs_privileged), parameter_counts=agent.parameter_counts(),
               items=len(items), served_by=getattr(agent, "served", None))
    if cfg.partnet_dir:  # how its objects were split (the reference lists, or the hash), and what was skipped
        from sim_envs.partnet import run_record

        run["partnet"] = run_record(cfg.partnet_dir)
    rundir.save()

    loop = EpisodeLoop(cfg, agent, todo, tasks[0], record_keys, progress=_Progress(len(items), done, progress))

    def closing(status: str):
        loop.close()
        secs, n, calls, act_s = rundir.elapsed(), loop.episodes, loop.act_calls, loop.act_seconds
        run["episodes_done"] = total = len(read_episodes(log_path))
        return status, status if status != "complete" or total >= len(items) else "incomplete", dict(
            episodes=n, episodes_per_minute=round(60 * n / secs, 2) if n else None, act_calls=calls,
            act_seconds=round(act_s, 4), mean_batch_size=round(n / calls, 3) if calls else None,
            control_hz=round(n / act_s, 3) if act_s > 0 else None,
            startup_seconds=None if loop.first_obs is None else round(loop.first_obs - loop.started, 3))

    with rundir.running(closing), agent_threads(cfg.torch_threads()):
        loop.run()
    return run


def agent_threads(n: int):
    """torch's intra-op threads set to `n` while the loop runs (the agent's act() in this process), then
    restored; nothing to do for an agent that does not use torch."""
    from infra.threads import torch_threads

    return torch_threads(n, only_if_imported=True)


class EpisodeLoop:
    """observe -> act -> step for the items `todo`: keeps every worker supplied, batches the waiting
    observations for the agent, writes each finished episode to episodes.jsonl, and replaces dead
    workers (their started episodes are recorded as `worker_died`; one not yet started is queued
    again once)."""

    def __init__(self, cfg: EvalConfig, agent, todo: list[WorkItem], first_task: str, record_keys: set,
                 progress):
        self.cfg, self.agent, self.record_keys, self.bar = cfg, agent, record_keys, progress
        self.env_config = cfg.env_config(first_task)
        self.log = EpisodeLog(Path(cfg.out) / EPISODES)
        self.pool, self.capacity = None, 0
        self.queue = list(reversed(todo))  # pop() gives list order
        self.items = {it.key: it for it in todo}
        self.assigned: dict[int, dict] = {}  # worker -> {key: started?}
        self.waiting: list[dict] = []  # observations waiting for an action
        self.meta: dict[str, dict] = {}  # key -> timings / action collected so far
        self.kept_obs: dict[str, dict] = {}  # observations of episodes to record
        self.crashes: dict[str, int] = {}
        self.remaining, self.restarts, self.batches = len(todo), 0, 0
        self.episodes, self.act_calls, self.act_seconds = 0, 0, 0.0
        self.started, self.first_obs = time.perf_counter(), None

    def run(self) -> None:
        from .simulate import make_pool

        if not self.remaining:
            return
        self.pool, self.capacity = make_pool(self.env_config, self.cfg.workers, self.cfg.envs_per_worker,
                                             self.agent.needs_privileged, self.cfg.executor, self.cfg.ray_address)
        self.assigned = {w: {} for w in self.pool.workers}
        while self.remaining:
            self.supply()
            replies = self.pool.poll(timeout=0.0 if self.waiting else 1.0)
            for w, (kind, key, payload) in replies:
                if kind == "obs":
                    self.observed(w, key, payload)
                else:
                    self.finish(w, key, payload)
            if self.waiting:
                self.act()
            elif not replies:
                self.replace_dead()

    def supply(self) -> None:
        for w in self.pool.workers:
            while self.queue and len(self.assigned[w]) < self.capacity:
                it = self.queue.pop()
                self.assigned[w][it.key] = False
                self.pool.send(w, ("item", it, RECORD_EVERY if it.key in self.record_keys else 0))

    def observed(self, w: int, key: str, payload: dict) -> None:
        self.assigned[w][key] = True
        if self.first_obs is None:
            self.first_obs = time.perf_counter()
        self.meta[key] = {"reset_seconds": payload["reset_seconds"]}
        self.waiting.append({"worker": w, "key": key, "item": self.items[key], **payload})
        if key in self.record_keys:
            self.kept_obs[key] = payload["obs"]

    def act(self) -> None:
        batch, self.waiting = self.waiting[: self.cfg.batch_size], self.waiting[self.cfg.batch_size:]
        actions, secs = _act(self.agent, batch)
        self.act_calls += 1
        self.act_seconds += secs
        for p, a in zip(batch, actions):
            self.meta[p["key"]].update(action=None if isinstance(a, str) else a.tolist(), batch=self.batches,
                                       batch_size=len(batch), act_seconds=secs, agent_seconds=secs / len(batch))
            self.pool.send(p["worker"], ("act", p["slot"], a))
        self.batches += 1

    def finish(self, w: int, key: str, payload: dict) -> None:
        self.assigned[w].pop(key, None)
        item, m = self.items[key], self.meta.pop(key, {})
        cfg = self.cfg
        rec = {**payload["info"], **item.to_dict(), "method": cfg.label, "agent": cfg.agent, "seed": cfg.seed,
               "agent_action": m.get("action"), "batch": m.get("batch"), "batch_size": m.get("batch_size"),
               "act_seconds": m.get("act_seconds"), "agent_seconds": m.get("agent_seconds"),
               "reset_seconds": m.get("reset_seconds", payload.get("reset_seconds")),
               "step_seconds": payload.get("step_seconds"), "worker": w}
        rec.setdefault("failure_reason", "")
        for crit in criteria():  # the stored flags are booleans, also where the episode never ran
            if crit.compute is None:
                rec[crit.name] = bool(rec.get(crit.name))
        self.log.write(rec)
        self.bar.add(rec["success"])
        self.episodes += 1
        self.remaining -= 1
        if key in self.kept_obs:
            from sim_envs.recording import save_rollout

            save_rollout(Path(cfg.out) / "record" / f"{item.index:05d}_{item.task}_{item.episode:03d}",
                         self.kept_obs.pop(key), m.get("action"), rec, payload.get("frames"))

    def replace_dead(self) -> None:
        from .simulate import failure_info

        for w, code in self.pool.dead():
            self.restarts += 1
            if self.restarts > MAX_RESTARTS:
                raise WorkerDied(f"simulation workers died {self.restarts} times (last exit code {code}); "
                                 f"finished episodes are kept: rerun the same command to resume")
            for key, started in list(self.assigned[w].items()):
                self.crashes[key] = self.crashes.get(key, 0) + 1
                if started or self.crashes[key] >= 2:
                    self.waiting = [p for p in self.waiting if p["key"] != key]
                    self.finish(w, key, {"info": failure_info(f"worker_died: exit code {code}")})
                else:
                    self.queue.append(self.items[key])
            self.assigned[w].clear()
            self.pool.restart(w)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.bar.close()
        self.log.close()

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
- `record/`: annotated stills of the first `record` episodes of the list (evaluation.record).

Resume: on start the lines already in `episodes.jsonl` are read (a partial last line, left by a
kill -9, is cut off) and their items skipped, so rerunning the same command after an interruption
finishes the list and never counts an episode twice. A directory made with other settings
(EvalConfig.IDENTITY) is refused before anything is written.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from .config import EvalConfig
from .episodes import WorkItem

FORMAT = "robomamba-bench/eval/v1"
EPISODES = "episodes.jsonl"
RUN = "run.json"
MAX_RESTARTS = 3  # replacements of dead workers before the run gives up (rerun to resume)


class EvalError(ValueError):
    """Bad settings or an output directory that holds another evaluation (CLI: exit 2)."""


# ---------------------------------------------------------------------------------------- JSON lines
def to_jsonable(x):
    """numpy -> Python, NaN/inf -> None, recursively (strict JSON)."""
    if isinstance(x, dict):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return to_jsonable(x.tolist())
    if isinstance(x, np.generic):
        return to_jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    return str(x)


def read_episodes(path, repair: bool = False) -> list[dict]:
    """The records of an episodes.jsonl. A last line without its newline (an interrupted write) is
    ignored, and with `repair` cut from the file so appending can go on; a bad line elsewhere raises
    EvalError."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data) and repair:
        with open(path, "r+b") as f:
            f.truncate(end)
    out = []
    for n, line in enumerate(data[:end].splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise EvalError(f"{path}:{n}: unreadable line ({e}); fix or remove it") from None
    return out


class EpisodeLog:
    """Appends one JSON line per episode and flushes it (a kill loses at most the line being written)."""

    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self.f.write(json.dumps(to_jsonable(record), allow_nan=False) + "\n")
        self.f.flush()

    def close(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()


# ---------------------------------------------------------------------------------------- run.json
def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def identity(cfg: EvalConfig, items_total: int, tasks: list[str]) -> dict:
    """What must match for two runs to share a directory: the settings that change episodes or
    actions, with the category selection resolved (so 'all' and the explicit list agree)."""
    ident = cfg.identity()
    ident["categories"] = tasks
    ident["items"] = items_total
    return ident


def check_directory(cfg: EvalConfig, ident: dict) -> dict | None:
    """The existing run.json if `cfg.out` holds this evaluation; EvalError if it holds another."""
    from sim_envs.cli import check_output_dir

    return check_output_dir(cfg.out, RUN, FORMAT, ident, "an evaluation", EvalError, ignore=("record",))


def versions() -> dict:
    from sim_envs.provenance import versions as package_versions

    return package_versions()


def _write_run(cfg: EvalConfig, run: dict) -> None:
    from sim_envs.cli import atomic_write_text

    run["updated"] = _now()
    atomic_write_text(Path(cfg.out) / RUN, json.dumps(to_jsonable(run), indent=2) + "\n")


# ---------------------------------------------------------------------------------------- the loop
def env_config(cfg: EvalConfig, first_task: str):
    from sim_envs.config import PullEnvConfig

    return PullEnvConfig(task=first_task, split=cfg.split, image_size=cfg.image_size, partnet_dir=cfg.partnet_dir)


def _act(agent, batch: list[dict]):
    """(actions (B, 8) or None, error string or None, seconds) for the waiting episodes `batch`."""
    obs = [p["obs"] for p in batch]
    seeds = [p["item"].episode_seed for p in batch]
    priv = [p["privileged"] for p in batch] if agent.needs_privileged else None
    t0 = time.perf_counter()
    try:
        actions = np.asarray(agent.act(obs, seeds=seeds, privileged=priv), dtype=np.float64)
        if actions.shape != (len(batch), 8):
            raise ValueError(f"act() returned shape {actions.shape}, expected ({len(batch)}, 8)")
        return actions, None, time.perf_counter() - t0
    except Exception as e:  # recorded as the batch's failure, never a crash of the run
        return None, f"agent_error: {type(e).__name__}: {e}", time.perf_counter() - t0


class _Progress:
    """tqdm bar: episodes done (resumed ones included) and the success rate so far."""

    def __init__(self, total: int, done: list[dict], enabled: bool):
        from tqdm import tqdm

        self.n, self.ok = len(done), sum(bool(r.get("success")) for r in done)
        self.bar = tqdm(total=total, initial=self.n, unit="ep", desc="evaluating", disable=not enabled,
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
    ident = identity(cfg, items_total, tasks)
    existing = check_directory(cfg, ident)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / EPISODES
    by_key = {it.key: it for it in items}
    done = [r for r in read_episodes(log_path, repair=True) if r.get("key") in by_key]
    done_keys = {r["key"] for r in done}
    todo = [it for it in items if it.key not in done_keys]
    record_keys = {it.key for it in items[: cfg.record]} - done_keys

    run = existing or {"format": FORMAT, "created": _now(), "identity": ident, "runs": []}
    for r in run["runs"]:
        if r["status"] == "running":  # that process never recorded its end
            r["status"] = "killed"
    run.update(label=cfg.label, agent=cfg.agent, checkpoint=cfg.checkpoint, checkpoint_meta=checkpoint_meta,
               config=cfg.to_dict(), env_config=env_config(cfg, tasks[0]).to_dict(), versions=versions(),
               seeds={"master": cfg.seed, "episode_seed": "SeedSequence([seed, crc32('evaluation'), "
                      "crc32(task), episode]) (evaluation.episodes)", "agent_seed": "the episode seed"},
               agent_class=f"{type(agent).__module__}.{type(agent).__name__}",
               needs_privileged=bool(agent.needs_privileged), parameter_counts=agent.parameter_counts(),
               items=len(items), status="running")
    this = {"command": command or sys.argv, "started": _now(), "status": "running", "workers": cfg.workers,
            "envs_per_worker": cfg.envs_per_worker, "batch_size": cfg.batch_size, "device": cfg.device,
            "episodes": 0, "seconds": None, "episodes_per_minute": None, "act_calls": 0, "act_seconds": 0.0,
            "mean_batch_size": None, "control_hz": None, "startup_seconds": None}
    run["runs"].append(this)
    _write_run(cfg, run)

    started = time.perf_counter()
    stats = {"episodes": 0, "act_calls": 0, "act_seconds": 0.0, "first_obs": None}
    bar = _Progress(len(items), done, progress)
    log = EpisodeLog(log_path)
    status = "failed"
    try:
        if todo:
            _loop(cfg, agent, todo, tasks[0], log, bar, stats, record_keys, started)
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        bar.close()
        log.close()
        secs = time.perf_counter() - started
        n, calls = stats["episodes"], stats["act_calls"]
        this.update(status=status, seconds=round(secs, 3), episodes=n,
                    episodes_per_minute=round(60 * n / secs, 2) if n else None,
                    act_calls=calls, act_seconds=round(stats["act_seconds"], 4),
                    mean_batch_size=round(n / calls, 3) if calls else None,
                    control_hz=round(n / stats["act_seconds"], 3) if stats["act_seconds"] > 0 else None,
                    startup_seconds=None if stats["first_obs"] is None else round(stats["first_obs"] - started, 3))
        total = len(read_episodes(log_path))
        run.update(status=status if status != "complete" or total >= len(items) else "incomplete",
                   episodes_done=total)
        _write_run(cfg, run)
    return run


def _loop(cfg, agent, todo, first_task, log, bar, stats, record_keys, started):
    from .simulate import InlinePool, ProcessPool, failure_info

    ecfg = env_config(cfg, first_task)
    if cfg.workers == 0:
        pool = InlinePool(ecfg, cfg.envs_per_worker, agent.needs_privileged)
    else:
        pool = ProcessPool(ecfg, cfg.workers, cfg.envs_per_worker, agent.needs_privileged)
    queue_ = list(reversed(todo))  # pop() gives list order
    assigned = {w: {} for w in pool.workers}  # worker -> {key: started?}
    items = {it.key: it for it in todo}
    waiting: list[dict] = []  # observations waiting for an action
    meta: dict[str, dict] = {}  # key -> timings / action collected so far
    kept_obs: dict[str, dict] = {}  # observations of episodes to record
    crashes: dict[str, int] = {}
    restarts, remaining, batch_no = 0, len(todo), 0

    def finish(w, key, payload):
        nonlocal remaining
        assigned[w].pop(key, None)
        item, m = items[key], meta.pop(key, {})
        info = payload["info"]
        rec = {**info, **item.to_dict(), "method": cfg.label, "agent": cfg.agent, "seed": cfg.seed,
               "agent_action": m.get("action"), "batch": m.get("batch"), "batch_size": m.get("batch_size"),
               "act_seconds": m.get("act_seconds"), "agent_seconds": m.get("agent_seconds"),
               "reset_seconds": m.get("reset_seconds", payload.get("reset_seconds")),
               "step_seconds": payload.get("step_seconds"), "worker": w}
        rec.setdefault("failure_reason", "")
        rec["success"], rec["success_manipllm"] = bool(rec.get("success")), bool(rec.get("success_manipllm"))
        log.write(rec)
        bar.add(rec["success"])
        stats["episodes"] += 1
        remaining -= 1
        if key in kept_obs:
            from .record import save_record

            save_record(Path(cfg.out) / "record", item, kept_obs.pop(key), m.get("action"), rec)

    try:
        while remaining:
            for w in pool.workers:  # keep every worker supplied
                while queue_ and len(assigned[w]) < pool.capacity:
                    it = queue_.pop()
                    assigned[w][it.key] = False
                    pool.submit(w, it)
            msgs = pool.poll(timeout=0.0 if waiting else 1.0)
            for kind, w, key, payload in msgs:
                if kind == "obs":
                    assigned[w][key] = True
                    if stats["first_obs"] is None:
                        stats["first_obs"] = time.perf_counter()
                    meta[key] = {"reset_seconds": payload["reset_seconds"]}
                    waiting.append({"worker": w, "key": key, "item": items[key], **payload})
                    if key in record_keys:
                        kept_obs[key] = payload["obs"]
                else:
                    finish(w, key, payload)
            if waiting:
                batch, waiting = waiting[: cfg.batch_size], waiting[cfg.batch_size:]
                actions, error, secs = _act(agent, batch)
                stats["act_calls"] += 1
                stats["act_seconds"] += secs
                for i, p in enumerate(batch):
                    act = error if actions is None else actions[i]
                    meta[p["key"]].update(action=None if actions is None else actions[i].tolist(),
                                          batch=batch_no, batch_size=len(batch), act_seconds=secs,
                                          agent_seconds=secs / len(batch))
                    pool.act(p["worker"], p["slot"], act)
                batch_no += 1
            elif not msgs:
                for w, code in pool.dead():  # a crashed process: its started episodes are failures
                    restarts += 1
                    if restarts > MAX_RESTARTS:
                        from .simulate import WorkerDied

                        raise WorkerDied(f"simulation workers died {restarts} times (last exit code {code}); "
                                         f"finished episodes are kept: rerun the same command to resume")
                    for key, started_ in list(assigned[w].items()):
                        crashes[key] = crashes.get(key, 0) + 1
                        if started_ or crashes[key] >= 2:
                            waiting = [p for p in waiting if p["key"] != key]
                            finish(w, key, {"info": failure_info(f"worker_died: exit code {code}")})
                        else:
                            queue_.append(items[key])
                    assigned[w].clear()
                    pool.restart(w)
    finally:
        pool.close()

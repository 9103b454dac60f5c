"""The collection engine: blocks of trials spread over worker processes, resumable, deterministic.

Trials of a task are numbered 0, 1, 2, ... and grouped in blocks of `block_size`; a block is the unit
of work and is written as one shard. The dataset of a task is, by definition, every trial up to the
one that produced its N-th demo, so it does not depend on the number of workers or on the order in
which blocks finished:

- the scheduler hands out the lowest unfinished block of the first task that still needs demos,
  keeping every worker busy (a block beyond what turns out to be needed may run: it is discarded);
- a finished block is a shard on disk, so rerunning the same command after Ctrl-C or kill -9 skips
  it; a block that was running is simply run again;
- when a task has N demos in consecutive blocks from block 0, the last block is cut after its N-th
  demo and later blocks are removed (both atomically), so the directory holds exactly N.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from infra.executors import make_workers
from infra.rundir import RunDir
from infra.workers import InlineWorkers, WorkerPool, dispatch, parent_gone

from .config import CollectConfig
from .dataset import list_shards, read_block_meta, remove_stale_temp_files, shard_path, write_shard

FORMAT = "robomamba-bench/demos/v2"  # v2: joint labels (link_map_png, joints_json)
PRIOR_RATE = 0.5  # demo rate assumed for a task before any of its blocks finished
MAX_RESTARTS = 3  # replacements of dead workers before the run gives up (rerun to resume)


class CollectError(ValueError):
    """Bad settings or a directory that holds another dataset (the CLI exits 2 with the message)."""


# ---------------------------------------------------------------------------------------- one block
def run_block(env, cfg: CollectConfig, task: str, block: int, on_trial=None, should_stop=None) -> dict | None:
    """Run the trials of one block and write its shard; returns the block metadata (None if
    `should_stop()` became true, in which case nothing is written). Every trial runs on a fresh
    scene, so its outcomes depend on (settings, task, block) alone."""
    from .sampler import run_trial

    first = block * cfg.block_size
    rows, demo_flags, success_flags = [], "", ""
    for trial in range(first, first + cfg.block_size):
        if should_stop is not None and should_stop():
            return None
        row = run_trial(env, cfg, task, trial)
        demo_flags += "1" if row["demo_success"] else "0"
        success_flags += "1" if row["success"] else "0"
        if row["demo_success"] or (cfg.keep_failures and row["executed"]):
            rows.append(row)
        if on_trial is not None:
            on_trial(row["demo_success"])
    meta = block_meta(cfg, task, block, first, demo_flags, success_flags, len(rows))
    write_shard(shard_path(cfg.out, task, block), rows, meta)
    return meta


def block_meta(cfg: CollectConfig, task: str, block: int, first: int, demo_flags: str,
               success_flags: str, rows: int) -> dict:
    """What a shard's footer records: the trials it covers and each one's outcome (1/0 strings),
    so counts stay exact for trials whose rows were not kept."""
    return {"task": task, "block": block, "first_trial": first, "trials": len(demo_flags),
            "planned_trials": cfg.block_size, "demos": demo_flags.count("1"),
            "env_successes": success_flags.count("1"), "demo_flags": demo_flags,
            "success_flags": success_flags, "rows": rows, "identity": cfg.identity()}


def env_config(cfg: CollectConfig, first_task: str):
    from sim_envs.config import PullEnvConfig

    return PullEnvConfig(task=first_task, split=cfg.split, image_size=cfg.image_size,
                         partnet_dir=cfg.partnet_dir)


# ---------------------------------------------------------------------------------------- workers
class BlockWorker:
    """A simulation worker's handler (infra.workers): one environment; a message (task, block)
    runs that block and reports ("trial", task, demo?) per trial and ("block", task, block, meta)."""

    def __init__(self, cfg_dict: dict, first_task: str, env=None):
        self.cfg = CollectConfig(**cfg_dict)
        self.own_env = env is None
        if env is None:
            from sim_envs import make_env

            env = make_env(env_config(self.cfg, first_task))
        self.env = env

    def handle(self, message, emit) -> None:
        task, block = message
        meta = run_block(self.env, self.cfg, task, block, on_trial=lambda ok: emit(("trial", task, bool(ok))),
                         should_stop=parent_gone)
        if meta is not None:
            emit(("block", task, block, meta))

    def close(self) -> None:
        if self.own_env:
            self.env.close()


# ---------------------------------------------------------------------------------------- bookkeeping
@dataclass
class TaskState:
    """What the scheduler knows about one task: finished blocks (their footers) and running ones."""

    name: str
    target: int  # demos wanted
    limit: int  # trials after which the task is given up
    block_size: int
    done: dict = field(default_factory=dict)  # block -> metadata
    inflight: set = field(default_factory=set)
    base_trials: int = 0  # counts of the blocks found on disk at start (progress display)
    base_demos: int = 0
    live_trials: int = 0  # trials reported by workers during this run
    live_demos: int = 0

    def full(self, b: int) -> bool:
        return b in self.done and self.done[b]["trials"] == self.done[b]["planned_trials"]

    def prefix_demos(self) -> int:
        """Demos over the consecutive finished blocks from block 0 (stopping at a cut block)."""
        demos, b = 0, 0
        while b in self.done and demos < self.target:
            demos += self.done[b]["demos"]
            if not self.full(b):
                break
            b += 1
        return demos

    @property
    def complete(self) -> bool:
        return self.prefix_demos() >= self.target

    def trials_dispatched(self) -> int:
        return sum(m["trials"] for m in self.done.values()) + len(self.inflight) * self.block_size

    def rate(self) -> float:
        trials = sum(m["trials"] for m in self.done.values())
        return sum(m["demos"] for m in self.done.values()) / trials if trials else PRIOR_RATE

    def next_block(self) -> int | None:
        """The lowest block to run now, or None while finished and running blocks look enough."""
        if self.complete or self.trials_dispatched() >= self.limit:
            return None
        expected = (sum(m["demos"] for m in self.done.values())
                    + len(self.inflight) * self.block_size * max(self.rate(), 0.02))
        if self.inflight and expected >= self.target:
            return None
        b = 0
        while b in self.inflight or self.full(b):
            b += 1
        return b


def _load_existing(cfg: CollectConfig, tasks: list[str]) -> dict[str, TaskState]:
    states = {}
    for t in tasks:
        st = TaskState(t, cfg.samples, cfg.trial_limit, cfg.block_size)
        for p in list_shards(cfg.out, t):
            meta = read_block_meta(p)
            if meta.get("identity") != cfg.identity():
                raise CollectError(f"{p} was collected with other settings; use another --out")
            st.done[int(meta["block"])] = meta
        st.base_trials = sum(m["trials"] for m in st.done.values())
        st.base_demos = sum(m["demos"] for m in st.done.values())
        states[t] = st
    return states


def run_dir(cfg: CollectConfig) -> RunDir:
    """The dataset directory and its manifest.json; `.existing()` raises CollectError for a
    directory that holds another dataset."""
    return RunDir(cfg.out, "manifest.json", FORMAT, cfg.identity(), "a dataset collected", CollectError)


# ---------------------------------------------------------------------------------------- finalise
def finalize_task(cfg: CollectConfig, st: TaskState) -> dict:
    """Cut the task to exactly its trials up to the N-th demo (see module doc) and return its
    manifest entry. Only called on a task whose blocks are all finished."""
    demos = trials = rows = env_successes = 0
    kept, b = [], 0
    while b in st.done and demos < st.target:
        meta = st.done[b]
        if demos + meta["demos"] >= st.target:
            meta = _cut_block(cfg, st.name, meta, st.target - demos)
            st.done[b] = meta
        demos += meta["demos"]
        trials += meta["trials"]
        rows += meta["rows"]
        env_successes += meta["env_successes"]
        kept.append(b)
        if not st.full(b):
            break
        b += 1
    for extra in sorted(set(st.done) - set(kept)):
        shard_path(cfg.out, st.name, extra).unlink(missing_ok=True)
        del st.done[extra]
    return {"samples_requested": st.target, "demos": demos, "trials": trials,
            "failures_kept": rows - demos, "demo_rate": round(demos / trials, 4) if trials else None,
            "env_success_rate": round(env_successes / trials, 4) if trials else None,
            "complete": demos >= st.target, "shards": len(kept)}


def _cut_block(cfg: CollectConfig, task: str, meta: dict, need: int) -> dict:
    """Rewrite a block's shard to end at its `need`-th demo (no-op if it already does)."""
    import pyarrow.parquet as pq

    flags = meta["demo_flags"]
    pos = [i for i, f in enumerate(flags) if f == "1"][need - 1]
    if pos == len(flags) - 1:
        return meta
    path = shard_path(cfg.out, task, meta["block"])
    last_trial = meta["first_trial"] + pos
    rows = [r for r in pq.read_table(path).to_pylist() if r["trial"] <= last_trial]
    new = block_meta(cfg, task, meta["block"], meta["first_trial"], flags[:pos + 1],
                     meta["success_flags"][:pos + 1], len(rows))
    new["planned_trials"] = meta["planned_trials"]
    write_shard(path, rows, new)
    return new


# ---------------------------------------------------------------------------------------- main loop
def collect(cfg: CollectConfig, tasks: list[str], env=None, progress: bool = True,
            command: list[str] | None = None) -> dict:
    """Collect `cfg.samples` demos for each task into `cfg.out`; returns the manifest.

    workers=0 runs in this process (with `env` if given). Safe to rerun after any interruption.
    """
    from infra.provenance import SIM_PACKAGES, versions

    cfg.validate()
    rundir = run_dir(cfg)
    rundir.existing()  # refuse another dataset before touching anything
    states = _load_existing(cfg, tasks)
    remove_stale_temp_files(rundir.path)
    manifest = rundir.start(command, new={"tasks": {}}, workers=cfg.workers, trials=0, demos=0)
    manifest.update(collect_config=cfg.to_dict(),
                    env_config={k: v for k, v in env_config(cfg, tasks[0]).to_dict().items() if k != "task"},
                    versions=versions(SIM_PACKAGES))
    if cfg.partnet_dir:  # how its objects were split (the reference lists, or the hash), and what was skipped
        from sim_envs.partnet import run_record

        manifest["partnet"] = run_record(cfg.partnet_dir)
    for t in tasks:
        manifest["tasks"].setdefault(t, {})
    rundir.save()

    bars = _Bars(states, enabled=progress)

    def closing(status: str):
        bars.close()
        if status == "complete":
            for t in tasks:
                manifest["tasks"][t] = finalize_task(cfg, states[t])
            if not all(manifest["tasks"][t]["complete"] for t in tasks):
                status = "incomplete"
        return status, status, {"trials": sum(s.live_trials for s in states.values()),
                                "demos": sum(s.live_demos for s in states.values())}

    with rundir.running(closing):
        _schedule(cfg, tasks, states, bars, env)
    return manifest


def _pick(states: dict[str, TaskState], tasks: list[str]):
    for t in tasks:
        b = states[t].next_block()
        if b is not None:
            return t, b
    return None


def _schedule(cfg: CollectConfig, tasks: list[str], states: dict[str, TaskState], bars, env=None) -> None:
    """Hand blocks to the workers (one at a time each) until every task is complete or given up.
    A worker that dies is replaced and its block run again, up to MAX_RESTARTS times."""
    if _pick(states, tasks) is None:  # everything is on disk already: no workers to start
        return
    if cfg.executor == "ray":  # actors write the shards themselves: give them paths that do not depend on the cwd
        shared = {**cfg.to_dict(), "out": os.path.abspath(cfg.out),
                  "partnet_dir": cfg.partnet_dir and os.path.abspath(cfg.partnet_dir)}
        pool = make_workers(BlockWorker, (shared, tasks[0]), cfg.workers, "ray", cfg.ray_address)
    elif cfg.workers == 0:
        if env is not None:
            _check_env(cfg, env)
        pool = InlineWorkers(BlockWorker(cfg.to_dict(), tasks[0], env))
    else:
        pool = WorkerPool(BlockWorker, (cfg.to_dict(), tasks[0]), cfg.workers)

    def take():
        item = _pick(states, tasks)
        if item is not None:
            states[item[0]].inflight.add(item[1])
        return item

    def on_reply(worker, item, msg) -> bool:
        if msg[0] == "trial":
            bars.trial(states[msg[1]], msg[2])
            return False
        st = states[msg[1]]  # ("block", task, block, meta)
        st.inflight.discard(msg[2])
        st.done[msg[2]] = msg[3]
        bars.refresh(st)
        return True

    try:
        dispatch(pool, take, on_reply, on_lost=lambda item: states[item[0]].inflight.discard(item[1]),
                 max_restarts=MAX_RESTARTS)
    finally:
        pool.close()


def _check_env(cfg: CollectConfig, env) -> None:
    """A caller's environment must render and load objects as the settings say."""
    have, want = env.unwrapped.cfg.to_dict(), env_config(cfg, "").to_dict()
    diff = {k: (v, want[k]) for k, v in have.items() if k not in ("task", "split") and v != want[k]}
    if diff:
        raise CollectError("the given environment differs from the collection settings: "
                           + ", ".join(f"{k}={a!r} (need {b!r})" for k, (a, b) in diff.items()))


class _Bars:
    """One tqdm bar per task: demos / N, with trials and the current demo rate in the postfix."""

    def __init__(self, states: dict[str, TaskState], enabled: bool = True):
        from infra.progress import progress_bar

        self.bars = {}
        for i, (t, st) in enumerate(states.items()):
            self.bars[t] = progress_bar(total=st.target, initial=min(st.base_demos, st.target), desc=f"{t:>18}",
                                unit="demo", position=i, leave=True, disable=not enabled, dynamic_ncols=True)
            self._postfix(st)

    def _postfix(self, st: TaskState) -> None:
        trials, demos = st.base_trials + st.live_trials, st.base_demos + st.live_demos
        rate = demos / trials if trials else 0.0
        self.bars[st.name].set_postfix_str(f"trials {trials}, demo rate {rate:.0%}", refresh=False)

    def trial(self, st: TaskState, ok: bool) -> None:
        st.live_trials += 1
        st.live_demos += bool(ok)
        bar = self.bars[st.name]
        bar.update(max(0, min(st.target, st.base_demos + st.live_demos) - bar.n))
        self._postfix(st)
        bar.refresh()

    def refresh(self, st: TaskState) -> None:
        if st.complete:
            bar = self.bars[st.name]
            bar.update(st.target - bar.n)

    def close(self) -> None:
        for b in self.bars.values():
            b.close()

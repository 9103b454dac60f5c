"""How a job of several CLIs (evaluation.pipeline, evaluation.ablations, evaluation.film) runs a step, or a batch
of steps several at a time (run_steps), and where the main job keeps its trained models."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from infra.progress import progress_bar
from infra.threads import torch_threads

STEP_SECONDS: dict[str, float] = {}  # wall time of each step of this run (pipeline.json)


def step(name: str, main, argv: list[str], module: str) -> None:
    """Run one CLI in this process; stop the pipeline with its exit code if it fails."""
    print(f"\n== {name}: python -m {module} {' '.join(argv)}", flush=True)
    t0 = time.perf_counter()
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    if code:
        print(f"error: step '{name}' failed (exit {code}); fix it and rerun: finished work is kept", file=sys.stderr)
        raise SystemExit(code)
    STEP_SECONDS[name] = round(time.perf_counter() - t0, 1)
    print(f"== {name}: done in {STEP_SECONDS[name]:.0f} s", flush=True)


def label(agent: str, train_seed: int | None) -> str:
    """A run's method name: the agent, with its training seed for a learned one (robomamba@s1)."""
    return agent if train_seed is None else f"{agent}@s{train_seed}"


def checkpoint_dir(out: str, agent: str, train_seed: int) -> str:
    """The main job's checkpoint of `agent` (seed 0 also where evaluation.run looks by default)."""
    return f"{out}/checkpoints/{agent}" + (f"@s{train_seed}" if train_seed else "")


@dataclass
class Step:
    """One CLI run of a job: `python -m module argv`, after the steps named in `after` (of the same batch)."""

    name: str
    module: str
    argv: list[str]
    after: tuple[str, ...] = ()


def run_steps(steps: list[Step], main, jobs: int = 1, threads: int = 0, log_dir: str | Path = "logs") -> None:
    """Run `steps`, each after the steps of the batch it waits for (`after`).

    jobs == 1: one after the other in this process (step()), torch at `threads` threads (0: as they are).
    jobs > 1: up to `jobs` at once, each in its own process (`python -m module argv`, with OMP_NUM_THREADS
    and MKL_NUM_THREADS set to `threads` unless it is 0), started in list order as soon as the steps it
    waits for have finished; its output goes to LOG_DIR/<name>.log, its wall time to STEP_SECONDS. A step
    that fails lets the running ones finish, starts no other, shows the end of its log and stops the job
    with its exit code (finished work is kept: rerunning resumes). `main`: the steps' CLI's main function,
    for jobs == 1 (every step of a batch runs the same CLI)."""
    if jobs <= 1:
        with torch_threads(threads):
            for s in steps:
                step(s.name, main, s.argv, s.module)
        return
    names = {s.name for s in steps}
    pending = list(steps)
    running: dict[str, tuple[subprocess.Popen, float, Path]] = {}
    finished: set[str] = set()
    failed: list[tuple[str, int, Path]] = []
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)} if threads else {})}
    bar = progress_bar(total=len(steps), desc=f"{len(steps)} steps, {jobs} at a time", unit="step")
    stop = _stop_on_sigterm()
    try:
        while pending or running:
            while not failed and len(running) < jobs:
                ready = next((s for s in pending if all(a in finished or a not in names for a in s.after)), None)
                if ready is None:
                    break
                pending.remove(ready)
                log = log_dir / (re.sub(r"[^A-Za-z0-9_.@-]+", "_", ready.name) + ".log")
                print(f"\n== {ready.name}: python -m {ready.module} {' '.join(ready.argv)}  (log: {log})", flush=True)
                with open(log, "w") as f:  # the child keeps its own copy of the descriptor
                    p = subprocess.Popen([sys.executable, "-m", ready.module, *ready.argv], stdout=f,
                                         stderr=subprocess.STDOUT, env=env)
                running[ready.name] = (p, time.perf_counter(), log)
            if not running:
                if pending and not failed:
                    raise RuntimeError(f"run_steps: {[s.name for s in pending]} wait for steps that never finish")
                break
            time.sleep(0.2)
            for name, (p, t0, log) in list(running.items()):
                code = p.poll()
                if code is None:
                    continue
                del running[name]
                bar.update(1)
                if code:
                    failed.append((name, code, log))
                    print(f"== {name}: failed (exit {code}); its log ends:\n" + _tail(log), file=sys.stderr, flush=True)
                    continue
                finished.add(name)
                STEP_SECONDS[name] = round(time.perf_counter() - t0, 1)
                print(f"== {name}: done in {STEP_SECONDS[name]:.0f} s", flush=True)
    except BaseException:
        for p, _, _ in running.values():  # an interrupted job stops its steps too; rerunning resumes them
            p.terminate()
        for p, _, _ in running.values():
            p.wait()
        raise
    finally:
        bar.close()
        stop()
    if failed:
        name, code, log = failed[0]
        print(f"error: step '{name}' failed (exit {code}; log: {log}); fix it and rerun: finished work is kept",
              file=sys.stderr)
        raise SystemExit(code)


def _stop_on_sigterm():
    """In the main thread, SIGTERM (a job scheduler's, kill's) raises SystemExit, so that run_steps stops the
    steps it started instead of leaving them running; returns what puts the old handler back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    old = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, old)


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace").splitlines()
    return "\n".join("    " + line for line in text[-lines:])

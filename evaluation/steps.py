"""How a job of several CLIs (evaluation.pipeline, evaluation.ablations, evaluation.film) runs a step,
and where the main job keeps its trained models."""
from __future__ import annotations

import sys
import time

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

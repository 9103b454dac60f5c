"""Train a learned agent on a collected dataset (data_collection) and save its checkpoint.

    python -m agents.train --agent robomamba --data data/demos --out checkpoints/robomamba
    python -m agents.train --agent transformer --data data/demos --out checkpoints/transformer
    python -m agents.train --agent where2act --data data/mixed --out checkpoints/where2act
    python -m agents.train --agent robomamba --help      # that agent's flags and defaults

robomamba / transformer train in the paper's stages (sim-QA co-training, then the policy head alone
on cached backbone features); where2act trains its actionability, proposal and critic networks on
successes and failures (collect with --keep-failures). Rerunning a finished or interrupted command
continues from the last finished stage. Bad input exits 2 with a one-line message.

Which agents are trainable, and by which module, is the registry's (agents.registry: the built-ins'
trainers, and plugins' through the `robomamba_bench.trainers` entry point group).
"""
from __future__ import annotations

import argparse
import json
import sys

from infra.cli import die, parse_config

from .registry import trainer


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--agent", default="robomamba")
    known, _ = pre.parse_known_args(argv)
    try:
        name, mod = trainer(known.agent)
    except ValueError as e:
        die(f"--agent {known.agent}: {e}")
    # --agent ALIAS -> the registry name the trainer expects
    argv = [name if i and argv[i - 1] == "--agent" else a for i, a in enumerate(argv)]
    cfg, _ = parse_config(mod.TrainConfig, argv, "python -m agents.train", __doc__, defaults={"agent": name})
    from pathlib import Path

    if not (Path(cfg.data) / "manifest.json").exists():
        die(f"--data {cfg.data}: not a collected dataset (no manifest.json); make one with "
            f"python -m data_collection.run")
    from .checkpoint import CheckpointError

    try:
        record = mod.train(cfg)
    except (ValueError, FileNotFoundError, CheckpointError) as e:
        die(str(e))
    print(json.dumps({"out": cfg.out, "stages": list(record.get("stages", {}))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

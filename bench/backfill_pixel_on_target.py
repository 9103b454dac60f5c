"""Add `pixel_on_target` to evaluation records written before the field existed (issue 28). Run by hand:

    .venv/bin/python bench/backfill_pixel_on_target.py results/default/runs/*

`pixel_on_target` says whether the action's pixel lay on the target part's mask: the reference code drops
an episode whose predicted pixel is not on the movable part from its denominator, and
`evaluation.tables` writes `aggregation.csv` (rates aggregated the reference code's way, beside ours)
once every record of every run has it. New evaluations record it; older records get it here by
replaying each episode's reset(seed) (episodes are bit-identical: the same seed renders the same masks)
and reading the target mask at each run's executed pixel. Every run given must share one work list
(seed, categories, episodes, image size, physics, object source); each episode is rendered once, in
--workers simulation workers. Records are rewritten atomically, each line otherwise byte for byte as it
was (checked before anything is written); a run whose records already hold the field is left alone.
"""
from __future__ import annotations

import gzip
import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import ConfigBase, check_at_least, die, option, parse_config  # noqa: E402
from infra.files import atomic_write_bytes  # noqa: E402

SHARED = ("seed", "categories", "episodes", "image_size", "partnet_dir", "split", "physics", "env")


@dataclass
class BackfillConfig(ConfigBase):
    workers: int = option(2, "simulation worker processes (0 = in this process)")

    def __post_init__(self):
        check_at_least(self, workers=0)


def records_file(run: Path) -> Path:
    for name in ("episodes.jsonl.gz", "episodes.jsonl"):
        if (run / name).is_file():
            return run / name
    die(f"{run}: no episodes.jsonl(.gz)")


def read_lines(path: Path) -> list[str]:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [line for line in data.decode().splitlines() if line.strip()]


def on_target(record: dict, mask) -> bool:
    """The reference code's test: the executed pixel lies on the target part (False where nothing ran
    or the action did not parse)."""
    action = record.get("action")
    if not action:
        return False
    r, c = int(round(action[0])), int(round(action[1]))
    return bool(0 <= r < mask.shape[0] and 0 <= c < mask.shape[1] and mask[r, c])


def main(argv=None) -> int:
    from infra.cli import command_parser

    parser = command_parser("python bench/backfill_pixel_on_target.py", __doc__)
    parser.add_argument("runs", nargs="+", help="evaluation run directories (run.json + episodes.jsonl[.gz])")
    cfg, args = parse_config(BackfillConfig, argv, parser=parser)
    from evaluation.episodes import work_items
    from evaluation.observe import ObserveConfig, render

    runs = {}
    for d in map(Path, args.runs):
        run = json.loads((d / "run.json").read_text()) if (d / "run.json").is_file() else {}
        if "agent" not in run:
            print(f"skipping {d}: not an evaluation run (a ceiling search has no agent's pixel)")
            continue
        conf = run["config"]
        lines = read_lines(records_file(d))
        recs = [json.loads(line) for line in lines]
        if all("pixel_on_target" in r for r in recs):
            print(f"{d}: already has pixel_on_target")
            continue
        if any(json.dumps(r) != line for r, line in zip(recs, lines)):
            die(f"{d}: its records do not re-serialise byte for byte; not touching them")
        runs[d] = (conf, recs)
    if not runs:
        return 0
    confs = {json.dumps({k: c.get(k) for k in SHARED}, sort_keys=True) for c, _ in runs.values()}
    if len(confs) != 1:
        die(f"the runs were made on different work lists ({len(confs)} settings); backfill them separately")
    conf = next(iter(runs.values()))[0]
    ocfg = ObserveConfig(**{k: conf[k] for k in SHARED if k in conf}, workers=cfg.workers, out="")
    if isinstance(ocfg.env, list):
        ocfg.env = tuple(ocfg.env)
    items = work_items(ocfg.seed, ocfg.categories, ocfg.episodes, ocfg.split, ocfg.partnet_dir)
    keys = {r["key"] for _, recs in runs.values() for r in recs}
    items = [it for it in items if it.key in keys]
    by_key = {d: {r["key"]: r for r in recs} for d, (_, recs) in runs.items()}

    def on_obs(item, obs):
        for table in by_key.values():
            if item.key in table:
                table[item.key]["pixel_on_target"] = on_target(table[item.key], obs["target_mask"])

    render(ocfg, items, on_obs, desc="replaying resets")
    for d, (_, recs) in runs.items():
        for r in recs:  # an episode whose reset failed showed no mask: no pixel was on a target
            r.setdefault("pixel_on_target", False)
        path = records_file(d)
        data = "".join(json.dumps(r) + "\n" for r in recs).encode()
        atomic_write_bytes(path, gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
        kept = sum(r["pixel_on_target"] for r in recs)
        print(f"{d}: {kept} of {len(recs)} executed pixels on the target part")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The media of a tables directory, for evaluation.report's episode browser: the observation of every
episode (evaluation.observe) and rollout videos of the first --film episodes of each category for
each method, filmed by rerunning those episodes (`evaluation.run --record`) with the same settings.

    python -m evaluation.film out/pipeline/tables              # the main job's tables, filmed afterwards
    python -m evaluation.film results/default --pipeline-out /tmp/mj/out/pipeline --film 1

evaluation.pipeline and evaluation.ablations call film() as their last steps (--film N, 0 = no
videos); this command does the same afterwards for a main job's tables directory (its pipeline.json
says which runs, settings and checkpoints). The layout:

    TABLES/media/observations/<task>_<episode>.jpg, index.json     (evaluation.observe)
    TABLES/media/videos/<method>/<task>_<episode>.mp4, index.json  (gather() below)

Episodes are bit-identical on one machine, so a filmed rerun repeats the evaluated episode: gather()
checks that each filmed episode ended as the evaluation's record of it says (success, |dq| and the
action) and records the answer in the index (`matches_evaluation`), so a video that shows something
else than the tables counted is flagged, never passed off.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from infra.cli import check_at_least, command_parser, die, option, parse_config

VIDEO_DIR = Path("media") / "videos"
OBSERVATION_DIR = Path("media") / "observations"
FORMAT = "robomamba-bench/videos/v1"


def same_episode(a: dict, b: dict) -> bool:
    """Whether two records of one work item ended the same way (outcome, |dq| and action)."""
    import numpy as np

    if bool(a.get("success")) != bool(b.get("success")):
        return False
    if not np.isclose(float(a.get("dq") or 0.0), float(b.get("dq") or 0.0), rtol=1e-6, atol=1e-9):
        return False
    x, y = a.get("agent_action"), b.get("agent_action")
    if x is None or y is None:
        return x is None and y is None
    return bool(np.allclose(np.asarray(x, float), np.asarray(y, float), rtol=1e-6, atol=1e-9))


def gather(film_dir, label: str, evaluated: dict, tables) -> list[dict]:
    """Copy the videos of the filmed run `film_dir` to TABLES/media/videos/<label>/ and return their
    index entries; `evaluated` is {key: the evaluation's record} of the method's run."""
    from evaluation.results.records import read_episodes

    film_dir, tables = Path(film_dir), Path(tables)
    dest = tables / VIDEO_DIR / label
    dest.mkdir(parents=True, exist_ok=True)
    entries = []
    for r in read_episodes(film_dir / "episodes.jsonl"):
        src = film_dir / "record" / f"{r['index']:05d}_{r['task']}_{r['episode']:03d}.mp4"
        if not src.is_file():
            continue
        name = f"{r['task']}_{r['episode']:05d}.mp4"
        tmp = dest / f".{name}.tmp"
        shutil.copyfile(src, tmp)
        tmp.replace(dest / name)
        ref = evaluated.get(r["key"])
        entries.append({"method": label, "key": r["key"], "file": f"{label}/{name}",
                        "matches_evaluation": None if ref is None else same_episode(ref, r)})
    return entries


def write_index(tables, entries: list[dict]) -> Path:
    """TABLES/media/videos/index.json: every video, the ones already listed for other methods kept."""
    from infra.files import atomic_write_text

    path = Path(tables) / VIDEO_DIR / "index.json"
    old = json.loads(path.read_text()).get("videos", []) if path.is_file() else []
    methods = {e["method"] for e in entries}
    videos = [v for v in old if v.get("method") not in methods] + entries
    atomic_write_text(path, json.dumps({"format": FORMAT, "videos": videos}, indent=1) + "\n")
    return path


def mismatches(entries: list[dict]) -> list[str]:
    return [f"{e['method']} {e['key']}" for e in entries if e.get("matches_evaluation") is False]


def film(step, runs: list[tuple], tables, out, *, categories: str, episodes: int, per_category: int, seed: int,
         image_size: int, sim: list[str]) -> list[str]:
    """The media steps: the observation of every episode, then, for each (label, agent, checkpoint or
    None, records directory) of `runs`, its first `per_category` episodes of each category rerun and
    filmed in OUT/film/<label>, the videos gathered into TABLES; `step(name, main, argv, module)` runs a
    CLI (evaluation.pipeline's). Returns the filmed episodes that did not repeat their evaluation."""
    from .episodes import resolve_tasks
    from .observe import main as observe_main
    from .results.records import load_run
    from .run import main as eval_main

    common, image = ["--seed", str(seed)], ["--image-size", str(image_size)]
    step("observe", observe_main, ["--categories", categories, "--episodes", str(episodes), *sim, *image,
                                   "--out", str(Path(tables) / OBSERVATION_DIR), *common], "evaluation.observe")
    if per_category <= 0:
        return []
    filmed = len(resolve_tasks(categories)) * per_category
    entries = []
    for label, agent, checkpoint, records in runs:
        d = f"{out}/film/{label}"
        step(f"film {label}", eval_main, ["--agent", agent, *(["--checkpoint", checkpoint] if checkpoint else []),
                                          "--label", label, "--categories", categories, "--episodes",
                                          str(per_category), "--record", str(filmed), *sim, *image, "--out", d,
                                          *common], "evaluation.run")
        evaluated = {r["key"]: r for r in load_run(records)["records"]}
        entries += gather(d, label, evaluated, tables)
    write_index(tables, entries)
    bad = mismatches(entries)
    if bad:
        print(f"warning: {len(bad)} filmed episodes did not end as their evaluation did (another machine or "
              f"library version?): {', '.join(bad[:5])}; the report marks their videos", flush=True)
    return bad


@dataclass
class FilmConfig:
    pipeline_out: str | None = option(None, "the main job's working directory (its checkpoints; the films go to "
                                            "PIPELINE_OUT/film); None = the `out` pipeline.json records")
    film: int = option(1, "episodes per category filmed for each method (its first training seed); 0 = only the "
                          "observations")
    workers: int = option(2, "simulation worker processes")
    report: bool = option(True, "rewrite the directory's HTML report afterwards (evaluation.report)")

    def __post_init__(self):
        check_at_least(self, film=0, workers=0)


def main(argv=None) -> int:
    parser = command_parser("python -m evaluation.film", __doc__)
    parser.add_argument("tables", metavar="TABLES_DIR", help="a main job's tables directory (with pipeline.json)")
    cfg, args = parse_config(FilmConfig, argv, parser=parser)
    tables = Path(args.tables)
    if not (tables / "pipeline.json").is_file():
        die(f"TABLES_DIR {tables}: no pipeline.json (evaluation.film films a main job's tables directory)")
    try:
        job = json.loads((tables / "pipeline.json").read_text())
        pc = job["config"]
    except (ValueError, KeyError) as e:
        die(f"{tables / 'pipeline.json'}: not a main job's record ({type(e).__name__}: {e})")
    from agents.registry import trainable

    from .episodes import evaluation_categories
    from .plots import families
    from .steps import checkpoint_dir, step

    out = cfg.pipeline_out or pc["out"]
    learned = set(trainable())
    runs = []
    for method, labels in families(job["runs"]).items():
        lb = labels[0]
        k = int(lb.rsplit("@s", 1)[1]) if "@s" in lb else 0
        ck = checkpoint_dir(out, method, k) if method in learned else None
        if ck and not Path(ck).is_dir():
            die(f"--pipeline-out {out}: no checkpoint {ck} for {lb}")
        runs.append((lb, method, ck, str(tables / "runs" / lb)))
    sim = ["--workers", str(cfg.workers), *(["--partnet-dir", pc["partnet_dir"]] if pc.get("partnet_dir") else [])]
    categories = evaluation_categories(pc["categories"], pc.get("partnet_dir"))
    bad = film(step, runs, tables, out, categories=categories, episodes=pc["episodes"], per_category=cfg.film,
               seed=pc["seed"], image_size=pc["image_size"], sim=sim)
    if cfg.report:
        from .report import main as report_main

        step("report", report_main, [str(tables)], "evaluation.report")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

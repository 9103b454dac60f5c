"""A tables directory as one static HTML report: open it from disk, no server, no network.

    python -m evaluation.report out/pipeline/tables                 # -> out/pipeline/tables/report/index.html
    python -m evaluation.report results/ablations --out /tmp/abl    # any tables directory

A tables directory is what evaluation.pipeline, evaluation.ablations or evaluation.tables write: CSV
tables, `runs/<method>/` (run.json and the per-episode records), a provenance JSON (`pipeline.json`,
`table_ablation_<name>.json`) and, where the run filmed, `media/` (evaluation.film: the observation of
every episode and rollout videos). The report shows:

- every table of the directory, measured and published rows side by side (published rows marked);
- each method's seen / unseen success, the mean over categories with its 95% bootstrap interval
  (categories, then episodes, resampled);
- the paired comparisons (`comparisons.csv`, or computed from the records where the directory has
  none) in words by one rule, VERDICT_RULE below;
- a per-category chart and a failure-reason chart per method (matplotlib);
- an episode browser: filter by method, category, split, outcome and failure reason; an episode shows
  its observation with every method's contact point, approach and forward directions drawn over it,
  each method's numbers, and the video where one was filmed;
- the provenance: command, configuration, versions, git commit, machine and step times.

The page is rendered from a Jinja2 template (`evaluation/report_assets/`), with its data, stylesheet
and script (the project's own, no third-party code) inlined, so a browser opening it under file://
needs nothing but the media files next to it. A missing or unreadable input file stops the command
with one line naming it (exit 2) before anything is written; the report is built in a temporary
directory and moved into place whole.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from infra.cli import command_parser, die, option, parse_config

ASSETS = Path(__file__).with_name("report_assets")
MAIN_TABLES = ("table_manipulation.csv", "summary.csv", "comparisons.csv", "failures.csv")
SHOWN_TABLES = ("table_manipulation.csv", "table_manipulation_manipllm.csv", "speed.csv", "seeds.csv")
OBSERVATIONS = Path("media") / "observations" / "index.json"
VIDEOS = Path("media") / "videos" / "index.json"
ALPHA = 0.05
VERDICT_RULE = ("A beats B when the 95% interval of the mean-over-categories difference (a paired bootstrap that "
                "resamples categories, then episodes) excludes 0; A is ahead on these episodes, not certain across "
                "categories, when only McNemar's exact test on the same episodes has p < 0.05; otherwise they are "
                "level.")


class ReportError(ValueError):
    """A missing or unreadable input (the CLI: one line, exit 2, nothing written)."""


@dataclass
class ReportConfig:
    out: str | None = option(None, "output directory of index.html and its figures; None = TABLES_DIR/report "
                                   "(replaced whole)")
    title: str | None = option(None, "the page's title; None = from the directory's provenance")


# ---------------------------------------------------------------------------------------- reading
def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReportError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ReportError(f"{path}: not readable JSON ({type(e).__name__}: {str(e)[:80]})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: not a JSON object")
    return data


def _csv(path: Path, required=()) -> pd.DataFrame:
    if not path.is_file():
        raise ReportError(f"{path}: missing")
    try:
        df = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ReportError(f"{path}: not a readable CSV ({type(e).__name__}: {str(e)[:80]})") from None
    lacking = [c for c in required if c not in df.columns]
    if lacking or df.empty:
        raise ReportError(f"{path}: " + (f"no column {', '.join(lacking)}" if lacking else "no rows"))
    return df


def provenance(tables: Path) -> tuple[str, list[dict]]:
    """(kind, [provenance records]): 'pipeline' (pipeline.json), 'ablations' (table_ablation_*.json)
    or 'tables' (neither: runs and CSVs only)."""
    if (tables / "pipeline.json").exists():
        return "pipeline", [{"file": "pipeline.json", **_json(tables / "pipeline.json")}]
    abl = sorted(tables.glob("table_ablation_*.json"))
    if abl:
        return "ablations", [{"file": p.name, **_json(p)} for p in abl]
    return "tables", []


def load_records(tables: Path, kind: str, prov: list[dict]) -> dict:
    """{label: Run} of TABLES/runs (the ceiling search left out); every run the provenance names must be there."""
    from .results.records import RecordsError, load_runs

    runs_dir = tables / "runs"
    if not runs_dir.is_dir():
        raise ReportError(f"{runs_dir}: missing (the per-episode records the report is built from)")
    named = set(prov[0].get("runs", [])) if kind == "pipeline" else set()
    ceiling = prov[0].get("ceiling", "ceiling") if kind == "pipeline" else "ceiling"
    for name in sorted(named):
        if not (runs_dir / name).is_dir():
            raise ReportError(f"{runs_dir / name}: missing (pipeline.json names this run)")
    dirs = sorted(d for d in runs_dir.iterdir() if d.is_dir() and d.name != ceiling)
    for d in dirs:
        if not (d / "run.json").is_file():
            raise ReportError(f"{d / 'run.json'}: missing")
        _json(d / "run.json")
        if not any((d / n).is_file() for n in ("episodes.jsonl", "episodes.jsonl.gz")):
            raise ReportError(f"{d / 'episodes.jsonl.gz'}: missing")
    try:
        runs = load_runs(dirs)
    except (RecordsError, OSError, EOFError, ValueError) as e:  # gzip and JSON errors are ValueErrors too
        raise ReportError(f"{runs_dir}: {str(e)[:200]}") from None
    runs = {k: v for k, v in runs.items() if v["records"]}
    if not runs:
        raise ReportError(f"{runs_dir}: no evaluation records")
    order = [os.path.basename(r) for r in prov[0].get("runs", [])] if kind == "pipeline" else []
    return dict(sorted(runs.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])))


def load_media(tables: Path, runs: dict) -> tuple[dict, dict]:
    """({episode key: observation entry}, {(label, key): video file}) of TABLES/media, each file checked."""
    obs, videos = {}, {}
    if (tables / OBSERVATIONS).exists():
        index = _json(tables / OBSERVATIONS)
        obs = index.get("episodes")
        if not isinstance(obs, dict):
            raise ReportError(f"{tables / OBSERVATIONS}: no 'episodes' mapping")
        for key, e in obs.items():
            if e.get("file") and not (tables / OBSERVATIONS.parent / e["file"]).is_file():
                raise ReportError(f"{tables / OBSERVATIONS.parent / e['file']}: missing (index.json lists it "
                                  f"for {key})")
    if (tables / VIDEOS).exists():
        index = _json(tables / VIDEOS)
        if not isinstance(index.get("videos"), list):
            raise ReportError(f"{tables / VIDEOS}: no 'videos' list")
        for v in index["videos"]:
            f = tables / VIDEOS.parent / str(v.get("file"))
            if not f.is_file():
                raise ReportError(f"{f}: missing (index.json lists it for {v.get('method')} {v.get('key')})")
            videos[(v["method"], v["key"])] = (v["file"], v.get("matches_evaluation"))
    return obs, videos


# ---------------------------------------------------------------------------------------- numbers
def verdict(row) -> str:
    """The comparison of row (method_a vs method_b) in words, by VERDICT_RULE."""
    a, b = row["method_a"], row["method_b"]
    if row["ci_low"] > 0:
        return f"{a} beats {b}"
    if row["ci_high"] < 0:
        return f"{b} beats {a}"
    if row["mcnemar_p"] < ALPHA:
        ahead = a if row["diff"] > 0 else b
        return f"{ahead} ahead on these episodes, not certain across categories"
    return "level"


def comparison_rows(tables: Path, runs: dict, kind: str) -> tuple[pd.DataFrame, str]:
    """Split rows of the comparisons (RoboMamba criterion) with a verdict, and where they came from."""
    from .results.paired import comparisons_table

    if (tables / "comparisons.csv").exists():
        df = _csv(tables / "comparisons.csv", ("method_a", "method_b", "criterion", "split", "category", "diff",
                                               "ci_low", "ci_high", "mcnemar_p"))
        source = "comparisons.csv"
    else:
        df = comparisons_table(runs, criteria=["success"])
        source = "computed from the records (the directory has no comparisons.csv)"
    if df.empty:
        return df, source
    df = df[(df.criterion == "success") & (df.category == "mean over categories") & (df.split != "all")].copy()
    df["verdict"] = [verdict(r) for _, r in df.iterrows()]
    return df.reset_index(drop=True), source


def split_means(runs: dict) -> list[dict]:
    """Per method, seen and unseen: the mean over categories and its bootstrap interval (stats.split_rate)."""
    from .results.stats import split_rate

    out = []
    for label, run in runs.items():
        row = {"method": label}
        for split in ("seen", "unseen"):
            n = sum(1 for r in run["records"] if r.get("group") == split)
            if n:
                mean, lo, hi = split_rate(run["records"], split)
                row[split] = {"mean": mean, "low": lo, "high": hi, "episodes": n}
        out.append(row)
    return out


# ---------------------------------------------------------------------------------------- figures
def method_figures(runs: dict, failures: pd.DataFrame, out: Path) -> list[dict]:
    """Per method (its training seeds together): the per-category success chart (evaluation.plots'
    style) and the failure reasons per category, as PNGs in OUT/figures; [{method, success, failures}]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from infra.files import save_figure

    from . import plots
    from .tables import figure

    out.mkdir(parents=True, exist_ok=True)
    figs = []
    for k, (method, labels) in enumerate(plots.families(runs).items()):
        stem = f"{k:02d}_{plots.key(method) or 'method'}"
        fig = figure({lb: runs[lb] for lb in labels})
        save_figure(fig, out / f"{stem}_success.png", dpi=80)
        plt.close(fig)
        fig = failure_figure(failures, labels, method)
        save_figure(fig, out / f"{stem}_failures.png", dpi=80)
        plt.close(fig)
        figs.append({"method": method, "runs": labels, "success": f"figures/{stem}_success.png",
                     "failures": f"figures/{stem}_failures.png"})
    return figs


def failure_figure(failures: pd.DataFrame, labels: list[str], method: str):
    """Stacked bars: per category, the fraction of the method's episodes (its seeds pooled) per outcome."""
    import matplotlib.pyplot as plt

    from .plots import FAILURE_COLOURS
    from .results.stats import paper_order

    sub = failures[(failures.method.isin(labels)) & (failures.criterion == "success") & (failures.category != "all")]
    every = [c for c in failures.columns
             if c not in ("method", "criterion", "category", "episodes", "unpulled_removed")]
    per = sub.groupby("category")[[*every, "episodes"]].sum()
    per = per.reindex(paper_order(set(per.index)))
    frac = per[every].div(per["episodes"].replace(0, np.nan), axis=0).fillna(0)
    fig, ax = plt.subplots(figsize=(10, 0.22 * len(frac) + 1.2))
    left = np.zeros(len(frac))
    for k, c in enumerate(every):  # a reason keeps its colour in every method's chart
        if per[c].sum() == 0:
            continue
        colour = "#2ca02c" if c == "success" else FAILURE_COLOURS[(k - 1) % len(FAILURE_COLOURS)]
        ax.barh(frac.index, frac[c], left=left, label=c, color=colour, height=0.8)
        left += frac[c].to_numpy()
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("fraction of episodes")
    ax.set_title(f"{method}: how its episodes ended, per category (RoboMamba criterion)", fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------- episodes
def overlay(action, K, distance: float, image_size: int):
    """[x, y, approach start x, y, forward tip x, y] in image pixels of an 8-number action (None when it
    has none), drawn as the videos draw it; the depth of the contact point is not recorded, so the camera's
    distance to the object stands in for it (directions exact, arrow lengths approximate)."""
    from sim_envs.geometry import camera_to_pixel, lift_pixel
    from sim_envs.recording import APPROACH_LENGTH, FORWARD_LENGTH

    if action is None or len(action) != 8 or not all(math.isfinite(float(v)) for v in action):
        return None
    a = np.asarray(action, dtype=np.float64)
    r, c = float(round(a[0])), float(round(a[1]))
    K = np.asarray(K, dtype=np.float64) if K is not None else default_intrinsics(image_size)
    p = lift_pixel(r, c, max(distance, 0.3), K)
    up, fw = a[2:5] / (np.linalg.norm(a[2:5]) or 1.0), a[5:8] / (np.linalg.norm(a[5:8]) or 1.0)
    out = [c + 0.5, r + 0.5]
    for q in (p - APPROACH_LENGTH * up, p + FORWARD_LENGTH * fw):
        if q[2] <= 1e-6:
            out += [c + 0.5, r + 0.5]
        else:
            rr, cc = camera_to_pixel(q, K)
            out += [float(cc), float(rr)]
    return [round(v, 1) for v in out]


def default_intrinsics(image_size: int, fov_deg: float = 35.0) -> np.ndarray:
    f = image_size / 2 / math.tan(math.radians(fov_deg) / 2)
    return np.array([[f, 0, image_size / 2], [0, f, image_size / 2], [0, 0, 1]])


def episode_data(runs: dict, obs: dict, videos: dict, media: str) -> dict:
    """The browser's data, compact: episodes (one per work-item key), rows (one per episode and method),
    and a string table for the texts that repeat."""
    from .results.criteria import get

    crit = get("success")
    strings: dict[str, int] = {}

    def s(text) -> int:
        return strings.setdefault(str(text or ""), len(strings))

    episodes: dict[str, int] = {}
    ep_rows, rows = [], []
    methods = list(runs)
    for m, (label, run) in enumerate(runs.items()):
        size = int(run["runs"][0].get("identity", {}).get("image_size") or 336)
        for r in run["records"]:
            key = r["key"]
            if key not in episodes:
                o = obs.get(key, {})
                episodes[key] = len(ep_rows)
                ep_rows.append([key, s(r.get("category") or r.get("task")), s(r.get("group")), s(r.get("object_id")),
                                s(f"{r.get('target_link', '')} ({r.get('joint_type', '')})"),
                                f"{media}/observations/{o['file']}" if o.get("file") else None, size,
                                int(r.get("episode_seed") or 0)])
            K = obs.get(key, {}).get("intrinsics")
            video, matches = videos.get((label, key), (None, None))
            rows.append([episodes[key], m, int(crit.passed(r)), s(crit.outcome(r)), s(r.get("failure_reason")),
                         round(float(r.get("dq") or 0.0), 4), round(float(r.get("cosine") or 0.0), 3),
                         overlay(r.get("agent_action") or r.get("action"), K, float(r.get("camera_distance") or 1.0),
                                 size),
                         f"{media}/videos/{video}" if video else None, None if matches is None else int(bool(matches))])
    return {"methods": methods, "strings": list(strings), "episodes": ep_rows, "rows": rows,
            "episode_fields": ["key", "category", "split", "object", "target", "image", "image_size", "seed"],
            "row_fields": ["episode", "method", "success", "outcome", "reason", "dq", "cosine", "overlay", "video",
                           "video_matches"]}


# ---------------------------------------------------------------------------------------- page
def table_html_data(df: pd.DataFrame, name: str) -> dict:
    """A CSV for the template: header and rows as text exactly as the CSV has them, published rows marked."""
    cols = list(df.columns)
    first = cols[0]
    rows = []
    for _, r in df.iterrows():
        label = str(r[first])
        rows.append({"label": label, "published": "(paper)" in label or "(ManipLLM paper)" in label,
                     "cells": ["" if (isinstance(v, float) and math.isnan(v)) else str(v) for v in r.tolist()]})
    return {"name": name, "columns": cols, "rows": rows}


def read_tables(tables: Path, kind: str) -> list[dict]:
    """The CSV tables the page shows, read as text (the numbers as the CSV writes them)."""
    names = [n for n in SHOWN_TABLES if (tables / n).exists()]
    names += sorted(p.name for p in tables.glob("table_*.csv") if p.name not in names)
    if kind == "pipeline":
        for n in MAIN_TABLES:
            if not (tables / n).exists():
                raise ReportError(f"{tables / n}: missing (the main job writes it)")
    if kind == "ablations":
        for p in tables.glob("table_ablation_*.json"):
            if not p.with_suffix(".csv").exists():
                raise ReportError(f"{p.with_suffix('.csv')}: missing ({p.name} records it)")
    out = []
    for n in names:
        if not (tables / n).is_file() or not (tables / n).read_text().strip():  # seeds.csv of single-seed runs
            continue
        df = _csv(tables / n)
        text = pd.read_csv(tables / n, dtype=str, keep_default_na=False)
        out.append({**table_html_data(text, n), "rows_n": len(df)})
    return out


def provenance_view(prov: list[dict], runs: dict) -> dict:
    """What the page says of where the numbers come from."""
    entries = []
    for p in prov:
        last = p["runs"][-1] if isinstance(p.get("runs"), list) and p["runs"] and isinstance(p["runs"][-1], dict) \
            else {}  # an ablation record keeps its commands in `runs`; pipeline.json has one `command`
        entries.append({"file": p["file"], "command": p.get("command") or last.get("command", ""),
                        "config": json.dumps(p.get("config", {}), indent=1, sort_keys=True),
                        "machine": json.dumps(p.get("machine", {}), sort_keys=True),
                        "wall_s": p.get("wall_s"), "steps": json.dumps(p.get("steps_s", {}), indent=1)})
    per_run = []
    for label, run in runs.items():
        info = run["runs"][0]
        versions = info.get("versions", {})
        last = (info.get("runs") or [{}])[-1]
        per_run.append({"label": label, "agent": info.get("agent", ""), "checkpoint": info.get("checkpoint") or "",
                        "command": " ".join(last.get("command", [])), "created": info.get("created", ""),
                        "seconds": last.get("seconds"), "git_commit": versions.get("git_commit", ""),
                        "versions": ", ".join(f"{k} {v}" for k, v in versions.items() if k != "git_commit"),
                        "episodes": len(run["records"])})
    return {"entries": entries, "runs": per_run}


def render(tables: Path, out: Path, cfg: ReportConfig) -> Path:
    """Read everything (ReportError on a bad input, nothing written), then build the report in a
    temporary directory beside `out` and move it into place."""
    import jinja2

    from .tables import failures_table

    kind, prov = provenance(tables)
    shown = read_tables(tables, kind)
    runs = load_records(tables, kind, prov)
    obs, videos = load_media(tables, runs)
    comparisons, comparisons_source = comparison_rows(tables, runs, kind)
    failures = (_csv(tables / "failures.csv", ("method", "criterion", "category", "episodes"))
                if (tables / "failures.csv").exists() else failures_table(runs, criteria=["success"]))
    means = split_means(runs)

    out = out.resolve()
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        inside = tables.resolve() in out.parents
        media = os.path.relpath(tables.resolve() / "media", out) if inside else "media"
        if not inside and (tables / "media").is_dir():
            shutil.copytree(tables / "media", tmp / "media")
        figs = method_figures(runs, failures, tmp / "figures")
        overview = []
        for png in ("success_by_category.png", "failures.png"):
            if (tables / png).is_file():
                shutil.copy2(tables / png, tmp / "figures" / png)
                overview.append(f"figures/{png}")
        data = episode_data(runs, obs, videos, media.replace(os.sep, "/"))
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(ASSETS), autoescape=True,
                                 undefined=jinja2.StrictUndefined)
        title = cfg.title or {"pipeline": "Main job", "ablations": "Ablations"}.get(kind, "Evaluation") + \
            f": {tables.name}"
        html = env.get_template("report.html.j2").render(
            title=title, tables_dir=str(tables), generated=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            kind=kind, shown=shown, means=means, comparisons=comparisons.to_dict("records"),
            comparisons_source=comparisons_source, rule=VERDICT_RULE, figures=figs, overview=overview,
            provenance=provenance_view(prov, runs), filmed=len(videos), observed=sum(1 for e in obs.values()
                                                                                     if e.get("file")),
            data_json=json.dumps(data, separators=(",", ":")).replace("</", "<\\/"),
            css=(ASSETS / "report.css").read_text(), js=(ASSETS / "report.js").read_text())
        (tmp / "index.html").write_text(html)
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / "index.html"


def main(argv=None) -> int:
    parser = command_parser("python -m evaluation.report", __doc__)
    parser.add_argument("tables", metavar="TABLES_DIR",
                        help="a tables directory (evaluation.pipeline's --tables, evaluation.ablations' --tables, "
                             "evaluation.tables' --out)")
    cfg, args = parse_config(ReportConfig, argv, parser=parser)
    tables = Path(args.tables)
    if not tables.is_dir():
        die(f"TABLES_DIR {tables}: no such directory")
    out = Path(cfg.out) if cfg.out else tables / "report"
    try:
        page = render(tables, out, cfg)
    except ReportError as e:
        die(f"report: {e}; nothing written")
    print(f"report: {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

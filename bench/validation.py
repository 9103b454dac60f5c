"""Choosing RoboMamba's recipe on a validation work list, never on the test list the committed tables report.

    python bench/validation.py --candidates default,catdrop,object,object-point --out out/validation \\
        --table results/validation

The protocol (docs/training.md, "Choosing the recipe"):
- training data: the main job's collection (60 demos per category, failures kept, seed 0) on 16 of the
  20 seen categories; the other four (PSEUDO_UNSEEN) are held out of training and stand in for the
  unseen categories, which are never evaluated here;
- the work list: master seed 1 (the committed tables use 0) on the test instances of the 20 seen
  categories, which no training object is (25 episodes each by default: 400 episodes of trained
  categories, 100 of pseudo-unseen ones);
- each candidate (CANDIDATES: an agent and its agents.train flags, on top of the main job's budget) is
  trained, evaluated, and compared with `default` episode by episode on each group (paired bootstrap over
  categories, exact McNemar; a ManipLLM variant with the `manipllm` candidate where it is listed: the
  table's `compared_with`); Where2Act, `random` and `oracle` run on the same list for scale;
- ManipLLM candidates adapt the `twin` candidate (the Transformer twin trained as the main job trains it;
  --base), and their rows add the fraction of answers that parsed per group and their trainer's held-out
  answers (issue 27);
- each robomamba candidate with a backbone of its own is probed (agents.robomamba.probe: the read-outs of
  category and contact pixel at every stage; the pixel read-outs also on a pseudo-unseen probing
  collection); a head-only candidate shares its backbone's read-outs.

Writes TABLE/validation.csv (a row per candidate), TABLE/comparisons.csv, TABLE/readouts.csv, a plot,
the records under TABLE/runs/ and TABLE/validation.json (commands, settings, machine, step times).
Every step resumes, so rerunning the command continues where it stopped.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import ConfigError, check_at_least, done, option, parse_config  # noqa: E402
from infra.files import atomic_write_text  # noqa: E402
from infra.provenance import versions  # noqa: E402

PSEUDO_UNSEEN = ("Microwave", "Box", "Pliers", "Dispenser")  # a door, a lid, a tool's handle, a pump
VAL_SEED = 1
OBJECT, MNV2, DROP = ("--view", "object"), ("--vision", "mobilenet_v2"), ("--category-dropout", "0.5")
HEAD_ONLY = ("--stages", "head")
WORDS = ("--answer-format", "words")  # ManipLLM's first answer form (agents/baselines/manipllm/answer.py)
# name: (agent, agents.train flags besides data, out, seed and the budget; a candidate whose checkpoint it
# starts from, or None: robomamba's --init (a fresh head only, on that co-trained backbone), ManipLLM's --base
# (the Transformer twin it adapts): START_FLAG)
CANDIDATES = {
    "default": ("robomamba", (), None),
    "catdrop": ("robomamba", DROP, None),
    "geodesic-catdrop": ("robomamba", ("--rotation-loss", "geodesic", *DROP), None),
    "object": ("robomamba", OBJECT, None),
    "object-catdrop": ("robomamba", (*OBJECT, *DROP), None),
    "object-point": ("robomamba", (*OBJECT, "--head", "point", *DROP), None),
    "object-point-lr1e-3": ("robomamba", (*HEAD_ONLY, "--head", "point", "--lr", "1e-3", *DROP), "object-catdrop"),
    "object-mnv2-point": ("robomamba", (*OBJECT, *MNV2, "--head", "point", *DROP), None),
    "object-mnv2": ("robomamba", (*OBJECT, *MNV2, *DROP), None),
    "object-mnv2-lr1e-4": ("robomamba", (*HEAD_ONLY, "--lr", "1e-4", *DROP), "object-mnv2"),
    "object-mnv2-point-lr1e-4": ("robomamba", (*HEAD_ONLY, "--head", "point", "--lr", "1e-4", *DROP), "object-mnv2"),
    "object-mnv2-point-lr1e-3": ("robomamba", (*HEAD_ONLY, "--head", "point", "--lr", "1e-3", *DROP), "object-mnv2"),
    "object-mnv2-geodesic-lr1e-4": ("robomamba", (*HEAD_ONLY, "--rotation-loss", "geodesic", "--lr", "1e-4", *DROP),
                                    "object-mnv2"),
    "object-mnv2-lr1e-3": ("robomamba", (*HEAD_ONLY, "--lr", "1e-3", *DROP), "object-mnv2"),
    "object-mnv2-e16-lr1e-4": ("robomamba", (*HEAD_ONLY, "--epochs", "16", "--lr", "1e-4", *DROP), "object-mnv2"),
    "object-mnv2-qa1600-lr1e-4": ("robomamba", (*OBJECT, *MNV2, "--qa-steps", "1600", "--lr", "1e-4", *DROP), None),
    "object-mnv2-world-lr1e-4": ("robomamba", (*HEAD_ONLY, "--rotation-frame", "world", "--lr", "1e-4", *DROP),
                                 "object-mnv2"),
    "object-mnv2-world-geodesic-lr1e-4": ("robomamba", (*HEAD_ONLY, "--rotation-frame", "world", "--rotation-loss",
                                                        "geodesic", "--lr", "1e-4", *DROP), "object-mnv2"),
    "surface": ("robomamba", (*HEAD_ONLY, "--rotation-frame", "surface"), "default"),
    "world": ("robomamba", (*HEAD_ONLY, "--rotation-frame", "world"), "default"),
    # the parts of the default that the 2026-12-07 ablation tables found level under the surface frame
    "image": ("robomamba", ("--view", "image"), None),
    "nocatdrop": ("robomamba", (*HEAD_ONLY, "--category-dropout", "0"), "default"),
    "where2act": ("where2act", (), None),
    # ManipLLM's recipe (issue 27: the fraction of its greedy answers that parse): the Transformer twin it builds
    # on (trained like the main job's), then ManipLLM candidates with that twin as --base
    "twin": ("transformer", (), None),
    # (the answer's form pinned to the first one, 'words', in the task mixtures' candidates: what their table measured)
    "manipllm": ("manipllm", WORDS, "twin"),
    "manipllm-masked": ("manipllm", ("--tasks", "pose,masked,category,affordance", *WORDS), "twin"),  # first default
    "manipllm-pose": ("manipllm", ("--tasks", "pose", *WORDS), "twin"),
    "manipllm-token": ("manipllm", ("--answer-format", "token"), "twin"),
    "manipllm-labelled": ("manipllm", ("--answer-format", "labelled"), "twin"),
}
# the flag that hands an agent the checkpoint its candidate starts from (default --init: a head on that backbone)
START_FLAG = {"manipllm": "--base"}
BASELINES = ("random", "oracle")


@dataclass
class ValidationConfig:
    candidates: str = option("default,catdrop,object,object-point,where2act",
                             f"comma-separated candidates: {', '.join(CANDIDATES)}")
    out: str = option("out/validation", "working directory: data, checkpoints, evaluation runs")
    table: str = option("out/validation/tables", "where the tables, plot and records go")
    samples: int = option(60, "demos per trained category (the main job's)")
    episodes: int = option(25, "validation episodes per seen category")
    qa_steps: int = option(800, "sim-QA co-training steps (the main job's)")
    head_epochs: int = option(8, "policy-head epochs (the main job's)")
    where2act_epochs: int = option(6, "Where2Act epochs (the main job's)")
    manipllm_steps: int = option(1600, "ManipLLM's optimisation steps (the main job's)")
    probe_samples: int = option(15, "demos per pseudo-unseen category in the probing collection")
    seed: int = option(0, "seed of collection and training (the work list's is VAL_SEED = 1)")
    workers: int = option(2, "simulation worker processes")

    def __post_init__(self):
        check_at_least(self, samples=1, episodes=1, qa_steps=1, head_epochs=1, where2act_epochs=1, manipllm_steps=1,
                       probe_samples=1, workers=0)
        bad = [c for c in self.names() if c not in CANDIDATES]
        if bad or "default" not in self.names():
            raise ConfigError("candidates", self.candidates, f"name 'default' and any of: {', '.join(CANDIDATES)}")
        missing = [f"{c} (needs {CANDIDATES[c][2]})" for c in self.names() if CANDIDATES[c][2]
                   and CANDIDATES[c][2] not in self.names()[: self.names().index(c)]]
        if missing:
            raise ConfigError("candidates", self.candidates, f"list each --init candidate before: {', '.join(missing)}")

    def names(self) -> list[str]:
        return [c.strip() for c in self.candidates.split(",") if c.strip()]


def trained_categories() -> list[str]:
    from sim_envs.categories import SEEN

    return [c for c in SEEN if c not in PSEUDO_UNSEEN]


def regroup(run: dict) -> dict:
    """A run whose records of pseudo-unseen categories say group 'unseen' (the rest stay 'seen')."""
    return {"records": [{**r, "group": "unseen" if r.get("category") in PSEUDO_UNSEEN else "seen"}
                        for r in run["records"]], "runs": run["runs"]}


def reference(name: str, names: list[str]) -> str:
    """The candidate `name` is compared with: its agent's own default where it is a candidate (`manipllm` for
    the ManipLLM variants), else `default`."""
    agent = CANDIDATES.get(name, (name, (), None))[0]
    return agent if agent in CANDIDATES and agent in names and agent != name else "default"


def parse_rate(records: list[dict], group: str) -> float:
    """The fraction of a group's episodes whose answer parsed (ManipLLM: the rest failed `unparsable_answer`)."""
    from agents.baselines.manipllm.answer import UNPARSABLE

    rs = [r for r in records if r.get("group") == group]
    bad = sum(str(r.get("failure_reason", "")).startswith(UNPARSABLE) for r in rs)
    return round(1 - bad / len(rs), 4) if rs else float("nan")


def candidate_row(cfg: ValidationConfig, name: str, run: dict, runs: dict) -> dict:
    from agents.checkpoint import read_config
    from evaluation.results.paired import compare
    from evaluation.results.stats import split_rate

    agent, flags, init = CANDIDATES.get(name, (name, (), None))
    ref = reference(name, list(runs))
    row = {"candidate": name, "agent": agent, "flags": " ".join(flags), "init": init,
           "compared_with": None if name == "default" else ref}
    for group, label in (("seen", "trained"), ("unseen", "pseudo_unseen")):
        rate, lo, hi = split_rate(run["records"], group, "success")
        row.update({label: round(rate, 4), f"{label}_ci_low": round(lo, 4), f"{label}_ci_high": round(hi, 4)})
        if agent == "manipllm":
            row[f"{label}_parse_rate"] = parse_rate(run["records"], group)
    if name != "default":
        t = compare(run, runs[ref], "success", per_category=False)
        for group, label in (("seen", "trained"), ("unseen", "pseudo_unseen")):
            r = t[t.split == group].iloc[0]
            row.update({f"{label}_vs_default": round(r["diff"], 4), f"{label}_vs_default_ci_low": round(r.ci_low, 4),
                        f"{label}_vs_default_ci_high": round(r.ci_high, 4),
                        f"{label}_vs_default_p": float(f"{r.mcnemar_p:.3g}")})
    ck = Path(cfg.out) / "checkpoints" / name
    if (ck / "config.json").exists():
        training = read_config(ck).get("training", {})
        stages = training.get("stages", {})
        cotrain = stages.get("cotrain")
        if cotrain is None and init:  # the co-training of the backbone it started from
            cotrain = read_config(Path(cfg.out) / "checkpoints" / init).get("training", {}).get("stages", {}).get(
                "cotrain")
        qa = (cotrain or {}).get("qa_accuracy_val") or {}
        head = stages.get("head") or stages.get("full") or {}
        row.update({"qa_category_val": qa.get("category"), "qa_all_val": qa.get("all"),
                    "head_pixel_l1_val": (head.get("val") or {}).get("pixel_l1"),
                    "head_pixel_l1_val_blind": (head.get("val_blind") or {}).get("pixel_l1"),
                    "constant_pixel_l1_val": (head.get("val_constant") or {}).get("pixel_l1"),
                    "train_s": round(sum((s or {}).get("wall_s", 0) or 0 for s in stages.values()), 1)})
        if agent == "manipllm":  # its trainer's greedy answers on held-out instances of the trained categories
            val = training.get("val") or {}
            row.update({"answers_parse_rate_val": val.get("parse_rate"),
                        "answers_category_val": val.get("category_accuracy"), "train_s": training.get("wall_s")})
        if row["head_pixel_l1_val_blind"] and row["constant_pixel_l1_val"]:
            row["blind_vs_constant"] = round(row["head_pixel_l1_val_blind"] / row["constant_pixel_l1_val"], 3)
    runs = [x for info in run["runs"] for x in info.get("runs", []) if x.get("episodes")]
    act_s = sum(x.get("act_seconds") or 0 for x in runs)
    row["control_hz"] = round(sum(x["episodes"] for x in runs) / act_s, 2) if act_s else None
    return row


def plot(df, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from infra.files import save_figure

    fig, ax = plt.subplots(figsize=(1.8 + 1.3 * len(df), 3.6))
    x = np.arange(len(df))
    for k, (col, colour) in enumerate((("trained", "tab:blue"), ("pseudo_unseen", "tab:orange"))):
        v = df[col].to_numpy(float)
        err = np.vstack([v - df[f"{col}_ci_low"].to_numpy(float), df[f"{col}_ci_high"].to_numpy(float) - v])
        ax.bar(x + (k - 0.5) * 0.38, v, 0.38, yerr=err, capsize=3, color=colour, label=col.replace("_", " "))
    ax.set_xticks(x, df["candidate"], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("success (mean over categories)")
    ax.set_title(f"validation work list (seed {VAL_SEED}); pseudo-unseen: {', '.join(PSEUDO_UNSEEN)}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def main(argv=None) -> int:
    cfg, _ = parse_config(ValidationConfig, argv, "python bench/validation.py", __doc__)
    import pandas as pd

    from agents.robomamba.probe import main as probe_main
    from agents.train import main as train_main
    from data_collection.run import main as collect_main
    from evaluation.pipeline import STEP_SECONDS, _machine, copy_records, step
    from evaluation.results.paired import comparisons_table
    from evaluation.results.records import load_run
    from evaluation.run import main as eval_main

    t0 = time.perf_counter()
    STEP_SECONDS.clear()
    out, table = Path(cfg.out), Path(cfg.table)
    sim = ["--workers", str(cfg.workers)]
    data, probe_data = out / "data", out / "probe_data"
    step("collect", collect_main, ["--category", ",".join(trained_categories()), "--samples", str(cfg.samples),
                                   "--keep-failures", *sim, "--seed", str(cfg.seed), "--out", str(data)],
         "data_collection.run")
    step("collect probing data", collect_main, ["--category", ",".join(PSEUDO_UNSEEN), "--samples",
                                                str(cfg.probe_samples), *sim, "--seed", str(cfg.seed + 7),
                                                "--out", str(probe_data)], "data_collection.run")
    work = ["--categories", "seen", "--episodes", str(cfg.episodes), "--seed", str(VAL_SEED), *sim]
    names = cfg.names()
    for name in names:
        agent, flags, init = CANDIDATES[name]
        ck = out / "checkpoints" / name
        budget = {"where2act": ["--epochs", str(cfg.where2act_epochs)],
                  "manipllm": ["--steps", str(cfg.manipllm_steps)]}.get(
            agent, ["--qa-steps", str(cfg.qa_steps), "--epochs", str(cfg.head_epochs)])
        start = [START_FLAG.get(agent, "--init"), str(out / "checkpoints" / init)] if init else []
        step(f"train {name}", train_main, ["--agent", agent, "--data", str(data), "--out", str(ck), *start, *budget,
                                           *flags, "--seed", str(cfg.seed), "--no-progress"], "agents.train")
        step(f"evaluate {name}", eval_main, ["--agent", agent, "--checkpoint", str(ck), "--label", name, *work,
                                             "--quiet", "--out", str(out / "eval" / name)], "evaluation.run")
        if agent == "robomamba" and not init:  # a head-only candidate has its init's backbone: the same read-outs
            step(f"probe {name}", probe_main, ["--checkpoint", str(ck), "--data", str(data), "--unseen-data",
                                               str(probe_data), "--no-heads", "--no-progress",
                                               "--out", str(out / "probe" / name)], "agents.robomamba.probe")
    for b in BASELINES:
        step(f"evaluate {b}", eval_main, ["--agent", b, "--label", b, *work, "--quiet", "--out", str(out / "eval" / b)],
             "evaluation.run")
    runs = {n: regroup(load_run(out / "eval" / n)) for n in [*names, *BASELINES]}
    df = pd.DataFrame([candidate_row(cfg, n, runs[n], runs) for n in runs])
    atomic_write_text(table / "validation.csv", df.to_csv(index=False))
    atomic_write_text(table / "comparisons.csv", comparisons_table(runs, criteria=["success"]).to_csv(index=False))
    readouts = [pd.read_csv(out / "probe" / n / "readouts.csv").assign(candidate=n) for n in names
                if (out / "probe" / n / "readouts.csv").exists() and not CANDIDATES[n][2]]
    if readouts:
        atomic_write_text(table / "readouts.csv", pd.concat(readouts).drop(columns=["checkpoint"]).to_csv(index=False))
    plot(df, table / "validation.png")
    copy_records([str(out / "eval" / n) for n in runs], str(table / "runs"))
    atomic_write_text(table / "validation.json", json.dumps(
        {"command": "python bench/validation.py " + " ".join(sys.argv[1:] if argv is None else argv),
         "config": dataclasses.asdict(cfg), "pseudo_unseen": PSEUDO_UNSEEN, "trained": trained_categories(),
         "work_list_seed": VAL_SEED, "candidates": {n: CANDIDATES[n] for n in names}, "machine": _machine(),
         "versions": versions(), "wall_s": round(time.perf_counter() - t0, 1), "steps_s": dict(STEP_SECONDS)},
        indent=2) + "\n")
    shown = ["candidate", "trained", "pseudo_unseen", "trained_vs_default", "pseudo_unseen_vs_default",
             "qa_category_val", "blind_vs_constant", "trained_parse_rate", "pseudo_unseen_parse_rate"]
    print(df[[c for c in shown if c in df]].to_string(index=False))
    return done(f"validation: {len(names)} candidates in {(time.perf_counter() - t0) / 60:.1f} min; {table}")


if __name__ == "__main__":
    raise SystemExit(main())

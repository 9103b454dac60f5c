"""The paper's manipulation ablations, regenerated: policy head, co-training, backbone size, Mamba vs
Transformer. Each variant is trained on one collected dataset and evaluated on the main job's paired
work list; each table compares every variant with the default model, episode by episode.

    python -m evaluation.ablations --table head          # paper Appendix Table 6
    python -m evaluation.ablations --table all --base out/pipeline/checkpoints/robomamba --data out/pipeline/data

Tables (`TABLES/table_ablation_<name>.csv`, a plot and a JSON record of the command, settings, machine and
step times beside each, the records under TABLES/runs/):
- `head`: mlp2 (default: two MLPs, the paper's), mlp1, ssm_mlp2 ((SSM block + MLP) x 2); the other
  heads start from the default model's co-trained backbone (`agents.train --init`) and are fine-tuned
  with everything else frozen, with the default's head recipe;
- `cotrain`: with sim-QA co-training before head fine-tuning (default) and without it (the head
  alone on the untrained backbone): Fig. 3b's co-training pair; and head-only vs full fine-tuning
  (the head's loss and settings on every parameter, from the default's co-trained backbone);
- `backbone`: the tiny backbone (default) and the `small` preset (about 2x its parameters): Fig. 3b's
  1.4B vs 2.7B; the tiny model with a ViT trained from scratch instead of the frozen packaged
  MobileNetV2 (`--vision vit`); and the tiny model seeing the whole camera image instead of the square
  around the object (`--view image`);
- `lm`: Mamba (default) vs the same-size Transformer twin, with control frequency and training time;
- `recipe` (not in the paper): the default recipe of issue 25 (object view, frozen MobileNetV2,
  category-word dropout 0.5, the head's rotation in the surface frame with the geodesic loss at lr 1e-4)
  against the model before it (issue 15's, trained from scratch), and three fresh heads on the default's
  co-trained backbone: the rotation in the world frame (issue 25's first default), issue 15's head recipe
  (camera frame, up-axis loss, lr 1e-5), and no category dropout (docs/training.md).

A row holds the variant's total and trainable parameters (the last training stage), the trainable
fraction, seen and unseen success (mean over categories, both criteria) with 95% bootstrap intervals,
the held-out sim-QA accuracy where it was co-trained, training and evaluation wall time, the paired
difference to the default model (interval and exact McNemar p-value, evaluation.compare), and the
published row where the paper has one. Every step is a CLI of this project (printed as it runs) and
resumes, so rerunning the command after an interruption continues where it stopped; the default
model is trained and evaluated once for all tables.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from infra.cli import ConfigBase, ConfigError, check_at_least, option, parse_config
from infra.executors import check_executor, executor_option, ray_address_option

TABLES = ("head", "cotrain", "backbone", "lm", "recipe")
DEFAULT = "robomamba"  # the default model's key: robomamba, tiny, co-trained, mlp2 head


@dataclass(frozen=True)
class Variant:
    key: str  # checkpoint and run name
    row: str  # the table's row label
    agent: str
    train: tuple = ()  # agents.train flags besides data, out, seed and the recipe
    init: str | None = None  # start from this variant's checkpoint
    published: dict = dataclasses.field(default_factory=dict)


# the default recipe before issue 25 (issue 15's): the whole camera image, a ViT trained from scratch, and the head in
# the camera frame with the up-axis loss at the paper's learning rate, category words always shown
ISSUE15 = ("--view", "image", "--vision", "vit", "--rotation-frame", "camera", "--rotation-loss", "up", "--lr", "1e-5",
           "--category-dropout", "0")
V_DEFAULT = Variant(DEFAULT, "default", "robomamba", ("--stages", "cotrain,head"))
VARIANTS = {
    "head": [
        dataclasses.replace(V_DEFAULT, row="mlp2 (MLP x2)", published={
            "published_seen_success": 0.637, "published_params": "3.7M", "published_trainable_fraction": 0.0011}),
        Variant("robomamba-mlp1", "mlp1 (MLP x1)", "robomamba", ("--stages", "head", "--head", "mlp1"), DEFAULT,
                {"published_seen_success": 0.621, "published_params": "1.8M", "published_trainable_fraction": 0.0005}),
        Variant("robomamba-ssm_mlp2", "ssm_mlp2 ((SSM block + MLP) x2)", "robomamba",
                ("--stages", "head", "--head", "ssm_mlp2"), DEFAULT,
                {"published_seen_success": 0.632, "published_params": "45.2M", "published_trainable_fraction": 0.013}),
    ],
    "cotrain": [
        dataclasses.replace(V_DEFAULT, row="sim-QA co-training, then head",
                            published={"published_seen_success": 0.63, "published_row": "RoboMamba-2.7B"}),
        Variant("robomamba-nocotrain", "head only, no co-training", "robomamba", ("--stages", "head"), None,
                {"published_seen_success": 0.61, "published_row": "RoboMamba-2.7B without RoboVQA co-training"}),
        Variant("robomamba-full", "sim-QA co-training, then full fine-tuning", "robomamba", ("--stages", "full"),
                DEFAULT),
    ],
    "backbone": [
        dataclasses.replace(V_DEFAULT, row="tiny backbone",
                            published={"published_seen_success": 0.39, "published_row": "RoboMamba-1.4B"}),
        Variant("robomamba-small", "small backbone", "robomamba", ("--stages", "cotrain,head", "--preset", "small"),
                None, {"published_seen_success": 0.63, "published_row": "RoboMamba-2.7B"}),
        Variant("robomamba-vit", "tiny, ViT encoder trained from scratch (CLIP's architecture)", "robomamba",
                ("--stages", "cotrain,head", "--vision", "vit")),
        Variant("robomamba-image", "tiny, the whole camera image (no object view)", "robomamba",
                ("--stages", "cotrain,head", "--view", "image")),
    ],
    "lm": [
        dataclasses.replace(V_DEFAULT, row="Mamba"),
        Variant("transformer", "Transformer twin (same size)", "transformer", ("--stages", "cotrain,head")),
    ],
    # not in the paper: the recipe of issue 25 against the one before it (issue 15's), and each of its head parts
    "recipe": [
        dataclasses.replace(V_DEFAULT, row="object view, MobileNetV2, category dropout, surface frame (default)"),
        Variant("robomamba-issue15", "issue 15's model: whole image, ViT from scratch, camera frame, up-axis loss, "
                                     "lr 1e-5, no category dropout (the default before)", "robomamba",
                ("--stages", "cotrain,head", *ISSUE15)),
        Variant("robomamba-world", "default backbone, the head's rotation in the world frame (the default before the "
                                   "surface frame)", "robomamba", ("--stages", "head", "--rotation-frame", "world"),
                DEFAULT),
        Variant("robomamba-camera-up", "default backbone, issue 15's head recipe (camera frame, up-axis loss, lr 1e-5)",
                "robomamba", ("--stages", "head", "--rotation-frame", "camera", "--rotation-loss", "up", "--lr",
                              "1e-5"), DEFAULT),
        Variant("robomamba-nocatdrop", "default without category dropout", "robomamba",
                ("--stages", "head", "--category-dropout", "0"), DEFAULT),
    ],
}


@dataclass
class AblationConfig(ConfigBase):
    table: str = option("all", "which ablation: head, cotrain, backbone, lm, recipe (the recipe before and after "
                               "issue 25), or all", choices=(*TABLES, "all"))
    out: str = option("out/ablations", "working directory: data, checkpoints and evaluation runs go below it")
    tables: str = option("", "where the tables go; '' = OUT/tables")
    data: str | None = option(None, "a collected dataset to train on; None = collect one into OUT/data as the "
                                       "main job does")
    base: str | None = option(None, "an already trained default model (robomamba, tiny, co-trained, mlp2 head) "
                                       "to use instead of training one, e.g. out/pipeline/checkpoints/robomamba; "
                                       "it must have been trained on --data")
    seed: int = option(0, "master seed of collection, training and the evaluation work list")
    samples: int = option(60, "collection: demos per seen category (when --data is not given)")
    qa_steps: int = option(800, "sim-QA co-training steps (main job: 800)")
    epochs: int = option(8, "policy-head epochs (paper: 8)")
    qa_eval: int = option(400, "held-out sim-QA questions each co-trained variant is scored on (main job: 400)")
    categories: str = option("all", "evaluation categories (main job: all 30)")
    episodes: int = option(50, "evaluation episodes per category (main job: 50)")
    workers: int = option(min(2, os.cpu_count() or 1), "simulation worker processes for collection and evaluation")
    executor: str = executor_option()
    ray_address: str | None = ray_address_option()
    report: bool = option(True, "write every episode's observation (TABLES/media/observations) and the tables "
                                "directory's HTML report (TABLES/report/index.html, evaluation.report)")
    film: int = option(1, "episodes per category filmed for each variant (TABLES/media/videos), for the report's "
                          "episode browser; 0 = none")

    def __post_init__(self):
        check_at_least(self, samples=1, qa_steps=1, epochs=1, episodes=1, workers=0, qa_eval=1, film=0)
        check_executor(self)
        if self.base is not None and not (Path(self.base) / "config.json").exists():
            raise ConfigError("base", self.base, "not a checkpoint directory (no config.json)")

    def selected(self) -> list[str]:
        return list(TABLES) if self.table == "all" else [self.table]


# ---------------------------------------------------------------------------------------- steps
def checkpoint_path(cfg: AblationConfig, key: str) -> str:
    if key == DEFAULT and cfg.base:
        return cfg.base
    return f"{cfg.out}/checkpoints/{key}"


def sim_flags(cfg: AblationConfig) -> list[str]:
    """Where the simulation workers of collection, evaluation and filming run."""
    return ["--workers", str(cfg.workers), "--executor", cfg.executor,
            *(["--ray-address", cfg.ray_address] if cfg.ray_address else [])]


def run_variants(cfg: AblationConfig, variants: list[Variant], data: str) -> None:
    """Train (unless already trained) and evaluate each variant, default first."""
    from agents.train import main as train_main

    from .pipeline import step
    from .run import main as eval_main

    sim = sim_flags(cfg)
    recipe = ["--qa-steps", str(cfg.qa_steps), "--qa-eval", str(cfg.qa_eval), "--epochs", str(cfg.epochs),
              "--seed", str(cfg.seed)]
    for v in variants:
        ck = checkpoint_path(cfg, v.key)
        if not (v.key == DEFAULT and cfg.base):
            init = ["--init", checkpoint_path(cfg, v.init)] if v.init else []
            step(f"train {v.key}", train_main, ["--agent", v.agent, "--data", data, "--out", ck, *init, *v.train,
                                               *recipe, "--no-progress"], "agents.train")
        step(f"evaluate {v.key}", eval_main, ["--agent", v.agent, "--checkpoint", ck, "--label", v.key, "--categories",
                                              cfg.categories, "--episodes", str(cfg.episodes), "--seed", str(cfg.seed),
                                              *sim, "--quiet", "--out", f"{cfg.out}/eval/{v.key}"], "evaluation.run")


# ---------------------------------------------------------------------------------------- table
def _training(ck: str) -> dict:
    from agents.checkpoint import read_config

    return read_config(ck).get("training") or {}


def qa_accuracy(cfg: AblationConfig, v: Variant):
    """Held-out sim-QA accuracy of the variant's language model (its own co-training, or the one it
    was initialised from); None when it was never co-trained."""
    for key in (v.key, v.init):
        if key is None:
            continue
        acc = _training(checkpoint_path(cfg, key)).get("stages", {}).get("cotrain", {}).get("qa_accuracy_val")
        if acc:
            return acc.get("all")
    return None


def default_recipe(cfg: AblationConfig) -> dict:
    """The default model's agents.train settings (its checkpoint's record): what "default" meant when a table was
    made, so that a table made before the default changed says so."""
    from agents.checkpoint import RUN_ONLY

    settings = _training(checkpoint_path(cfg, DEFAULT)).get("config") or {}
    return {k: v for k, v in settings.items() if k not in (*RUN_ONLY, "data")}


def ablation_table(cfg: AblationConfig, name: str):
    import pandas as pd

    from .results.criteria import criteria
    from .results.paired import compare
    from .results.records import RUN, load_run
    from .results.stats import split_rate

    rows = []
    base = load_run(f"{cfg.out}/eval/{DEFAULT}")
    for v in VARIANTS[name]:
        run_dir = f"{cfg.out}/eval/{v.key}"
        run = load_run(run_dir)
        meta = json.loads((Path(run_dir) / RUN).read_text())
        counts = dict(meta.get("parameter_counts") or {})
        stages = _training(checkpoint_path(cfg, v.key)).get("stages", {})
        last_name, last = list(stages.items())[-1] if stages else (None, {})
        if last_name in ("head", "full") and "trainable_params" in last:
            counts["trainable"] = last["trainable_params"]  # what the last stage trained
        row = {"table": name, "variant": v.row, "key": v.key, "default": v.key == DEFAULT,
               "total_params": counts.get("total"), "trainable_params": counts.get("trainable"),
               "trainable_fraction": round(counts["trainable"] / counts["total"], 5) if counts.get("total") else None,
               "sim_qa_accuracy": qa_accuracy(cfg, v)}
        for crit in criteria():  # columns seen, seen_manipllm, ...: the criterion's name after 'success'
            suffix = "" if crit.name == "success" else "_" + crit.name.removeprefix("success_")
            for group in ("seen", "unseen"):
                rate, lo, hi = split_rate(run["records"], group, crit)
                row.update({f"{group}{suffix}": round(rate, 4), f"{group}{suffix}_ci_low": round(lo, 4),
                            f"{group}{suffix}_ci_high": round(hi, 4)})
        if v.key != DEFAULT:
            t = compare(run, base, "success", per_category=False)
            for group in ("seen", "unseen"):
                r = t[t.split == group].iloc[0]
                row.update({f"{group}_diff_vs_default": round(r["diff"], 4), f"{group}_diff_ci_low": round(r.ci_low, 4),
                            f"{group}_diff_ci_high": round(r.ci_high, 4),
                            f"{group}_mcnemar_p": float(f"{r.mcnemar_p:.3g}")})
        row["train_s"] = round(sum(s.get("wall_s", 0) or 0 for s in stages.values()), 1) if stages else None
        runs = [r for r in meta.get("runs", []) if r.get("episodes")]  # resumed runs that did nothing add nothing
        act_s = sum(r.get("act_seconds") or 0 for r in runs)
        row["eval_s"] = round(sum(r.get("seconds") or 0 for r in runs), 1)
        row["control_hz"] = round(sum(r["episodes"] for r in runs) / act_s, 2) if act_s else None
        row.update(v.published)
        rows.append(row)
    return pd.DataFrame(rows)


def plot(df, path) -> None:
    """Seen and unseen success (mean over categories, 95% bootstrap interval) of each variant, in
    evaluation.plots' style: a colour per variant, the published seen rate as a tick where there is one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from infra.files import save_figure

    from . import plots

    color = plots.colors(df["variant"])
    off = plots.offsets(len(df))
    size = (max(6.0, 2.0 + 0.9 * len(df)), 4.0 + 0.32 * (len(df) + 3))
    fig, axes = plt.subplots(1, 2, sharey=True, figsize=size, gridspec_kw={"wspace": 0.05})
    for ax, group in zip(axes, ("seen", "unseen")):
        for j, (_, row) in enumerate(df.iterrows()):
            plots.draw_method(ax, [off[j]], [row[group]], [row[f"{group}_ci_low"]], [row[f"{group}_ci_high"]],
                              color[row["variant"]], label=row["variant"] if group == "seen" else None)
            published = row.get(f"published_{group}_success", np.nan)
            if isinstance(published, (int, float)) and np.isfinite(published):
                plots.draw_published(ax, [off[j]], [published], color[row["variant"]], 0.4 / len(df))
        ax.set_xticks([])
        ax.set_xlim(-0.5, 0.5)
        ax.set_title(f"{group} categories", fontsize=9)
        ax.grid(axis="y", lw=0.4, alpha=0.5)
    axes[0].set_ylim(0, 1)
    axes[0].set_ylabel("success, mean over categories")
    handles, labels = axes[0].get_legend_handles_labels()
    has_published = "published_seen_success" in df and df["published_seen_success"].notna().any()
    keys = plots.legend_keys(False, has_published)
    keys[0].set_label("mean over categories (95% bootstrap)")
    fig.legend(handles + keys, labels + [k.get_label() for k in keys], fontsize=7, frameon=False, ncol=1,
               loc="lower left", bbox_to_anchor=(0.02, 0.0))
    fig.suptitle(f"ablation: {df['table'].iloc[0]}", fontsize=10)
    height = fig.get_size_inches()[1]
    fig.subplots_adjust(left=0.1, right=0.98, top=1 - 0.55 / height,
                        bottom=(0.2 + 0.14 * (len(handles) + len(keys))) / height)
    save_figure(fig, path)
    plt.close(fig)


def main(argv=None) -> int:
    from infra.files import atomic_write_text
    from infra.provenance import versions

    cfg, _ = parse_config(AblationConfig, argv, "python -m evaluation.ablations", __doc__)
    from infra.executors import join_or_die

    join_or_die(cfg)
    from data_collection.run import main as collect_main

    from .pipeline import STEP_SECONDS, _machine, copy_records, step

    t0 = time.perf_counter()
    STEP_SECONDS.clear()
    data = cfg.data or f"{cfg.out}/data"
    if cfg.data is None:
        step("collect", collect_main, ["--category", "all-seen", "--samples", str(cfg.samples), "--keep-failures",
                                       *sim_flags(cfg), "--seed", str(cfg.seed), "--out", data], "data_collection.run")
    tables = Path(cfg.tables or f"{cfg.out}/tables")
    variants: dict[str, Variant] = {}
    for name in cfg.selected():
        for v in VARIANTS[name]:
            variants.setdefault(v.key, v)
    run_variants(cfg, sorted(variants.values(), key=lambda v: (v.key != DEFAULT, v.init is not None)), data)
    command = "python -m evaluation.ablations " + " ".join(sys.argv[1:] if argv is None else argv)
    for name in cfg.selected():
        df = ablation_table(cfg, name)
        atomic_write_text(tables / f"table_ablation_{name}.csv", df.to_csv(index=False))
        plot(df, tables / f"table_ablation_{name}.png")
        shown = ["variant", "trainable_params", "trainable_fraction", "seen", "unseen",
                 *(c for c in ("seen_diff_vs_default", "seen_mcnemar_p") if c in df)]
        print(f"\n{name}:\n" + df[shown].to_string(index=False))
    copy_records([f"{cfg.out}/eval/{k}" for k in variants], str(tables / "runs"))
    this = {"command": command.strip(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "wall_s": round(time.perf_counter() - t0, 1), "steps_s": dict(STEP_SECONDS)}
    made_with = {"versions": versions(), "default_recipe": default_recipe(cfg)}  # the same for every table
    for name in cfg.selected():  # one record per table; each run of the command appends its times (a rerun that
        path = tables / f"table_ablation_{name}.json"  # resumes finished steps takes seconds: the first says the cost)
        old = json.loads(path.read_text()) if path.exists() else {}
        runs = old.get("runs") or ([{k: old[k] for k in ("command", "wall_s", "steps_s") if k in old}] if old else [])
        atomic_write_text(path, json.dumps(
            {"config": dataclasses.asdict(cfg), "data": data, "machine": _machine(), **made_with, "runs": [*runs, this],
             "variants": [dataclasses.asdict(v) for v in VARIANTS[name]]}, indent=2, default=str) + "\n")
    if cfg.report or cfg.film:
        from .config import WorkListConfig
        from .film import film

        runs = [(k, variants[k].agent, checkpoint_path(cfg, k), f"{cfg.out}/eval/{k}") for k in variants]
        film(step, runs if cfg.film else [], tables, cfg.out, categories=cfg.categories, episodes=cfg.episodes,
             per_category=cfg.film, seed=cfg.seed, image_size=WorkListConfig.image_size, sim=sim_flags(cfg))
    if cfg.report:
        from .report import main as report_main

        step("report", report_main, [str(tables)], "evaluation.report")
    print(f"\nablations: done in {(time.perf_counter() - t0) / 60:.1f} min; tables in {tables}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Which trained model reads the image: each checkpoint's held-out contact-point error with its prompt as
given and with the category's words blinded, beside the best constant point's, read from the training records.

    python -m evaluation.image_reading results/default/runs/{robomamba,transformer,roboflamingo,manipllm}@s?/run.json \
        --out results/vlm/image_reading.csv

Each argument is a checkpoint's `config.json` (or a copy of it), or an evaluation's `run.json`, which holds
its checkpoint's: the record its trainer wrote, whose validation was scored on held-out instances of the seen
categories. A run without such a record (random, the ceiling, a geometric baseline) is named as not one. Per
model (named by the run's label, or the file's name):

- `pixel_l1`: the contact point's L1 error in the model's view (normalised units) with the manipulation
  prompt, which names the category; `pixel_l1_blind`: the same prompts with the category's words replaced by
  [UNK], so only the image can say where the part is; `pixel_l1_constant`: the best constant point (the
  training targets' mean) on the same samples; `blind_vs_constant` = pixel_l1_blind / pixel_l1_constant:
  below 1, the point comes from the image;
- `category_accuracy_blind`: how often the model names the category with no word of it in the prompt
  (ManipLLM: its answer's first step; the twin and RoboFlamingo: the sim-QA category question, whose prompt
  never names it), against chance 1/20;
- `parse_rate`: ManipLLM only (a head always gives a point): the share of held-out answers that parse; its
  errors, and the constant's, are scored on those (the heads': on every held-out demo).

A record of another kind, or a missing file, is named on one line (exit 2) and nothing is written.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from infra.cli import command_parser, die, done, option, parse_config

COLUMNS = ["model", "agent", "pixel_l1", "pixel_l1_blind", "pixel_l1_constant", "blind_vs_constant",
           "category_accuracy_blind", "parse_rate"]


@dataclass
class ImageReadingConfig:
    out: str | None = option(None, "write the table to this CSV file, and its plot beside it (same name, .png)")


def row(path: Path) -> dict:
    """One model's figures from its training record; ValueError saying what is missing."""
    rec = json.loads(path.read_text())
    model = path.stem
    if "checkpoint_meta" in rec or "episodes_done" in rec:  # an evaluation's run.json
        model, rec = rec.get("label") or path.parent.name, rec.get("checkpoint_meta") or {}
    agent, training = rec.get("agent"), rec.get("training") or {}
    if agent == "manipllm":
        val, blind = training.get("val"), training.get("val_blind")
        if not val or not blind:
            raise ValueError("no held-out answers in the record (trained with --eval-samples 0?)")
        named, constant, category = val, val["pixel_l1_constant"], blind["category_accuracy"]
    else:
        stages = training.get("stages") or {}
        head, qa = (stages.get("policy"), stages.get("qa")) if agent == "roboflamingo" else \
            (stages.get("head"), stages.get("cotrain"))
        if not head or "val_blind" not in head or "val_constant" not in head:
            raise ValueError(f"agent={agent!r}: no head stage with held-out figures (val, val_blind, val_constant)")
        named, blind, constant = head["val"], head["val_blind"], head["val_constant"]["pixel_l1"]
        category = ((qa or {}).get("qa_accuracy_val") or {}).get("category")
    if named["pixel_l1"] is None or blind["pixel_l1"] is None:
        raise ValueError("no parsed answer to score")
    return {"model": model, "agent": agent, "pixel_l1": named["pixel_l1"], "pixel_l1_blind": blind["pixel_l1"],
            "pixel_l1_constant": constant, "blind_vs_constant": round(blind["pixel_l1"] / constant, 3),
            "category_accuracy_blind": category, "parse_rate": named.get("parse_rate")}


def table(paths: list[str]) -> pd.DataFrame:
    rows = []
    for p in map(Path, paths):
        try:
            rows.append(row(p))
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            die(f"{p}: not a training record with held-out figures ({type(e).__name__}: {e})")
    return pd.DataFrame(rows, columns=COLUMNS)


def plot(df: pd.DataFrame):
    """Per model: the held-out pixel error with the prompt, blinded, and the constant point's (bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(df), 3.4))
    x = np.arange(len(df))
    for k, (col, name) in enumerate([("pixel_l1", "prompt names the category"), ("pixel_l1_blind", "category blinded"),
                                     ("pixel_l1_constant", "best constant point")]):
        ax.bar(x + (k - 1) * 0.27, df[col], 0.27, label=name, color=["C0", "C1", "0.6"][k])
    ax.set_xticks(x, df["model"])
    ax.set_ylabel("held-out contact point L1 (view units)")
    ax.set_title("Does the contact point come from the image? (lower is better)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    p = command_parser("python -m evaluation.image_reading", __doc__)
    p.add_argument("records", nargs="+",
                   help="training records: checkpoints' config.json files (or copies), or evaluations' run.json files")
    cfg, args = parse_config(ImageReadingConfig, argv, parser=p)
    df = table(args.records)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df.to_string(index=False))
    if cfg.out:
        from infra.files import atomic_write_text, save_figure

        atomic_write_text(cfg.out, df.to_csv(index=False))
        png = Path(cfg.out).with_suffix(".png")
        save_figure(plot(df), png)
        return done(f"wrote {cfg.out} and {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

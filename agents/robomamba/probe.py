"""What a trained backbone's features tell the policy head: fresh heads fitted on frozen features.

    python -m agents.robomamba.probe --checkpoint out/pipeline/checkpoints/robomamba --data out/pipeline/data \\
        --out results/recipe/probe_robomamba

For one checkpoint and dataset, it fits fresh `mlp2` heads (the head stage's optimiser, epochs and
seed) on the frozen backbone's pooled features of the training instances and scores them on the
held-out instances (agents.training_data's split, the trainer's validation set):

- `recipe`: `raw+geodesic` (raw features, whole-rotation geodesic loss: the recipe before issue 15),
  `raw+up`, `norm+geodesic` and `norm+up` (standardised features, up-axis loss: today's default);
- `prompt`: `own` (the sample's manipulation prompt, which names its category) or `blind` (the same
  prompt with the category replaced by a word the model never saw, so only the image can help);
- and the `constant` row: the training targets' mean pixel and mean up axis, the floor any head must
  beat.

It writes `probe.csv` (pixel L1 in normalised image units, up-axis and whole-rotation angles in
degrees, for train and validation) and `probe.json` (command, checkpoint, dataset, versions, and
diagnostics of the image pathway: `object_pixel_fraction`, the mean share of the image the object
covers; `object_half_extent_p99` (object_half_extent); and `image_sensitivity`, how much the
language model's last hidden state at the prompt's end varies across images, relative to its size,
with the prompt fixed).
A head that is no better than `constant` with the `blind` prompt gets nothing from the image.
"""
from __future__ import annotations

import math
import os
import platform
import sys
import time
from dataclasses import dataclass

import numpy as np

from infra.cli import ConfigBase, check_at_least, option

from .text import blind_prompts

RECIPES = {"raw+geodesic": (False, "geodesic"), "raw+up": (False, "up"), "norm+geodesic": (True, "geodesic"),
           "norm+up": (True, "up")}


@dataclass
class ProbeConfig(ConfigBase):
    checkpoint: str = option("checkpoints/robomamba", "a trained robomamba / transformer checkpoint directory")
    data: str = option("data/demos", "the dataset it was trained on (data_collection.run output)")
    out: str = option("out/probe", "output directory for probe.csv and probe.json")
    epochs: int = option(8, "epochs of each probe head (the head stage's default)")
    lr: float = option(1e-5, "learning rate of each probe head (the head stage's default)")
    holdout: float = option(0.1, "held-out instance fraction (the trainer's default)")
    seed: int = option(0, "seed of the probe heads' initialisation and shuffling")
    heads: bool = option(True, "fit the fresh probe heads of every recipe and prompt (probe.csv; the constant row "
                               "is always there)")
    readouts: bool = option(True, "also the read-outs of category and contact pixel from each stage of the model "
                                  "(readouts.csv; agents.robomamba.readouts)")
    unseen_data: str | None = option(None, "a dataset of unseen categories collected for probing only "
                                           "(data_collection.run --category all-unseen --split test): the pixel "
                                           "read-outs are scored on it too")
    progress: bool = option(True, "progress bars")

    def __post_init__(self):
        check_at_least(self, epochs=1)


def pooled_features(model, tokenizer, data, prompts, batch: int = 64):
    import torch

    from .text import encode_batch
    from .train import images_tensor

    out = []
    model.eval()
    with torch.no_grad():
        for s in range(0, len(data), batch):
            ids, mask = encode_batch(tokenizer, prompts[s: s + batch], model.cfg.max_text_tokens)
            out.append(model.pooled(images_tensor(model, data.rgb[s: s + batch]), ids, mask))
    return torch.cat(out)


def object_half_extent(masks: np.ndarray, percentile: float) -> float:
    """Percentile over images of the object's largest distance from the image centre (rows or
    columns), as a fraction of the image side: the centre crop that would keep that share of objects
    whole is twice it."""
    side = masks.shape[1]
    centre = (side - 1) / 2
    ext = [max(np.abs(np.flatnonzero(m.any(1)) - centre).max(), np.abs(np.flatnonzero(m.any(0)) - centre).max())
           for m in masks if m.any()]
    return round(float(np.percentile(ext, percentile)) / side, 4) if ext else float("nan")


def image_sensitivity(model, tokenizer, data, n: int = 64) -> float:
    """Std over `n` images of the last hidden state at the end of one fixed prompt, divided by its
    RMS: 0 when the image changes nothing where the head and the answers read."""
    import torch

    from .text import encode_batch
    from .train import images_tensor

    idx = np.linspace(0, len(data) - 1, min(n, len(data))).astype(int)
    ids, mask = encode_batch(tokenizer, [data.frame["prompt"][int(idx[0])]] * len(idx), model.cfg.max_text_tokens)
    with torch.no_grad():
        hidden, _ = model.sequence(images_tensor(model, data.rgb[idx]), ids, mask)
    last = hidden[:, -1]
    return round(float(last.std(0).mean() / last.pow(2).mean().sqrt()), 5)


def scores(pos_hat, R_hat, pos, rot) -> dict:
    import torch

    from ..rotation import geodesic_angle, up_angle

    deg = 180 / math.pi
    with torch.no_grad():
        return {"pixel_l1": round(float((pos_hat - pos).abs().mean()), 4),
                "up_deg": round(float(up_angle(R_hat, rot).mean()) * deg, 2),
                "rotation_deg": round(float(geodesic_angle(R_hat, rot).mean()) * deg, 2)}


def fit_head(features, pos, rot, tr, norm: bool, loss: str, cfg: ProbeConfig, d_model: int, hidden: int):
    """A fresh mlp2 head trained like the head stage (AdamW, weight decay 0.1, batch 1)."""
    import torch

    from ..rotation import rotation_loss
    from .heads import build_head

    torch.manual_seed(cfg.seed)
    head = build_head("mlp2", d_model, hidden)
    if norm:
        head.input_norm.fit(features[tr])
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=0.1)
    g = torch.Generator().manual_seed(cfg.seed)
    for _ in range(cfg.epochs):
        for j in tr[torch.randperm(len(tr), generator=g)].split(1):
            p, R = head(features[j])
            total = (p - pos[j]).abs().sum(-1).mean() + rotation_loss(loss, R, rot[j])
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
    head.eval()
    return head


def constant_rotation(rot_train):
    """The rotation whose up axis is the training targets' mean up direction (any roll)."""
    import torch

    from ..rotation import rotation_from_up_forward

    up = rot_train[:, :, 2].mean(0, keepdim=True)
    helper = (torch.tensor([[1.0, 0.0, 0.0]]) if abs(float(up[0, 0])) < 0.9 * float(up.norm())
              else torch.tensor([[0.0, 1.0, 0.0]]))
    return rotation_from_up_forward(up, helper)


def probe(cfg: ProbeConfig, log=print):
    import pandas as pd
    import torch

    from infra.progress import progress_bar

    from ..factory import load as load_agent
    from ..training_data import load, pixel_targets, rotation_targets

    agent = load_agent(cfg.checkpoint)
    model, tok = agent.model, agent.tokenizer
    data = load(cfg.data, model.cfg.image_size, successes_only=True, holdout_fraction=cfg.holdout,
                with_masks=True, progress=cfg.progress, view=model.cfg.view_spec(),
                surface=model.cfg.rotation_frame == "surface")
    pos = torch.from_numpy(pixel_targets(data.frame, boxes=data.boxes))
    rot = torch.from_numpy(rotation_targets(data.frame, model.cfg.rotation_frame, data.surface))
    tr = torch.from_numpy(np.flatnonzero(~data.holdout))
    va = torch.from_numpy(np.flatnonzero(data.holdout))
    if not len(va) or not len(tr):
        raise ValueError(f"{cfg.data}: the split has {len(tr)} training and {len(va)} held-out samples; "
                         f"both must be non-empty (try another --holdout)")
    own = list(data.frame["prompt"])
    feats = {"own": pooled_features(model, tok, data, own),
             "blind": pooled_features(model, tok, data, blind_prompts(own, data.frame["category"]))}
    rows = []
    n = len(pos)
    const = (pos[tr].mean(0, keepdim=True).expand(n, 2), constant_rotation(rot[tr]).expand(n, 3, 3))
    rows.append({"recipe": "constant", "prompt": "-",
                 **{f"train_{k}": v for k, v in scores(const[0][tr], const[1][tr], pos[tr], rot[tr]).items()},
                 **{f"val_{k}": v for k, v in scores(const[0][va], const[1][va], pos[va], rot[va]).items()}})
    jobs = [(r, p) for p in feats for r in RECIPES] if cfg.heads else []
    for recipe, prompt in progress_bar(jobs, desc="probe heads", disable=not cfg.progress):
        norm, loss = RECIPES[recipe]
        head = fit_head(feats[prompt], pos, rot, tr, norm, loss, cfg, model.cfg.d_model, model.cfg.head_hidden)
        with torch.no_grad():
            p, R = head(feats[prompt])
        rows.append({"recipe": recipe, "prompt": prompt,
                     **{f"train_{k}": v for k, v in scores(p[tr], R[tr], pos[tr], rot[tr]).items()},
                     **{f"val_{k}": v for k, v in scores(p[va], R[va], pos[va], rot[va]).items()}})
    df = pd.DataFrame(rows)
    df.insert(0, "checkpoint", cfg.checkpoint)
    df["train_samples"], df["val_samples"] = len(tr), len(va)
    diagnostics = {"object_pixel_fraction": round(float(data.object_mask.mean()), 4),
                   "object_half_extent_p99": object_half_extent(data.object_mask, 99),
                   "image_sensitivity": image_sensitivity(model, tok, data)}
    table = None
    if cfg.readouts:
        from .readouts import readouts

        unseen = unseen_pos = None
        if cfg.unseen_data:
            unseen = load(cfg.unseen_data, model.cfg.image_size, successes_only=True, holdout_fraction=0.0,
                          progress=cfg.progress, view=model.cfg.view_spec())
            unseen_pos = pixel_targets(unseen.frame, boxes=unseen.boxes)
        log("read-outs of category and contact pixel at each stage ...")
        table = pd.DataFrame(readouts(model, tok, data, pos.numpy(), unseen, unseen_pos))
        table.insert(0, "checkpoint", cfg.checkpoint)
    return df, diagnostics, table


def main(argv=None) -> int:
    import json
    from pathlib import Path

    from infra.cli import die, parse_config
    from infra.files import atomic_write_text

    from .. import checkpoint

    cfg, _ = parse_config(ProbeConfig, argv, prog="python -m agents.robomamba.probe", doc=__doc__)
    try:
        meta = checkpoint.read_config(cfg.checkpoint)
    except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is bad input
        die(f"--checkpoint {cfg.checkpoint}: {e}")
    if meta.get("agent") not in ("robomamba", "transformer"):
        die(f"--checkpoint {cfg.checkpoint}: agent {meta.get('agent')!r}; allowed: robomamba, transformer")
    for flag, path in (("--data", cfg.data), ("--unseen-data", cfg.unseen_data)):
        if path is not None and not (Path(path) / "manifest.json").is_file():
            die(f"{flag} {path}: not a collected dataset (no manifest.json)")
    t0 = time.perf_counter()
    try:
        df, diagnostics, table = probe(cfg)
    except (ValueError, FileNotFoundError) as e:
        die(str(e))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "probe.csv", df.to_csv(index=False))
    if table is not None:
        atomic_write_text(out / "readouts.csv", table.to_csv(index=False))
    from infra.provenance import versions

    atomic_write_text(out / "probe.json", json.dumps({
        "command": "python -m agents.robomamba.probe " + " ".join(sys.argv[1:] if argv is None else argv),
        "config": cfg.to_dict(), "diagnostics": diagnostics,
        "checkpoint_training": meta.get("training", {}).get("config"), "wall_s": round(time.perf_counter() - t0, 1),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "versions": versions()},
        indent=2, default=str) + "\n")
    print(df.drop(columns=["checkpoint"]).to_string(index=False))
    if table is not None:
        print(table.drop(columns=["checkpoint"]).to_string(index=False))
    print(f"diagnostics: {diagnostics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
